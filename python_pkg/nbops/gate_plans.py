"""Before any gate runs: which notebook each gate is, and the parameters it gets (or why not).

Nothing is executed here. A gate is a name (``gate_catalog.locate``) or a notebook path; each
must have a papermill ``parameters`` cell, and every parameter must be one a gate declares, with
the declared type (``papermill.inspect_notebook``). A plain ``key`` goes to every gate that
declares it and is refused when none does; ``gate.key`` goes to that gate only. ``model_uri`` is
always passed. A gate that cannot run gets its ``error`` outcome here, with a reason that lists
what the gate declares.

papermill and nbformat are imported when parameters are checked.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import gate_catalog
from .errors import InvalidInput
from .gate_verdicts import ERROR, GateOutcome

_TYPES: dict[str, Callable[[Any], bool]] = {
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "str": lambda v: isinstance(v, str),
}
_NAME = re.compile(r"[^\w.\-]")


@dataclass
class Plan:
    """One gate about to run: its name (the tag it is recorded under), notebook and parameters."""

    name: str
    path: Path | None
    declared: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    #: Set when the gate cannot run (an ``error`` outcome).
    outcome: GateOutcome | None = None


def plan_gates(
    gates: list[str], model_uri: str, parameters: dict[str, Any], project_root: Path
) -> list[Plan]:
    """A plan per gate, in order; ``InvalidInput`` for an unknown name or a malformed parameter."""
    plans = [locate(g, project_root) for g in gates]
    refuse_duplicates(plans)
    return check_parameters(plans, model_uri, parameters)


#: What can only be a model or prompt reference, never a gate name (no "/") or notebook (".ipynb").
_URI = re.compile(r"(?:models|prompts):/\S+")
#: ``NAME@ALIAS`` / ``NAME/VERSION`` without a scheme: a registered model, as ``models:/`` would say.
_BARE = re.compile(r"[^/@\s]+(?:@[^/@\s]+|/\d+)")
_SUBJECT_HINT = "name it once, positionally (prompts:/NAME@ALIAS) or with --model"


def split_subject(arguments: list[str], model_uri: str | None, project_root: Path) -> tuple[list[str], str]:
    """``(gates, model or prompt reference)`` from ``nbops gate run GATE... [SUBJECT] [--model SUBJECT]``.

    An argument is the subject when only a reference can look like it: ``models:/...`` or
    ``prompts:/...``, or ``NAME@ALIAS`` / ``NAME/VERSION`` (a model) that is neither a gate this
    project knows nor an existing file. One that could be both is refused unless ``--model``
    names the subject, so a gate is never taken for a version; a ``.ipynb`` path is always a gate.
    """
    known = {g.name for g in gate_catalog.known_gates(project_root)}
    gates: list[str] = []
    subjects: list[str] = [model_uri] if model_uri is not None else []
    for argument in arguments:
        text = str(argument).strip()
        if text.endswith(".ipynb") or not (_URI.fullmatch(text) or _BARE.fullmatch(text)):
            gates.append(argument)
        elif _URI.fullmatch(text):
            subjects.append(text)
        elif text in known or Path(text).expanduser().exists():
            if model_uri is None:
                raise InvalidInput(
                    f"{text!r} is both a gate and a model version; name the version with --model "
                    f"(e.g. --model models:/{text}) and {text!r} is taken as the gate."
                )
            gates.append(argument)
        else:
            subjects.append("models:/" + text)
    if not subjects:
        raise InvalidInput(f"no model or prompt version to gate; {_SUBJECT_HINT}.")
    if len(subjects) > 1:
        raise InvalidInput(f"gates run on one version at a time, not {', '.join(subjects)}; {_SUBJECT_HINT}.")
    return gates, subjects[0]


def locate(gate_name: str, project_root: Path) -> Plan:
    """The plan of one gate named by ``gate_name``: a gate name or a notebook path."""
    text = str(gate_name).strip()
    named = gate_catalog.is_name(text) and not text.endswith(".ipynb")
    path = gate_catalog.locate(text, project_root).resolve()
    label = text if named else (_NAME.sub("_", path.stem) or "gate")
    if not path.is_file():
        if named:  # only a shipped name resolves to a notebook that is not there
            why = f"the shipped gate is not at {path} and not in the installed package (reinstall nbops)"
        else:
            why = f"no notebook {path}"
        known = ", ".join(g.name for g in gate_catalog.known_gates(project_root))
        hint = f"name a notebook path or one of the known gates: {known or 'none'}"
        return Plan(label, path, outcome=GateOutcome(label, ERROR, f"could not run: {why}; {hint}", path))
    return Plan(label, path)


def refuse_duplicates(plans: list[Plan]) -> None:
    seen: dict[str, Path | None] = {}
    for plan in plans:
        if plan.name in seen:
            raise InvalidInput(
                f"two gates are named {plan.name!r} ({seen[plan.name]} and {plan.path}); "
                "each gate records its verdict under its name, so rename one notebook."
            )
        seen[plan.name] = plan.path


def check_parameters(plans: list[Plan], model_uri: str, parameters: dict[str, Any]) -> list[Plan]:
    """Each gate's parameters, or the reason it is refused (nothing is executed)."""
    import nbformat
    import papermill

    names = {p.name for p in plans}
    plain: dict[str, Any] = {}
    scoped: dict[str, dict[str, Any]] = {}
    for key, value in parameters.items():
        if not isinstance(key, str) or not key:
            raise InvalidInput(f"a parameter name must be text, not {key!r}.")
        if key == "model_uri" or key.endswith(".model_uri"):
            raise InvalidInput("model_uri is set by --model; do not pass it as a parameter.")
        if value is not None and not isinstance(value, str | int | float | bool | list | dict):
            raise InvalidInput(
                f"parameter {key!r} must be text, a number, a bool, None, a list or a dict, not {type(value).__name__}."
            )
        if "." in key:
            gate_name, _, param = key.partition(".")
            if gate_name not in names:
                raise InvalidInput(
                    f"parameter {key!r} names gate {gate_name!r}, which is not in this run "
                    f"({', '.join(sorted(names))})."
                )
            scoped.setdefault(gate_name, {})[param] = value
        else:
            plain[key] = value

    for plan in plans:
        if plan.outcome is not None:
            continue
        try:
            nb = nbformat.read(plan.path, as_version=4)
            plan.declared = papermill.inspect_notebook(str(plan.path))
        except Exception as exc:  # any unreadable notebook is the same refusal
            plan.outcome = _refused(plan, f"could not read the notebook ({_first_line(exc)})")
            continue
        if not any("parameters" in c.get("metadata", {}).get("tags", []) for c in nb.cells):
            plan.outcome = _refused(
                plan,
                "the notebook has no cell tagged 'parameters'; tag the cell that sets model_uri "
                "and the thresholds (see templates/gate.ipynb)",
            )
    undeclared = [k for k in plain if not any(k in p.declared for p in plans)]
    for plan in plans:
        if plan.outcome is not None:
            continue
        problems = []
        if "model_uri" not in plan.declared:
            problems.append("it does not declare model_uri")
        wanted = {k: v for k, v in plain.items() if k in plan.declared} | scoped.get(plan.name, {})
        for key, value in wanted.items():
            declared = plan.declared.get(key)
            if declared is None:
                problems.append(f"it does not declare {key!r}")
                continue
            kind = declared.get("inferred_type_name") or "None"
            if kind in _TYPES and not _TYPES[kind](value):
                problems.append(f"{key!r} must be {kind}, not {type(value).__name__} {value!r}")
        problems.extend(f"it does not declare {key!r}" for key in undeclared)
        if problems:
            plan.outcome = _refused(plan, "refused: " + "; ".join(problems))
        else:
            plan.params = {"model_uri": model_uri} | wanted
    return plans


def _refused(plan: Plan, why: str) -> GateOutcome:
    declared = ", ".join(f"{k} ({v.get('inferred_type_name') or '?'})" for k, v in plan.declared.items())
    listing = f"; it declares: {declared}" if declared else ""
    return GateOutcome(plan.name, ERROR, f"{why}{listing}", plan.path)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
