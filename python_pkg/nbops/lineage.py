"""Where a run came from: notebook, cell, git state, environment and the owning process.

Everything here is read from the process itself (environment, /proc, git), never
asked of the user, so a run is traceable whether it was started by a click in
JupyterLab, a plain ``papermill in.ipynb out.ipynb`` or a script.
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

#: Set by nbops' own notebook runners (gates) for the kernels they start.
ENV_NOTEBOOK_PATH = "NBOPS_NOTEBOOK_PATH"
#: Set by ``nbops reproduce`` (to ``MODEL/VERSION``) for the kernel that runs a training notebook
#: again: the registry then logs models but creates no version and moves no alias.
ENV_REPRODUCING = "NBOPS_REPRODUCING"

# Tag names. MLflow's own ``mlflow.source.*`` tags are filled too, so the MLflow UI shows them.
TAG_NOTEBOOK = "nbops.notebook.path"
TAG_CELL_HASH = "nbops.cell.sha256"
TAG_EXECUTION_COUNT = "nbops.cell.execution_count"
TAG_GIT_COMMIT = "mlflow.source.git.commit"
TAG_GIT_BRANCH = "mlflow.source.git.branch"
TAG_GIT_REPO = "mlflow.source.git.repoURL"
TAG_GIT_DIRTY = "nbops.git.dirty"
#: Whether the uncommitted changes of a dirty tree were recorded: ``recorded`` or ``too large: ...``.
TAG_GIT_DIFF = "nbops.git.diff"
#: How many untracked files (not in git, not ignored) the tree had; their names are an artifact.
TAG_GIT_UNTRACKED = "nbops.git.untracked"
TAG_HOST = "nbops.owner.host"
TAG_PID = "nbops.owner.pid"
TAG_PROCESS_START = "nbops.owner.started"
TAG_KERNEL = "nbops.owner.kernel_id"
TAG_PYTHON = "nbops.env.python"
TAG_ENV_HASH = "nbops.env.sha256"


#: Artifacts of a dirty tree: every tracked file's uncommitted change (``git diff HEAD --binary``,
#: base64 when it is not UTF-8 text), and the notebook's own part of it, kept for reading.
DIFF_ARTIFACT = "lineage/worktree.diff"
DIFF_ARTIFACT_BASE64 = "lineage/worktree.diff.base64"
NOTEBOOK_DIFF_ARTIFACT = "lineage/notebook.diff"
UNTRACKED_ARTIFACT = "lineage/untracked.txt"
#: Above this many bytes the tree's diff is not recorded (the tag says so): a run is no backup.
DIFF_LIMIT = 5_000_000
DIFF_RECORDED = "recorded"
DIFF_TOO_LARGE = "too large"
#: At most this many untracked names are recorded.
UNTRACKED_LIMIT = 1000


def reproducing() -> str | None:
    """``MODEL/VERSION`` when this process was started by ``nbops reproduce`` to rebuild it, else None."""
    return os.environ.get(ENV_REPRODUCING) or None


def reproduction_environment(target: str) -> dict[str, str]:
    """The environment ``nbops reproduce`` gives the kernel that rebuilds ``target``."""
    return {ENV_REPRODUCING: target}


@dataclass
class Lineage:
    """The facts recorded on a run, as tags and as small text artifacts."""

    tags: dict[str, str] = field(default_factory=dict)
    #: artifact path → text content
    texts: dict[str, str] = field(default_factory=dict)


# --- the owning process -------------------------------------------------------------------------


def kernel_id() -> str | None:
    """The Jupyter kernel id of this process, when it is a kernel."""
    if "ipykernel" not in sys.modules:
        return None
    try:
        from ipykernel import get_connection_file

        name = Path(get_connection_file()).stem
    except Exception:  # not a running kernel (e.g. IPython in a terminal)
        return None
    # Jupyter servers name connection files kernel-<kernel id>.json; other launchers use temp names.
    return name.removeprefix("kernel-") if name.startswith("kernel-") else None


@functools.cache
def _process_start() -> str:
    import psutil

    return f"{psutil.Process().create_time():.3f}"


def owner_tags() -> dict[str, str]:
    """Host, pid and process start time: enough to tell a dead owner from a live one."""
    tags = {TAG_HOST: socket.gethostname(), TAG_PID: str(os.getpid()), TAG_PROCESS_START: _process_start()}
    kid = kernel_id()
    if kid:
        tags[TAG_KERNEL] = kid
    return tags


# --- the notebook -------------------------------------------------------------------------------


def notebook_path(user_ns: dict | None = None) -> str | None:
    """The path of the notebook this kernel runs, or ``None`` outside a notebook.

    JupyterLab tells its kernels through ``JPY_SESSION_NAME`` (also ``__session__``);
    nbops' runners set ``NBOPS_NOTEBOOK_PATH``; a kernel started by the papermill
    command finds the input notebook on its parent's command line.
    """
    explicit = os.environ.get(ENV_NOTEBOOK_PATH)
    if explicit:
        return str(Path(explicit).resolve())
    session = os.environ.get("JPY_SESSION_NAME") or (user_ns or {}).get("__session__")
    if isinstance(session, str) and session:
        path = Path(session)
        return str(path if path.is_absolute() else (Path.cwd() / path).resolve())
    return _papermill_input_path()


@functools.cache
def _papermill_input_path() -> str | None:
    try:
        import psutil

        parent = psutil.Process().parent()
        if parent is None:
            return None
        argv, cwd = parent.cmdline(), parent.cwd()
        launched_in = parent.environ().get("PWD")
    except Exception:
        return None
    return papermill_input_from_argv(argv, cwd, launched_in)


def papermill_input_from_argv(argv: list[str], cwd: str, launched_in: str | None = None) -> str | None:
    """The input notebook of a ``papermill ...`` command line.

    papermill reads its input before it changes into ``--cwd``, so a relative input
    path is relative to the folder papermill was launched in: the shell's ``PWD``
    when known, else ``cwd`` with the ``--cwd`` step undone.
    """
    for index, word in enumerate(argv[:3]):
        if Path(word).name == "papermill" or (word == "-m" and argv[index + 1 : index + 2] == ["papermill"]):
            start = index + (2 if word == "-m" else 1)
            break
    else:
        return None
    try:
        from papermill.cli import papermill as command

        context = command.make_context("papermill", list(argv[start:]), resilient_parsing=True)
    except Exception:
        return None
    path = context.params.get("notebook_path")
    if not path or "://" in path or path == "-":
        return path or None
    if Path(path).is_absolute():
        return str(Path(path).resolve())
    candidates = [Path(launched_in)] if launched_in else []
    moved_to = context.params.get("cwd")
    if moved_to and not Path(moved_to).is_absolute():
        undone = Path(cwd)
        for _ in Path(moved_to).parts:
            undone = undone.parent
        candidates.append(undone)
    candidates.append(Path(cwd))
    for folder in candidates:
        if (folder / path).is_file():
            return str((folder / path).resolve())
    return str((candidates[0] / path).resolve())


def cell_lineage(source: str, execution_count: int | None) -> Lineage:
    lineage = Lineage()
    lineage.tags[TAG_CELL_HASH] = hashlib.sha256(source.encode()).hexdigest()
    if execution_count is not None:
        lineage.tags[TAG_EXECUTION_COUNT] = str(execution_count)
    lineage.texts["lineage/cell.py"] = source
    return lineage


def notebook_lineage(path: str | None) -> Lineage:
    lineage = Lineage()
    if path:
        lineage.tags[TAG_NOTEBOOK] = path
        lineage.tags["mlflow.source.name"] = path
        lineage.tags["mlflow.source.type"] = "NOTEBOOK"
    folder = Path(path).parent if path and "://" not in path else Path.cwd()
    git = git_state(folder, Path(path).name if path and "://" not in path else None)
    lineage.tags.update(git.tags)
    lineage.texts.update(git.texts)
    return lineage


# --- git ----------------------------------------------------------------------------------------


def _git(folder: Path, *args: str) -> str | None:
    done = _git_bytes(folder, *args)
    return done.decode(errors="replace") if done is not None else None


def _git_bytes(folder: Path, *args: str, timeout: float = 10) -> bytes | None:
    try:
        done = subprocess.run(["git", *args], cwd=folder, capture_output=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


#: ``git diff`` as ``git apply`` reads it back, whatever the user's diff settings say.
_DIFF = (
    "-c", "diff.noprefix=false", "-c", "diff.mnemonicPrefix=false", "-c", "core.quotePath=true",
    "diff", "HEAD", "--binary", "--no-color", "--no-ext-diff", "--no-textconv", "--no-renames",
)  # fmt: skip


def git_state(folder: Path, notebook: str | None = None) -> Lineage:
    """Commit, branch, dirty flag, the tree's uncommitted diff and untracked names, when in a repository.

    A dirty run keeps the whole working tree's diff of tracked files (binary files included), not
    only the notebook's: a helper module edited beside the notebook is part of what trained the
    model, and ``nbops reproduce`` applies it again. Untracked files are named, not copied.
    """
    lineage = Lineage()
    if not folder.is_dir():
        return lineage
    status = _git(folder, "status", "--porcelain=v2", "--branch", "--untracked-files=no")
    if status is None:
        return lineage
    dirty = False
    for line in status.splitlines():
        if line.startswith("# branch.oid ") and line.split()[2] != "(initial)":
            lineage.tags[TAG_GIT_COMMIT] = line.split()[2]
        elif line.startswith("# branch.head "):
            lineage.tags[TAG_GIT_BRANCH] = line.split(maxsplit=2)[2]
        elif not line.startswith("#"):
            dirty = True
    lineage.tags[TAG_GIT_DIRTY] = str(dirty).lower()
    remote = _git(folder, "config", "--get", "remote.origin.url")
    if remote and remote.strip():
        lineage.tags[TAG_GIT_REPO] = _strip_credentials(remote.strip())
    if dirty:
        _record_diff(lineage, folder, notebook)
    _record_untracked(lineage, folder)
    return lineage


def _record_diff(lineage: Lineage, folder: Path, notebook: str | None) -> None:
    diff = _git_bytes(folder, *_DIFF, timeout=60)
    if diff is None:
        return
    if len(diff) > DIFF_LIMIT:
        lineage.tags[TAG_GIT_DIFF] = f"{DIFF_TOO_LARGE}: {len(diff)} bytes, above {DIFF_LIMIT}"
    elif diff:
        try:
            lineage.texts[DIFF_ARTIFACT] = diff.decode()
        except UnicodeDecodeError:  # a text file in another encoding: kept byte for byte
            import base64

            lineage.texts[DIFF_ARTIFACT_BASE64] = base64.b64encode(diff).decode()
        lineage.tags[TAG_GIT_DIFF] = DIFF_RECORDED
    if notebook:
        own = _git(folder, "diff", "HEAD", "--", notebook)
        if own:
            lineage.texts[NOTEBOOK_DIFF_ARTIFACT] = own


def _record_untracked(lineage: Lineage, folder: Path) -> None:
    """Names of untracked, not ignored files (paths from the repository's top), when there are any."""
    listed = _git(
        folder, "ls-files", "--others", "--exclude-standard", "--directory", "--full-name", "-z", ":/"
    )
    names = [name for name in (listed or "").split("\0") if name]
    if names:
        lineage.tags[TAG_GIT_UNTRACKED] = str(len(names))
        lineage.texts[UNTRACKED_ARTIFACT] = "".join(f"{name}\n" for name in names[:UNTRACKED_LIMIT])


def _strip_credentials(url: str) -> str:
    from .config import redact_uri

    return redact_uri(url)


# --- the environment ----------------------------------------------------------------------------


@functools.cache
def installed_versions() -> dict[str, tuple[str, str]]:
    """Lower-cased distribution name → (name, version) of this environment, read once per process."""
    from importlib.metadata import distributions

    found = {}
    for dist in distributions():
        name = dist.metadata.get("Name")
        if name:
            found[name.lower()] = (name, dist.version)
    return found


@functools.cache
def pinned_requirements() -> str:
    """``name==version`` for every distribution in this environment, computed once per process."""
    pins = installed_versions()
    return "".join(f"{pins[k][0]}=={pins[k][1]}\n" for k in sorted(pins))


@functools.cache
def _module_distributions() -> dict[str, list[str]]:
    from importlib.metadata import packages_distributions

    return packages_distributions()


def pins_for_modules(modules: set[str], always: tuple[str, ...] = ()) -> list[str]:
    """Pinned requirements for top-level modules (``sklearn`` → ``scikit-learn==1.9.1``).

    This is what MLflow infers by loading a model in a subprocess (seconds); the
    answer is read from this environment's metadata instead (milliseconds).
    """
    installed = installed_versions()
    names = {name.lower() for name in always}
    for module in modules:
        names.update(d.lower() for d in _module_distributions().get(module, []))
    return sorted(f"{installed[n][0]}=={installed[n][1]}" for n in names if n in installed)


def environment_lineage() -> Lineage:
    requirements = pinned_requirements()
    lineage = Lineage()
    lineage.tags[TAG_PYTHON] = platform.python_version()
    lineage.tags[TAG_ENV_HASH] = hashlib.sha256(requirements.encode()).hexdigest()
    lineage.texts["environment/requirements.txt"] = requirements
    return lineage
