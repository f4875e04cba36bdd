"""Which gates a project can name, and which notebook each name means.

A gate is named by its notebook's file name without ``.ipynb``. Two places hold named gates:

1. **project** — ``notebooks/gates/<name>.ipynb`` under the project root: the team's own gates,
   and its edited copies of shipped ones;
2. **shipped** — the gates nbops ships: inside the installed package (the wheel carries the
   repository's ``notebooks/gates`` as ``nbops/gate_notebooks``), or the source checkout of an
   editable install.

The project's copy wins when both have a name, so a team can change a shipped gate without
forking nbops. Anything else is named by its path. The CLI, ``%gate``, the promotion policy and
retraining all go through ``locate``, so a name means the same notebook everywhere.

Standard library only: no MLflow, no papermill.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InvalidInput

#: The gates nbops ships, documented in the README.
SHIPPED = ("performance", "data_validation", "fairness", "latency", "llm_quality")
PROJECT, PACKAGE = "project", "shipped"
#: Where a project keeps its gates, under the project root.
PROJECT_GATES = Path("notebooks") / "gates"

_HERE = Path(__file__).parent


@dataclass(frozen=True)
class KnownGate:
    """A gate name, the notebook it means, where that comes from, and the copies it overrides."""

    name: str
    path: Path
    source: str  # project | shipped
    #: ``(source, path)`` of the notebooks with the same name that lose to ``path``.
    overrides: tuple[tuple[str, Path], ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "path": str(self.path),
            "overrides": [{"source": s, "path": str(p)} for s, p in self.overrides],
        }


def folders(project_root: Path) -> list[tuple[str, Path]]:
    """The folders that hold named gates, the winning one first."""
    return [
        (PROJECT, project_root / PROJECT_GATES),
        (PACKAGE, _HERE / "gate_notebooks"),
        (PACKAGE, _HERE.parents[1] / PROJECT_GATES),
    ]


def known_gates(project_root: Path) -> list[KnownGate]:
    """Every gate the project can name, sorted by name, each with the notebook that wins."""
    found: dict[str, list[tuple[str, Path]]] = {}
    seen: set[Path] = set()
    for source, folder in folders(project_root):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.ipynb")):
            real = path.resolve()
            if path.name.startswith(".") or real in seen or not path.is_file():
                continue
            seen.add(real)
            found.setdefault(path.stem, []).append((_source_of(real, source, project_root), path))
    gates = []
    for name, copies in sorted(found.items()):
        (source, path), *lost = copies
        gates.append(KnownGate(name, path, source, tuple(lost)))
    return gates


def _source_of(real: Path, source: str, project_root: Path) -> str:
    """A project whose ``notebooks/gates`` is the shipped folder itself (nbops' own checkout) ships it."""
    if source == PROJECT and any(real.parent == f.resolve() for s, f in folders(project_root)[1:]):
        return PACKAGE
    return source


def is_name(text: str) -> bool:
    """``my_gate`` is a name; ``gates/my_gate.ipynb``, ``my_gate.ipynb`` and ``~/x`` are paths."""
    return bool(text) and not any(sep in text for sep in ("/", "\\")) and not text.startswith(("~", "."))


def locate(text: str, project_root: Path) -> Path:
    """The notebook a gate name or path means.

    A name resolves through ``known_gates`` (the project's copy first); a path is taken as it is.
    Raises ``InvalidInput`` for a name no folder holds (and no file of that name exists here),
    listing the names that exist, in one line.
    """
    text = str(text).strip()
    if not is_name(text) or text.endswith(".ipynb"):
        return Path(text).expanduser()
    gates = {g.name: g for g in known_gates(project_root)}
    if text in gates:
        return gates[text].path
    if text in SHIPPED:  # a broken install: said where it was looked for, by the caller
        return _HERE / "gate_notebooks" / f"{text}.ipynb"
    if Path(text).is_file():
        return Path(text)
    raise InvalidInput(unknown_message(text, list(gates)))


def unknown_message(name: str, names: list[str]) -> str:
    """One line: the unknown name, the names there are, and how to add one."""
    known = ", ".join(sorted(names)) or "none"
    return (
        f"no gate named {name!r}; known gates: {known} (nbops gate list shows where each comes from); "
        f"add {PROJECT_GATES / (name + '.ipynb')} or name a notebook path."
    )


def shipped_gate(name: str, project_root: Path) -> Path:
    """Where a shipped gate's notebook is: the project's own copy wins, so a team can edit it.

    Then the copy inside the installed package, then the source checkout of an editable install.
    """
    candidates = [folder / f"{name}.ipynb" for _, folder in folders(project_root)]
    return next((c for c in candidates if c.is_file()), candidates[0])
