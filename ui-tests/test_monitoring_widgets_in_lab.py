"""A user reads a drift report and a monitoring chart in JupyterLab, with the mouse and the keyboard."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

EVIL = "<script>alert(1)</script>"

DRIFT_TABLE = """\
import math
import pandas as pd
from nbops.widgets import DriftReport, MetricChart

nan = math.nan
columns = [
    "feature", "kind", "n_reference", "n_current", "missing_current", "statistic", "p_value",
    "ks", "ks_pvalue", "wasserstein", "psi", "chi2", "chi2_pvalue", "unseen_share", "effect",
    "drifted", "schema_violation", "note",
]
table = pd.DataFrame(
    [
        ["age", "numeric", 1000, 950, 0, 0.031, 0.42, 0.031, 0.42, 0.37, 0.012, nan, nan, nan, 0.031, False, False, ""],
        ["income", "numeric", 1000, 950, 12, 0.29, 3.1e-12, 0.29, 3.1e-12, 5421.5, 0.91, nan, nan, nan, 0.29, True, False, ""],
        ["city", "categorical", 1000, 950, 0, 48.7, 2.2e-4, nan, nan, nan, 0.31, 48.7, 2.2e-4, 0.042, 0.21, True, False, ""],
        ["<script>alert(1)</script>", "categorical", 1000, 950, 0, 1.2, 0.55, nan, nan, nan, 0.004, 1.2, 0.55, 0.0, 0.01, False, False, ""],
        ["zip", "numeric", 1000, 0, 950, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, False, True, "missing from the batch"],
    ],
    columns=columns,
)
"""

SERIES = """\
start = 1_714_550_400_000
series = {
    "drift.share": [
        {"step": i, "timestamp": start + i * 3_600_000, "value": v}
        for i, v in enumerate([0.0, 0.1, 0.2, 0.15, 0.45, 0.5])
    ],
    "prediction.psi": [
        {"step": i, "timestamp": start + i * 3_600_000, "value": v}
        for i, v in enumerate([0.01, 0.05, 0.12, 0.1, 0.3, 0.36])
    ],
}
MetricChart(series, title="churn version 3", thresholds={"drift.share": 0.3})
"""

CELLS = [
    DRIFT_TABLE,
    'DriftReport(table, title="Batch 7 against the reference")',
    SERIES,
    "MetricChart({'drift.share': []})",
]

DEFAULT_ORDER = ["income", "city", "zip", "age", EVIL]  # drifted, schema problem, the rest (by PSI)


def _color(locator, prop: str = "color") -> str:
    return locator.evaluate(f"el => getComputedStyle(el).{prop}")


def _rgb(css: str) -> tuple[int, ...]:
    return tuple(int(float(v)) for v in css[css.index("(") + 1 : css.index(")")].split(",")[:3])


def test_drift_report_sorts_by_mouse_and_keyboard_and_the_chart_shows_points(
    lab, page: Page, screenshot
) -> None:
    lab.write_notebook("monitoring.ipynb", CELLS)
    cells = lab.run_notebook(page, "monitoring.ipynb")

    # -- the drift report ------------------------------------------------------------------
    report = cells.nth(1).locator(".nbops-drift")
    report.scroll_into_view_if_needed(timeout=60_000)  # JupyterLab skips rendering off-screen cells
    expect(report).to_be_visible()
    expect(report.locator(".nbops-drift-title")).to_have_text("Batch 7 against the reference")
    expect(report.locator(".nbops-drift-summary")).to_have_text(
        "2 of 4 features drifted (50%) · 1 not evaluated · 1 schema problem"
    )
    features = report.locator(".nbops-drift-row .nbops-drift-feature")
    expect(features).to_have_text(DEFAULT_ORDER)  # the script is text, never run
    expect(report.locator("script")).to_have_count(0)
    expect(report.locator("th[aria-sort]")).to_have_count(1)
    expect(report.locator("th.nbops-drift-col-drift")).to_have_attribute("aria-sort", "descending")
    income = report.locator(".nbops-drift-row[data-feature='income']")
    expect(income.locator(".nbops-drift-pvalue")).to_have_text("3.1e-12")
    expect(income.locator(".nbops-drift-shift")).to_have_text("5,422")
    expect(report.locator(".nbops-drift-row[data-feature='city'] .nbops-drift-shift")).to_have_text(
        "4.2% unseen"
    )
    zip_row = report.locator(".nbops-drift-row[data-feature='zip']")
    expect(zip_row.locator(".nbops-drift-note-schema")).to_have_text("missing from the batch")
    expect(zip_row.locator(".nbops-drift-status")).to_have_text("schema problem")
    assert _color(zip_row.locator(".nbops-drift-note")) != _color(income.locator(".nbops-drift-kind"))

    # Drift bars: PSI over max(0.5, 0.91); drifted ones red, the others green; none without PSI.
    fills = report.locator(".nbops-drift-fill")
    expect(fills).to_have_count(4)
    track = income.locator(".nbops-drift-bar").bounding_box()
    widths = {
        name: report.locator(f".nbops-drift-row[data-feature='{name}'] .nbops-drift-fill").bounding_box()[
            "width"
        ]
        for name in ("income", "city", "age")
    }
    assert abs(widths["income"] - track["width"]) < 1
    assert abs(widths["city"] - track["width"] * 0.31 / 0.91) < 1.5
    assert 0 < widths["age"] < 3
    red = _rgb(_color(income.locator(".nbops-drift-fill"), "backgroundColor"))
    green = _rgb(
        _color(report.locator(".nbops-drift-row[data-feature='age'] .nbops-drift-fill"), "backgroundColor")
    )
    assert red[0] > red[1] and green[1] > green[0]
    expect(zip_row.locator(".nbops-drift-fill")).to_have_count(0)
    screenshot("drift-report")

    # Clicking a header sorts by it; again flips the direction. Missing values stay last.
    report.locator("button.nbops-drift-sort[data-key='kind']").click()
    expect(features).to_have_text(["city", EVIL, "income", "zip", "age"])
    expect(report.locator("th.nbops-drift-col-kind")).to_have_attribute("aria-sort", "ascending")
    expect(report.locator("th[aria-sort]")).to_have_count(1)
    p_value = report.locator("button.nbops-drift-sort[data-key='p_value']")
    p_value.click()  # smallest p-value first
    expect(features).to_have_text(["income", "city", "age", EVIL, "zip"])
    report.locator("button.nbops-drift-sort[data-key='p_value']").click()
    expect(features).to_have_text([EVIL, "age", "city", "income", "zip"])
    expect(report.locator("th.nbops-drift-col-p_value")).to_have_attribute("aria-sort", "descending")

    # The keyboard: headers are buttons; Enter and Space sort and the focus stays on the header.
    feature = report.locator("button.nbops-drift-sort[data-key='feature']")
    feature.focus()
    page.keyboard.press("Enter")
    expect(report.locator("th.nbops-drift-col-feature")).to_have_attribute("aria-sort", "ascending")
    expect(features).to_have_text([EVIL, "age", "city", "income", "zip"])
    feature = report.locator("button.nbops-drift-sort[data-key='feature']")
    expect(feature).to_be_focused()
    page.keyboard.press("Space")
    expect(report.locator("th.nbops-drift-col-feature")).to_have_attribute("aria-sort", "descending")
    expect(features).to_have_text(["zip", "income", "city", "age", EVIL])
    page.keyboard.press("Tab")  # on to the next header, and sort by it
    expect(report.locator("button.nbops-drift-sort[data-key='kind']")).to_be_focused()
    page.keyboard.press("Enter")
    expect(report.locator("th.nbops-drift-col-kind")).to_have_attribute("aria-sort", "ascending")
    expect(features).to_have_text(["city", EVIL, "income", "zip", "age"])

    # -- the metric chart --------------------------------------------------------------------
    chart = cells.nth(2).locator(".nbops-chart")
    chart.scroll_into_view_if_needed(timeout=60_000)
    expect(chart).to_be_visible()
    expect(chart.locator(".nbops-chart-title")).to_have_text("churn version 3")
    expect(chart.locator("svg path.nbops-chart-line")).to_have_count(2)  # one per metric
    expect(chart.locator("svg path.nbops-chart-line[data-metric='drift.share']")).to_have_count(1)
    threshold = chart.locator("svg line.nbops-chart-threshold")
    expect(threshold).to_have_count(1)
    expect(threshold).to_have_attribute("stroke-dasharray", "6 4")
    expect(chart.locator(".nbops-chart-point")).to_have_count(12)
    expect(chart.locator(".nbops-chart-legend-name")).to_have_text(["drift.share", "prediction.psi"])
    expect(chart.locator(".nbops-chart-ytick")).to_have_text(["0", "0.2", "0.4", "0.6"])
    # The two lines have different colours, from the theme.
    share_color = _color(chart.locator("path[data-metric='drift.share']"), "stroke")
    psi_color = _color(chart.locator("path[data-metric='prediction.psi']"), "stroke")
    assert share_color != psi_color

    tooltip = chart.locator(".nbops-chart-tooltip")
    expect(tooltip).to_be_hidden()
    chart.locator(".nbops-chart-point[data-metric='drift.share'][data-i='4']").hover()
    expect(tooltip).to_be_visible()
    expect(tooltip.locator(".nbops-chart-tooltip-metric")).to_have_text("drift.share")
    expect(tooltip.locator(".nbops-chart-tooltip-step td")).to_have_text("4")
    expect(tooltip.locator(".nbops-chart-tooltip-time td")).to_have_text(
        re.compile(r"^2024-05-0[12] \d\d:00:00$")
    )
    expect(tooltip.locator(".nbops-chart-tooltip-value td")).to_have_text("0.45")
    expect(tooltip.locator(".nbops-chart-tooltip-threshold td")).to_have_text("0.3 (above)")
    screenshot("metric-chart")
    page.mouse.move(5, 5)
    expect(tooltip).to_be_hidden()

    # The keyboard: one tab stop (the newest point), arrows move along and across the lines.
    stop = chart.locator(".nbops-chart-point[tabindex='0']")
    expect(stop).to_have_count(1)
    stop.focus()
    expect(tooltip).to_be_visible()
    expect(tooltip.locator(".nbops-chart-tooltip-step td")).to_have_text("5")
    expect(tooltip.locator(".nbops-chart-tooltip-value td")).to_have_text("0.5")
    page.keyboard.press("ArrowLeft")
    expect(chart.locator(".nbops-chart-point[data-metric='drift.share'][data-i='4']")).to_be_focused()
    expect(tooltip.locator(".nbops-chart-tooltip-value td")).to_have_text("0.45")
    page.keyboard.press("ArrowDown")
    expect(chart.locator(".nbops-chart-point[data-metric='prediction.psi'][data-i='4']")).to_be_focused()
    expect(tooltip.locator(".nbops-chart-tooltip-metric")).to_have_text("prediction.psi")
    expect(tooltip.locator(".nbops-chart-tooltip-value td")).to_have_text("0.3")
    page.keyboard.press("Home")
    expect(tooltip.locator(".nbops-chart-tooltip-step td")).to_have_text("0")
    expect(chart.locator(".nbops-chart-point[tabindex='0']")).to_have_count(1)
    page.keyboard.press("Escape")
    expect(tooltip).to_be_hidden()

    empty = cells.nth(3).locator(".nbops-chart")
    empty.scroll_into_view_if_needed(timeout=60_000)
    expect(empty.locator(".nbops-chart-empty")).to_have_text(
        "No monitoring batches yet — log one with nbops.monitor.log_batch(...)"
    )
    expect(empty.locator("svg")).to_have_count(0)


def test_monitoring_widgets_follow_the_dark_theme(lab, page: Page, screenshot) -> None:
    lab.write_notebook("monitoring-dark.ipynb", CELLS)
    cells = lab.run_notebook(page, "monitoring-dark.ipynb")
    report = cells.nth(1).locator(".nbops-drift")
    report.scroll_into_view_if_needed(timeout=60_000)
    expect(report.locator(".nbops-drift-row")).to_have_count(5)

    lab.use_dark_theme(page)

    report.scroll_into_view_if_needed()
    assert lab.luminance(_color(report, "backgroundColor")) < 0.3
    assert lab.luminance(_color(report.locator(".nbops-drift-feature").first)) > 0.6
    assert lab.luminance(_color(report.locator("thead th").first, "backgroundColor")) < 0.3
    assert lab.luminance(_color(report.locator(".nbops-drift-sort").first)) > 0.5
    screenshot("dark-drift-report")

    chart = cells.nth(2).locator(".nbops-chart")
    chart.scroll_into_view_if_needed(timeout=60_000)
    expect(chart.locator("path.nbops-chart-line")).to_have_count(2)
    assert lab.luminance(_color(chart, "backgroundColor")) < 0.3
    assert lab.luminance(_color(chart.locator(".nbops-chart-ytick").first, "fill")) > 0.4
    assert lab.luminance(_color(chart.locator(".nbops-chart-grid line").first, "stroke")) < 0.5
    chart.locator(".nbops-chart-point[data-metric='drift.share'][data-i='5']").hover()
    tooltip = chart.locator(".nbops-chart-tooltip")
    expect(tooltip).to_be_visible()
    assert lab.luminance(_color(tooltip, "backgroundColor")) < 0.3
    assert lab.luminance(_color(tooltip)) > 0.6
    screenshot("dark-metric-chart")
