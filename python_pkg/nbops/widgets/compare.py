"""``compare()``: the runs of an experiment side by side, ordered by the store.

The table shows one page of runs at a time. Sorting by a column asks the store
again with ``order_by`` (so "best accuracy first" is the best of *all* runs, not
of the page in the browser), "Load more" fetches the next page with a token kept
here, and the line "100 of 5,000 runs" says how much is not shown: it never
truncates silently. The total is counted in a background thread, so the first
page appears at once.

Protocol: the browser sends ``{"type": "sort", "key": "metrics.accuracy"}`` and
``{"type": "load_more"}`` with ``model.send``; Python answers each with
``{"type": "done", "request": ...}`` after updating the traits. The browser sets
the ``selected`` and ``chart_metric`` traits itself; everything else flows back
as traits.
"""

from __future__ import annotations

import html
import logging
import threading
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from .. import runs as core_runs
from ..errors import InvalidInput, NbopsError
from ..tracking import format_duration
from .common import css, esm, format_time, format_value, status_html, with_static_fallback

_log = logging.getLogger(__name__)

#: Columns the store can order by besides params and metrics (duration is not one:
#: MLflow cannot order by end_time - start_time).
ATTRIBUTE_KEYS = ("attributes.run_name", "attributes.status", "attributes.start_time")
#: Fields of a run dict the browser needs; tags stay on the Python side.
_SHOWN = (
    "run_id",
    "run_name",
    "status",
    "start_time",
    "duration_ms",
    "experiment_name",
    "params",
    "metrics",
    "error",
)


