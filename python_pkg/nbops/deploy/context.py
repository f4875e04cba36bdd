"""The build context of a model version's image: what ``podman build`` / ``docker build`` reads.

It starts from what ``mlflow models generate-dockerfile`` writes — the model directory with its
``requirements.txt`` and ``python_env.yaml`` — downloaded straight from the registry, and replaces
MLflow's Dockerfile (which pulls ``python:*-slim``, installs MLflow from the network and hard-codes
nginx on 8080) with one of nbops' own:

- the dependency layer is keyed on ``requirements.txt`` alone and comes before the model, so a new
  version of a model with the same requirements rebuilds in a second;
- with ``offline``, every wheel is fetched here, on the host, into ``wheels/`` and installed with
  ``pip --no-index`` (the build runs with ``--network none``);
- nbops itself goes in as a wheel made from the installed package (``nbops-dist/``), byte-for-byte the
  same for the same sources, so its layer is cached too;
- the server runs as a non-root user, takes ``HOST``/``PORT``/``WORKERS`` from the environment, has a
  HEALTHCHECK on ``/ping``, and the image carries OCI labels naming the model, version, run, commit and
  nbops version.

The context is written into a temporary sibling folder and renamed into place at the end, so a
failure leaves nothing half-written.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import NbopsError, NotFound
from ..version import __version__

#: Written into every context nbops makes, so regenerating into the same folder may replace it.
MARKER = ".nbops-image-context"
#: The unprivileged user the server runs as inside the image.
USER_ID = 10001
#: nbops' own imports when serving, beyond what a model's requirements bring (pinned to this host's).
SERVING_DEPENDENCIES = ("click", "psutil", "pyyaml", "uvicorn")
_EPOCH = (1980, 1, 1, 0, 0, 0)


class ContextError(NbopsError):
    """The build context cannot be written (folder, artifacts, wheels)."""


@dataclass
class VersionFacts:
    """What the image is of: a registered version and the facts its labels carry."""

    name: str
    version: str
    alias: str
    run_id: str = ""
    git_commit: str = ""
    #: Serve this version whatever the alias says later (``--pin``), instead of following the alias.
    pinned: bool = False

    @property
    def serves(self) -> str:
        """What the image's server serves: ``NAME/VERSION`` when pinned, else ``NAME@ALIAS``."""
        return f"{self.name}/{self.version}" if self.pinned else f"{self.name}@{self.alias}"

    def labels(self) -> dict[str, str]:
        """OCI labels (``org.opencontainers.image.*``) and nbops' own, for ``podman inspect``."""
        return {
            "org.opencontainers.image.title": self.name,
            "org.opencontainers.image.version": self.version,
            "org.opencontainers.image.revision": self.git_commit,
            "org.opencontainers.image.description": f"nbops serve {self.serves} (version {self.version})",
            "io.nbops.model": self.name,
            "io.nbops.model.version": self.version,
            "io.nbops.model.alias": self.alias,
            "io.nbops.model.pinned": "true" if self.pinned else "false",
            "io.nbops.run_id": self.run_id,
            "io.nbops.git_commit": self.git_commit,
            "io.nbops.version": __version__,
        }


@dataclass
class BuildContext:
    """A written context: its folder, the base image and the requirements the image pins."""

    path: Path
    facts: VersionFacts
    base_image: str
    python_version: str
    offline: bool
    requirements: list[str] = field(default_factory=list)


# --- the target folder ------------------------------------------------------------------------------


def _check_destination(dest: Path) -> None:
    """Refuse, before anything is fetched, a folder nbops may not write or must not overwrite."""
    parent = dest.parent
    if dest.exists():
        if not dest.is_dir():
            raise ContextError(f"--context {dest} is a file; name a folder (it is created if missing).")
        if any(dest.iterdir()) and not (dest / MARKER).exists():
            raise ContextError(
                f"--context {dest} holds files nbops did not write; name an empty or new folder."
            )
    elif not parent.is_dir():
        raise ContextError(f"--context {dest}: the folder {parent} does not exist.")
    if not os.access(parent, os.W_OK | os.X_OK) or (dest.exists() and not os.access(dest, os.W_OK | os.X_OK)):
        raise ContextError(f"--context {dest} is not writable; choose a folder you can write to.")


