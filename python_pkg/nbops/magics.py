"""IPython magics: the notebook face of nbops.

Parsing and display only; the work is done by the core (``nbops.tracking``).
This module must import nothing heavy: it is loaded by ``%load_ext nbops``.
"""

from __future__ import annotations

import ast
import sys

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
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


def parse_tags(items: list[str] | None, option: str = "--tag") -> dict[str, str]:
    tags = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{option} {item!r} is not KEY=VALUE; write it like {option} team=churn.")
        tags[key.strip()] = _unquote(value)
    return tags


def read_params(names: str | None, user_ns: dict) -> dict[str, object]:
    """The values of the notebook variables named in ``--params a,b,c``."""
    wanted = [name.strip() for name in (names or "").split(",") if name.strip()]
    missing = [name for name in wanted if name not in user_ns]
    if missing:
        raise UsageError(
            f"--params names {', '.join(missing)}, not defined in the notebook; "
            "define it before this cell or drop it from --params."
        )
    return {name: user_ns[name] for name in wanted}


_NBOPS_USAGE = """\
Usage: %nbops COMMAND [ARGS]

Commands:
  experiment NAME   log this notebook's runs to experiment NAME (created if missing)
  status            show the tracking store, the experiment and the active run
  --help            this text

Cell magic:
  %%track [RUN_NAME] [--params a,b] [--tag k=v]... [--autolog|--no-autolog] [--nested]
                    run the cell as an MLflow run (%%track? for details)

Registry:
  %register MODEL_VAR --name NAME [--data X_VAR] [--alias ALIAS] [--description TEXT] [--card k=v]...
  %promote NAME VERSION --to ALIAS --reason TEXT
  %rollback NAME [--alias ALIAS] --reason TEXT

Prompts (NAME above may also be prompts:/NAME):
  %%prompt NAME [--alias ALIAS] [-m MESSAGE] [--chat]
                    register the cell as a prompt version when it changed (%%prompt? for details)

Gates:
  %gate GATE... --model models:/NAME/VERSION [-p KEY VALUE]... [--parallel N] [--timeout S]

Monitoring:
  %monitor NAME@ALIAS FEATURES_VAR [--predictions VAR] [--labels VAR] [--latency VAR] [--sensitive COLUMN]
  %monitor NAME@ALIAS FEATURES_VAR --score [--labels VAR]    score with the registered version
  %monitor ... --wait                       wait for the retraining an alert starts

Serving:
  %serve NAME@ALIAS [--name N] [--port P] [--canary ALIAS=PERCENT]... [--shadow ALIAS]
  %serve --list | --stop N                  servers started in this kernel
"""


