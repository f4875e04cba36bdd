"""Offline evaluation of an LLM application over ``mlflow.genai.evaluate``, recorded on what it judged.

``evaluate(data, predict_fn, scorers=[...], prompt="NAME@ALIAS")`` checks everything first (every
row has ``inputs``, the scorers are scorers, the prompt and model exist) so a bad call writes
nothing; then MLflow runs the evaluation (one run, a trace per row, a Feedback per row and scorer,
``<scorer>/mean`` metrics). nbops adds what MLflow leaves implicit:

* every scorer's rows scored and rows that **failed** — a scorer that raises on one row has that
  row recorded as an error and the rest go on; a scorer that failed on every row (an LLM judge
  that cannot reach its endpoint, say) has **no mean**, is reported as *could not run*, and a gate
  reading ``result.metrics`` finds nothing to pass;
* the means on the prompt version (tags ``nbops.eval.<scorer>.mean``) and on the model version
  when one is named, so the sidebar and the promotion policy read them back.

The deterministic scorers here need no LLM: ``exact_match``, ``regex``, ``length``, ``json_valid``,
``no_pii`` (MLflow's ``RegexMatch``, ``ResponseLength`` and ``PIIDetection`` where it has one).
Custom ``@mlflow.genai.scorers.scorer`` functions and MLflow's LLM judges (any OpenAI-compatible
endpoint: ``OPENAI_BASE_URL``) go in the same list.
"""

from __future__ import annotations

import html
import inspect
import json
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .. import config, store
from ..errors import InvalidInput, NotFound
from . import usage
from .tracing import _prompt_address

_Start = config.Start
TAG_PREFIX = "nbops.eval."
OK, PARTIAL, FAILED = "ok", "some rows failed", "could not run"


# --- deterministic scorers ---------------------------------------------------------------------------


def exact_match(expectation: str = "expected_response", name: str = "exact_match") -> Any:
    """1 when the output equals the row's ``expectations[expectation]`` (surrounding space ignored)."""
    from mlflow.genai.scorers import scorer

    def check(outputs: Any, expectations: dict[str, Any]) -> bool:
        if expectation not in (expectations or {}):
            raise ValueError(f"the row has no expectations[{expectation!r}] to compare with")
        return str(outputs).strip() == str(expectations[expectation]).strip()

    return scorer(check, name=name)


def regex(pattern: str, name: str = "regex_match", case_insensitive: bool = False) -> Any:
    """1 when the output matches ``pattern`` anywhere."""
    from mlflow.genai.scorers import RegexMatch

    _compile(pattern)
    return RegexMatch(name=name, pattern=pattern, case_insensitive=case_insensitive)


def length(
    min_length: int | None = None,
    max_length: int | None = None,
    unit: str = "chars",
    name: str = "response_length",
) -> Any:
    """1 when the output's length (``chars`` or ``words``) is within the bounds."""
    from mlflow.genai.scorers import ResponseLength

    if min_length is None and max_length is None:
        raise InvalidInput("length() needs min_length, max_length or both.")
    return ResponseLength(name=name, min_length=min_length, max_length=max_length, unit=unit)


def json_valid(name: str = "json_valid") -> Any:
    """1 when the output is (or is text holding) valid JSON."""
    from mlflow.genai.scorers import scorer

    def check(outputs: Any) -> bool:
        if not isinstance(outputs, str):
            return outputs is not None and _jsonable(outputs)
        try:
            json.loads(outputs)
        except ValueError:
            return False
        return True

    return scorer(check, name=name)


def no_pii(name: str = "no_pii") -> Any:
    """1 when no personal data (e-mail, phone, card or social security number…) is in the output."""
    from mlflow.genai.scorers import PIIDetection

    return PIIDetection(name=name)


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _compile(pattern: str) -> None:
    import re

    try:
        re.compile(pattern)
    except re.error as exc:
        raise InvalidInput(f"regex pattern {pattern!r} is not a valid regular expression ({exc}).") from None


# --- the result --------------------------------------------------------------------------------------


