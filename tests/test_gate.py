"""nbops.gate: checks, how they are displayed, and how a verdict is read back from an executed notebook."""

from __future__ import annotations

import contextlib
import json
import math
import subprocess
import sys

import nbformat
import numpy as np
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from nbops import gate
from nbops.errors import InvalidInput


@pytest.mark.parametrize(
    ("value", "op", "threshold", "passed"),
    [
        (0.95, ">=", 0.9, True),
        (0.9, ">=", 0.9, True),
        (0.89, ">=", 0.9, False),
        (0.9, ">", 0.9, False),
        (0.91, ">", 0.9, True),
        (12, "<=", 12, True),
        (13, "<=", 12, False),
        (11.9, "<", 12, True),
        (12, "<", 12, False),
        (0, "==", 0, True),
        (1, "==", 0, False),
    ],
)
def test_check_compares_by_op(value, op, threshold, passed) -> None:
    result = gate.check("metric", value, op, threshold)
    assert result == gate.Check("metric", value, op, threshold, passed)


def test_check_takes_numpy_scalars_and_stores_plain_numbers() -> None:
    result = gate.check("accuracy", np.float32(0.5), ">=", np.int64(0))
    assert result.passed and type(result.value) is float and type(result.threshold) is int
    assert json.dumps(result.to_dict())
    assert gate.check("flag", np.bool_(True), "==", 1).passed


def test_a_nan_value_fails_and_non_finite_numbers_survive_json() -> None:
    result = gate.check("roc_auc", float("nan"), ">=", 0.5)
    assert not result.passed
    unbounded = gate.check("rmse", 3.0, "<=", float("inf"))
    assert unbounded.passed
    for item in (result, unbounded):
        data = json.loads(json.dumps(item.to_dict(), allow_nan=False))
        back = gate.Check.from_dict(data)
        assert back.name == item.name and back.passed == item.passed
        assert math.isnan(back.value) if math.isnan(item.value) else back.threshold == item.threshold


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("accuracy", 0.9, "=>", 0.8), "unknown op '=>'; use one of >=, <=, >, <, =="),
        (("accuracy", "0.9", ">=", 0.8), "the value must be a number, not str '0.9'"),
        (("accuracy", None, ">=", 0.8), "the value must be a number, not NoneType"),
        (("accuracy", np.array([0.9, 0.8]), ">=", 0.8), "the value must be a number"),
        (("accuracy", 0.9, ">=", "high"), "the threshold must be a number"),
        (("accuracy", 0.9, ">=", float("nan")), "the threshold is NaN"),
        (("", 0.9, ">=", 0.8), "a check needs a name"),
    ],
)
def test_bad_input_is_a_one_line_error(args, message) -> None:
    with pytest.raises(InvalidInput) as caught:
        gate.check(*args)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_check_displays_a_json_text_and_html_bundle() -> None:
    shell = InteractiveShell.instance()
    with capture_output() as captured:
        shell.run_cell("from nbops import gate\ngate.check('accuracy', 0.95, '>=', 0.9)")
        shell.run_cell("gate.check('<b>f1</b>', 0.5, '>=', 0.9)")
    passed, failed = (output.data for output in captured.outputs)  # the returned Check is not shown again
    assert passed[gate.MIMETYPE] == {
        "name": "accuracy",
        "value": 0.95,
        "op": ">=",
        "threshold": 0.9,
        "passed": True,
    }
    assert passed["text/plain"] == "✓ accuracy 0.95 >= 0.9"
    assert failed["text/plain"] == "✗ <b>f1</b> 0.5 >= 0.9"
    assert "var(--jp-success-color1, #" in passed["text/html"] and "&gt;=" in passed["text/html"]
    assert "var(--jp-error-color1, #" in failed["text/html"]
    assert "<b>f1</b>" not in failed["text/html"] and "&lt;b&gt;f1&lt;/b&gt;" in failed["text/html"]


def test_outside_ipython_a_check_prints_one_line() -> None:
    code = "from nbops import gate\ngate.check('latency_p95_ms', 12.5, '<=', 10)"
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert shown.stdout == "✗ latency_p95_ms 12.5 <= 10\n"


def test_importing_gate_does_not_import_mlflow() -> None:
    code = "import sys\nimport nbops.gate\nprint('mlflow' in sys.modules, 'pandas' in sys.modules)"
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "False False"


