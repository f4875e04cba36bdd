"""A window's totals — calls, errors, tokens, cost, latency percentiles — aggregated by the store.

Two ways, one answer. On a SQL store (the embedded SQLite store, or a database URI) two queries
on MLflow's own tables: the window's traces (status, latency, tokens: one row each, summed here)
and the sum of their spans' cost. That is what MLflow's ``query_trace_metrics`` computes with five
queries, each scanning the same traces again (seconds for 10,000 traces on SQLite, more when they
contend for the database), with the same filters: traces by ``timestamp_ms`` in ``[begin, end]``,
spans by start time in the same milliseconds, percentiles interpolated linearly as MLflow's
``percentile`` aggregate and PostgreSQL's ``percentile_cont`` do. A tracking server, or MLflow
internals that moved (``store.internals_changed``), get ``query_trace_metrics`` itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import store
from ..errors import StoreError

#: ``(percentile, key)`` of the latency percentiles a window reports.
PERCENTILES = ((50.0, "p50"), (95.0, "p95"))


@dataclass(frozen=True)
class Totals:
    """What the store summed for one window; latencies are None when no trace had one."""

    calls: float = 0.0
    errors: float = 0.0
    tokens_in: float = 0.0
    tokens_out: float = 0.0
    cost: float = 0.0
    p50: float | None = None
    p95: float | None = None


def totals(
    client: Any, experiments: list[str], tag: str, value: str, begin: int | None, end: int | None
) -> Totals:
    """The totals of the traces tagged ``tag = value`` in ``experiments`` between ``begin`` and ``end`` (ms)."""
    if not experiments:
        return Totals()
    sql_store = store.sql_tracking_store(client)
    if sql_store is not None:
        try:
            return sql_totals(sql_store, experiments, tag, value, begin, end)
        except Exception as exc:
            if not store.internals_changed(exc):
                raise
    return metric_totals(client, experiments, tag, value, begin, end)


# --- straight from MLflow's tables -------------------------------------------------------------------


def sql_totals(
    sql_store: Any, experiments: list[str], tag: str, value: str, begin: int | None, end: int | None
) -> Totals:
    """Two queries through the SQL store's own session, on its tables (rows as plain tuples, no ORM)."""
    from mlflow.store.tracking.dbmodels.models import SqlSpan, SqlTraceInfo, SqlTraceTag
    from sqlalchemy import func, select

    info, span, tags = SqlTraceInfo.__table__.c, SqlSpan.__table__.c, SqlTraceTag.__table__.c
    with sql_store.ManagedSessionMaker() as session:
        ids = sql_store._filter_experiment_ids(session, [int(e) for e in experiments])
        tagged = select(tags.request_id).where(tags.key == tag, tags.value == value)
        traces = [info.experiment_id.in_(ids), info.request_id.in_(tagged)]
        spans = [span.experiment_id.in_(ids), span.trace_id.in_(tagged), span.total_cost.isnot(None)]
        if begin is not None:
            traces.append(info.timestamp_ms >= begin)
            spans.append(span.start_time_unix_nano >= begin * 1_000_000)
        if end is not None:
            traces.append(info.timestamp_ms <= end)
            spans.append(span.start_time_unix_nano < (end + 1) * 1_000_000)
        connection = session.connection()
        columns = (info.status, info.execution_time_ms, info.input_tokens, info.output_tokens)
        rows = connection.execute(select(*columns).where(*traces)).all()
        cost = connection.execute(select(func.sum(span.total_cost)).where(*spans)).scalar()
    counted = [r for r in rows if r[0] is not None]
    latencies = sorted(float(r[1]) for r in rows if r[1] is not None)
    return Totals(
        calls=float(len(counted)),
        errors=float(sum(1 for r in counted if r[0] == "ERROR")),
        tokens_in=float(sum(r[2] for r in rows if r[2] is not None)),
        tokens_out=float(sum(r[3] for r in rows if r[3] is not None)),
        cost=float(cost or 0),
        **{key: percentile(latencies, q) for q, key in PERCENTILES},
    )


