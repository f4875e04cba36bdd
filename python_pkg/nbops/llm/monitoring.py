"""LLM monitoring: calls, tokens, cost, latency, errors and quality per prompt version and per LLM model.

Everything is aggregated by the store (``totals``: a couple of SQL queries on a SQL store,
MLflow's ``query_trace_metrics`` on a tracking server) over the traces ``traced`` wrote — never by
fetching traces into pandas, which takes minutes for 10,000. ``summary`` reads one window;
``log_window`` records it as one batch of nbops' monitoring, so history, charts and the alert rules
of ``[tool.nbops.alerts]`` work on LLM metrics exactly as on a model's::

    [tool.nbops.alerts.llm-budget]
    metric = "llm.cost_per_1k_calls"
    op = ">"
    threshold = 2.0
    model = "prompts:/support-reply"      # or "llm:/gpt-4o-mini"

A prompt is monitored per version as ``prompts:/NAME`` (``NAME@ALIAS`` is the version the alias
holds when the window is logged); an LLM model as ``llm:/MODEL``, version 0 (models of a provider
have no versions in the registry). Quality is the prompt version's latest evaluation
(``quality.<scorer>``), as ``evaluate`` recorded it.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .. import config, store
from ..errors import InvalidInput, NotFound, StoreError
from .evaluation import TAG_PREFIX
from .totals import totals
from .tracing import TAG_MODEL, TAG_PROMPT, _prompt_address, flush

_Start = config.Start
PROMPT_PREFIX, MODEL_PREFIX = "prompts:/", "llm:/"
MODEL_VERSION = "0"
WINDOW_END = "llm.window_end_ms"


@dataclass
class LLMWindow:
    """One logged window of an LLM application's traffic."""

    name: str
    version: str
    batch: int
    run_id: str
    metrics: dict[str, float]
    alerts: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> str:
        m = self.metrics
        parts = [f"{self.name} v{self.version} window {self.batch}: {int(m.get('llm.calls', 0)):,} calls"]
        if m.get("llm.calls"):
            parts.append(f"{int(m['llm.tokens_in']):,} tokens in, {int(m['llm.tokens_out']):,} out")
            parts.append(f"${m.get('llm.cost_per_1k_calls', 0):.4f} per 1k calls")
            parts.append(
                f"p95 {m.get('llm.latency_p95_ms', 0):.1f} ms, errors {m.get('llm.error_rate', 0):.1%}"
            )
        parts += [f"{k} {v:.3f}" for k, v in sorted(m.items()) if k.startswith("quality.")]
        parts += [f"alert {a['state']}: {a['message']}" for a in self.alerts]
        return "; ".join(parts)

    def __repr__(self) -> str:
        return f"<LLMWindow {self.summary()}>"


def summary(
    prompt: Any = None,
    model: str | None = None,
    since: datetime | float | None = None,
    until: datetime | float | None = None,
    start: _Start = None,
) -> dict[str, float]:
    """The traffic of one prompt version (``prompt``) or one LLM (``model``) between two times.

    ``llm.calls``, ``llm.errors``, ``llm.error_rate``, ``llm.tokens_in``, ``llm.tokens_out``,
    ``llm.cost`` (USD), ``llm.cost_per_1k_calls``, ``llm.latency_p50_ms``, ``llm.latency_p95_ms``,
    and for a prompt ``quality.<scorer>`` from its latest evaluation. Traces still being exported
    are waited for first.
    """
    project = store.settings(start)
    name, version, tag, value = _subject(prompt, model, project)
    flush()
    return _aggregate(project, tag, value, _millis(since), _millis(until), name, version)


def log_window(
    prompt: Any = None,
    model: str | None = None,
    since: datetime | float | None = None,
    until: datetime | float | None = None,
    start: _Start = None,
) -> LLMWindow:
    """Record the window's ``summary`` as the next batch of the prompt version's (or model's) monitoring.

    ``since`` defaults to the end of the previous window, so calling this on a schedule covers
    every call once. The alert rules are evaluated on the new batch.
    """
    from ..monitoring import alerting
    from ..monitoring.runs import latest, monitoring_run_id

    project = store.settings(start)
    name, version, tag, value = _subject(prompt, model, project)
    flush()
    end = _millis(until) or int(time.time() * 1000)
    begin = _millis(since)
    if begin is None:
        previous = latest(name, version, project).get(WINDOW_END)
        begin = int(previous) if previous is not None else None
    metrics = _aggregate(project, tag, value, begin, end, name, version)
    metrics[WINDOW_END] = float(end)
    run_id = monitoring_run_id(name, version, project, create=True)
    assert run_id is not None
    batch = _write(store.client(project), run_id, metrics, end)
    changes = alerting.evaluate(name, version, batch=batch, start=project)
    return LLMWindow(name, version, batch, run_id, metrics, changes)