@magics_class
class NbopsMagics(Magics):
    """``%%track`` and ``%nbops``."""

    @line_magic
    def nbops(self, line: str) -> None:
        """nbops commands: experiment, status. ``%nbops --help`` lists them."""
        from . import tracking
        from .errors import NbopsError

        command, _, rest = line.strip().partition(" ")
        rest = rest.strip()
        try:
            if command in ("", "--help", "-h", "help"):
                print(_NBOPS_USAGE, end="")
            elif command == "experiment":
                if not rest:
                    raise UsageError("usage: %nbops experiment NAME")
                experiment_id = tracking.use_experiment(rest)
                print(f"nbops: runs of this notebook go to experiment {rest!r} (id {experiment_id}).")
            elif command == "status":
                if rest:
                    raise UsageError("usage: %nbops status")
                print(tracking.status_text())
            else:
                raise UsageError(f"unknown nbops command {command!r}; %nbops --help lists the commands.")
        except NbopsError as exc:
            raise UsageError(str(exc)) from None

    @magic_arguments()
    @argument("run_name", nargs="?", default=None, help="Name of the MLflow run (default: MLflow picks one).")
    @argument("--experiment", "-e", default=None, help="Experiment to log to (created if missing).")
    @argument("--params", "-p", default=None, help="Comma-separated notebook variables to log as params.")
    @argument("--tag", "-t", action="append", metavar="KEY=VALUE", help="A tag for the run; repeatable.")
    @argument(
        "--autolog", dest="autolog", action="store_true", default=None, help="scikit-learn autologging on."
    )
    @argument("--no-autolog", dest="autolog", action="store_false", help="scikit-learn autologging off.")
    @argument("--nested", action="store_true", help="Track as a child of the run already active.")
    @cell_magic
    def track(self, line: str, cell: str) -> None:
        """Run this cell as an MLflow run in the project's store.

        The run ends FINISHED when the cell completes, FAILED when it raises (the
        traceback is kept with the run and the exception still stops the notebook)
        and KILLED on an interrupt. Recorded without code: the notebook, the cell's
        source and hash, git commit/branch/dirty state, Python and pinned packages,
        and scikit-learn autologging (default on when the cell uses scikit-learn).
        Inside the cell ``nbops.log_metric`` (buffered, fast) and ``mlflow.log_*`` log to it.

        Example::

            %%track baseline --params C,max_iter --tag team=churn
            model = LogisticRegression(C=C, max_iter=max_iter).fit(X, y)
            nbops.log_metric("accuracy", model.score(X_test, y_test))
        """
        __tracebackhide__ = True
        from . import lineage, tracking
        from .errors import NbopsError

        if _asks_for_help(self.track, line):
            return
        args = parse_argstring(self.track, line)
        # Everything that can be refused is checked before the cell runs or a run starts.
        tags = parse_tags(args.tag)
        params = read_params(args.params, self.shell.user_ns)
        autolog = args.autolog
        if autolog is None:
            autolog = "sklearn" in cell or "sklearn" in sys.modules
        header = f"%%track {line}".rstrip()  # the cell as the notebook shows it starts with this line
        before = tracking.namespace_ids(self.shell.user_ns)  # so %register finds the run that made a model
        run = None
        finished = False
        try:
            with tracking.track(
                args.run_name,
                experiment=args.experiment,
                params=params,
                tags=tags,
                autolog=autolog,
                nested=args.nested,
                cell=(f"{header}\n{cell.removesuffix(chr(10))}", max(self.shell.execution_count - 1, 0)),
                notebook=lineage.notebook_path(self.shell.user_ns),
            ) as run:
                run_cell_body(self.shell, cell, header)
            finished = True
        except NbopsError as exc:
            if run is None:  # nbops refused to start the run: say why, in one line
                raise UsageError(str(exc)) from None
            raise
        finally:
            if run is not None:
                tracking.note_cell(
                    run.info.run_id,
                    run.info.run_name or run.info.run_id,
                    before,
                    self.shell.user_ns,
                    _python_source(self.shell, cell),
                    finished,
                )
                from IPython.display import display

                from .widgets.run_card import RunCard

                display(RunCard.for_run(run.info.run_id))

    def _call(self, fn, *args, **kwargs):
        """Run a core function; its refusals become one-line UsageErrors."""
        from .errors import NbopsError

        try:
            return fn(*args, **kwargs)
        except NbopsError as exc:
            raise UsageError(str(exc)) from None

    def _registry_call(self, fn, *args, **kwargs):
        """A registry change, audited with this notebook as its source."""
        from . import lineage

        return self._call(fn, *args, source=lineage.notebook_path(self.shell.user_ns), **kwargs)

    @magic_arguments()
    @argument("model_var", help="Notebook variable holding the fitted model.")
    @argument("--name", "-n", required=True, help="Registered model name (created if missing).")
    @argument(
        "--data",
        "-d",
        default=None,
        help="Variable with training data: signature, input example and monitoring's reference profile.",
    )
    @argument("--alias", "-a", default=None, help="Alias to point at the new version, e.g. challenger.")
    @argument("--description", default=None, help="Intended use and limitations, for the model card.")
    @argument("--card", action="append", metavar="KEY=VALUE", help="A model card field; repeatable.")
    @line_magic
    def register(self, line: str) -> None:
        """Log a model into the run that trained it and register a new version.

        The run is the active one when called inside a tracked cell, else the last
        finished ``%%track`` run of this kernel that assigned MODEL_VAR (the version
        then carries that run's metrics and lineage), else a new run. Records the
        signature and an input example from --data, pinned requirements, the training
        run's lineage on the version, a model card, and an audit event.
        """
        from . import registry, tracking

        if _asks_for_help(self.register, line):
            return
        args = parse_argstring(self.register, line)
        names = [args.model_var] + ([args.data] if args.data else [])
        missing = [n for n in names if n not in self.shell.user_ns]
        if missing:
            raise UsageError(
                f"{', '.join(missing)} is not defined in the notebook; run the cell that creates it first."
            )
        card = parse_tags(args.card, option="--card")
        model = self.shell.user_ns[args.model_var]
        active = self._call(registry.active_run_id)
        assigned = None if active else tracking.assigned_by(args.model_var, model)
        version = self._registry_call(
            registry.register,
            model,
            args.name,
            data=self.shell.user_ns[args.data] if args.data else None,
            alias=args.alias,
            description=_unquote(args.description) if args.description else None,
            card=card,
            run_id=assigned.run_id if assigned else None,
        )
        if not version.registered:  # under nbops reproduce: the core said so in one line
            return
        aliases = f" · aliases {', '.join(version.aliases)}" if version.aliases else ""
        print(f"✓ registered {version.name} version {version.version}{aliases} · {version.model_uri}")
        run = f"run {version.run_name!r} ({(version.run_id or '')[:8]}…)"
        if assigned:
            print(f"  attached to {run} that assigned {args.model_var}")
        elif active:
            print(f"  logged into the active {run}")
        else:
            print(
                f"  no finished tracked run of this kernel assigned {args.model_var}: logged into a new {run}"
            )

    @magic_arguments()
    @argument("name", help="Registered model name, or prompts:/NAME for a prompt.")
    @argument("version", help="Version to promote.")
    @argument("--to", dest="alias", required=True, help="Alias to point at the version, e.g. champion.")
    @argument("--reason", "-r", required=True, help="Why (recorded in the audit log).")
    @argument("--force", action="store_true", help="Override the promotion policy (audited as forced).")
    @line_magic
    def promote(self, line: str) -> None:
        """Point an alias at a version; the previous holder is remembered for %rollback."""
        from . import registry

        if _asks_for_help(self.promote, line):
            return
        args = parse_argstring(self.promote, line)
        done = self._registry_call(
            registry.promote, args.name, args.version, args.alias, _unquote(args.reason)
        )
        if done.get("held_back"):  # under nbops reproduce: the core said so in one line
            return
        before = f" (was version {done['from_version']})" if done["from_version"] else ""
        forced = " · forced past the promotion policy" if done.get("forced") else ""
        print(f"✓ {args.name}@{args.alias} → version {done['to_version']}{before}{forced}")

    @magic_arguments()
    @argument(
        "gates",
        nargs="+",
        help="Gate names (notebooks/gates/NAME.ipynb, else shipped) or notebook paths, then the version "
        "to judge (models:/NAME@ALIAS, prompts:/NAME/VERSION, NAME@ALIAS) unless --model names it.",
    )
    @argument(
        "--model",
        "-m",
        default=None,
        help="The version to judge: models:/NAME/VERSION or prompts:/NAME/VERSION (or @ALIAS).",
    )
    @argument(
        "-p", "--parameter", nargs=2, action="append", metavar=("KEY", "VALUE"), help="A gate parameter."
    )
    @argument("--parallel", type=int, default=1, help="Gates run at once.")
    @argument("--timeout", type=float, default=600, help="Seconds before a gate is stopped.")
    @argument("--report", default=None, help="Folder for executed notebooks, HTML and JUnit.")
    @line_magic
    def gate(self, line: str) -> None:
        """Run validation gates against a model version, exactly like ``nbops gate run``.

        Prints a progress line per gate and the summary; the cell fails (one line)
        when a gate failed or could not run, so a notebook run in CI stops there.
        """
        from . import config, gates
        from .gate_plans import split_subject

        if _asks_for_help(self.gate, line):
            return
        args = parse_argstring(self.gate, line)
        parameters = {key: _gate_value(value) for key, value in args.parameter or []}
        model = _unquote(args.model) if args.model is not None else None
        names, subject = self._call(split_subject, args.gates, model, config.find_project_root())
        report = self._call(
            gates.run,
            names,
            subject,
            parameters,
            parallel=args.parallel,
            timeout=args.timeout,
            report=args.report,
            progress=print,
        )
        print(report.summary_table())
        if report.exit_code:
            verdict = "could not run" if report.exit_code == 2 else "failed"
            raise UsageError(f"gates {verdict}: see the table above and the report in {report.report_dir}")

    @magic_arguments()
    @argument("name", help="Registered model name, or prompts:/NAME for a prompt.")
    @argument("--alias", "-a", default="champion", help="Alias to roll back (default: champion).")
    @argument("--reason", "-r", required=True, help="Why (recorded in the audit log).")
    @line_magic
    def rollback(self, line: str) -> None:
        """Point an alias back at the version it held before, one step per call."""
        from . import registry

        if _asks_for_help(self.rollback, line):
            return
        args = parse_argstring(self.rollback, line)
        done = self._registry_call(registry.rollback, args.name, args.alias, _unquote(args.reason))
        if done.get("held_back"):  # under nbops reproduce: the core said so in one line
            return
        print(
            f"✓ {args.name}@{args.alias} rolled back to version {done['to_version']} (was {done['from_version']})"
        )

    @magic_arguments()
    @argument("model", help="NAME@ALIAS, NAME/VERSION, or NAME for its champion.")
    @argument("features", help="Notebook variable holding the batch's input table.")
    @argument("--predictions", "-p", default=None, help="Variable with the model's predictions.")
    @argument("--labels", "-y", default=None, help="Variable with the true labels, when known.")
    @argument("--latency", default=None, help="Variable with per-prediction latencies in ms.")
    @argument("--scores", default=None, help="Variable with class probabilities (for ROC-AUC).")
    @argument(
        "--sensitive", default=None, help="Column of FEATURES (or a variable) with groups, for fairness."
    )
    @argument(
        "--score",
        action="store_true",
        help="Score FEATURES with the registered version (latency, CPU, cost).",
    )
    @argument("--timestamp", default=None, help="The batch's time (ISO 8601); default now.")
    @argument(
        "--wait",
        action="store_true",
        help="If the batch opens an alert that retrains, wait for the retraining job to end.",
    )
    @line_magic
    def monitor(self, line: str) -> None:
        """Log one batch of production data for a model version (drift, performance, latency, fairness).

        Shows a one-line summary and the per-feature drift report; alert rules of
        [tool.nbops.alerts] are evaluated on the batch. An alert that retrains starts a
        background job and the cell returns; --wait blocks until the job has finished or failed.
        """
        from .monitoring import batches

        if _asks_for_help(self.monitor, line):
            return
        args = parse_argstring(self.monitor, line)
        features = self._variable(args.features, "FEATURES")
        sensitive = args.sensitive
        if sensitive is not None and sensitive not in getattr(features, "columns", ()):
            sensitive = self._variable(sensitive, "--sensitive")
        if args.score:
            if args.predictions or args.latency:
                raise UsageError(
                    "--score measures predictions and latency itself: drop --predictions/--latency."
                )
            result = self._call(
                batches.score_and_log,
                _unquote(args.model),
                features,
                None if args.labels is None else self._variable(args.labels, "--labels"),
                sensitive=sensitive,
                timestamp=args.timestamp,
            )
        else:
            optional = {
                key: self._variable(getattr(args, key), f"--{key}")
                for key in ("predictions", "labels", "latency", "scores")
                if getattr(args, key) is not None
            }
            result = self._call(
                batches.log_batch,
                _unquote(args.model),
                features,
                optional.get("predictions"),
                optional.get("labels"),
                optional.get("latency"),
                sensitive,
                args.timestamp,
                scores=optional.get("scores"),
            )
        if args.wait and any(a.get("retrain_state") for a in result.alerts):
            from .monitoring import alerting

            print(result.summary())
            print("waiting for retraining…")
            for alert in self._call(alerting.wait_for_retraining, alerts=result.alerts):
                print(_retrain_line(alert))
        else:
            print(result.summary())
        if result.drift is not None:
            from IPython.display import display

            from .widgets.drift_report import DriftReport

            display(
                DriftReport(result.drift, title=f"{result.model} v{result.version} · batch {result.batch}")
            )

    @magic_arguments()
    @argument("model", nargs="?", help="NAME@ALIAS to serve; the server follows the alias as it moves.")
    @argument("--name", default=None, help="A name for --stop (default: NAME@ALIAS).")
    @argument("--port", type=int, default=None, help="Port on 127.0.0.1 (default: a free one).")
    @argument("--canary", action="append", metavar="ALIAS=PERCENT", help="Canary share; repeatable.")
    @argument("--shadow", default=None, metavar="ALIAS", help="Copy every request to ALIAS.")
    @argument("--list", action="store_true", help="List the servers started in this kernel.")
    @argument("--stop", default=None, metavar="NAME", help="Stop the server started under NAME.")
    @line_magic
    def serve(self, line: str) -> None:
        """Serve a registered model from a child process on 127.0.0.1, following its alias."""
        from . import serving
        from .serving.routing import parse_canary

        if _asks_for_help(self.serve, line):
            return
        args = parse_argstring(self.serve, line)
        if args.list:
            for server in serving.servers() or []:
                print(f"{server.name}: {server.target} at {server.url} (pid {server.pid})")
            if not serving.servers():
                print("no servers started in this kernel")
            return
        if args.stop:
            code = self._call(serving.stop, args.stop)
            print(f"✓ stopped {args.stop} (exit code {code})")
            return
        if not args.model:
            raise UsageError("%serve takes NAME@ALIAS, or --list, or --stop NAME.")
        canary = self._call(parse_canary, args.canary)
        server = self._call(
            serving.serve, args.model, name=args.name, port=args.port, canary=canary, shadow=args.shadow
        )
        print(f"✓ serving {server.target} at {server.url} as {server.name!r} (%serve --stop {server.name})")
        return server

    def _variable(self, name: str, what: str):
        if name not in self.shell.user_ns:
            raise UsageError(f"{what} names {name!r}, which is not defined in the notebook.")
        return self.shell.user_ns[name]