def write_context(
    facts: VersionFacts,
    *,
    dest: Path | None = None,
    base_image: str | None = None,
    offline: bool = False,
    base_python: Any = None,
    start: Path | str | None = None,
) -> BuildContext:
    """Write the build context of ``facts``'s version into ``dest`` (a new temporary folder if None).

    ``base_python(image) -> "3.11"`` reports the Python of a local base image (for an offline
    wheelhouse); without it, the model's own Python version is assumed.
    """
    if dest is not None:
        dest = Path(dest).expanduser().absolute()
        _check_destination(dest)
        try:  # the real test of writability (access() says yes to root even on read-only places)
            work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
        except OSError as exc:
            raise ContextError(
                f"--context {dest} is not writable ({exc.strerror}); choose a folder you can write to."
            ) from None
    else:
        work = Path(tempfile.mkdtemp(prefix="nbops-image-"))
    try:
        context = _fill(work, facts, base_image, offline, base_python, start)
        if dest is None:
            return context
        if dest.exists():
            shutil.rmtree(dest)
        work.rename(dest)
        context.path = dest
        return context
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def _fill(
    work: Path, facts: VersionFacts, base_image: str | None, offline: bool, base_python: Any, start: Any
) -> BuildContext:
    model_dir = _download_model(facts, work / "model", start)
    model_python = _model_python(model_dir)
    base = base_image or f"python:{model_python}-slim"
    python = (base_python(base) if (offline and base_python) else None) or model_python
    requirements = _requirements(model_dir)
    (work / "requirements.txt").write_text("\n".join(requirements) + "\n")
    (work / "wheels").mkdir()
    (work / "nbops-dist").mkdir()
    _nbops_wheel(work / "nbops-dist")
    if offline:
        _download_wheels(work / "requirements.txt", work / "wheels", python)
    (work / "project").mkdir()
    (work / "project" / "pyproject.toml").write_text(project_settings(start))
    (work / "Dockerfile").write_text(dockerfile(facts, base, offline))
    (work / MARKER).write_text(json.dumps({"model": facts.name, "version": facts.version}) + "\n")
    return BuildContext(work, facts, base, python, offline, requirements)


# --- the project's settings ------------------------------------------------------------------------

_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")


def project_settings(start: Any) -> str:
    """The project's ``[tool.nbops]`` tables, as the image's own ``pyproject.toml``.

    The server in the image reads the same serving, canary, alert and notification settings as
    ``nbops serve`` on the host (a stable pod judging a canary from the store applies the project's
    limits, not the defaults). The tables are copied as text, comments kept; when the layout is one
    the copy cannot cut out exactly (``nbops.…`` keys under a plain ``[tool]`` table), the whole
    file is copied instead — it holds nothing the project's repository does not.
    """
    import tomllib

    from .. import config

    project = config.resolve(start)
    head = f"# The [tool.nbops] settings of {project.root.name}, copied by nbops deploy image.\n"
    if project.pyproject is None or not project.tool:
        return head
    text = project.pyproject.read_text()
    kept, keeping = [], False
    for line in text.splitlines():
        header = _HEADER.match(line)
        if header:
            name = header.group(1).replace('"', "").replace(" ", "")
            keeping = name == "tool.nbops" or name.startswith("tool.nbops.")
        if keeping:
            kept.append(line)
    copied = head + "\n".join(kept) + "\n"
    try:
        same = tomllib.loads(copied).get("tool", {}).get("nbops") == project.tool
    except tomllib.TOMLDecodeError:
        same = False
    return copied if same else head + text


# --- the model and its requirements -----------------------------------------------------------------