def history(
    prompt: Any = None, model: str | None = None, metrics: Any = "llm.*", start: _Start = None
) -> Any:
    """The logged windows as a DataFrame (one row per window, one column per metric), for charts."""
    import pandas as pd

    from ..monitoring.runs import series

    project = store.settings(start)
    name, version, _, _ = _subject(prompt, model, project)
    patterns = [metrics] if isinstance(metrics, str) else list(metrics)
    found = series(name, version, [*patterns, "quality.*"], project)
    frame = pd.DataFrame(
        {key: {p["step"]: p["value"] for p in points} for key, points in found.items()}
    ).sort_index()
    frame.index.name = "window"
    return frame


# --- what is monitored -------------------------------------------------------------------------------


def _subject(prompt: Any, model: str | None, project: config.Project) -> tuple[str, str, str, str]:
    """``(monitoring name, version, trace tag, tag value)`` of a prompt version or an LLM model."""
    if (prompt is None) == (model is None):
        raise InvalidInput("name exactly one of prompt='NAME@ALIAS' or model='MODEL'.")
    if model is not None:
        if not isinstance(model, str) or not model.strip():
            raise InvalidInput("model must name the LLM, e.g. model='gpt-4o-mini'.")
        return MODEL_PREFIX + model.strip(), MODEL_VERSION, TAG_MODEL, model.strip()
    if isinstance(prompt, str):
        prompt_name, alias, number = _prompt_address(prompt.removeprefix(PROMPT_PREFIX))
        number = number or _alias_version(prompt_name, alias, project)
    elif hasattr(prompt, "template") and hasattr(prompt, "version"):
        prompt_name, number = prompt.name, str(prompt.version)
    else:
        raise InvalidInput(f"prompt must be NAME@ALIAS, NAME/VERSION or a prompt version, not {prompt!r}.")
    return PROMPT_PREFIX + prompt_name, str(number), TAG_PROMPT, f"{prompt_name}/{number}"


def _alias_version(name: str, alias: str | None, project: config.Project) -> str:
    from mlflow.exceptions import MlflowException

    try:
        return str(store.client(project).get_prompt_version_by_alias(name, alias).version)
    except MlflowException:
        raise NotFound(
            f"no prompt {name!r} with alias {alias!r}; see nbops.prompts.versions({name!r})."
        ) from None


# --- store-side aggregates ---------------------------------------------------------------------------


def _aggregate(
    project: config.Project, tag: str, value: str, begin: int | None, end: int | None, name: str, version: str
) -> dict[str, float]:
    client = store.client(project)
    found = totals(client, list(store.experiment_ids(client)), tag, value, begin, end)
    calls = found.calls
    metrics = {"llm.calls": calls, "llm.errors": found.errors}
    metrics["llm.error_rate"] = found.errors / calls if calls else 0.0
    metrics["llm.tokens_in"] = found.tokens_in
    metrics["llm.tokens_out"] = found.tokens_out
    metrics["llm.cost"] = found.cost
    metrics["llm.cost_per_1k_calls"] = found.cost / calls * 1000 if calls else 0.0
    if calls:
        metrics["llm.latency_p50_ms"] = found.p50 or 0.0
        metrics["llm.latency_p95_ms"] = found.p95 or 0.0
    if name.startswith(PROMPT_PREFIX):
        metrics.update(_quality(client, name.removeprefix(PROMPT_PREFIX), version))
    return metrics


def _quality(client: Any, name: str, version: str) -> dict[str, float]:
    """``quality.<scorer>``: the means the prompt version's latest evaluation recorded."""
    try:
        tags = client.get_prompt_version(name, version).tags or {}
    except Exception:
        return {}
    found = {}
    for key, value in tags.items():
        matched = re.fullmatch(re.escape(TAG_PREFIX) + r"(.+)\.mean", key)
        if matched and value:
            try:
                found[f"quality.{matched[1]}"] = float(value)
            except ValueError:
                continue
    return found


# --- writing a window --------------------------------------------------------------------------------


def _write(client: Any, run_id: str, metrics: dict[str, float], millis: int) -> int:
    """Claim the next batch number of the monitoring run (write-once param) and store the metrics there.

    The same claim ``monitor.log_batch`` makes, so an LLM window and a model batch never share a number.
    """
    from mlflow.entities import Metric, Param
    from mlflow.exceptions import MlflowException

    from ..monitoring.runs import BATCH_PARAM

    mine = uuid.uuid4().hex
    for _ in range(100):
        params = client.get_run(run_id).data.params
        taken = [
            int(k.removeprefix(BATCH_PARAM))
            for k in params
            if k.startswith(BATCH_PARAM) and k.removeprefix(BATCH_PARAM).isdigit()
        ]
        number = max(taken, default=0) + 1
        entries = [Metric(k, float(v), millis, number) for k, v in sorted(metrics.items())]
        try:
            client.log_batch(run_id, metrics=entries, params=[Param(f"{BATCH_PARAM}{number}", mine)])
        except MlflowException:
            if client.get_run(run_id).data.params.get(f"{BATCH_PARAM}{number}") == mine:
                raise  # the claim landed: the store refused the metrics themselves
            continue  # another writer took the number first
        return number
    raise StoreError("could not claim a window number: too many concurrent writers; try again.")


def _millis(value: datetime | float | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return int((value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp() * 1000)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(float(value) * 1000)
    raise InvalidInput(f"since/until must be a datetime or seconds since the epoch, not {value!r}.")
