"""``nbops deploy image``: a cold build against a rebuild after only the model changed.

A private SQLite project gets two versions of an iris classifier with the same requirements. Both
build contexts are written offline (wheelhouse fetched on the host), then built with podman on the
local Debian base image the tests make (``tests/images.py``), with the same flags
``nbops deploy image --offline`` uses:

* cold: version 1 with ``--no-cache`` (every layer built: venv, every wheel installed);
* rebuild: version 2 with the layer cache (only the model layer and metadata change);
* the ratio rebuild / cold (target <= 10 %), the image size, and the time to write a context
  (model download, wheelhouse, nbops wheel) reported apart, since it is not the build.

    python benchmarks/image.py

Needs podman, runc and debootstrap (``make podman``); removes its own tags afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import images

TAGS = [f"localhost/nbops-bench-{os.getpid()}:v{n}" for n in (1, 2)]


def podman(*args: str) -> str:
    return subprocess.run(["podman", *args], capture_output=True, text=True, check=True).stdout


def timed_build(context: Path, tag: str, *extra: str) -> float:
    began = time.perf_counter()
    podman(
        "build",
        "--format",
        "docker",
        "--layers",
        "--network",
        "none",
        "--pull=never",
        *extra,
        "-t",
        tag,
        str(context),
    )
    return time.perf_counter() - began


def main() -> None:
    os.environ["CONTAINERS_CONF"] = str(images.containers_conf())
    base = images.ensure_base_image()
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    from nbops import registry
    from nbops.deploy.context import write_context
    from nbops.deploy.engine import find_engine
    from nbops.deploy.image import _base_python, resolve

    with tempfile.TemporaryDirectory(prefix="nbops-bench-image-") as tmp:
        root = Path(tmp) / "project"
        root.mkdir()
        (root / "pyproject.toml").write_text('[project]\nname = "bench"\n')
        os.chdir(root)
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        X, y = load_iris(return_X_y=True, as_frame=True)
        registry.register(LogisticRegression(max_iter=500).fit(X, y), "iris", data=X, alias="champion")
        registry.register(DecisionTreeClassifier(max_depth=2).fit(X, y), "iris", data=X)
        probe = _base_python(find_engine("podman"))
        contexts, writing = [], []
        for version in ("1", "2"):
            began = time.perf_counter()
            context = write_context(
                resolve(f"iris/{version}"),
                dest=Path(tmp) / f"context-v{version}",
                base_image=base,
                offline=True,
                base_python=probe,
            )
            writing.append(time.perf_counter() - began)
            contexts.append(context.path)
        try:
            cold = timed_build(contexts[0], TAGS[0], "--no-cache")
            rebuild = timed_build(contexts[1], TAGS[1])
            size = json.loads(podman("image", "inspect", TAGS[1]))[0]["Size"]
        finally:
            subprocess.run(["podman", "rmi", "-f", *TAGS], capture_output=True)
    print(
        f"context written (model + wheelhouse + nbops wheel): {writing[0]:.1f} s first, {writing[1]:.1f} s again"
    )
    print(f"cold build (--no-cache):                           {cold:7.1f} s")
    print(f"rebuild after only the model changed:              {rebuild:7.1f} s")
    print(f"rebuild / cold:                                    {rebuild / cold:7.1%}  (target <= 10 %)")
    print(f"image size:                                        {size / 1e6:7.0f} MB")


if __name__ == "__main__":
    main()