@dataclass
class EvaluationResult:
    """What an evaluation found: per scorer its mean, rows scored and rows failed; per row the values."""

    run_id: str
    metrics: dict[str, float]
    scores: list[dict[str, Any]]
    rows: Any  # DataFrame: inputs, outputs, and per scorer its value and error
    prompt: str | None = None
    model: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def failed_scorers(self) -> list[str]:
        """Scorers that could not score a single row (their mean is missing, never a pass)."""
        return [s["scorer"] for s in self.scores if s["status"] == FAILED]

    def table(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.scores)

    def summary(self) -> str:
        parts = []
        for s in self.scores:
            value = "—" if s["mean"] is None else f"{s['mean']:.3f}"
            extra = "" if s["status"] == OK else f" ({s['status']}: {s['errors']} row(s))"
            parts.append(f"{s['scorer']} {value}{extra}")
        where = f" for {self.prompt}" if self.prompt else ""
        return f"evaluation{where}: " + "; ".join(parts)

    def __repr__(self) -> str:
        return f"<EvaluationResult {self.summary()}>"

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{h}</th>" for h in ("scorer", "mean", "rows scored", "rows failed", "status"))
        body = []
        for s in self.scores:
            color = "var(--jp-error-color1, #d32f2f)" if s["status"] != OK else "inherit"
            mean = "—" if s["mean"] is None else f"{s['mean']:.3f}"
            error = f"<br><small>{html.escape(s['first_error'])}</small>" if s.get("first_error") else ""
            body.append(
                f"<tr><td>{html.escape(s['scorer'])}</td><td>{mean}</td><td>{s['scored']}</td>"
                f"<td>{s['errors']}</td><td style='color:{color}'>{html.escape(s['status'])}{error}</td></tr>"
            )
        title = html.escape(f"Evaluation of {self.prompt}" if self.prompt else "Evaluation")
        return (
            f"<div class='nbops-llm-eval'><b>{title}</b> <small>run {html.escape(self.run_id)}</small>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
        )


# --- evaluating --------------------------------------------------------------------------------------


def evaluate(
    data: Any,
    predict_fn: Callable[..., Any] | None = None,
    scorers: Iterable[Any] = (),
    prompt: Any = None,
    model: str | None = None,
    start: _Start = None,
) -> EvaluationResult:
    """Score ``predict_fn`` (or the rows' own ``outputs``) on ``data`` with ``scorers``; record the result.

    ``data`` is a list of ``{"inputs": {...}, "expectations": {...}}`` rows or a DataFrame with those
    columns. ``prompt`` (``NAME@ALIAS``, ``NAME/VERSION`` or a loaded version) is the prompt version
    evaluated: a ``predict_fn`` with a ``prompt`` parameter receives it, and the scores are tagged
    on it. ``model`` (``NAME/VERSION`` or ``NAME@ALIAS``) gets the same tags on that model version.
    """
    project = store.settings(start)
    rows = _rows(data, needs_outputs=predict_fn is None)
    checked = _scorers(scorers)
    if predict_fn is not None:
        _check_arguments(predict_fn, rows)
    client = store.client(project)
    version = _prompt_version(prompt, project) if prompt is not None else None
    model_version = _model_version(client, model) if model else None
    predict = _with_prompt(predict_fn, version, rows) if predict_fn is not None else None
    # Judges look their model's context size up in MLflow's catalog: offline, never online.
    usage.prepare_catalog(usage.prices(project))

    mlflow = store.fluent(project)
    began = time.time()
    outcome = mlflow.genai.evaluate(data=rows, predict_fn=predict, scorers=checked)
    frame = outcome.result_df
    scores = [_score(s.name, outcome.metrics, frame) for s in checked]
    metrics = {k: float(v) for k, v in outcome.metrics.items() if _finite(v)}
    for s in scores:
        metrics[f"{s['scorer']}/errors"] = float(s["errors"])
    run_id = outcome.run_id
    _log_errors(client, run_id, scores)
    address = f"{version.name}/{version.version}" if version is not None else None
    tags = _tags(scores, run_id, len(rows), began)
    if version is not None:
        client.link_prompt_version_to_run(run_id, version)
        client.set_tag(run_id, TAG_PREFIX + "prompt", address)
        for key, value in tags.items():
            client.set_prompt_version_tag(version.name, str(version.version), key, value)
    if model_version is not None:
        client.set_tag(run_id, TAG_PREFIX + "model", f"{model_version.name}/{model_version.version}")
        for key, value in tags.items():
            client.set_model_version_tag(model_version.name, str(model_version.version), key, value)
    notes = [f"{s['scorer']} could not run: {s['first_error']}" for s in scores if s["status"] == FAILED]
    return EvaluationResult(
        run_id=run_id,
        metrics=metrics,
        scores=scores,
        rows=_row_table(frame, checked),
        prompt=address,
        model=f"{model_version.name}/{model_version.version}" if model_version is not None else None,
        notes=notes,
    )


