"""A user reads registry state, gates, model cards, monitoring charts, alerts and the audit trail in
the nbops sidebar, and promotes and rolls back an alias through its dialogs.

The store is real: a module fixture trains and registers two scikit-learn versions of ``churn`` (with
reference profiles), gates version 2 with the shipped latency gate, logs monitoring batches for
version 1 (the last two drifted, opening an alert) and registers a model whose description is
hostile HTML — all in a Python process working in the lab's project folder, so it writes the very
store the lab's server reads.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

DOCS = Path(__file__).parents[1] / "docs"
RESULTS = Path(__file__).parents[1] / "test-results"

#: Times, in the page, from the click on the panel's tab to the models list on screen.
TIME_OPENING = """() => {
        window.__nbopsOpened = performance.now();
        // From the click on the panel's tab (the page may still be busy before it).
        document.addEventListener('pointerdown', event => {
            if (event.target.closest('.lm-TabBar-tab[data-id="nbops-sidebar"]')) {
                window.__nbopsOpened = performance.now();
            }
        }, { capture: true, once: true });
        new MutationObserver((_, observer) => {
            if (document.querySelector('#nbops-sidebar:not(.lm-mod-hidden) .nbops-model')) {
                window.__nbopsModels = performance.now();
                observer.disconnect();
            }
        }).observe(document.body, {
            childList: true, subtree: true, attributes: true, attributeFilter: ['class']
        });
    }"""
EVIL = "<img src=x onerror=window.__xss=1><script>window.__xss=1</script>"
REASON_PROMOTE = f"v2 is faster {EVIL}"
REASON_ROLLBACK = "back to v1 until the holdout is checked"

ALERT_RULES = """
[tool.nbops.alerts.feature-drift]
metric = "drift.share"
op = ">="
threshold = 0.3
severity = "critical"

