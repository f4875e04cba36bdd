"""The registry widget on a real store, driven by the messages its JavaScript sends."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import nbops
from nbops import audit, registry
from nbops.widgets.registry import KEY_METRICS, RegistryWidget, registry_widget

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(scope="module")
def data():
    return load_iris(return_X_y=True, as_frame=True)


@pytest.fixture(scope="module")
def fitted(data):
    X, y = data
    return LogisticRegression(max_iter=500).fit(X, y)


@pytest.fixture
def churn(tracking_uri, fitted, data) -> str:
    """Two versions of "churn", each from a run with metrics; version 1 is the champion."""
    X, _ = data
    with nbops.track("train-1"):
        nbops.log_metrics({"accuracy": 0.91, "f1": 0.9, "loss": 0.3, "precision": 0.92, "recall": 0.88})
        registry.register(fitted, "churn", data=X, alias="champion", description="Predicts churn.")
    with nbops.track("train-2"):
        nbops.log_metric("accuracy", 0.95)
        registry.register(fitted, "churn", data=X, description="<script>alert(1)</script> churn, better")
    return tracking_uri


def _from_browser(widget: RegistryWidget, content: dict) -> None:
    """Deliver a ``model.send(content)`` from the browser the way the kernel's comm does."""
    widget._handle_msg({"content": {"data": {"method": "custom", "content": content}}, "buffers": []})


@pytest.fixture
def replies(monkeypatch) -> list[dict]:
    """What the widget sends back over the comm, for every widget built in the test."""
    sent: list[dict] = []
    monkeypatch.setattr(RegistryWidget, "send", lambda self, content, buffers=None: sent.append(content))
    return sent


def _champion(uri: str, name: str = "churn") -> str | None:
    held = MlflowClient(uri).get_registered_model(name).aliases.get("champion")
    return None if held is None else str(held)


def test_lists_models_with_aliases_and_latest_version(churn) -> None:
    widget = registry_widget()
    assert widget.models == [
        {"name": "churn", "description": "", "aliases": {"champion": "1"}, "latest_version": "2"}
    ]
    assert widget.selected_model == "" and widget.versions == [] and widget.error == ""
    state = widget.get_state()
    assert "export default" in state["_esm"]  # registry.js, sent to the browser
    assert (state["_model_name"], state["_view_name"]) == ("AnyModel", "AnyView")  # no trait shadowed


def test_selecting_a_model_and_a_version_shows_versions_metrics_and_a_safe_card(churn, replies) -> None:
    widget = registry_widget()
    _from_browser(widget, {"type": "select_model", "name": "churn"})
    assert widget.selected_model == "churn"
    assert [(v["version"], v["aliases"]) for v in widget.versions] == [("2", []), ("1", ["champion"])]
    v2, v1 = widget.versions
    assert v2["metrics"] == {"accuracy": 0.95} and v2["metric_count"] == 1
    assert list(v1["metrics"]) == ["accuracy", "f1", "loss", "precision"]  # up to 4, by name
    assert len(v1["metrics"]) == KEY_METRICS and v1["metric_count"] == 5
    assert isinstance(v1["created"], int) and v1["run_id"]

    _from_browser(widget, {"type": "select_version", "version": "2"})
    assert widget.selected_version == "2"
    card = widget.card_html
    assert "churn" in card and "version 2" in card
    assert "<script>" not in card and "&lt;script&gt;alert(1)&lt;/script&gt;" in card
    assert replies == [
        {"type": "done", "request": "select_model", "ok": True},
        {"type": "done", "request": "select_version", "ok": True},
    ]


