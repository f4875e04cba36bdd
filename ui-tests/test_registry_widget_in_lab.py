"""A user promotes a model version from the registry widget in JupyterLab, with a reason and a confirmation."""

from __future__ import annotations

import re

import pytest
from mlflow import MlflowClient
from playwright.sync_api import Page, expect

from nbops import audit

SETUP = """\
import nbops
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

X, y = load_iris(return_X_y=True, as_frame=True)
for i, C in enumerate([0.05, 1.0], start=1):
    with nbops.track(f"train-{i}", autolog=False):
        model = LogisticRegression(C=C, max_iter=500).fit(X, y)
        nbops.log_metric("accuracy", model.score(X, y))
        nbops.registry.register(model, "ui-model", data=X, description=f"Iris classifier, C={C}")
nbops.registry.promote("ui-model", 1, "champion", "first release")
"""

REASON = "v2 is better: add data, d d a b"  # letters that are notebook shortcuts in command mode


CELLS = [SETUP, "from nbops.widgets.registry import registry_widget\nregistry_widget()"]


def test_promote_a_version_from_the_registry_widget(
    lab, page: Page, screenshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab.write_notebook("registry.ipynb", CELLS)
    cells = lab.run_notebook(page, "registry.ipynb")

    widget = cells.nth(1).locator(".nbops-registry")
    widget.scroll_into_view_if_needed(timeout=60_000)  # JupyterLab skips rendering off-screen cells
    expect(widget).to_be_visible()
    model = widget.locator(".nbops-registry-model[data-name='ui-model']")
    expect(model.locator(".nbops-registry-badge")).to_have_text(["champion → v1"])
    expect(model.locator(".nbops-registry-latest")).to_have_text("latest v2")

    model.click()
    expect(model).to_have_attribute("aria-pressed", "true")
    rows = widget.locator(".nbops-registry-version-row")
    expect(rows).to_have_count(2)
    expect(rows.nth(0).locator(".nbops-registry-version")).to_have_text("v2")
    expect(rows.nth(1).locator(".nbops-registry-aliases")).to_have_text("champion")
    expect(rows.nth(0).locator(".nbops-registry-metric-key")).to_have_text(["accuracy"])

    rows.nth(0).locator(".nbops-registry-version").click()
    card = widget.locator(".nbops-registry-card")
    expect(card.locator("h1")).to_have_text("Model card: ui-model version 2")
    expect(card).to_contain_text("Iris classifier, C=1.0")

    widget.locator(".nbops-registry-promote").click()
    alias = widget.get_by_label("Alias")
    reason = widget.get_by_label("Reason (for the audit log)")
    expect(alias).to_have_value("champion")
    expect(reason).to_be_focused()
    widget.locator(".nbops-registry-continue").click()  # no reason yet: refused here, nothing sent
    expect(widget.locator(".nbops-registry-note-error")).to_have_text(
        "A reason is required: it goes into the audit log."
    )
    expect(reason).to_be_focused()
    cell_count = cells.count()
    reason.press_sequentially(REASON)  # typed key by key, as a person would
    expect(reason).to_have_value(REASON)
    reason.press("Enter")
    expect(widget.locator(".nbops-registry-question")).to_have_text(
        "Point champion of ui-model at version 2?"
    )
    expect(widget.locator(".nbops-registry-confirm")).to_be_focused()
    screenshot("registry-confirm")
    widget.locator(".nbops-registry-confirm").click()

    expect(widget.locator(".nbops-registry-message")).to_have_text(
        "✓ champion of ui-model → version 2 (was version 1)", timeout=30_000
    )
    expect(widget.locator(".nbops-registry-error")).to_have_count(0)
    expect(model.locator(".nbops-registry-badge")).to_have_text(["champion → v2"])
    expect(rows.nth(0).locator(".nbops-registry-aliases")).to_have_text("champion")
    expect(rows.nth(1).locator(".nbops-registry-aliases")).to_have_text("")
    expect(widget.locator(".nbops-registry-form")).to_have_count(0)
    expect(widget.locator(".nbops-registry-promote")).to_be_focused()  # the keyboard stays in the widget
    expect(cells).to_have_count(cell_count)  # no letter of the reason ran as a notebook shortcut
    screenshot("registry-promoted")

    # The store agrees, and the audit log names the reason and the notebook.
    uri = f"sqlite:///{lab.root}/.nbops/mlflow.db"
    assert MlflowClient(uri).get_registered_model("ui-model").aliases["champion"] in (2, "2")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    event = audit.events(model="ui-model", action="promote", start=lab.root)[-1]
    assert (event.from_version, event.to_version, event.reason) == ("1", "2", REASON)
    assert event.source and event.source.endswith("registry.ipynb")

    # Rollback, by keyboard: the form opens on the reason, Enter continues, Escape cancels.
    widget.locator(".nbops-registry-rollback").click()
    expect(reason).to_be_focused()
    reason.press_sequentially("v2 misroutes some traffic")
    reason.press("Enter")
    question = widget.locator(".nbops-registry-question")
    expect(question).to_have_text(
        "Roll champion of ui-model back from version 2 to the version it held before?"
    )
    page.keyboard.press("Escape")
    expect(widget.locator(".nbops-registry-form")).to_have_count(0)
    expect(widget.locator(".nbops-registry-rollback")).to_be_focused()
    page.keyboard.press("Enter")  # the focused Rollback… button opens the form again
    reason.press_sequentially("v2 misroutes some traffic")
    reason.press("Enter")
    expect(widget.locator(".nbops-registry-confirm")).to_be_focused()
    page.keyboard.press("Enter")
    expect(widget.locator(".nbops-registry-message")).to_have_text(
        "✓ champion of ui-model rolled back to version 1 (was 2)", timeout=30_000
    )
    expect(model.locator(".nbops-registry-badge")).to_have_text(["champion → v1"])
    assert MlflowClient(uri).get_registered_model("ui-model").aliases["champion"] in (1, "1")

    # The dark theme: light text on a dark background.
    lab.use_dark_theme(page)
    widget.scroll_into_view_if_needed()
    assert lab.luminance(widget.evaluate("el => getComputedStyle(el).backgroundColor")) < 0.3
    name = model.locator(".nbops-registry-model-name")
    assert lab.luminance(name.evaluate("el => getComputedStyle(el).color")) > 0.6
    assert lab.luminance(card.evaluate("el => getComputedStyle(el).color")) > 0.6
    expect(widget.locator(".nbops-registry-message")).to_have_text(re.compile("rolled back to version 1"))
    screenshot("registry-dark")
