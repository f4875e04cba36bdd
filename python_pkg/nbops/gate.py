"""What runs inside a gate notebook: checks that are shown, and read back from the executed notebook.

A gate is a notebook with a papermill ``parameters`` cell. Each ``check(...)`` it makes is
displayed as a mimebundle whose ``application/vnd.nbops.gate-check+json`` part is the check
itself, so whoever runs the gate reads the verdict back from the executed notebook's outputs —
which are kept even when the kernel dies later. A failing check does not raise: the notebook
goes on, and every check is reported.

Importing this module is cheap (no MLflow, no pandas); ``load_model`` and ``input_columns``
import MLflow when they are called.
"""

from __future__ import annotations

import html
import math
import numbers
import operator
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from .errors import InvalidInput

#: The mimetype of a displayed check; its data is ``Check.to_dict()``.
MIMETYPE = "application/vnd.nbops.gate-check+json"

OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
}

_PASS_COLOR = "var(--jp-success-color1, #388e3c)"
_FAIL_COLOR = "var(--jp-error-color1, #d32f2f)"


@dataclass(frozen=True)
class Check:
    """One named comparison of a measured ``value`` against a ``threshold``."""

    name: str
    value: float | int
    op: str
    threshold: float | int
    passed: bool

    def __str__(self) -> str:
        mark = "✓" if self.passed else "✗"
        return f"{mark} {self.name} {_format(self.value)} {self.op} {_format(self.threshold)}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict: a non-finite number is written as the string ``"nan"``, ``"inf"`` or ``"-inf"``."""
        data = asdict(self)
        for key in ("value", "threshold"):
            if isinstance(data[key], float) and not math.isfinite(data[key]):
                data[key] = str(data[key])
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Check:
        numbers_ = {
            k: float(data[k]) if isinstance(data[k], str) else data[k] for k in ("value", "threshold")
        }
        return cls(
            str(data["name"]), numbers_["value"], str(data["op"]), numbers_["threshold"], bool(data["passed"])
        )

    def _ipython_display_(self) -> None:
        """Shows nothing: ``check()`` has displayed the result already.

        A cell that ends with ``gate.check(...)`` would otherwise show (and record) it twice.
        """


def mimebundle(result: Check) -> dict[str, Any]:
    """The check as JSON (for machines), plain text and HTML (for people)."""
    color = _PASS_COLOR if result.passed else _FAIL_COLOR
    mark = "✓" if result.passed else "✗"
    text = html.escape(f"{_format(result.value)} {result.op} {_format(result.threshold)}")
    return {
        MIMETYPE: result.to_dict(),
        "text/plain": str(result),
        "text/html": (
            f'<div class="nbops-gate-check" data-passed="{str(result.passed).lower()}" '
            f'style="color: {color}; font-family: var(--jp-code-font-family, monospace)">'
            f"{mark} <strong>{html.escape(result.name)}</strong> {text}</div>"
        ),
    }


def check(name: str, value: Any, op: str, threshold: Any) -> Check:
    """Compare ``value`` with ``threshold`` by ``op``, display the result and return it.

    ``op`` is one of ``>=``, ``<=``, ``>``, ``<``, ``==``; ``value`` and ``threshold`` are numbers
    (NumPy scalars included). A NaN value fails the check. A failing check does not raise.
    """
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("a check needs a name, e.g. check('accuracy', acc, '>=', 0.9).")
    if op not in OPS:
        raise InvalidInput(f"check {name!r}: unknown op {op!r}; use one of {', '.join(OPS)}.")
    number = _number(name, "value", value)
    limit = _number(name, "threshold", threshold)
    if isinstance(limit, float) and math.isnan(limit):
        raise InvalidInput(f"check {name!r}: the threshold is NaN; give a number.")
    passed = not (isinstance(number, float) and math.isnan(number)) and bool(OPS[op](number, limit))
    result = Check(name.strip(), number, op, limit, passed)
    _display(result)
    return result


