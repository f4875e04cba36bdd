"""The notebook widgets: RunCard and compare(), on a real MLflow store.

The Python side is tested directly (traits, the browser's messages as the comm
delivers them, the static fallback); one test executes a notebook in a real
kernel and exports it with nbconvert, as a CI job publishing a report would.
"""

from __future__ import annotations

import copy
import sys
import time
from pathlib import Path

import mlflow
import nbformat
import pytest
from nbclient import NotebookClient
from nbconvert import HTMLExporter
from traitlets.config import Config

import nbops
from nbops.errors import InvalidInput, NotFound
from nbops.widgets import CompareWidget, RunCard
from nbops.widgets.compare import compare

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _tracked(name: str, **values: float | str) -> str:
    """A finished run: floats are metrics, strings params; runs start apart (no ties in time)."""
    time.sleep(0.005)
    with nbops.track(name) as run:
        for key, value in values.items():
            if isinstance(value, str):
                mlflow.log_param(key, value)
            else:
                mlflow.log_metric(key, value)
    return run.info.run_id


def _from_browser(widget: CompareWidget, content: dict) -> None:
    """Deliver a ``model.send(content)`` from the browser the way the kernel's comm does."""
    widget._handle_msg({"content": {"data": {"method": "custom", "content": content}}, "buffers": []})


def _bundle(widget) -> dict:
    data = widget._repr_mimebundle_()
    return data[0] if isinstance(data, tuple) else data


def _names(widget: CompareWidget) -> list[str]:
    return [r["run_name"] for r in widget.runs]


# -- RunCard ----------------------------------------------------------------------------


def test_run_card_carries_the_run_details(tracking_uri: str) -> None:
    run_id = _tracked("baseline", accuracy=0.93, model="rf")
    card = RunCard.for_run(run_id)
    assert card.run["run_id"] == run_id
    assert card.run["run_name"] == "baseline"
    assert card.run["status"] == "FINISHED"
    assert card.run["params"] == {"model": "rf"}
    assert card.run["metrics"] == {"accuracy": 0.93}
    assert card.run["experiment_name"] == "Default"
    assert card.get_state()["run"]["run_id"] == run_id  # synced to the browser
    assert "export default" in card.get_state()["_esm"]  # run_card.js, sent to the browser


def test_run_card_for_an_unknown_run_is_not_found(tracking_uri: str) -> None:
    with pytest.raises(NotFound, match="no run with id 'missing'"):
        RunCard.for_run("missing")


def test_run_card_static_fallback_escapes_what_the_store_holds(tracking_uri: str) -> None:
    with pytest.raises(ValueError), nbops.track("<script>alert(1)</script>") as run:
        mlflow.log_param("note", "a < b & c")
        raise ValueError("<b>bad</b>")
    bundle = _bundle(RunCard.for_run(run.info.run_id))
    assert bundle[WIDGET_VIEW]["model_id"]  # JupyterLab still renders the live widget
    static = bundle["text/html"]
    assert "<script>" not in static
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in static
    assert "a &lt; b &amp; c" in static
    assert "ValueError: &lt;b&gt;bad&lt;/b&gt;" in static
    assert "FAILED" in static and run.info.run_id in static
    plain = bundle["text/plain"]
    assert plain.startswith("✗ run '<script>alert(1)</script>' FAILED in ")
    assert "error: ValueError: <b>bad</b>" in plain
    assert "params: note=a < b & c" in plain


# -- CompareWidget ------------------------------------------------------------------------


def test_compare_shows_the_first_page_newest_first_and_counts_the_rest(tracking_uri: str) -> None:
    for i in range(5):
        _tracked(f"r{i}", accuracy=i / 10, model="rf")
    widget = compare(max_runs=2)
    assert _names(widget) == ["r4", "r3"]
    assert widget.has_more
    assert widget.sort_key == "attributes.start_time" and widget.sort_descending
    assert widget.wait_for_total() == 5
    assert widget.summary_text() == "2 of 5 runs"
    assert widget.error == ""
    assert widget.param_keys == ["model"] and widget.metric_keys == ["accuracy"]
    assert widget.chart_metric == "accuracy"
    assert set(widget.runs[0]) >= {
        "run_id",
        "run_name",
        "status",
        "start_time",
        "duration_ms",
        "params",
        "metrics",
    }


def test_a_single_page_knows_its_total_without_counting(tracking_uri: str) -> None:
    _tracked("only", accuracy=0.5)
    widget = compare()
    assert widget.total == 1 and widget._count_thread is None
    assert not widget.has_more


