"""The model card's Monitoring and Fairness sections, from a version's latest batch and open alerts.

Kept apart from ``runs`` (the store layout) because it reads alerts too; the registry composes
cards from it as it composes them from gate tags, without reaching into batch logging.
"""

from __future__ import annotations

from pathlib import Path

from .. import store
from .runs import monitoring_run_id

_Start = Path | str | None


def card_sections(name: str, version: str | int, start: _Start = None) -> dict[str, str]:
    """The model card's "Monitoring" and "Fairness" sections (Markdown) from the latest batch.

    Empty strings when the version has no batches, so the card keeps its "not monitored yet" text.
    """
    from datetime import UTC, datetime

    from .. import cards
    from . import alerting

    run_id = monitoring_run_id(str(name), str(version), start, create=False)
    if run_id is None:
        return {"monitoring": "", "fairness": ""}
    client = store.client(start)
    values = dict(client.get_run(run_id).data.metrics)
    rows = client.get_metric_history(run_id, "batch.rows")
    last = max(rows, key=lambda m: m.step) if rows else None
    lines = []
    if last is not None:
        when = datetime.fromtimestamp(last.timestamp / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
        lines.append(
            f"- **{len(rows)} batch(es)** logged; the latest (batch {last.step}, {when}) had {int(last.value):,} rows"
        )
    if "drift.share" in values:
        lines.append(
            f"- data drift: {int(values.get('drift.drifted_features', 0))} feature(s) drifted "
            f"({values['drift.share']:.0%} of the features)"
        )
    for key in ("accuracy", "f1", "roc_auc", "rmse", "mae"):
        if f"performance.{key}" in values:
            change = values.get(f"performance.{key}.change")
            delta = f" ({change:+.3f} against its baseline)" if change is not None else ""
            lines.append(f"- {key}: {values[f'performance.{key}']:.3f}{delta}")
    if "latency.p95_ms" in values:
        lines.append(f"- latency: p95 {values['latency.p95_ms']:.1f} ms")
    if "cost.per_1k_predictions" in values:
        lines.append(f"- cost: {values['cost.per_1k_predictions']:.4g} per 1,000 predictions")
    open_alerts = [
        a
        for a in alerting.alerts(model=str(name), state=alerting.OPEN, start=start)
        if a.get("version") == str(version)
    ]
    lines.append(f"- open alerts: {len(open_alerts)}")
    lines.extend(
        f"  - {cards.cell(a.get('severity', ''))}: {cards.cell(a.get('message', ''))}" for a in open_alerts
    )
    fairness = []
    for key in ("demographic_parity_difference", "equal_opportunity_difference"):
        if f"fairness.{key}" in values:
            fairness.append(f"- {key.replace('_', ' ')} in the latest batch: {values[f'fairness.{key}']:.3f}")
    groups = sorted(
        k.removeprefix("fairness.selection_rate.") for k in values if k.startswith("fairness.selection_rate.")
    )
    if groups:
        rates = ", ".join(f"{cards.cell(g)} {values[f'fairness.selection_rate.{g}']:.3f}" for g in groups)
        fairness.append(f"- selection rate by group: {rates}")
    return {"monitoring": "\n".join(lines), "fairness": "\n".join(fairness)}