def _number(name: str, what: str, value: Any) -> float | int:
    item = getattr(value, "item", None)  # NumPy scalars and 0-d arrays
    if callable(item) and getattr(value, "ndim", 0) == 0 and getattr(value, "size", 1) == 1:
        value = item()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    raise InvalidInput(
        f"check {name!r}: the {what} must be a number, not {type(value).__name__} {value!r:.60}."
    )


def _format(number: float | int) -> str:
    return str(number) if isinstance(number, int) else f"{number:.6g}"


def _display(result: Check) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython comes with Jupyter
        print(result)
        return
    if get_ipython() is None:
        print(result)
    else:
        display(mimebundle(result), raw=True)


# --- reading an executed notebook back ------------------------------------------------------------


def checks_from_notebook(nb: Any) -> list[Check]:
    """Every check the notebook displayed, in order (``nb`` is an ``nbformat.NotebookNode``)."""
    found = []
    for cell in nb.cells:
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            data = output.get("data", {})
            if output.get("output_type") in ("display_data", "execute_result") and MIMETYPE in data:
                found.append(Check.from_dict(data[MIMETYPE]))
    return found


@dataclass(frozen=True)
class CellError:
    """An error a cell of an executed notebook stopped with, named as the gate's author finds that cell.

    ``index`` is the cell's place in the executed notebook (``nb.cells[index]``). ``position``
    counts, from 1, the cells the author wrote (markdown cells included, since JupyterLab shows
    them), leaving out the ones papermill adds: its injected parameters cell and its error banners.
    It is ``None`` for papermill's injected parameters cell. ``execution_count`` is the ``In [n]``
    prompt beside the cell in the executed notebook (``None`` when it has none).
    """

    index: int
    position: int | None
    execution_count: int | None
    ename: str
    evalue: str

    @property
    def cell(self) -> str:
        """``cell 3 (In [4])``: the cell's position among the author's cells and its prompt."""
        return cell_name(self.position, self.execution_count)

    def __str__(self) -> str:
        if self.ename == "SystemExit":
            call = f"sys.exit({_exit_argument(self.evalue)})"
            if self.evalue in ("", "0", "None"):
                return f"{self.cell}: {call} stopped the gate before its end"
            return f"{self.cell}: {call}"
        if self.ename == "KeyboardInterrupt":
            return f"{self.cell}: interrupted (KeyboardInterrupt)"
        if not self.ename:
            return f"{self.cell}: stopped with an error it did not describe (see the executed notebook)"
        return f"{self.cell}: {self.ename}: {self.evalue}" if self.evalue else f"{self.cell}: {self.ename}"


#: The tag papermill gives the cell it inserts with the parameters of a run.
INJECTED_TAG = "injected-parameters"
#: The tag papermill gives the two markdown banners it inserts when a cell fails.
ERROR_BANNER_TAG = "papermill-error-cell-tag"


def cell_name(position: int | None, execution_count: int | None) -> str:
    """``cell 3 (In [4])``, or ``cell 3`` for a cell without a prompt number.

    A ``position`` of ``None`` is papermill's injected parameters cell, which the author did not write.
    """
    prompt = f" (In [{execution_count}])" if execution_count is not None else ""
    if position is None:
        return f"papermill's injected parameters cell{prompt}"
    return f"cell {position}{prompt}"


def authored_position(nb: Any, index: int) -> int | None:
    """Where ``nb.cells[index]`` (0-based) sits among the cells the author wrote, counted from 1.

    The author counts the cells of the notebook they wrote, as JupyterLab shows it; papermill's
    injected parameters cell and error banners are not among them (``None`` for one of those).
    """
    if _added_by_papermill(nb.cells[index]):
        return None
    return sum(1 for cell in nb.cells[: index + 1] if not _added_by_papermill(cell))


def name_of_cell(nb: Any, index: int) -> str:
    """How the author finds ``nb.cells[index]`` (0-based): ``cell 3 (In [4])``."""
    return cell_name(authored_position(nb, index), nb.cells[index].get("execution_count"))


def _added_by_papermill(cell: Any) -> bool:
    tags = cell.get("metadata", {}).get("tags", [])
    return INJECTED_TAG in tags or ERROR_BANNER_TAG in tags