def test_sort_message_requeries_the_store_in_its_order(tracking_uri: str) -> None:
    for name, accuracy in [("low", 0.5), ("top", 0.9), ("mid", 0.7), ("lowest", 0.1)]:
        _tracked(name, accuracy=accuracy)
    widget = compare(max_runs=2)
    assert _names(widget) == ["lowest", "mid"]  # newest first
    _from_browser(widget, {"type": "sort", "key": "metrics.accuracy"})
    # The best two of *all* runs, not the two the browser held, sorted by the store.
    assert _names(widget) == ["top", "mid"]
    assert widget.sort_key == "metrics.accuracy" and widget.sort_descending
    _from_browser(widget, {"type": "sort", "key": "metrics.accuracy"})  # again: flip
    assert _names(widget) == ["lowest", "low"]
    assert not widget.sort_descending
    _from_browser(widget, {"type": "load_more"})
    assert _names(widget) == ["lowest", "low", "mid", "top"]  # the next page continues the order
    assert not widget.has_more


def test_sort_by_param_uses_the_store_and_names_sort_ascending(tracking_uri: str) -> None:
    for name, model in [("b", "svm"), ("a", "rf"), ("c", "xgb")]:
        _tracked(name, model=model)
    widget = compare()
    _from_browser(widget, {"type": "sort", "key": "params.model"})
    assert _names(widget) == ["a", "b", "c"] and not widget.sort_descending
    _from_browser(widget, {"type": "sort", "key": "attributes.run_name"})
    assert _names(widget) == ["a", "b", "c"]


def test_sorting_by_an_unknown_column_is_a_message_not_a_crash(tracking_uri: str, monkeypatch) -> None:
    _tracked("r", accuracy=0.5)
    widget = compare()
    replies: list[dict] = []
    monkeypatch.setattr(widget, "send", replies.append)  # what would go back over the comm
    for _ in range(2):  # the same error twice changes no trait: the reply still ends "pending"
        _from_browser(widget, {"type": "sort", "key": "metrics.nope"})
    assert widget.error == "cannot sort by 'metrics.nope': it is not a column of this table."
    assert _names(widget) == ["r"] and widget.sort_key == "attributes.start_time"
    assert replies == [{"type": "done", "request": "sort"}] * 2


def test_load_more_appends_the_next_page(tracking_uri: str) -> None:
    for i in range(5):
        _tracked(f"r{i}", accuracy=float(i))
    widget = compare(max_runs=2)
    _from_browser(widget, {"type": "load_more"})
    assert _names(widget) == ["r4", "r3", "r2", "r1"]
    assert widget.has_more
    _from_browser(widget, {"type": "load_more"})
    assert _names(widget) == ["r4", "r3", "r2", "r1", "r0"]
    assert not widget.has_more
    _from_browser(widget, {"type": "load_more"})  # nothing left: nothing happens
    assert len(widget.runs) == 5
    assert widget.wait_for_total() == 5 and widget.summary_text() == "5 of 5 runs"


def test_columns_whose_values_differ_are_marked(tracking_uri: str) -> None:
    _tracked("a", accuracy=0.9, loss=0.1, model="rf", seed="1")
    _tracked("b", accuracy=0.8, loss=0.1, model="rf", seed="2")
    _tracked("c", accuracy=0.7, model="rf", seed="3")  # no loss: that differs too
    widget = compare()
    assert widget.param_keys == ["model", "seed"]
    assert widget.metric_keys == ["accuracy", "loss"]
    assert widget.differing == ["params.seed", "metrics.accuracy", "metrics.loss"]


def test_a_bad_filter_is_a_one_line_message_in_the_widget(tracking_uri: str) -> None:
    _tracked("r", accuracy=0.5)
    widget = compare(filter_string="metrics.accuracy >")
    assert widget.error.startswith("the filter 'metrics.accuracy >' is not valid: Invalid clause")
    assert "\n" not in widget.error
    assert widget.runs == [] and widget._count_thread is None
    assert "is not valid" in _bundle(widget)["text/html"]


def test_an_unknown_experiment_is_a_message_in_the_widget(tracking_uri: str) -> None:
    widget = compare("nope")
    assert widget.error.startswith("no experiment named 'nope'")


