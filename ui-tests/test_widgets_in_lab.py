"""A user compares tracked runs in JupyterLab: the compare widget and the run card render live."""

from __future__ import annotations

from playwright.sync_api import Page, expect

SETUP = """\
import mlflow
import nbops

run_ids = {}
for name, accuracy, depth in [("alpha", 0.71, "3"), ("beta", 0.93, "5"), ("gamma", 0.82, "5")]:
    with nbops.track(name) as run:
        mlflow.log_param("depth", depth)
        mlflow.log_param("model", "rf")
        mlflow.log_metric("accuracy", accuracy)
    run_ids[name] = run.info.run_id
"""


CELLS = [
    SETUP,
    "from nbops.widgets.compare import compare\ncompare()",
    "from nbops.widgets import RunCard\nRunCard.for_run(run_ids['beta'])",
]


def test_compare_widget_sorts_in_the_store_and_the_run_card_renders(lab, page: Page, screenshot) -> None:
    lab.write_notebook("compare.ipynb", CELLS)
    cells = lab.run_notebook(page, "compare.ipynb")

    widget = cells.nth(1).locator(".nbops-compare")
    widget.scroll_into_view_if_needed(timeout=60_000)
    expect(widget).to_be_visible()
    names = widget.locator(".nbops-compare-row .nbops-compare-name")
    expect(names).to_have_text(["gamma", "beta", "alpha"])  # newest first
    expect(widget.locator(".nbops-compare-count")).to_have_text("3 of 3 runs")
    expect(widget.locator(".nbops-compare-more")).to_have_count(0)  # nothing left to load

    # Values that differ across the runs are highlighted; the same model everywhere is not.
    expect(widget.locator("td.nbops-compare-differs[data-key='metrics.accuracy']")).to_have_count(3)
    expect(widget.locator("td.nbops-compare-differs[data-key='params.depth']")).to_have_count(3)
    expect(widget.locator("td.nbops-compare-differs[data-key='params.model']")).to_have_count(0)

    header = widget.locator("th[data-key='metrics.accuracy']")
    header.click()  # the kernel asks the store for metrics.`accuracy` DESC
    expect(names).to_have_text(["beta", "gamma", "alpha"])
    expect(widget.locator("th.nbops-compare-sorted")).to_contain_text("accuracy ▼")
    widget.locator("th[data-key='metrics.accuracy']").click()
    expect(names).to_have_text(["alpha", "gamma", "beta"])
    expect(widget.locator("th.nbops-compare-sorted")).to_contain_text("accuracy ▲")

    # The chart shows every run until some are ticked, then only those.
    bars = widget.locator("svg.nbops-compare-svg rect.nbops-compare-svg-bar")
    expect(bars).to_have_count(3)
    widget.locator(".nbops-compare-row", has_text="beta").locator("input[type=checkbox]").check()
    expect(bars).to_have_count(1)
    expect(widget.locator(".nbops-compare-svg-value")).to_have_text(["0.93"])
    expect(widget.locator("select.nbops-compare-metric")).to_have_value("accuracy")

    card = cells.nth(2).locator(".nbops-card")
    card.scroll_into_view_if_needed(timeout=60_000)  # JupyterLab skips rendering off-screen cells
    expect(card).to_be_visible()
    expect(card.locator(".nbops-card-name")).to_have_text("beta")
    expect(card.locator(".nbops-badge")).to_have_text("FINISHED")
    expect(card.locator(".nbops-card-metrics")).to_contain_text("accuracy")
    expect(card.locator(".nbops-card-metrics")).to_contain_text("0.93")
    expect(card.locator(".nbops-card-params")).to_contain_text("depth")
    expect(card.locator(".nbops-card-id")).to_contain_text("run id ")
    widget.scroll_into_view_if_needed()
    screenshot("compare")
    card.scroll_into_view_if_needed()
    screenshot("run-card")


def test_widgets_follow_the_dark_theme(lab, page: Page, screenshot) -> None:
    lab.write_notebook("dark.ipynb", CELLS)
    cells = lab.run_notebook(page, "dark.ipynb")
    widget = cells.nth(1).locator(".nbops-compare")
    widget.scroll_into_view_if_needed(timeout=60_000)
    expect(widget.locator(".nbops-compare-row").first).to_be_visible()

    lab.use_dark_theme(page)

    widget.scroll_into_view_if_needed()
    name = widget.locator(".nbops-compare-name").first
    assert lab.luminance(name.evaluate("el => getComputedStyle(el).color")) > 0.6
    assert lab.luminance(widget.evaluate("el => getComputedStyle(el).backgroundColor")) < 0.3
    screenshot("dark-compare")
    card = cells.nth(2).locator(".nbops-card")
    card.scroll_into_view_if_needed(timeout=60_000)
    assert lab.luminance(card.evaluate("el => getComputedStyle(el).backgroundColor")) < 0.3
    assert lab.luminance(card.locator(".nbops-card-name").evaluate("el => getComputedStyle(el).color")) > 0.6
    screenshot("dark-card")
