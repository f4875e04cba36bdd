"""A user runs a tracked cell in JupyterLab and sees the run in the nbops sidebar."""

from __future__ import annotations

import json
import re
import sqlite3

from playwright.sync_api import Page, expect


def open_sidebar(page: Page) -> None:
    tab = page.locator('.lm-TabBar-tab[data-id="nbops-sidebar"]')
    expect(tab).to_be_visible()
    if "lm-mod-current" not in (tab.get_attribute("class") or ""):
        tab.click()
    expect(page.locator("#nbops-sidebar")).to_be_visible()


def test_empty_sidebar_tells_a_new_user_what_to_type(lab, page: Page, screenshot) -> None:
    lab.open(page)
    open_sidebar(page)
    empty = page.locator("#nbops-sidebar .nbops-empty")
    expect(empty).to_be_visible()
    expect(empty).to_contain_text("%load_ext nbops")
    expect(empty).to_contain_text("%%track")
    screenshot("empty")


def test_empty_registry_tells_a_new_user_what_to_run(lab, page: Page, screenshot) -> None:
    lab.open(page)
    open_sidebar(page)
    panel = page.locator("#nbops-sidebar")
    # Seven sections; their titles are buttons that fold them. The operations sections start folded.
    toggles = panel.locator(".nbops-section-toggle")
    expect(toggles.locator(".nbops-section-label")).to_have_text(
        ["Models", "Deployments", "Prompts", "Readiness", "Recent runs", "Alerts", "Audit trail"]
    )
    assert [t.get_attribute("aria-expanded") for t in toggles.all()] == [
        "true",
        "false",
        "false",
        "false",
        "true",
        "true",
        "false",
    ]
    models = panel.locator(".nbops-models-empty")
    expect(models).to_contain_text("No registered models yet.")
    expect(models).to_contain_text("notebooks/03_registry.ipynb")
    expect(models).to_contain_text("%register MODEL --name NAME")
    expect(panel.locator(".nbops-alerts-empty")).to_contain_text("[tool.nbops.alerts]")
    audit = panel.locator(".nbops-section-audit .nbops-section-toggle")
    expect(audit).to_have_attribute("aria-expanded", "false")
    audit.click()
    expect(audit).to_have_attribute("aria-expanded", "true")
    expect(panel.locator(".nbops-audit-empty")).to_contain_text("No registry changes yet.")
    audit.click()
    screenshot("empty-registry")


def test_commands_are_in_the_palette(lab, page: Page) -> None:
    lab.open(page)
    page.locator('.lm-MenuBar-itemLabel:text-is("View")').click()
    page.locator('.lm-Menu-itemLabel:text-is("Activate Command Palette")').click()
    search = page.locator(".lm-CommandPalette-input")
    expect(search).to_be_visible()
    search.fill("nbops")
    labels = page.locator(".lm-CommandPalette-item .lm-CommandPalette-itemLabel")
    for label in (
        "Open nbops sidebar",
        "Refresh nbops sidebar",
        "Show nbops models",
        "Show nbops deployments",
        "Show nbops prompts",
        "Show nbops readiness",
        "Show nbops runs",
        "Show nbops alerts",
        "Show nbops audit trail",
    ):
        expect(labels.filter(has_text=re.compile(f"^{label}$"))).to_have_count(1)
    labels.filter(has_text=re.compile("^Show nbops audit trail$")).click()
    panel = page.locator("#nbops-sidebar")
    expect(panel).to_be_visible()
    audit = panel.locator(".nbops-section-audit .nbops-section-toggle")
    expect(audit).to_have_attribute("aria-expanded", "true")
    audit.click()  # the workspace of the next tests stays as it was


def test_tracked_cell_appears_in_the_sidebar(lab, page: Page, screenshot) -> None:
    lab.write_notebook(
        "experiment.ipynb",
        ["%load_ext nbops", "%%track browser-run\nimport mlflow\nmlflow.log_metric('accuracy', 0.97)\n6 * 7"],
    )

    cells = lab.run_notebook(page, "experiment.ipynb")
    output = cells.nth(1).locator(".jp-OutputArea-output")
    expect(output.filter(has_text="FINISHED")).to_have_count(1, timeout=60_000)
    expect(cells.nth(1).locator(".jp-OutputArea")).to_contain_text("42")

    open_sidebar(page)
    page.locator("#nbops-sidebar .nbops-refresh").click()
    row = page.locator("#nbops-sidebar .nbops-run").filter(has_text="browser-run")
    expect(row).to_have_count(1, timeout=20_000)
    expect(row.locator(".nbops-run-status")).to_have_text("FINISHED")
    expect(row.locator(".nbops-run-duration")).not_to_have_text("—")
    expect(row.locator(".nbops-run-start")).not_to_be_empty()
    screenshot("run-listed")

    # The sidebar read the run from the store that the kernel wrote: the project's embedded default.
    db = lab.root / ".nbops" / "mlflow.db"
    with sqlite3.connect(db) as conn:
        ((run_id, name, status),) = conn.execute("select run_uuid, name, status from runs").fetchall()
        tags = dict(conn.execute("select key, value from tags where run_uuid = ?", (run_id,)).fetchall())
    assert (name, status) == ("browser-run", "FINISHED")
    # JupyterLab told the kernel which notebook it runs: the run knows its notebook.
    assert tags["nbops.notebook.path"] == str(lab.root / "experiment.ipynb")
    assert tags["nbops.owner.kernel_id"]


def test_sidebar_api_refuses_a_browser_without_the_token(lab, page: Page) -> None:
    response = page.request.get(f"{lab.url}nbops/api/runs")
    assert response.status == 403
    ok = page.request.get(f"{lab.url}nbops/api/runs", headers={"Authorization": f"token {lab.token}"})
    assert ok.status == 200 and "runs" in json.loads(ok.text())


def test_sidebar_follows_the_dark_theme(lab, page: Page, screenshot) -> None:
    lab.open(page)
    lab.use_dark_theme(page)
    open_sidebar(page)
    panel = page.locator("#nbops-sidebar")
    background = panel.evaluate("el => getComputedStyle(el).backgroundColor")
    text = panel.locator(".nbops-title").evaluate("el => getComputedStyle(el).color")
    assert lab.luminance(background) < 0.3, background
    assert lab.luminance(text) > 0.6, text
    screenshot("dark")