def test_filter_and_named_experiment_are_applied_by_the_store(tracking_uri: str) -> None:
    _tracked("elsewhere", accuracy=0.99)
    with nbops.track("weak", experiment="churn"):
        mlflow.log_metric("accuracy", 0.4)
    with nbops.track("strong", experiment="churn"):
        mlflow.log_metric("accuracy", 0.95)
    widget = compare("churn", filter_string="metrics.accuracy > 0.9")
    assert _names(widget) == ["strong"] and widget.total == 1


def test_page_size_out_of_range_raises(tracking_uri: str) -> None:
    with pytest.raises(InvalidInput, match="max_runs must be between 1 and 1000"):
        compare(max_runs=0)


def test_compare_static_fallback_is_an_escaped_table_with_the_count(tracking_uri: str) -> None:
    _tracked("<script>x()</script>", accuracy=0.5, model="<i>rf</i>")
    _tracked("plain", accuracy=0.25, model="svm")
    bundle = _bundle(compare())
    assert bundle[WIDGET_VIEW]["model_id"]
    static = bundle["text/html"]
    assert "<p>2 of 2 runs</p>" in static
    assert "<script>" not in static and "<i>" not in static
    assert "&lt;script&gt;x()&lt;/script&gt;" in static and "&lt;i&gt;rf&lt;/i&gt;" in static
    assert "<th>model</th>" in static and "<th>accuracy</th>" in static
    assert "<td>0.25</td>" in static
    assert bundle["text/plain"].startswith("CompareWidget: 2 of 2 runs")


def test_widgets_package_is_cheap_to_import() -> None:
    # %load_ext nbops must stay instant: importing nbops.widgets loads neither anywidget nor MLflow.
    import subprocess

    code = "import sys, nbops.widgets; print(sorted(m for m in ('anywidget', 'mlflow') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# -- a notebook exported with nbconvert ---------------------------------------------------------


def test_executed_notebook_exports_the_static_table_and_card(tracking_uri: str, tmp_path: Path) -> None:
    _tracked("<script>evil()</script>", accuracy=0.81, model="rf")
    best = _tracked("best-run", accuracy=0.97, model="svm")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("from nbops.widgets.compare import compare\ncompare()"),
        nbformat.v4.new_code_cell(f"from nbops.widgets import RunCard\nRunCard.for_run({best!r})"),
    ]
    # The kernel inherits MLFLOW_TRACKING_URI from the fixture: the same store.
    NotebookClient(nb, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    table, card = (cell.outputs[-1]["data"] for cell in nb.cells)
    assert WIDGET_VIEW in table and "2 of 2 runs" in table["text/html"]
    assert WIDGET_VIEW in card and "best-run" in card["text/html"]

    # nbclient saves the widget state in the notebook, and with it nbconvert exports the
    # live widgets (which need the widget JavaScript from a CDN). Without it — as JupyterLab
    # saves notebooks by default — the export shows the static fallback.
    assert "widgets" in nb.metadata
    shared = copy.deepcopy(nb)
    del shared.metadata["widgets"]
    html, _ = HTMLExporter().from_notebook_node(shared)
    assert "2 of 2 runs" in html
    assert "nbops-compare-static" in html and "nbops-run-card-static" in html
    assert "&lt;script&gt;evil()&lt;/script&gt;" in html and "<script>evil()" not in html
    assert "best-run" in html and "0.97" in html and best in html
    assert WIDGET_VIEW not in html

    # Keeping the widget state, an exporter told to prefer HTML shows the same static table.
    priority = [
        m for m in HTMLExporter().default_config.NbConvertBase.display_data_priority if m != WIDGET_VIEW
    ]
    exporter = HTMLExporter(config=Config({"NbConvertBase": {"display_data_priority": priority}}))
    html, _ = exporter.from_notebook_node(nb)
    assert "nbops-compare-static" in html and "nbops-run-card-static" in html


def test_run_card_shows_what_the_live_card_shows_for_long_runs_and_tied_metrics() -> None:
    # Python once wrote "62 min 0 s" and "0.507812" where the live card showed other strings.
    run = {
        "run_id": "0123abcd",
        "run_name": "nightly",
        "status": "FINISHED",
        "duration_ms": 3_720_000,
        "params": {},
        "metrics": {"accuracy": 0.5078125},  # 65 of 128 right
    }
    bundle = _bundle(RunCard(run=run))
    assert "FINISHED</span> · 1 h 2 min</p>" in bundle["text/html"]
    assert "<td>accuracy</td><td>0.507813</td>" in bundle["text/html"]
    assert bundle["text/plain"].startswith("✓ run 'nightly' FINISHED in 1 h 2 min")
    assert "metrics: accuracy=0.507813" in bundle["text/plain"]