def percentile(ordered: list[float], q: float) -> float | None:
    """Linear interpolation between the closest ranks, as MLflow's SQLite ``percentile`` aggregate."""
    if not ordered:
        return None
    index = q / 100.0 * (len(ordered) - 1)
    lower = int(index)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (index - lower) * (ordered[upper] - ordered[lower])


# --- through MLflow's query_trace_metrics ------------------------------------------------------------


def metric_totals(
    client: Any, experiments: list[str], tag: str, value: str, begin: int | None, end: int | None
) -> Totals:
    """The same totals from MLflow's ``query_trace_metrics`` (any store that has it: a server too)."""
    from concurrent.futures import ThreadPoolExecutor

    from mlflow.entities.trace_metrics import AggregationType, MetricAggregation, MetricViewType

    tracking_store = getattr(getattr(client, "_tracking_client", None), "store", None)
    if tracking_store is None or not hasattr(tracking_store, "query_trace_metrics"):
        raise StoreError("this MLflow cannot aggregate traces in the store; nbops needs mlflow>=3.9.")
    literal = value.replace("\\", "\\\\").replace('"', '\\"')
    filters = [f'trace.tag.`{tag}` = "{literal}"']
    count, total, p = AggregationType.COUNT, AggregationType.SUM, AggregationType.PERCENTILE
    traces, spans = MetricViewType.TRACES, MetricViewType.SPANS
    asked: dict[str, tuple[Any, ...]] = {
        "calls": (traces, "trace_count", [MetricAggregation(count)], ["trace_status"]),
        "tokens_in": (traces, "input_tokens", [MetricAggregation(total)], None),
        "tokens_out": (traces, "output_tokens", [MetricAggregation(total)], None),
        "cost": (spans, "total_cost", [MetricAggregation(total)], None),
        "latency": (
            traces,
            "latency",
            [MetricAggregation(p, percentile_value=q) for q, _ in PERCENTILES],
            None,
        ),
    }
    # A server answers each over HTTP: asked at once, the window costs the slowest, not their sum.
    with ThreadPoolExecutor(len(asked), thread_name_prefix="nbops-llm-metrics") as pool:
        futures = {
            key: pool.submit(_pages, tracking_store, experiments, *spec, filters, begin, end)
            for key, spec in asked.items()
        }
        found = {key: future.result() for key, future in futures.items()}

    def first(key: str) -> float:
        points = found[key]
        return float((points[0].values.get("SUM") if points else 0) or 0)

    calls = errors = 0.0
    for point in found["calls"]:
        n = float(point.values.get("COUNT") or 0)
        calls += n
        if point.dimensions.get("trace_status") == "ERROR":
            errors += n
    values = found["latency"][0].values if found["latency"] else {}
    # MLflow names a percentile P<value> ("P50.0"); older releases wrote "P50".
    latency = {key: values.get(f"P{q}", values.get(f"P{q:g}")) for q, key in PERCENTILES}
    return Totals(
        calls=calls,
        errors=errors,
        tokens_in=first("tokens_in"),
        tokens_out=first("tokens_out"),
        cost=first("cost"),
        **{key: float(v) if v is not None else None for key, v in latency.items()},
    )


def _pages(
    tracking_store: Any,
    experiments: list[str],
    view: Any,
    metric: str,
    aggregations: list[Any],
    dimensions: list[str] | None,
    filters: list[str],
    begin: int | None,
    end: int | None,
) -> list[Any]:
    """Every page of one store-side trace metrics query."""
    from mlflow.exceptions import MlflowException

    found, token = [], None
    try:
        while True:
            page = tracking_store.query_trace_metrics(
                experiments,
                view,
                metric,
                aggregations,
                dimensions=dimensions,
                filters=filters,
                start_time_ms=begin,
                end_time_ms=end,
                page_token=token,
            )
            found.extend(page)
            token = getattr(page, "token", None)
            if not token:
                return found
    except MlflowException as exc:
        raise StoreError(f"the store could not aggregate traces: {store.error_reason(exc)}.") from None