def _rows(data: Any, needs_outputs: bool) -> list[dict[str, Any]]:
    """The rows as dicts, each with a dict of ``inputs``: one line naming the first row that has none."""
    if hasattr(data, "to_dict") and hasattr(data, "columns"):
        if "inputs" not in data.columns:
            raise InvalidInput(
                "the evaluation data has no 'inputs' column; give each row inputs as a dict of the "
                "predict function's arguments, e.g. {'inputs': {'question': '...'}}."
            )
        data = data.to_dict("records")
    if isinstance(data, dict | str) or not isinstance(data, Iterable):
        raise InvalidInput("evaluation data must be a list of rows (dicts) or a DataFrame.")
    rows = list(data)
    if not rows:
        raise InvalidInput("the evaluation data has no rows.")
    for number, row in enumerate(rows):
        inputs = row.get("inputs") if isinstance(row, dict) else None
        if not isinstance(inputs, dict) or not inputs:
            raise InvalidInput(
                f"row {number} of the evaluation data has no inputs; give each row "
                "{'inputs': {'question': '...'}, 'expectations': {...}} (inputs: the predict function's arguments)."
            )
        if needs_outputs and "outputs" not in row:
            raise InvalidInput(f"row {number} has no outputs, and no predict_fn was given to produce them.")
    return [dict(row) for row in rows]


def _scorers(scorers: Iterable[Any]) -> list[Any]:
    from mlflow.genai.scorers import Scorer, scorer

    found = []
    for item in scorers or ():
        if isinstance(item, Scorer):
            found.append(item)
        elif callable(item):
            found.append(scorer(item))
        else:
            raise InvalidInput(f"scorers must be scorers or functions, not {type(item).__name__}.")
    if not found:
        raise InvalidInput("name at least one scorer, e.g. scorers=[nbops.llm.exact_match()].")
    names = [s.name for s in found]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InvalidInput(f"two scorers are named {repeated[0]!r}; give one of them name='...'.")
    return found


def _prompt_version(prompt: Any, project: config.Project) -> Any:
    """The prompt version evaluated: loaded through ``nbops.prompts`` (MLflow's loader without it)."""
    if not isinstance(prompt, str):
        if hasattr(prompt, "template") and hasattr(prompt, "version"):
            return prompt
        raise InvalidInput(f"prompt must be NAME@ALIAS, NAME/VERSION or a prompt version, not {prompt!r}.")
    name, alias, number = _prompt_address(prompt)
    try:
        from ..prompts import load
    except ImportError:
        load = None
    if load is not None:
        return load(prompt, start=project)
    from mlflow.exceptions import MlflowException

    uri = f"prompts:/{name}@{alias}" if alias else f"prompts:/{name}/{number}"
    try:
        return store.client(project).load_prompt(uri)
    except MlflowException:
        raise NotFound(f"no prompt version at {prompt!r}; register it with %%prompt {name} first.") from None


def _model_version(client: Any, model: str) -> Any:
    import re

    from mlflow.exceptions import MlflowException

    found = re.fullmatch(
        r"(?:models:/)?(?P<name>[^/@]+)(?:/(?P<version>\d+)|@(?P<alias>[\w-]+))", model.strip()
    )
    if found is None:
        raise InvalidInput(f"model must be NAME/VERSION or NAME@ALIAS, not {model!r}.")
    try:
        if found["version"]:
            return client.get_model_version(found["name"], found["version"])
        return client.get_model_version_by_alias(found["name"], found["alias"])
    except MlflowException:
        raise NotFound(f"no model version at {model!r}; see nbops registry list.") from None


def _check_arguments(predict_fn: Callable[..., Any], rows: list[dict[str, Any]]) -> None:
    """Every row's inputs are parameters of ``predict_fn`` (MLflow calls it with ``**inputs``)."""
    try:
        params = inspect.signature(predict_fn).parameters
    except (TypeError, ValueError):
        return
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    for number, row in enumerate(rows):
        unknown = [k for k in row["inputs"] if k not in params]
        if unknown:
            raise InvalidInput(
                f"row {number}: predict_fn has no parameter {unknown[0]!r} "
                f"(it takes {', '.join(params) or 'nothing'})."
            )


