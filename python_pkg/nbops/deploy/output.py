"""Writing a model's manifest folder: whole or not at all, and never over someone's hand edits.

Each generated folder carries an index (``.nbops-manifests.json``) with the SHA-256 of every file
nbops wrote and the options it was generated with. Regenerating first compares the folder with
its index: a file edited, added or removed by hand makes nbops refuse, naming the file, so a
GitOps repository never loses a change silently. The new folder is written beside the old one
and swapped in by renames, so a failure leaves the previous folder as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ..errors import InvalidInput

INDEX = ".nbops-manifests.json"


def digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_index(folder: Path) -> dict[str, Any] | None:
    """The folder's index, or ``None`` when nbops did not generate it (or it does not exist)."""
    try:
        data = json.loads((folder / INDEX).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("files"), dict) else None


def hand_edits(folder: Path) -> str | None:
    """The first file in ``folder`` that differs from what nbops last wrote there, or ``None``."""
    if not folder.exists():
        return None
    index = read_index(folder)
    present = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    present = [name for name in present if name != INDEX]
    if index is None:
        return present[0] if present else None
    files: dict[str, str] = index["files"]
    for name in present:
        if name not in files:
            return name
        if digest((folder / name).read_text(encoding="utf-8", errors="replace")) != files[name]:
            return name
    for name in sorted(files):
        if name not in present:
            return name
    return None


def _unwritable(folder: Path, exc: OSError) -> InvalidInput:
    reason = exc.strerror or type(exc).__name__
    return InvalidInput(
        f"cannot write manifests into {folder}: {reason.lower()}; choose a writable --out folder."
    )


def write_folder(folder: Path, files: dict[str, str], meta: dict[str, Any], *, force: bool = False) -> None:
    """Replace ``folder`` with ``files`` (relative name → text) and their index, atomically.

    Refuses, before writing anything, when the folder holds hand edits (unless ``force``).
    """
    if folder.exists() and not folder.is_dir():
        raise InvalidInput(f"{folder} is a file, not a folder of manifests; move it or choose another --out.")
    edited = None if force else hand_edits(folder)
    if edited is not None:
        what = "was not written by nbops" if read_index(folder) is None else "was edited by hand"
        raise InvalidInput(
            f"{folder / edited} {what}; move the change into nbops' inputs (aliases, [tool.nbops.deploy]) "
            "or out of the folder, then generate again."
        )
    index = {**meta, "files": {name: digest(text) for name, text in sorted(files.items())}}
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.new-", dir=folder.parent))
    except OSError as exc:
        raise _unwritable(folder.parent, exc) from None
    old: Path | None = None
    try:
        for name, text in files.items():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            (staging / name).write_text(text, encoding="utf-8")
        (staging / INDEX).write_text(json.dumps(index, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        if folder.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old-", dir=folder.parent))
            os.replace(folder, old / "previous")
        os.replace(staging, folder)
    except OSError as exc:
        if old is not None and (old / "previous").exists() and not folder.exists():
            os.replace(old / "previous", folder)  # put the previous folder back
        shutil.rmtree(staging, ignore_errors=True)
        raise _unwritable(folder, exc) from None
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
