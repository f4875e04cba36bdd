"""The source of a run as it was: the recorded commit in a temporary ``git worktree``, plus its diff.

A run remembers its commit, whether the tree was dirty, and the uncommitted diff of every tracked
file (runs recorded before that kept the notebook's alone). To run the notebook again as it was,
that commit is checked out beside the user's working tree (never in it: their branch, index and
edits stay untouched) and the diff is applied on top. Whatever cannot
be rebuilt faithfully (a commit the repository lacks, a notebook the commit lacks, a dirty tree
whose changes were not recorded or no longer apply) is refused with one line, before any kernel
starts.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import NbopsError


class Refused(NbopsError):
    """The source of the run cannot be rebuilt as it was; nothing ran."""


@dataclass(frozen=True)
class Source:
    """Where the notebook of a run is: a repository, the recorded commit and the notebook's path in it."""

    repo: Path
    commit: str
    notebook: str  # relative to the repository's top folder, with forward slashes
    #: The recorded uncommitted diff (b"" when the tree was clean): ``git diff HEAD --binary`` output.
    diff: bytes = b""
    #: Whether the diff covers the whole tree (else only the notebook, as older runs recorded).
    whole_tree: bool = True


def _git(folder: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["git", *args], cwd=folder, input=stdin, capture_output=True, timeout=120, check=False
    )
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")
    )


def repository(*candidates: Path | None) -> Path:
    """The top folder of the first candidate inside a git work tree."""
    for folder in candidates:
        if folder is None or not folder.is_dir():
            continue
        done = _git(folder, "rev-parse", "--show-toplevel")
        if done.returncode == 0 and done.stdout.strip():
            return Path(done.stdout.strip())
    shown = ", ".join(str(c) for c in candidates if c is not None)
    raise Refused(
        f"no git repository at {shown}; run nbops reproduce inside the repository the model was trained from."
    )


def has_commit(repo: Path, commit: str) -> bool:
    return _git(repo, "cat-file", "-e", f"{commit}^{{commit}}").returncode == 0


def notebook_in_commit(repo: Path, commit: str, recorded: str) -> str:
    """The recorded notebook's path inside ``commit``.

    The recorded path is absolute on the machine that trained; inside this repository it is the
    part under the top folder, else the longest tail of it that the commit holds (a clone elsewhere).
    """
    path = Path(recorded)
    with contextlib.suppress(ValueError):
        relative = path.resolve().relative_to(repo.resolve()).as_posix()
        if _git(repo, "cat-file", "-e", f"{commit}:{relative}").returncode == 0:
            return relative
    listed = _git(repo, "ls-tree", "-r", "--name-only", commit).stdout.splitlines()
    parts = path.parts
    for size in range(len(parts), 0, -1):
        tail = "/".join(parts[-size:])
        if tail in listed:
            return tail
    raise Refused(
        f"commit {commit[:12]} does not hold the notebook {path.name} the run was made from "
        "(it was not committed); commit the notebook and train again."
    )


@contextlib.contextmanager
def checked_out(source: Source) -> Iterator[Path]:
    """A temporary worktree at the recorded commit with the recorded diff applied; yields its notebook.

    The worktree is removed afterwards, whatever happened.
    """
    folder = Path(tempfile.mkdtemp(prefix="nbops-reproduce-")).resolve()
    tree = folder / "source"
    added = _git(source.repo, "worktree", "add", "--detach", str(tree), source.commit)
    if added.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        reason = (added.stderr.strip().splitlines() or ["git worktree add failed"])[-1]
        raise Refused(f"cannot check out commit {source.commit[:12]} ({reason}).")
    try:
        if source.diff:
            _apply(tree, source)
        yield tree / source.notebook
    finally:
        _git(source.repo, "worktree", "remove", "--force", str(tree))
        _git(source.repo, "worktree", "prune")
        shutil.rmtree(folder, ignore_errors=True)


def _apply(tree: Path, source: Source) -> None:
    """Apply the recorded diff, all or nothing: checked first, so a refusal leaves the tree as checked out."""
    check = _git(tree, "apply", "--check", "--binary", "-", stdin=source.diff)
    changes = "uncommitted changes" if source.whole_tree else f"uncommitted changes to {source.notebook}"
    if check.returncode != 0:
        reason = (check.stderr.strip().splitlines() or ["it does not apply"])[0]
        raise Refused(
            f"the run was made from {changes} whose recorded diff no longer applies to commit "
            f"{source.commit[:12]} ({reason}); commit the changes and train again."
        )
    applied = _git(tree, "apply", "--binary", "-", stdin=source.diff)
    if applied.returncode != 0:  # pragma: no cover - checked just above
        raise Refused(
            f"the recorded diff did not apply to commit {source.commit[:12]}: {applied.stderr.strip()}"
        )