def _with_prompt(
    predict_fn: Callable[..., Any], version: Any, rows: list[dict[str, Any]]
) -> Callable[..., Any]:
    """``predict_fn`` as MLflow calls it (``**inputs``); a ``prompt`` parameter receives the version."""
    try:
        signature = inspect.signature(predict_fn)
    except (TypeError, ValueError):
        return predict_fn
    params = signature.parameters
    if "prompt" not in params or version is None or any("prompt" in r["inputs"] for r in rows):
        return predict_fn

    def predict(**inputs: Any) -> Any:
        return predict_fn(prompt=version, **inputs)

    predict.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[p for name, p in params.items() if name != "prompt"]
    )
    predict.__name__ = getattr(predict_fn, "__name__", "predict")
    return predict


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _score(name: str, metrics: dict[str, Any], frame: Any) -> dict[str, Any]:
    """One scorer's line: mean (None when no row could be scored), rows scored, rows failed, status."""
    values = frame.get(f"{name}/value")
    errors = frame.get(f"{name}/error_message")
    failed = 0 if errors is None else int(errors.notna().sum())
    scored = 0 if values is None else int(values.notna().sum())
    mean = metrics.get(f"{name}/mean")
    mean = float(mean) if _finite(mean) and scored else None
    status = OK if not failed else (FAILED if mean is None else PARTIAL)
    first = None
    if failed:
        first = " ".join(str(errors[errors.notna()].iloc[0]).split())[:200]
    return {
        "scorer": name,
        "mean": mean,
        "scored": scored,
        "errors": failed,
        "status": status,
        "first_error": first,
    }


def _log_errors(client: Any, run_id: str, scores: list[dict[str, Any]]) -> None:
    from mlflow.entities import Metric, RunTag

    millis = int(time.time() * 1000)
    metrics = [Metric(f"{s['scorer']}/errors", float(s["errors"]), millis, 0) for s in scores]
    failed = [s["scorer"] for s in scores if s["status"] == FAILED]
    tags = [RunTag(TAG_PREFIX + "failed_scorers", ",".join(failed))] if failed else []
    client.log_batch(run_id, metrics=metrics, tags=tags)


def _tags(scores: list[dict[str, Any]], run_id: str, rows: int, began: float) -> dict[str, str]:
    from datetime import UTC, datetime

    tags = {
        TAG_PREFIX + "run": run_id,
        TAG_PREFIX + "rows": str(rows),
        TAG_PREFIX + "at": datetime.fromtimestamp(began, UTC).isoformat(timespec="seconds"),
    }
    for s in scores:
        tags[f"{TAG_PREFIX}{s['scorer']}.mean"] = "" if s["mean"] is None else repr(s["mean"])
        tags[f"{TAG_PREFIX}{s['scorer']}.status"] = s["status"]
    return tags


def _row_table(frame: Any, scorers: list[Any]) -> Any:
    keep = [c for c in ("request", "response") if c in frame]
    for s in scorers:
        keep += [c for c in (f"{s.name}/value", f"{s.name}/error_message") if c in frame]
    return frame[keep].rename(columns={"request": "inputs", "response": "outputs"})


# --- scorers named in text (gate parameters, the CLI) --------------------------------------------------

_BY_NAME: dict[str, Callable[..., Any]] = {
    "exact_match": exact_match,
    "regex": regex,
    "length": length,
    "json_valid": json_valid,
    "no_pii": no_pii,
}


def scorers_from_spec(spec: Any) -> list[Any]:
    """Scorers from plain data: ``["exact_match", {"regex": "^Answer"}, {"length": {"max_length": 200}}]``.

    A JSON string of that list works too, so a gate's papermill parameter can carry it.
    """
    if isinstance(spec, str):
        try:
            spec = json.loads(spec)
        except ValueError:
            spec = [s.strip() for s in spec.split(",") if s.strip()]
    if not isinstance(spec, list) or not spec:
        raise InvalidInput('scorers must be a list such as ["exact_match", {"regex": "^Answer"}].')
    found = []
    for item in spec:
        name, args = (item, None) if isinstance(item, str) else next(iter(item.items()), (None, None))
        if (
            not isinstance(item, str | dict)
            or (isinstance(item, dict) and len(item) != 1)
            or name not in _BY_NAME
        ):
            raise InvalidInput(f"unknown scorer {item!r}; known: {', '.join(_BY_NAME)}.")
        if args is None:
            found.append(_BY_NAME[name]())
        elif isinstance(args, dict):
            found.append(_BY_NAME[name](**args))
        else:
            found.append(_BY_NAME[name](args))
    return found
