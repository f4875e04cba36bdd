"""``DriftReport``: the per-feature drift table of ``nbops.monitoring.drift`` in a notebook output.

The widget shows one line ("2 of 5 features drifted (40%)") and a table with a
row per feature: its kind, the main test statistic and p-value, PSI, the
Wasserstein distance (numeric) or the share of unseen categories (categorical),
a drift bar and the note. Drifted features come first; any column sorts on a
click, or on Enter or Space on its header. Its mimebundle also carries the same
table as static HTML and a plain-text summary, so an exported notebook still
shows it.
"""

from __future__ import annotations

import contextlib
import html
import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets

from ..errors import InvalidInput
from ..monitoring.columns import COLUMNS
from .common import css, esm, format_number, format_pvalue, format_share, with_static_fallback

if TYPE_CHECKING:
    import pandas as pd

#: The drift bars are PSI on a scale of this much at least (PSI > 0.25 is a major shift).
PSI_SCALE_MIN = 0.5
#: JupyterLab colour variables (with fallbacks) of the drift bars and notes.
DRIFT_COLORS = {
    "drifted": "var(--jp-error-color1, #d32f2f)",
    "stable": "var(--jp-success-color1, #388e3c)",
    "schema": "var(--jp-warn-color1, #f57c00)",
}
#: How many features the plain-text summary lists.
TEXT_ROWS = 20


class DriftReport(anywidget.AnyWidget):
    """Which features drifted between a reference and a current data set, and how much."""

    _esm = esm("drift_report.js")
    _css = css("drift_report.css")

    #: One dict per feature with the drift table's columns; NaN and infinities are ``None``.
    rows = traitlets.List(traitlets.Dict()).tag(sync=True)
    #: A line above the table (e.g. which batch this is); empty for none.
    title = traitlets.Unicode("").tag(sync=True)

    def __init__(self, table: pd.DataFrame | None = None, title: str = "", **kwargs: Any) -> None:
        """Show ``table`` (the DataFrame ``nbops.monitoring.drift.drift`` returns), drifted features first."""
        if table is not None:
            kwargs["rows"] = table_rows(table)
        super().__init__(title=title, **kwargs)

    @classmethod
    def from_data(cls, reference: Any, current: Any, title: str = "", **kw: Any) -> DriftReport:
        """Compare ``current`` with ``reference`` (DataFrames) with ``nbops.monitoring.drift.drift``.

        Keyword arguments other than ``title`` go to ``drift``.
        """
        from ..monitoring.drift import drift

        return cls(drift(reference, current, **kw), title=title)

    @traitlets.validate("rows")
    def _json_safe_rows(self, proposal: Any) -> list[dict[str, Any]]:
        # NaN is not JSON: the browser's JSON.parse would refuse the whole message.
        return [{str(key): json_value(value) for key, value in row.items()} for row in proposal["value"]]

    def summary_text(self) -> str:
        return summary_text(self.rows)

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict, dict] | dict | None:
        return with_static_fallback(
            super()._repr_mimebundle_(**kwargs),
            report_html(self.rows, self.title),
            report_text(self.rows, self.title),
        )


# -- the table as rows ------------------------------------------------------------------


def json_value(value: Any) -> Any:
    """A cell as JSON: numpy scalars become Python ones, NaN, NA and infinities ``None``."""
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        with contextlib.suppress(TypeError, ValueError):
            value = value.item()  # numpy scalar → Python scalar
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (ImportError, TypeError, ValueError):
        pass
    return str(value)


def drift_rank(row: Mapping[str, Any]) -> tuple[int, bool, float]:
    """Sort key of the default order: drifted, then schema problems, then the rest; by PSI within."""
    rank = 2 if row.get("drifted") else 1 if row.get("schema_violation") else 0
    psi = row.get("psi")
    return (-rank, psi is None, -(psi or 0.0))


def table_rows(table: Any) -> list[dict[str, Any]]:
    """The drift table's rows as JSON-safe dicts, drifted features first.

    The drift table's columns come first, in their order (a missing one is ``None``);
    any other column of ``table`` follows.
    """
    if not hasattr(table, "to_dict") or "feature" not in getattr(table, "columns", ()):
        raise InvalidInput(
            "DriftReport needs the table nbops.monitoring.drift.drift() returns (a DataFrame with a 'feature' column)."
        )
    rows = []
    for record in table.to_dict(orient="records"):
        row = {key: json_value(record.get(key)) for key in COLUMNS}
        row.update({str(k): json_value(v) for k, v in record.items() if k not in row})
        row["feature"] = "" if row["feature"] is None else str(row["feature"])
        row["kind"] = "" if row["kind"] is None else str(row["kind"])
        row["drifted"] = bool(row["drifted"])
        row["schema_violation"] = bool(row["schema_violation"])
        row["note"] = "" if row["note"] is None else str(row["note"])
        rows.append(row)
    return sorted(rows, key=drift_rank)


# -- formatting (drift_report.js formats the same way; the numbers are common's) --------------