#: A line IPython writes to stderr for an error it reports without a traceback (``UsageError: ...``).
_STDERR_ERROR = re.compile(r"^(?P<ename>[A-Za-z_]\w*(?:Error|Exception|Exit|Interrupt)):\s*(?P<evalue>.*)$")


def errors_in_notebook(nb: Any) -> list[CellError]:
    """Every error a cell of the notebook stopped with, in order (``nb`` is an ``nbformat.NotebookNode``).

    An error output gives its type and the first line of its message. A line magic that fails
    (``UsageError``) leaves no error output, only a line on stderr; papermill marks that cell as
    failed, so the type and message are read from that stderr line.
    """
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code":
            continue
        count = cell.get("execution_count")
        position = authored_position(nb, index)
        outputs = cell.get("outputs", [])
        errors = [o for o in outputs if o.get("output_type") == "error"]
        for output in errors:
            evalue = str(output.get("evalue", "")).strip().split("\n")[0]
            found.append(CellError(index, position, count, str(output.get("ename", "")), evalue))
        if not errors and cell.get("metadata", {}).get("papermill", {}).get("exception") is True:
            said = [
                match
                for o in outputs
                if o.get("output_type") == "stream" and o.get("name") == "stderr"
                for line in str(o.get("text", "")).splitlines()
                if (match := _STDERR_ERROR.match(line.strip()))
            ]
            ename, evalue = (said[-1]["ename"], said[-1]["evalue"].strip()) if said else ("", "")
            found.append(CellError(index, position, count, ename, evalue))
    return found


def _exit_argument(evalue: str) -> str:
    """How the argument of ``sys.exit`` was written, from the SystemExit's message."""
    if evalue in ("", "None"):
        return ""
    try:
        int(evalue)
    except ValueError:
        return repr(evalue)
    return evalue


def verdict(nb: Any) -> tuple[str, str]:
    """``("passed" | "failed", reason)`` of an executed gate notebook.

    It passes only when at least one check was made, every check passed and no cell stopped with
    an error. Each error is named by its cell as the author counts it, with its prompt in the
    executed notebook: ``cell 3 (In [4]): ValueError: ...``.
    """
    results = checks_from_notebook(nb)
    problems = [str(error) for error in errors_in_notebook(nb)]
    failed = [str(r) for r in results if not r.passed]
    if failed:
        problems.append(f"{len(failed)} of {len(results)} checks failed: {'; '.join(failed)}")
    if not results:
        problems.append("the gate made no check")
    if problems:
        return "failed", "; ".join(problems)
    return "passed", f"all {len(results)} checks passed"


# --- helpers for gate notebooks (MLflow is imported when they are called) --------------------------


def load_model(model_uri: str, flavor: str = "auto") -> Any:
    """The model at ``model_uri``, read from the project's store.

    ``flavor="auto"`` loads the scikit-learn flavor when the model has one (so ``predict_proba``
    is there) and the generic ``pyfunc`` flavor otherwise; ``flavor="pyfunc"`` always loads pyfunc.
    """
    if not isinstance(model_uri, str) or not model_uri.strip():
        raise InvalidInput("the gate needs a model: pass -p model_uri models:/NAME/VERSION.")
    if flavor not in ("auto", "pyfunc"):
        raise InvalidInput(f"unknown flavor {flavor!r}; use 'auto' or 'pyfunc'.")
    from . import store

    store.fluent()  # points MLflow at the project's store
    import mlflow.models
    import mlflow.pyfunc

    if flavor == "auto" and "sklearn" in mlflow.models.get_model_info(model_uri).flavors:
        import mlflow.sklearn

        return mlflow.sklearn.load_model(model_uri)
    return mlflow.pyfunc.load_model(model_uri)


def input_columns(model_uri: str) -> list[str] | None:
    """The column names of the model's input signature; ``None`` when it has no named inputs."""
    from . import store

    store.fluent()
    import mlflow.models

    signature = mlflow.models.get_model_info(model_uri).signature
    if signature is None or signature.inputs is None or not signature.inputs.has_input_names():
        return None
    return list(signature.inputs.input_names())