def test_promote_moves_the_alias_writes_the_audit_log_and_refreshes(churn, replies, monkeypatch) -> None:
    monkeypatch.setenv("NBOPS_NOTEBOOK_PATH", "/work/notebooks/registry.ipynb")
    widget = registry_widget("churn")
    _from_browser(widget, {"type": "select_version", "version": "2"})
    _from_browser(
        widget,
        {"type": "promote", "model": "churn", "version": "2", "alias": "champion", "reason": "better recall"},
    )
    assert widget.error == ""
    assert widget.message == "✓ champion of churn → version 2 (was version 1)"
    assert replies[-1] == {"type": "done", "request": "promote", "ok": True}
    assert _champion(churn) == "2" and registry.alias_holder("churn", "champion") == "2"
    event = audit.events(model="churn", action="promote")[-1]
    assert (event.alias, event.from_version, event.to_version) == ("champion", "1", "2")
    assert event.reason == "better recall"
    assert event.source == "/work/notebooks/registry.ipynb"  # the notebook, as the magics record it
    # The lists and the card were read again.
    assert widget.models[0]["aliases"] == {"champion": "2"}
    assert [(v["version"], v["aliases"]) for v in widget.versions] == [("2", ["champion"]), ("1", [])]
    assert widget.selected_version == "2" and "champion" in widget.card_html


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_promote_without_a_reason_is_a_message_and_changes_nothing(churn, replies, reason) -> None:
    widget = registry_widget("churn")
    events = len(audit.events())
    content = {"type": "promote", "model": "churn", "version": "2", "alias": "champion"}
    if reason is not None:
        content["reason"] = reason
    _from_browser(widget, content)
    assert widget.error == "a reason is required (--reason TEXT): it goes into the audit log."
    assert "\n" not in widget.error and widget.message == ""
    assert replies[-1] == {"type": "done", "request": "promote", "ok": False}
    assert _champion(churn) == "1" and len(audit.events()) == events
    assert widget.models[0]["aliases"] == {"champion": "1"}


def test_refusals_of_the_core_are_one_line_messages(churn, replies) -> None:
    widget = registry_widget("churn")
    _from_browser(widget, {"type": "promote", "version": "9", "alias": "champion", "reason": "r"})
    assert widget.error == "model 'churn' has no version 9; nbops registry list shows its versions."
    _from_browser(widget, {"type": "promote", "version": "2", "alias": "latest", "reason": "r"})
    assert widget.error.startswith("alias 'latest' is not allowed")
    _from_browser(widget, {"type": "select_model", "name": "nope"})
    assert widget.error.startswith("no registered model named 'nope'")
    assert widget.selected_model == "churn"  # the refused selection changed nothing
    _from_browser(widget, {"type": "explode"})
    assert widget.error == "unknown request 'explode' from the registry widget."
    assert [r["ok"] for r in replies] == [False] * 4
    _from_browser(widget, {"type": "refresh"})
    assert widget.error == "" and replies[-1]["ok"]
    assert _champion(churn) == "1"


def test_rollback_points_the_alias_back(churn, replies) -> None:
    widget = registry_widget("churn")
    _from_browser(widget, {"type": "promote", "version": "2", "alias": "champion", "reason": "try v2"})
    assert _champion(churn) == "2"
    _from_browser(widget, {"type": "rollback", "model": "churn", "alias": "champion", "reason": ""})
    assert widget.error.startswith("a reason is required") and _champion(churn) == "2"
    _from_browser(widget, {"type": "rollback", "model": "churn", "alias": "champion", "reason": "v2 broke"})
    assert widget.error == ""
    assert widget.message == "✓ champion of churn rolled back to version 1 (was 2)"
    assert _champion(churn) == "1" and widget.models[0]["aliases"] == {"champion": "1"}
    event = audit.events(model="churn")[-1]
    assert (event.action, event.from_version, event.to_version, event.reason) == (
        "rollback",
        "2",
        "1",
        "v2 broke",
    )
    _from_browser(widget, {"type": "rollback", "model": "churn", "alias": "champion", "reason": "again"})
    assert "no earlier version to roll back to" in widget.error
    assert [r["ok"] for r in replies] == [True, False, True, False]


def test_an_unknown_model_at_start_is_a_message_not_an_exception(churn) -> None:
    widget = registry_widget("nope")
    assert widget.error.startswith("no registered model named 'nope'")
    assert [m["name"] for m in widget.models] == ["churn"]


def test_static_fallback_is_an_escaped_table_of_models(tracking_uri, fitted, data) -> None:
    # MLflow refuses "/" and ":" in names, but not "<", ">" or "&".
    registry.register(fitted, "<img src=x onerror=alert(1)> & co", data=data[0], alias="champion")
    registry.register(fitted, "plain", data=data[0])
    data_, _ = registry_widget()._repr_mimebundle_()
    assert data_[WIDGET_VIEW]["model_id"]  # JupyterLab still renders the live widget
    static = data_["text/html"]
    assert "<img" not in static and "&lt;img src=x onerror=alert(1)&gt; &amp; co" in static
    assert "<th>Model</th><th>Aliases</th><th>Latest version</th>" in static
    assert "<td>champion → v1</td><td>v1</td>" in static
    assert "<tr><td>plain</td><td>—</td><td>v1</td></tr>" in static
    assert data_["text/plain"].startswith("RegistryWidget: 2 registered models")


def test_static_fallback_without_models(tracking_uri) -> None:
    data_, _ = registry_widget()._repr_mimebundle_()
    assert "No registered models." in data_["text/html"]