def shift_text(row: Mapping[str, Any]) -> str:
    """Wasserstein distance of a numeric feature, share of unseen categories of a categorical one."""
    if row.get("kind") == "categorical":
        share = row.get("unseen_share")
        return "—" if share is None else f"{format_share(share)} unseen"
    return format_number(row.get("wasserstein"))


def drift_status(row: Mapping[str, Any]) -> str:
    if row.get("drifted"):
        return "drifted"
    if row.get("schema_violation"):
        return "schema problem"
    if not evaluated(row) or all(row.get(key) is None for key in ("statistic", "p_value", "psi")):
        return "not evaluated"
    return "no drift"


def psi_scale(rows: Iterable[Mapping[str, Any]]) -> float:
    """The PSI of a full bar: the largest PSI shown, and at least ``PSI_SCALE_MIN``."""
    return max([PSI_SCALE_MIN, *(r["psi"] for r in rows if isinstance(r.get("psi"), int | float))])


def evaluated(row: Mapping[str, Any]) -> bool:
    """Whether drift was tested: ``drift`` leaves a note on the rows it could not test."""
    return not row.get("note")


def summary_text(rows: list[Mapping[str, Any]]) -> str:
    """``"2 of 5 features drifted (40%)"``, then what was not evaluated and schema problems.

    The share is ``nbops.monitoring.drift.drift_share``'s (the ``drift.share`` metric of a
    batch): drifted features of those evaluated.
    """
    if not rows:
        return "No features compared."
    tested = [r for r in rows if evaluated(r)]
    drifted = sum(1 for r in tested if r.get("drifted"))
    share = drifted / len(tested) if tested else 0.0
    # Half rounds up, as in drift_report.js (Python's format would round 12.5% to even).
    parts = [f"{drifted} of {len(tested)} features drifted ({math.floor(100 * share + 0.5)}%)"]
    if len(tested) < len(rows):
        parts.append(f"{len(rows) - len(tested)} not evaluated")
    schema = sum(1 for r in rows if r.get("schema_violation"))
    if schema:
        parts.append(f"{schema} schema problem{'' if schema == 1 else 's'}")
    return " · ".join(parts)


# -- static rendering ---------------------------------------------------------------------


def _bar_html(row: Mapping[str, Any], scale: float) -> str:
    psi = row.get("psi")
    status = drift_status(row)
    color = DRIFT_COLORS["drifted" if row.get("drifted") else "stable"]
    if psi is None:
        bar = ""
    else:
        width = max(0.0, min(100.0, 100 * psi / scale))
        bar = (
            '<div style="display: inline-block; width: 100px; height: 8px; margin-right: 6px; '
            'vertical-align: middle; background: var(--jp-layout-color3, #bdbdbd)">'
            f'<div class="nbops-drift-static-bar" style="width: {width:.1f}%; height: 100%; background: {color}"></div></div>'
        )
    label_color = DRIFT_COLORS["schema"] if status == "schema problem" else color
    return f'{bar}<span style="color: {label_color}">{status}</span>'


def report_html(rows: list[Mapping[str, Any]], title: str = "") -> str:
    """The drift table as static HTML; every value is escaped."""
    esc = html.escape
    parts = ['<div class="nbops-drift-static">']
    if title:
        parts.append(f"<p><strong>{esc(title)}</strong></p>")
    parts.append(f"<p>{esc(summary_text(rows))}</p>")
    if rows:
        scale = psi_scale(rows)
        head = ["Feature", "Kind", "Statistic", "p-value", "PSI", "Wasserstein / unseen", "Drift", "Note"]
        parts.append("<table><thead><tr>")
        parts.extend(f"<th>{name}</th>" for name in head)
        parts.append("</tr></thead><tbody>")
        for row in rows:
            note = esc(row.get("note") or "")
            if note and row.get("schema_violation"):
                note = f'<span style="color: {DRIFT_COLORS["schema"]}">{note}</span>'
            cells = [
                f"<strong>{esc(row.get('feature') or '')}</strong>",
                esc(row.get("kind") or ""),
                esc(format_number(row.get("statistic"))),
                esc(format_pvalue(row.get("p_value"))),
                esc(format_number(row.get("psi"))),
                esc(shift_text(row)),
                _bar_html(row, scale),
                note,
            ]
            parts.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
        parts.append("</tbody></table>")
    parts.append("</div>")
    return "".join(parts)


def report_text(rows: list[Mapping[str, Any]], title: str = "") -> str:
    """The drift table as plain text: the summary line and one line per feature."""
    lines = [f"DriftReport{f' {title!r}' if title else ''}: {summary_text(rows)}"]
    marks = {"drifted": "✗", "schema problem": "!", "no drift": "✓", "not evaluated": "·"}
    for row in rows[:TEXT_ROWS]:
        status = drift_status(row)
        line = (
            f"  {marks[status]} {row.get('feature')} ({row.get('kind') or '?'}): {status}, "
            f"PSI {format_number(row.get('psi'))}, p {format_pvalue(row.get('p_value'))}"
        )
        if row.get("note"):
            line += f"; {row['note']}"
        lines.append(line)
    if len(rows) > TEXT_ROWS:
        lines.append(f"  … {len(rows) - TEXT_ROWS} more features")
    return "\n".join(lines)