[tool.nbops.alerts.accuracy-drop]
metric = "performance.accuracy"
op = "<"
threshold = 0.75
severity = "warning"
"""

POLICY = """
[tool.nbops.policy]
champion = ["latency"]
production = ["latency", "performance"]
"""

SETUP = textwrap.dedent(
    """\
    import sys
    from pathlib import Path

    import numpy as np
    import pandas as pd
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    import nbops
    from nbops import store

    rules, policy, evil = sys.argv[1:4]
    pyproject = Path("pyproject.toml")
    pyproject.write_text(pyproject.read_text() + rules)

    X, y = make_classification(
        n_samples=800, n_features=4, n_informative=3, n_redundant=0, class_sep=1.2, random_state=0
    )
    X = pd.DataFrame(X, columns=["age", "income", "tenure", "usage"])
    X.to_csv("features.csv", index=False)
    for i, C in enumerate([0.05, 1.0], start=1):
        with nbops.track(f"train-churn-{i}", autolog=False):
            model = LogisticRegression(C=C, max_iter=500).fit(X, y)
            nbops.log_metric("accuracy", model.score(X, y))
            nbops.registry.register(model, "churn", data=X, description=f"Churn classifier, C={C}")
    nbops.registry.promote("churn", 1, "champion", "first release")

    # From now on champion needs the latency gate: version 1 predates the policy.
    pyproject.write_text(pyproject.read_text() + policy)
    report = nbops.gates.run(["latency"], "models:/churn/2", {"data_path": "features.csv"})
    assert [o.result for o in report.outcomes] == ["passed"], report.outcomes

    rng = np.random.default_rng(1)
    for b in range(5):
        rows = rng.choice(len(X), 200, replace=False)
        batch, labels = X.iloc[rows].copy(), y[rows]
        if b >= 3:  # the last two batches drift
            batch["income"] = batch["income"] * 2.5 + 2
            batch["usage"] = batch["usage"] + 1.5
        nbops.monitor.log_batch(
            "churn/1", batch, model.predict(batch), labels,
            latency_ms=rng.gamma(2.0, 5 + b, len(rows)),
            sensitive=np.where(batch["age"] > 0, "a", "b"),
        )

    with nbops.track("train-hostile", autolog=False):
        nbops.registry.register(LogisticRegression().fit(X, y), "hostile", data=X, description=evil)
    store.client().update_registered_model("hostile", description=evil)
    print("store ready")
    """
)


@pytest.fixture(scope="module")
def store(lab, request: pytest.FixtureRequest):
    """The lab's project store, filled as a notebook user would (see the module docstring)."""
    try:  # the store the lab's server reads: its project's default unless a module says otherwise
        uri = request.getfixturevalue("lab_tracking_uri")
    except pytest.FixtureLookupError:
        uri = None
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    if uri is not None:
        env["MLFLOW_TRACKING_URI"] = uri
    done = subprocess.run(
        [sys.executable, "-c", SETUP, ALERT_RULES, POLICY, EVIL],
        cwd=lab.root, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return lab


# --- helpers ---------------------------------------------------------------------------------------


def sidebar(page: Page) -> Locator:
    return page.locator("#nbops-sidebar")


def open_sidebar(page: Page) -> Locator:
    """Show the nbops panel (its tab toggles it: click only while it is hidden)."""
    tab = page.locator('.lm-TabBar-tab[data-id="nbops-sidebar"]')
    expect(tab).to_be_visible()
    panel = sidebar(page)
    for _ in range(3):
        if panel.is_visible():
            break
        tab.click()
        try:
            expect(panel).to_be_visible(timeout=3_000)
        except AssertionError:
            continue  # the workspace was still restoring the layout
    expect(panel).to_be_visible()
    return panel


def widen_sidebar(page: Page, width: int = 520) -> None:
    """Drag the left sidebar's edge, as a user does to give charts room.

    The workspace may still be restoring the layout (the sidebar's saved width) when the page
    shows: wait until the edge stands still, and grab it only where it is, so that a drag never
    starts on the panel's content (a press and release there would click a row).
    """
    handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle:not(.lm-mod-hidden)").first
    box = None
    for _ in range(20):
        handle.hover()  # waits for the edge to be visible and stable, then puts the mouse on it
        box = handle.bounding_box()
        assert box is not None
        page.wait_for_timeout(100)
        if handle.bounding_box() == box:
            break
    assert box is not None
    if abs(box["x"] - width) > 20:
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.down()
        page.mouse.move(width, box["y"] + box["height"] / 2, steps=8)
        page.mouse.up()


def model(page: Page, name: str) -> Locator:
    return sidebar(page).locator(f'.nbops-model[data-model="{name}"]')


def expand(row: Locator) -> None:
    """Open a folded row with a click, as a user does: once it shows folded, click it.

    On a loaded machine the page may still be drawing what it restored when the row is read;
    a row read as folded that opens by itself is not clicked again, one that stays folded is.
    """
    for _ in range(3):
        if row.get_attribute("aria-expanded") == "true":
            try:
                expect(row).to_have_attribute("aria-expanded", "true", timeout=1_000)
                return
            except AssertionError:
                continue  # it was being folded as it was read
        row.click()
        try:
            expect(row).to_have_attribute("aria-expanded", "true", timeout=5_000)
            return
        except AssertionError:
            continue
    expect(row).to_have_attribute("aria-expanded", "true")


def open_version(page: Page, name: str, version: str) -> Locator:
    expand(model(page, name).locator(".nbops-model-row"))
    item = model(page, name).locator(f'.nbops-version[data-version="{version}"]')
    expand(item.locator(".nbops-version-row"))
    detail = item.locator(".nbops-detail")
    expect(detail.locator(".nbops-facts").first).to_be_visible(timeout=20_000)
    return detail


def rendered_chart(detail: Locator, kind: str) -> Locator:
    canvas = detail.locator(f".nbops-chart-{kind} .nbops-chart-canvas")
    expect(canvas).to_have_attribute("data-rendered", "true", timeout=30_000)
    return canvas


def confirm_dialog(page: Page, reason: str, alias: str | None = None) -> None:
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_be_visible()
    accept = dialog.locator(".jp-Dialog-button.jp-mod-accept")
    field = dialog.locator(".nbops-dialog-reason")
    if alias is None:
        expect(field).to_be_focused()
    else:
        expect(dialog.locator(".nbops-dialog-alias")).to_be_focused()
        dialog.locator(".nbops-dialog-alias").fill(alias)
    expect(accept).to_be_disabled()  # no reason, no change
    field.fill(reason)
    expect(accept).to_be_enabled()
    accept.click()
    expect(dialog).to_have_count(0)


def assert_no_xss(page: Page) -> None:
    assert page.evaluate("() => window.__xss") is None
    expect(sidebar(page).locator("img, script")).to_have_count(0)


def print_requests(page: Page) -> None:
    """When each of the panel's requests started and ended, relative to the click on its tab."""
    print(
        page.evaluate("""() => performance.getEntriesByType('resource')
        .filter(e => e.name.includes('/nbops/api/'))
        .map(e => `${e.name.split('/nbops/api/')[1].slice(0, 40)} start ${Math.round(e.startTime - window.__nbopsOpened)} ` +
                  `wait ${Math.round(e.responseStart - e.requestStart)} end ${Math.round(e.responseEnd - window.__nbopsOpened)}`)
        .join('\\n')""")
    )


# --- tests -----------------------------------------------------------------------------------------


def test_models_show_aliases_gates_the_card_and_monitoring_charts(store, page: Page, screenshot) -> None:
    lab = store
    lab.open(page)
    # Time from opening the panel to the models list on screen, measured in the page.
    page.evaluate(TIME_OPENING)
    panel = open_sidebar(page)
    expect(panel.locator(".nbops-model")).to_have_count(2, timeout=20_000)
    cold = page.evaluate("() => window.__nbopsModels - window.__nbopsOpened")
    print(
        f"\nnbops sidebar: models on screen {cold:.0f} ms after opening the panel (first request to the server)"
    )
    print_requests(page)

    widen_sidebar(page)
    models = panel.locator(".nbops-section-models")
    expect(models.locator(".nbops-section-count")).to_have_text("2")
    expect(models.locator(".nbops-count").first).to_have_text("Showing 2 models")
    churn = model(page, "churn")
    expect(churn.locator(".nbops-model-row .nbops-alias")).to_have_text(["champion → v1"])
    expect(churn.locator(".nbops-model-latest")).to_have_text("latest v2")
    expect(churn.locator(".nbops-model-alerts")).to_have_text(re.compile(r"^[12] alerts?$"))
    # The latest version's gates: latency passed, performance (required for production) missing.
    badges = churn.locator(".nbops-model-gates .nbops-gate")
    expect(badges).to_have_count(2)
    expect(churn.locator('.nbops-model-gates .nbops-gate[data-gate="latency"]')).to_have_attribute(
        "data-state", "passed"
    )
    expect(churn.locator('.nbops-model-gates .nbops-gate[data-gate="performance"]')).to_have_attribute(
        "data-state", "missing"
    )

    expand(churn.locator(".nbops-model-row"))
    versions = churn.locator(".nbops-version")
    expect(versions).to_have_count(2)
    expect(churn.locator(".nbops-versions-count")).to_have_text("Showing 2 versions")
    v1 = churn.locator('.nbops-version[data-version="1"]')
    expect(v1.locator(".nbops-version-row .nbops-alias")).to_have_text(["champion"])
    # Version 1 predates the policy: its latency gate never ran.
    expect(v1.locator('.nbops-version-row .nbops-gate[data-gate="latency"]')).to_have_attribute(
        "data-state", "missing"
    )
    expect(
        churn.locator('.nbops-version[data-version="2"] .nbops-version-row .nbops-gate[data-gate="latency"]')
    ).to_have_attribute("data-state", "passed")

    detail = open_version(page, "churn", "1")
    expect(detail.locator(".nbops-detail-description")).to_have_text("Churn classifier, C=0.05")
    expect(detail.locator(".nbops-lineage")).to_contain_text("train-churn-1")
    expect(detail.locator(".nbops-metrics")).to_contain_text("accuracy")
    production = detail.locator('.nbops-promote[data-alias="production"]')
    expect(production).to_be_disabled()
    expect(production).to_have_attribute(
        "title", re.compile("latency \\(not run\\), performance \\(not run\\)")
    )
    expect(detail.locator(".nbops-promote-gaps")).to_have_text(
        "needs latency (not run), performance (not run)"
    )
    # champion has only ever pointed at version 1: nothing to roll back to, and the button says so.
    rollback = detail.locator('.nbops-rollback[data-alias="champion"]')
    expect(rollback).to_be_disabled()
    expect(rollback).to_have_attribute("title", re.compile("nothing to roll back to"))

    # Monitoring: drift per feature (one line per feature, drifted points filled), performance with
    # the accuracy alert's threshold, latency and the fairness gap.
    drift = rendered_chart(detail, "drift")
    expect(drift.locator("svg g.mark-line path")).to_have_count(4)
    assert drift.locator("svg g.mark-symbol path").count() >= 20
    expect(drift.locator("svg .role-legend-label text")).to_have_text(["age", "income", "tenure", "usage"])
    expect(detail.locator(".nbops-chart-drift + .nbops-figure-summary")).to_contain_text(
        "Batch 5: 2 of 4 features drifted (income, usage)"
    )
    performance = rendered_chart(detail, "performance")
    expect(performance.locator("svg .role-legend-label text")).to_have_text(["accuracy", "f1"])
    expect(
        performance.locator("svg g.mark-rule.role-mark line, svg g.mark-rule.role-mark path")
    ).not_to_have_count(0)
    rendered_chart(detail, "latency")
    rendered_chart(detail, "fairness")
    screenshot("charts")

    # The model card (sanitised HTML from the server, rendered as HTML).
    toggle = detail.locator(".nbops-card-toggle")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    card = detail.locator(".nbops-card")
    expect(card.locator("h1")).to_have_text("Model card: churn version 1")
    expect(card).to_contain_text("Churn classifier, C=0.05")
    toggle.click()

    # Alerts: open first, with severity chips and the rule's message.
    alerts = panel.locator(".nbops-section-alerts")
    drift_alert = alerts.locator(".nbops-alert-open").filter(has_text="feature-drift")
    expect(drift_alert.locator(".nbops-severity")).to_have_text("critical")
    expect(drift_alert.locator(".nbops-alert-message")).to_contain_text("drift.share >= 0.3")
    expect(alerts.locator(".nbops-alert-open").first.locator(".nbops-severity")).to_have_text("critical")

    # The README's picture: the whole panel with models, gate badges and charts.
    panel.locator(".nbops-section-runs .nbops-section-toggle").click()  # fold runs: room for charts
    page.set_viewport_size({"width": 1400, "height": 1700})
    rendered_chart(detail, "drift")
    churn.scroll_into_view_if_needed()
    panel.locator(".nbops-content").evaluate("el => { el.scrollTop = 0; }")
    # The README's picture: written to test-results/, and to docs/ only when asked
    # (NBOPS_UPDATE_DOCS=1), so a test run never changes tracked files.
    target = DOCS if os.environ.get("NBOPS_UPDATE_DOCS") == "1" else RESULTS
    target.mkdir(parents=True, exist_ok=True)
    box = panel.bounding_box()
    charts = detail.locator(".nbops-figure").last.bounding_box()
    assert box is not None and charts is not None
    page.screenshot(
        path=str(target / "sidebar.png"),
        clip={
            "x": box["x"],
            "y": box["y"],
            "width": box["width"],
            "height": charts["y"] + charts["height"] + 8 - box["y"],
        },
    )
    screenshot("full-panel")
    panel.locator(".nbops-section-runs .nbops-section-toggle").click()

    # What was open comes back after a reload (kept in the workspace).
    page.set_viewport_size({"width": 1400, "height": 900})
    saved = None
    for _ in range(40):
        workspace = page.request.get(
            f"{lab.url}lab/api/workspaces/default", headers={"Authorization": f"token {lab.token}"}
        )
        saved = json.loads(workspace.text())["data"].get("nbops:sidebar-view")
        if saved and saved.get("selected") == {"model": "churn", "version": "1"}:
            break
        page.wait_for_timeout(250)
    assert saved and saved["selected"] == {"model": "churn", "version": "1"}, saved
    page.reload()
    page.locator("#jupyterlab-splash").wait_for(state="detached", timeout=60_000)
    open_sidebar(page)
    expect(model(page, "churn").locator(".nbops-model-row")).to_have_attribute("aria-expanded", "true")
    expect(model(page, "churn").locator('.nbops-version[data-version="1"] .nbops-detail')).to_be_visible(
        timeout=20_000
    )
    assert_no_xss(page)

    # Warm server, a fresh workspace: open the panel as soon as JupyterLab is up.
    lab.open(page, "lab/workspaces/timing")
    page.evaluate(TIME_OPENING)
    open_sidebar(page)
    expect(sidebar(page).locator(".nbops-model")).to_have_count(2, timeout=20_000)
    warm = page.evaluate("() => window.__nbopsModels - window.__nbopsOpened")
    print(f"nbops sidebar: models on screen {warm:.0f} ms after opening the panel (server warm)")
    print_requests(page)


def test_promote_and_roll_back_through_dialogs_are_audited(store, page: Page, screenshot) -> None:
    lab = store
    lab.open(page)
    panel = open_sidebar(page)
    widen_sidebar(page)
    detail = open_version(page, "churn", "2")
    champion = detail.locator('.nbops-promote[data-alias="champion"]')
    expect(champion).to_be_enabled()  # version 2 passed latency, all champion needs

    # The policy refuses production (no performance gate): the server says which gates are missing.
    detail.locator(".nbops-promote-other").click()
    confirm_dialog(page, "try production", alias="production")
    error = detail.locator(".nbops-action-error")
    expect(error).to_contain_text("cannot become production")
    expect(error.locator(".nbops-missing-gates .nbops-gate")).to_have_text(["performance"])
    screenshot("refused")

    # Promote version 2 to champion, with a reason.
    champion.click()
    expect(page.locator(".jp-Dialog .nbops-dialog-message")).to_have_text(
        "Point champion of churn at version 2 (it points at version 1 now). "
        "The change and your reason go into the audit log."
    )
    confirm_dialog(page, REASON_PROMOTE)
    expect(detail.locator(".nbops-action-done")).to_have_text("champion of churn now points at version 2.")
    churn = model(page, "churn")
    expect(churn.locator(".nbops-model-row .nbops-alias")).to_have_text(["champion → v2"], timeout=20_000)
    expect(churn.locator('.nbops-version[data-version="2"] .nbops-version-row .nbops-alias')).to_have_text(
        ["champion"]
    )
    screenshot("promoted")

    # Roll it back from the same version.
    detail.locator('.nbops-rollback[data-alias="champion"]').click()
    confirm_dialog(page, REASON_ROLLBACK)
    expect(detail.locator(".nbops-action-done")).to_have_text(
        "champion of churn rolled back: it points at version 1 again."
    )
    expect(churn.locator(".nbops-model-row .nbops-alias")).to_have_text(["champion → v1"], timeout=20_000)

    # The audit trail, newest first: the rollback, then the promotion, reasons as text.
    audit = panel.locator(".nbops-section-audit")
    audit.locator(".nbops-section-toggle").click()
    events = audit.locator(".nbops-event")
    expect(events.nth(0)).to_have_attribute("data-action", "rollback", timeout=20_000)
    expect(events.nth(0).locator(".nbops-event-what")).to_have_text("churn: champion back to v1 (from v2)")
    expect(events.nth(0).locator(".nbops-event-reason")).to_have_text(REASON_ROLLBACK)
    expect(events.nth(0).locator(".nbops-event-who")).to_contain_text("via sidebar")
    expect(events.nth(1)).to_have_attribute("data-action", "promote")
    expect(events.nth(1).locator(".nbops-event-what")).to_have_text("churn: champion → v2 (was v1)")
    expect(events.nth(1).locator(".nbops-event-reason")).to_have_text(REASON_PROMOTE)
    total = int(audit.locator(".nbops-section-count").inner_text())
    expect(audit.locator(".nbops-count")).to_have_text(f"Showing {total} events")
    audit.locator(".nbops-section-toggle").scroll_into_view_if_needed()
    screenshot("audit")
    assert_no_xss(page)

    # The store agrees: the same two events, made by the sidebar.
    response = page.request.get(
        f"{lab.url}nbops/api/audit?model=churn&max_results=2",
        headers={"Authorization": f"token {lab.token}"},
    )
    newest = json.loads(response.text())["events"]
    assert [(e["action"], e["source"], e["reason"]) for e in newest] == [
        ("rollback", "sidebar", REASON_ROLLBACK),
        ("promote", "sidebar", REASON_PROMOTE),
    ]


def test_hostile_text_is_shown_as_text(store, page: Page, screenshot) -> None:
    store.open(page)
    open_sidebar(page)
    hostile = model(page, "hostile")
    expect(hostile.locator(".nbops-model-description")).to_have_text(EVIL)
    detail = open_version(page, "hostile", "1")
    expect(detail.locator(".nbops-detail-description")).to_have_text(EVIL)
    detail.locator(".nbops-card-toggle").click()
    card = detail.locator(".nbops-card")
    expect(card.locator("h1")).to_have_text("Model card: hostile version 1")
    expect(card).to_contain_text(EVIL)  # escaped by the server: text, not markup
    # No monitoring batches: the empty state says what to run.
    expect(detail.locator(".nbops-monitoring-empty")).to_contain_text('nbops.monitor.log_batch("hostile/1"')
    expect(detail.locator(".nbops-monitoring-empty")).to_contain_text("notebooks/05_monitoring.ipynb")
    page.wait_for_timeout(500)  # an onerror handler would have fired by now
    assert_no_xss(page)
    screenshot("hostile")


def test_keyboard_only_walk(store, page: Page, screenshot) -> None:
    store.open(page, "lab/workspaces/keyboard")  # a workspace of its own: nothing expanded yet
    panel = open_sidebar(page)
    expect(panel.locator(".nbops-model")).to_have_count(2, timeout=20_000)
    panel.locator(".nbops-refresh").focus()
    row = model(page, "churn").locator(".nbops-model-row")
    for _ in range(8):
        page.keyboard.press("Tab")
        if row.evaluate("el => el === document.activeElement"):
            break
    expect(row).to_be_focused()
    outline = row.evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline != "none", "the focused model shows no focus ring"
    expect(row).to_have_attribute("aria-expanded", "false")
    page.keyboard.press("Enter")
    expect(row).to_have_attribute("aria-expanded", "true")
    expect(model(page, "churn").locator(".nbops-version")).to_have_count(2)
    page.keyboard.press("Tab")  # the newest version
    version = model(page, "churn").locator('.nbops-version[data-version="2"] .nbops-version-row')
    expect(version).to_be_focused()
    page.keyboard.press(" ")
    expect(version).to_have_attribute("aria-expanded", "true")
    detail = model(page, "churn").locator('.nbops-version[data-version="2"] .nbops-detail')
    expect(detail.locator(".nbops-facts").first).to_be_visible()
    screenshot("keyboard")
    page.keyboard.press("Enter")  # and closes again
    expect(version).to_have_attribute("aria-expanded", "false")
    # Sections fold from the keyboard too.
    toggle = panel.locator(".nbops-section-alerts .nbops-section-toggle")
    toggle.focus()
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")


def test_a_batch_logged_in_a_notebook_shows_up_without_refresh(store, page: Page, screenshot) -> None:
    lab = store
    settings = lab.root.parent / "settings" / "nbops" / "plugin.jupyterlab-settings"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text('{"refreshInterval": 2}')
    try:
        lab.write_notebook(
            "monitor.ipynb",
            ["import pandas as pd, nbops\nbatch = pd.read_csv('features.csv').sample(150, random_state=7)"],
        )
        cells = lab.run_notebook(page, "monitor.ipynb")
        panel = open_sidebar(page)
        widen_sidebar(page, 420)
        detail = open_version(page, "churn", "1")
        batches = detail.locator(".nbops-monitoring .nbops-muted").first
        expect(batches).to_have_text("Batches 1 to 5")

        # The user logs a sixth batch from the notebook, the panel open beside it.
        editor = cells.nth(0).locator(".jp-InputArea-editor")
        editor.click()
        page.keyboard.press("ControlOrMeta+a")
        page.keyboard.insert_text("nbops.monitor.log_batch('churn/1', batch).batch")
        page.keyboard.press("Shift+Enter")
        expect(cells.nth(0).locator(".jp-OutputArea-output")).to_have_text("6", timeout=60_000)

        # No click on Refresh: the panel polls (every 2 s here) and redraws the charts.
        expect(batches).to_have_text("Batches 1 to 6", timeout=30_000)
        expect(detail.locator(".nbops-chart-drift + .nbops-figure-summary")).to_contain_text("Batch 6")
        expect(panel.locator(".nbops-refresh")).to_be_visible()
        screenshot("polled")
    finally:
        settings.unlink()


def test_charts_follow_the_dark_theme(store, page: Page, screenshot) -> None:
    lab = store
    lab.open(page)
    open_sidebar(page)
    widen_sidebar(page)
    detail = open_version(page, "churn", "1")
    label = rendered_chart(detail, "drift").locator("svg .role-axis-label text").first
    light = label.evaluate("el => getComputedStyle(el).fill")
    assert lab.luminance(light) < 0.5, light

    lab.use_dark_theme(page)
    panel = open_sidebar(page)
    detail = open_version(page, "churn", "1")
    # Redrawn in the dark theme's colours.
    label = rendered_chart(detail, "drift").locator("svg .role-axis-label text").first
    expect(label).not_to_have_css("fill", light, timeout=20_000)
    dark = label.evaluate("el => getComputedStyle(el).fill")
    assert lab.luminance(dark) > 0.5, dark
    background = panel.evaluate("el => getComputedStyle(el).backgroundColor")
    assert lab.luminance(background) < 0.3, background
    legend = detail.locator(".nbops-chart-drift svg .role-legend-label text").first
    assert lab.luminance(legend.evaluate("el => getComputedStyle(el).fill")) > 0.5
    screenshot("dark-charts")