def _download_model(facts: VersionFacts, target: Path, start: Any) -> Path:
    """The version's model directory (MLmodel, weights, requirements.txt, python_env.yaml)."""
    from mlflow.environment_variables import MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR as PROGRESS_BAR

    from .. import store

    mlflow = store.fluent(start)
    uri = f"models:/{facts.name}/{facts.version}"
    shown = PROGRESS_BAR.get_raw()
    os.environ[PROGRESS_BAR.name] = "false"  # a command prints one line, not a progress bar
    quiet = logging.getLogger("mlflow.store.artifact.artifact_repo")  # "No artifacts found" is ours to say
    level = quiet.level
    quiet.setLevel(logging.WARNING)
    try:
        mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(target))
    except Exception as exc:
        raise NotFound(
            f"version {facts.version} of {facts.name!r} has no model artifacts to put in an image "
            f"({type(exc).__name__}); register the model again."
        ) from None
    finally:
        quiet.setLevel(level)
        if shown is None:
            os.environ.pop(PROGRESS_BAR.name, None)
        else:
            os.environ[PROGRESS_BAR.name] = shown
    if not (target / "MLmodel").is_file():
        raise NotFound(
            f"version {facts.version} of {facts.name!r} has no model artifacts to put in an image "
            "(no MLmodel file); register the model again."
        )
    return target


def _model_python(model_dir: Path) -> str:
    """``"3.11"``: the major.minor Python the model was trained with (its ``python_env.yaml``)."""
    env = model_dir / "python_env.yaml"
    found = re.search(r"^python:\s*['\"]?(\d+)\.(\d+)", env.read_text(), re.M) if env.is_file() else None
    return f"{found[1]}.{found[2]}" if found else f"{sys.version_info[0]}.{sys.version_info[1]}"


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements(model_dir: Path) -> list[str]:
    """The model's requirements plus nbops' serving imports pinned to this host's versions."""
    from importlib import metadata

    listed = model_dir / "requirements.txt"
    lines = [
        line.strip()
        for line in (listed.read_text().splitlines() if listed.is_file() else [])
        if line.strip() and not line.lstrip().startswith(("#", "-"))
    ]
    named = {_canonical(re.split(r"[\s<>=!~;\[]", line, maxsplit=1)[0]) for line in lines}
    for dist in SERVING_DEPENDENCIES:
        if _canonical(dist) not in named:
            with contextlib.suppress(metadata.PackageNotFoundError):
                lines.append(f"{dist}=={metadata.version(dist)}")
    return lines


def _download_wheels(requirements: Path, wheels: Path, python: str) -> None:
    """Fetch every wheel the image needs, for the image's Python on x86-64 Linux, into ``wheels``."""
    major, minor = python.split(".")[:2]
    command = [
        sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
        "-d", str(wheels), "-r", str(requirements), "--only-binary=:all:",
        "--implementation", "cp", "--python-version", f"{major}.{minor}",
        "--abi", f"cp{major}{minor}", "--abi", "abi3", "--abi", "none",
        "--platform", "manylinux_2_36_x86_64", "--platform", "manylinux_2_28_x86_64",
        "--platform", "manylinux_2_17_x86_64", "--platform", "manylinux2014_x86_64", "--platform", "any",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["pip download failed"])[-1]
        raise ContextError(f"cannot fetch the wheels for an offline image (pip: {last[:300]}).")


# --- nbops itself, as a reproducible wheel ----------------------------------------------------------