class CompareWidget(anywidget.AnyWidget):
    """A sortable, pageable table of runs with a bar chart of one metric."""

    _esm = esm("compare.js")
    _css = css("compare.css")

    #: The loaded runs, in the store's order (``nbops.runs.run_dict`` without tags).
    runs = traitlets.List(traitlets.Dict()).tag(sync=True)
    #: Param and metric names across the loaded runs: the table's columns.
    param_keys = traitlets.List(traitlets.Unicode()).tag(sync=True)
    metric_keys = traitlets.List(traitlets.Unicode()).tag(sync=True)
    #: Columns (``params.x``, ``metrics.y``) whose value is not the same in every loaded run.
    differing = traitlets.List(traitlets.Unicode()).tag(sync=True)
    #: The column the store orders by, and the direction.
    sort_key = traitlets.Unicode("attributes.start_time").tag(sync=True)
    sort_descending = traitlets.Bool(True).tag(sync=True)
    #: All matching runs in the store; ``None`` until the background count is done.
    total = traitlets.Int(None, allow_none=True).tag(sync=True)
    #: Whether the store has another page.
    has_more = traitlets.Bool(False).tag(sync=True)
    #: Run ids ticked in the table (set by the browser); the chart shows these, or all.
    selected = traitlets.List(traitlets.Unicode()).tag(sync=True)
    #: The metric the chart shows (set by the browser).
    chart_metric = traitlets.Unicode("").tag(sync=True)
    #: One line for the user when the store refused a query; empty otherwise.
    error = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        experiment: str | list[str] | None = None,
        filter_string: str | None = None,
        page_size: int = 100,
        start: Path | str | None = None,
        **kwargs: Any,
    ) -> None:
        """Load the first page now and count all matches in a background thread.

        Store refusals (an unknown experiment, a bad filter) become the widget's
        ``error`` line rather than an exception, so the user sees them where the
        table would be; a bad ``page_size`` is a programming error and raises.
        """
        if not 1 <= page_size <= core_runs.MAX_PAGE:
            raise InvalidInput(f"max_runs must be between 1 and {core_runs.MAX_PAGE}, got {page_size}.")
        super().__init__(**kwargs)
        self.filter_string = filter_string or None
        self.page_size = page_size
        self._start = start
        self._experiment_ids: list[str] = []
        self._page_token: str | None = None
        self._count_thread: threading.Thread | None = None
        self.on_msg(self._on_message)
        try:
            self._experiment_ids = core_runs.experiment_ids(experiment, start)
        except NbopsError as exc:
            self.error = str(exc)
            return
        if self._load(append=False) and self.total is None:
            self._count_thread = threading.Thread(target=self._count, name="nbops-count", daemon=True)
            self._count_thread.start()

    # -- what the browser asks for -------------------------------------------------

    def sort_by(self, key: str) -> None:
        """Order by column ``key`` (the same key again flips the direction) and reload.

        A new column starts with the order people look for first: the highest
        metric and the newest run on top, names and params A→Z.
        """
        allowed = {*ATTRIBUTE_KEYS, *(f"params.{k}" for k in self.param_keys)}
        allowed |= {f"metrics.{k}" for k in self.metric_keys}
        if key not in allowed:
            self.error = f"cannot sort by {key!r}: it is not a column of this table."
            return
        descending = (
            not self.sort_descending
            if key == self.sort_key
            else key.startswith("metrics.") or key == "attributes.start_time"
        )
        self._load(append=False, order=(key, descending))

    def load_more(self) -> None:
        """Append the next page from the store (no-op when everything is loaded)."""
        if self._page_token:
            self._load(append=True)

    def wait_for_total(self, timeout: float | None = 30) -> int | None:
        """Block until the background count is done (for scripts and tests); the total."""
        if self._count_thread is not None:
            self._count_thread.join(timeout)
        return self.total

    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        try:
            if kind == "sort":
                self.sort_by(str(content.get("key", "")))
            elif kind == "load_more":
                self.load_more()
        except Exception as exc:  # a comm handler's exception would only reach the kernel log
            _log.exception("nbops compare: %s failed", kind)
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            # Even when no trait changed (same error again, nothing more to load) the
            # browser must stop showing the request as pending.
            self.send({"type": "done", "request": kind})

    # -- talking to the core ---------------------------------------------------------

    def _load(self, append: bool, order: tuple[str, bool] | None = None) -> bool:
        """Fetch a page, in ``order`` (column key, descending) or the current one.

        The sort traits change only once the store has answered, so a refused
        ordering leaves the table as it was. False (and ``error`` set) on refusal.
        """
        key, descending = order or (self.sort_key, self.sort_descending)
        try:
            page = core_runs.search(
                self._experiment_ids,
                self.filter_string,
                [core_runs.order_clause(key, descending)],
                self.page_size,
                self._page_token if append else None,
                start=self._start,
            )
        except NbopsError as exc:
            self.error = str(exc)
            return False
        fresh = [{key: run.get(key) for key in _SHOWN} for run in page["runs"]]
        if append:
            # Stores page by offset: runs started since the last page shift it, so skip repeats.
            seen = {run["run_id"] for run in self.runs}
            fresh = self.runs + [run for run in fresh if run["run_id"] not in seen]
        self._page_token = page["next_page_token"]
        with self.hold_sync():
            self.error = ""
            self.sort_key, self.sort_descending = key, descending
            self._show(fresh)
            self.has_more = self._page_token is not None
            if page["total"] is not None:
                self.total = page["total"]
        return True

    def _show(self, shown: list[dict[str, Any]]) -> None:
        """Set the rows and everything derived from them: columns, differences, chart metric."""
        self.runs = shown
        self.param_keys = sorted({key for run in shown for key in run["params"]})
        self.metric_keys = sorted({key for run in shown for key in run["metrics"]})
        self.differing = differing_columns(shown)
        if self.chart_metric not in self.metric_keys:
            by_metric = self.sort_key.removeprefix("metrics.") if self.sort_key.startswith("metrics.") else ""
            self.chart_metric = by_metric or (self.metric_keys[0] if self.metric_keys else "")

    def _count(self) -> None:
        try:
            self.total = core_runs.count(self._experiment_ids, self.filter_string, self._start)
        except Exception as exc:  # the table stays usable; say why the total is missing
            _log.warning("nbops compare: counting runs failed: %s", exc)
            if not self.error:
                self.error = f"could not count the matching runs: {exc}"

    # -- static rendering -------------------------------------------------------------

    def summary_text(self) -> str:
        """``"100 of 5,000 runs"`` (``…`` while the count is running)."""
        total = "…" if self.total is None else f"{self.total:,}"
        return f"{len(self.runs):,} of {total} runs"

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict, dict] | dict | None:
        return with_static_fallback(super()._repr_mimebundle_(**kwargs), self.static_html(), self._plain())

    def static_html(self) -> str:
        """The loaded runs as a plain HTML table with the "N of M runs" line; all values escaped."""
        esc = html.escape
        parts = ['<div class="nbops-compare-static">']
        if self.error:
            parts.append(f'<p style="color: var(--jp-error-color1, #d32f2f)">{esc(self.error)}</p>')
        parts.append(f"<p>{esc(self.summary_text())}</p>")
        if self.runs:
            head = ["Run", "Status", "Start", "Duration", *self.param_keys, *self.metric_keys]
            parts.append("<table><thead><tr>")
            parts.extend(f"<th>{esc(title)}</th>" for title in head)
            parts.append("</tr></thead><tbody>")
            for run in self.runs:
                cells = [
                    esc(run["run_name"] or run["run_id"]),
                    status_html(run["status"]),
                    esc(format_time(run["start_time"])),
                    esc(format_duration(run["duration_ms"])),
                    *(esc(format_value(run["params"].get(k, "—"))) for k in self.param_keys),
                    *(esc(format_value(run["metrics"].get(k, "—"))) for k in self.metric_keys),
                ]
                parts.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
            parts.append("</tbody></table>")
        parts.append("</div>")
        return "".join(parts)

    def _plain(self) -> str:
        lines = [f"CompareWidget: {self.summary_text()}"]
        if self.error:
            lines.append(f"  error: {self.error}")
        for run in self.runs[:20]:
            metrics = ", ".join(f"{k}={format_value(v)}" for k, v in sorted(run["metrics"].items()))
            lines.append(f"  {run['run_name']} {run['status']} {metrics}".rstrip())
        if len(self.runs) > 20:
            lines.append(f"  … {len(self.runs) - 20:,} more loaded")
        return "\n".join(lines)


def differing_columns(shown: list[dict[str, Any]]) -> list[str]:
    """Param and metric columns whose value is not the same in every run (a missing value counts)."""
    columns = []
    for kind in ("params", "metrics"):
        for key in sorted({k for run in shown for k in run[kind]}):
            if len({run[kind].get(key) for run in shown}) > 1:
                columns.append(f"{kind}.{key}")
    return columns


def compare(
    experiment: str | list[str] | None = None,
    filter_string: str | None = None,
    max_runs: int = 100,
) -> CompareWidget:
    """Compare runs: the current experiment's by default, newest first, ``max_runs`` a page.

    ``filter_string`` is MLflow's search syntax, e.g. ``"metrics.accuracy > 0.9"``.
    """
    return CompareWidget(experiment, filter_string, max_runs)
