"""Alerts as the sidebar lists them: each with its notification deliveries, per stage and channel.

``nbops.notify.delivery`` keeps the latest outcome of each channel on the alert itself, as
``notify.<opened|resolved>.<channel>.<field>`` fields of the listed alert. Those flat keys would
make every channel name a field of the REST schema, so here they become one ``deliveries`` list
(opened stage first, then by channel) that a client can show without knowing the tag layout.
"""

from __future__ import annotations

from typing import Any

from . import catalog, config

#: The order stages are shown in: the message that an alert opened comes before the resolution.
STAGES = ("opened", "resolved")
NOTIFY_PREFIX = "notify."


def alerts(
    model: str | None = None, state: str | None = "open", start: config.Start = None
) -> list[dict[str, Any]]:
    """``catalog.alerts`` with the delivery fields folded into ``deliveries`` (``[]`` when none)."""
    return [with_deliveries(alert) for alert in catalog.alerts(model, state, start=start)]


def with_deliveries(alert: dict[str, Any]) -> dict[str, Any]:
    """The alert without its ``notify.*`` fields, plus ``deliveries``: one entry per stage and channel."""
    from .notify.delivery import outcomes

    found = outcomes(alert)
    out = {key: value for key, value in alert.items() if not key.startswith(NOTIFY_PREFIX)}
    out["deliveries"] = [
        {
            "stage": stage,
            "channel": channel,
            "state": fields.get("state", ""),
            "attempts": _int(fields.get("attempts")),
            "detail": fields.get("detail", ""),
            "at": fields.get("at") or None,
        }
        for stage in STAGES
        for channel, fields in sorted(found.get(stage, {}).items())
    ]
    return out


def _int(text: str | None) -> int:
    try:
        return int(text or 0)
    except ValueError:
        return 0
