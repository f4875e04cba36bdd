"""Manifest generation and validation for many models, against writing the same YAML unchecked.

A private SQLite project gets ``--models`` registered models (default 50), each with a champion
and a challenger version and an image recorded on both. After the schemas are loaded (timed
separately: the KServe CRD alone is over half a megabyte), measured in one process:

* baseline — the documents built and dumped to YAML, no validation, nothing written: what a
  template renderer does;
* nbops generation + validation — the same registry reads and documents, each validated against
  its schema and rendered (the Argo Rollouts target with a canary: Rollout, AnalysisTemplate and
  two Services per model);
* nbops generate — ``nbops.deploy.manifests.generate`` for every model: the above plus the atomic
  folder write with its index and a tag on each version (first time only: SQLite writes);
* nbops regenerate — the same call again, when nothing moved (reads, validation, no writes).

Target: generation + validation ≤ 5 s for 50 models after schema loading. Prints the times and the ratio.

    python benchmarks/manifests.py [--models 50] [--target rollouts]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def make_project(root: Path, models: int) -> None:
    """``models`` registered models, champion → v1 and challenger → v2, images recorded."""
    (root / "pyproject.toml").write_text('[project]\nname = "bench"\n')
    os.chdir(root)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    from nbops import store

    client = store.client()
    for index in range(models):
        name = f"model-{index:03d}"
        client.create_registered_model(name)
        for number in (1, 2):
            client.create_model_version(name, source=f"s3://models/{name}/{number}")
            client.set_model_version_tag(
                name, str(number), "nbops.deploy.image", f"registry.example.com/{name}:v{number}"
            )
        client.set_registered_model_alias(name, "champion", "1")
        client.set_registered_model_alias(name, "challenger", "2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=int, default=50)
    parser.add_argument("--target", default="rollouts", choices=["kserve", "rollouts", "kubernetes"])
    args = parser.parse_args()

    import yaml

    from nbops.deploy import manifests, validation

    with tempfile.TemporaryDirectory(prefix="nbops-bench-manifests-") as tmp:
        root = Path(tmp)
        make_project(root, args.models)
        names = [f"model-{index:03d}" for index in range(args.models)]

        began = time.perf_counter()
        validation.load_schemas()
        loading = time.perf_counter() - began

        began = time.perf_counter()
        for name in names:
            plan = manifests.plan(name, target=args.target, canary="challenger=10")
            for _, doc in manifests.BUILDERS[args.target](plan):
                yaml.dump(doc, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False)
        baseline = time.perf_counter() - began

        began = time.perf_counter()
        for name in names:
            plan = manifests.plan(name, target=args.target, canary="challenger=10")
            manifests.render(plan, {"target": args.target})
        validated = time.perf_counter() - began

        out = root / "manifests"
        timings = []
        for _ in range(2):  # first: written; second: nothing moved, nothing written
            began = time.perf_counter()
            for name in names:
                manifests.generate(name, target=args.target, canary="challenger=10", out=out)
            timings.append(time.perf_counter() - began)
        checked = validation.check_folder(out)

    first, again = timings
    print(f"schema loading (once per process): {loading:.2f} s")
    print(f"{args.models} models, target {args.target} with a canary, {checked} documents")
    rows = [
        ("baseline (build + YAML, unchecked)", baseline),
        ("nbops generation + validation", validated),
        ("nbops generate (validated, written, tagged)", first),
        ("nbops regenerate (validated, nothing moved)", again),
    ]
    for label, seconds in rows:
        print(f"  {label:<46} {seconds:6.2f} s  ({seconds / baseline:.2f}x baseline)")
    verdict = "meets" if validated <= 5.0 else "MISSES"
    print(f"  target: generation + validation ≤ 5 s for {args.models} models: {verdict} ({validated:.2f} s)")


if __name__ == "__main__":
    main()