def _retrain_line(alert: dict) -> str:
    """``retraining finished: challenger v2, gates passed`` (or failed, with why)."""
    line = f"retraining {alert.get('retrain_state', 'not started')}"
    if alert.get("challenger_version"):
        line += f": challenger v{alert['challenger_version']}"
        if alert.get("gates"):
            line += f", gates {alert['gates']}"
        if alert.get("promoted") == "true":
            line += ", promoted to champion"
    if alert.get("retrain_error"):
        line += f": {alert['retrain_error']}"
    return line


def _gate_value(text: str) -> object:
    """A ``-p`` value as papermill's own command line reads it (numbers, booleans, None, text)."""
    from papermill.cli import _resolve_type

    return _resolve_type(_unquote(text))


def _python_source(shell, cell: str) -> str | None:
    """The cell as Python (magics and escapes transformed), or None if IPython cannot transform it."""
    try:
        return shell.transform_cell(cell)
    except Exception:
        return None


def _asks_for_help(magic, line: str) -> bool:
    """``-h``/``--help`` anywhere on the line prints the magic's usage (magic_arguments has no --help)."""
    if {"-h", "--help"} & set(line.split()):
        print(magic.__doc__)
        return True
    return False


def _unquote(text: str) -> str:
    """magic_arguments keeps the quotes of a quoted value; the audit log should not."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text
