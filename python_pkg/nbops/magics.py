"""IPython magics: the notebook face of nbops.

Parsing and display only; the work is done by the core (``nbops.tracking``).
This module must import nothing heavy: it is loaded by ``%load_ext nbops``.
"""

from __future__ import annotations

import ast

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring


def run_cell_body(shell, cell: str, header: str) -> None:
    """Execute a cell magic's body in the user namespace the way IPython runs a cell.

    Magics and shell escapes inside the body work (IPython's transforms), the
    last expression is displayed, and an exception leaves here unchanged, so the
    notebook shows the user's own traceback and papermill sees the cell fail.
    Tracebacks show the whole cell, ``header`` (the magic line) included, with
    the line numbers the user sees in the notebook.
    """
    __tracebackhide__ = True
    source = shell.transform_cell(cell)
    number = max(shell.execution_count - 1, 0)  # IPython counts the running cell already
    filename = shell.compile.cache(f"{header}\n{source}", number, raw_code=f"{header}\n{cell}")
    tree = ast.increment_lineno(ast.parse(source, filename=filename), 1)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr) and not source.rstrip().endswith(";"):
        last = ast.Expression(tree.body.pop().value)
    flags = shell.compile.flags
    namespaces = (shell.user_global_ns, shell.user_ns)
    exec(compile(tree, filename, "exec", flags=flags, dont_inherit=True), *namespaces)
    if last is not None:
        shell.displayhook(eval(compile(last, filename, "eval", flags=flags, dont_inherit=True), *namespaces))


@magics_class
class NbopsMagics(Magics):
    """``%%track`` and friends."""

    @magic_arguments()
    @argument("run_name", nargs="?", default=None, help="Name of the MLflow run (default: MLflow picks one).")
    @argument("--experiment", "-e", default=None, help="Experiment to log to (created if missing).")
    @cell_magic
    def track(self, line: str, cell: str) -> None:
        """Run this cell as an MLflow run in the project's store.

        The run ends FINISHED when the cell completes and FAILED when it raises;
        the exception is still raised, so the notebook (and papermill) stop as
        usual. Inside the cell, ``mlflow.log_metric`` and friends log to it.

        Example::

            %%track baseline
            model.fit(X, y)
            mlflow.log_metric("accuracy", model.score(X_test, y_test))
        """
        __tracebackhide__ = True
        from . import tracking
        from .errors import NbopsError

        args = parse_argstring(self.track, line)
        run = None
        try:
            with tracking.track(args.run_name, experiment=args.experiment) as run:
                run_cell_body(self.shell, cell, f"%%track {line}".rstrip())
        except NbopsError as exc:
            if run is None:  # nbops refused to start the run: say why, in one line
                raise UsageError(str(exc)) from None
            raise
        finally:
            if run is not None:
                print(tracking.summary(run.info.run_id).describe())