def execute(*sources: str) -> nbformat.NotebookNode:
    """A notebook of these code cells, executed by a real kernel; an error stops it, as in papermill."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    client = NotebookClient(nb, kernel_name="python3", timeout=60)
    with contextlib.suppress(CellExecutionError):  # the error is in the cell's outputs
        client.execute()
    return nb


def test_checks_and_verdict_are_read_back_from_executed_notebooks() -> None:
    nb = execute(
        "from nbops import gate\nimport numpy as np",
        "gate.check('accuracy', np.float64(0.95), '>=', 0.9)\nprint('between')\ngate.check('f1', 0.7, '>=', 0.8)",
        "gate.check('rmse', 1.5, '<=', float('inf'))",
    )
    checks = gate.checks_from_notebook(nb)
    assert [(c.name, c.passed) for c in checks] == [("accuracy", True), ("f1", False), ("rmse", True)]
    assert checks[2].threshold == math.inf
    status, reason = gate.verdict(nb)
    assert status == "failed"
    assert reason == "1 of 3 checks failed: ✗ f1 0.7 >= 0.8"

    # The same notebook, read from disk as a runner would, gives the same answer.
    assert gate.checks_from_notebook(nbformat.reads(nbformat.writes(nb), as_version=4)) == checks


def test_verdict_passes_only_when_every_check_passed() -> None:
    nb = execute("from nbops import gate", "gate.check('a', 1, '==', 1)\ngate.check('b', 2, '>', 1)")
    assert gate.verdict(nb) == ("passed", "all 2 checks passed")


def test_an_error_cell_fails_the_gate_even_after_passing_checks() -> None:
    nb = execute(
        "from nbops import gate",
        "gate.check('accuracy', 0.95, '>=', 0.9)",
        "raise RuntimeError('holdout file is empty\\nsecond line')",
        "gate.check('never', 1, '==', 1)",
    )
    assert [c.name for c in gate.checks_from_notebook(nb)] == ["accuracy"]
    # The third cell, prompt In [3]: only the first line of the message.
    assert gate.verdict(nb) == ("failed", "cell 3 (In [3]): RuntimeError: holdout file is empty")


def test_a_gate_without_checks_fails() -> None:
    nb = execute("x = 1")
    assert gate.verdict(nb) == ("failed", "the gate made no check")
    assert gate.verdict(nbformat.v4.new_notebook()) == ("failed", "the gate made no check")


def test_a_failing_line_magic_is_named_by_its_cell_type_and_message(tmp_path) -> None:
    """papermill marks the cell failed, but IPython leaves no error output, only a stderr line.

    The cell is named as the gate's author counts it (markdown cells included, papermill's cells
    not), with the prompt the executed notebook shows beside it.
    """
    import papermill as pm

    source = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# A gate"),
            nbformat.v4.new_code_cell("threshold = 0", metadata={"tags": ["parameters"]}),
            nbformat.v4.new_markdown_cell("## Checks"),
            nbformat.v4.new_code_cell("from nbops import gate\ngate.check('ok', 1, '>=', threshold)"),
            nbformat.v4.new_code_cell("x = 1\n%no_such_magic --now"),
            nbformat.v4.new_code_cell("print('never')"),
        ],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )
    nbformat.write(source, tmp_path / "gate.ipynb")
    with contextlib.suppress(pm.PapermillExecutionError):
        pm.execute_notebook(
            tmp_path / "gate.ipynb", tmp_path / "out.ipynb", parameters={"threshold": 1}, progress_bar=False
        )
    executed = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    (error,) = gate.errors_in_notebook(executed)
    # The author's fifth cell; its prompt is In [4] because papermill's injected parameters cell
    # ran second.
    assert str(error) == "cell 5 (In [4]): UsageError: Line magic function `%no_such_magic` not found."
    # On disk it is the eighth cell: papermill added an error banner on top, the injected
    # parameters below the parameters cell and a banner above the failed cell.
    assert error.index == 7
    cell = executed.cells[7]
    assert cell.source == source.cells[4].source and cell.execution_count == 4
    tags = [c.metadata.get("tags", []) for c in executed.cells[:7]]
    assert tags == [
        ["papermill-error-cell-tag"],
        [],
        ["parameters"],
        ["injected-parameters"],
        [],
        [],
        ["papermill-error-cell-tag"],
    ]
    assert gate.verdict(executed) == ("failed", str(error))
    # A reason that names papermill's injected cell (a timeout while it runs) says so.
    assert gate.name_of_cell(executed, 3) == "papermill's injected parameters cell (In [2])"