def _nbops_wheel(folder: Path) -> Path:
    """A wheel of the installed nbops package (Python sources and templates, no lab extension).

    Built from the files on disk with fixed timestamps and order, so the same sources give the same
    bytes and the image's nbops layer stays cached. Its dependencies are installed from
    ``requirements.txt``, which is why the wheel declares none.
    """
    import nbops

    package = Path(nbops.__file__).parent
    tag = f"nbops-{__version__}"
    files: list[tuple[str, bytes]] = []
    for path in sorted(package.rglob("*")):
        relative = path.relative_to(package)
        if not path.is_file() or "__pycache__" in relative.parts or relative.parts[0] == "labextension":
            continue
        if path.suffix in (".pyc", ".pyo"):
            continue
        files.append((f"nbops/{relative.as_posix()}", path.read_bytes()))
    info = f"nbops-{__version__}.dist-info"
    files += [
        (f"{info}/METADATA", f"Metadata-Version: 2.1\nName: nbops\nVersion: {__version__}\n".encode()),
        (
            f"{info}/WHEEL",
            b"Wheel-Version: 1.0\nGenerator: nbops\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        ),
        (f"{info}/entry_points.txt", b"[console_scripts]\nnbops = nbops.cli:main\n"),
    ]
    record = [
        f"{name},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}"
        for name, data in files
    ]
    files.append((f"{info}/RECORD", ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()))
    target = folder / f"{tag}-py3-none-any.whl"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as wheel:
        for name, data in files:
            entry = zipfile.ZipInfo(name, _EPOCH)
            entry.external_attr = 0o644 << 16
            wheel.writestr(entry, data, zipfile.ZIP_DEFLATED)
    return target


# --- the Dockerfile ---------------------------------------------------------------------------------

_HEALTH = (
    "import os, urllib.request; h = os.environ.get('HOST', '0.0.0.0'); "
    "h = '127.0.0.1' if h in ('0.0.0.0', '::', '') else h; "
    "urllib.request.urlopen(f'http://{h}:' + os.environ.get('PORT', '8080') + '/ping', timeout=4)"
)


def dockerfile(facts: VersionFacts, base_image: str, offline: bool) -> str:
    """nbops' Dockerfile: base, dependencies (cached on requirements.txt), nbops, then the model."""
    index = "--no-index " if offline else ""
    labels = " \\\n      ".join(f"{key}={json.dumps(value)}" for key, value in facts.labels().items())
    environment = {
        "NBOPS_MODEL": facts.name,
        "NBOPS_ALIAS": facts.alias,
        "NBOPS_MODEL_VERSION": facts.version,
        "NBOPS_MODEL_DIR": "/opt/nbops/model",
        "NBOPS_PIN": "true" if facts.pinned else "false",
    }
    env = " \\\n    ".join(f"{key}={json.dumps(value)}" for key, value in environment.items())
    health = json.dumps(["/opt/venv/bin/python", "-c", _HEALTH])
    return f"""\
# Written by nbops {__version__} (nbops deploy image). Build offline with:
#   podman build --network none --pull=never --format docker -t IMAGE .
# Run with --init (a tiny init forwards SIGTERM and reaps children) and the store for inference logs:
#   podman run --init -p 8080:8080 -e MLFLOW_TRACKING_URI=... IMAGE
FROM {base_image}

ENV PYTHONUNBUFFERED=1 \\
    PIP_DISABLE_PIP_VERSION_CHECK=1 \\
    PATH=/opt/venv/bin:$PATH
RUN mkdir -p /opt/nbops /home/nbops && chown {USER_ID}:{USER_ID} /home/nbops

# Dependencies: keyed on requirements.txt only, so a new model version reuses this layer.
COPY requirements.txt /opt/nbops/requirements.txt
RUN --mount=type=bind,source=wheels,target=/wheels \\
    python3 -m venv /opt/venv \\
 && /opt/venv/bin/pip install --no-cache-dir {index}--find-links /wheels -r /opt/nbops/requirements.txt \\
 && /opt/venv/bin/pip freeze --all > /opt/nbops/requirements.lock

# nbops itself (the same sources give the same wheel, so this layer is cached too).
COPY nbops-dist/ /opt/nbops/dist/
RUN /opt/venv/bin/pip install --no-cache-dir --no-index --no-deps /opt/nbops/dist/nbops-*.whl

# The model: the only layer a new version changes.
COPY model/ /opt/nbops/model/
# The project's [tool.nbops] settings: serving, canary limits, alerts and notifications.
COPY --chown={USER_ID}:{USER_ID} project/pyproject.toml /home/nbops/pyproject.toml
ENV {env} \\
    HOST=0.0.0.0 \\
    PORT=8080 \\
    WORKERS=1 \\
    HOME=/home/nbops
LABEL {labels}
USER {USER_ID}:{USER_ID}
WORKDIR /home/nbops
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 CMD {health}
# Exec form: the server is the container's main process, so SIGTERM reaches it directly.
ENTRYPOINT ["/opt/venv/bin/python", "-m", "nbops.deploy.entrypoint"]
"""
