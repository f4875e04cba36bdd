"""A user reads the model servers, an alert's notification outcomes, the prompt registry and the
models' readiness in the nbops sidebar, and promotes a prompt version through the same dialog as a
model version.

The store is real and filled the way a user fills it, by a Python process in the lab's project
folder: a server recorded by ``nbops.serving.deployments`` with a canary, a shadow and a heartbeat
(no model server runs: only its record matters to the sidebar), a drift alert whose rule notifies a
channel nobody defined (its detached sender records the failure with the reason), two versions
of a prompt, the first in production, and two versions of another with an evaluation of the second
(in production) and two logged windows of calls traced from a deterministic fake LLM.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import pytest
from playwright.sync_api import Locator, Page, expect

RULES = """
[tool.nbops.alerts.drifting]
metric = "drift.share"
op = ">="
threshold = 0.5
window = 1
notify = ["ghost"]

[tool.nbops.serving]
heartbeat_seconds = 3600  # the record stays live for the whole module: no server beats here

[tool.nbops.llm.prices.fake-llm]
input_per_million_tokens = 2000.0
output_per_million_tokens = 6000.0
"""

SETUP = textwrap.dedent(
    """\
    import sys
    import time
    from pathlib import Path

    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    import nbops
    from nbops import prompts
    from nbops.serving.deployments import heartbeat, register_deployment

    pyproject = Path("pyproject.toml")
    pyproject.write_text(pyproject.read_text() + sys.argv[1])

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x1": rng.normal(0, 1, 600), "x2": rng.normal(0, 1, 600)})
    model = LogisticRegression().fit(X, (X["x1"] + X["x2"] > 0).astype(int))
    nbops.registry.register(model, "loans", data=X, alias="champion")
    drifted = pd.DataFrame({"x1": rng.normal(2.5, 1, 300), "x2": rng.normal(2.5, 1, 300)})
    nbops.monitor.log_batch("loans@champion", drifted, model.predict(drifted))

    deployment = register_deployment(
        model="loans", alias="champion", url="http://127.0.0.1:5999", version="1",
        canary={"challenger": 20}, shadow="shadow",
    )
    # Its canary: version 2 at 20 %, judged so far, and two inference batches it served (none of
    # version 1: a batch like the reference would resolve its drift alert).
    nbops.registry.register(model, "loans", data=X, alias="challenger")
    for _ in range(2):
        nbops.monitor.log_batch("loans/2", X[:40], model.predict(X[:40]), latency_ms=[5.0] * 40)
    side = {"requests": 30, "errors": 0, "error_rate": 0.0, "latency_p95_ms": 5.0}
    state = {
        "model": "loans", "deployment_id": deployment, "alias": "challenger", "version": "2",
        "champion_alias": "champion", "champion_version": "1", "state": "running", "verdict": "running",
        "reason": "step 1: 30 challenger and 30 champion requests of 100 needed", "step": 1,
        "steps": [20, 50], "share": 20, "min_requests": 100, "requests": {"champion": side, "challenger": side},
        "rules": [{"rule": "error_rate", "value": 0.0, "limit": 0.05, "passed": True, "note": "vs champion"}],
        "updated": "2026-11-29T21:00:00Z",
    }
    heartbeat(deployment, version="1", canary={"challenger": 20}, stats={"logged_rows": 7},
              canary_analysis=state)

    prompts.register("answer", "Answer {{question}} politely.", alias="production")
    prompts.register("answer", "Answer {{question}} in {{language}}.")

    import nbops.llm as llm

    prompts.register("reply", "Reply to {{question}}.\\nBe brief.")
    prompts.register("reply", "Reply to {{question}} in {{language}}.\\nBe brief.", alias="production")
    rows = [{"inputs": {"question": "q"}, "outputs": "A", "expectations": {"expected_response": "A"}}]
    llm.evaluate(rows, scorers=[llm.exact_match()], prompt="reply/2")
    # A deterministic fake LLM (no LLM can be reached here): 7 tokens in, 11 out per call.
    ask = llm.traced(lambda question: "The answer is " + question.upper(), model="fake-llm",
                     prompt="reply@production")
    for calls in (3, 2):
        for _ in range(calls):
            ask("What is the capital of France?")
        llm.log_window(prompt="reply@production")

    for _ in range(600):  # the alert's sender is a detached process: wait for its record
        (alert,) = nbops.monitor.alerts(model="loans")
        if any(key.startswith("notify.opened.ghost.") for key in alert):
            break
        time.sleep(0.1)
    else:
        raise SystemExit("the alert's notification was never recorded")
    print("store ready")
    """
)


@pytest.fixture(scope="module")
def store(lab):
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    done = subprocess.run(
        [sys.executable, "-c", SETUP, RULES],
        cwd=lab.root, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return lab


def open_section(page: Page, section: str) -> Locator:
    """Show the nbops panel and open one of its sections (clicked only while it shows folded)."""
    tab = page.locator('.lm-TabBar-tab[data-id="nbops-sidebar"]')
    expect(tab).to_be_visible()
    panel = page.locator("#nbops-sidebar")
    for _ in range(3):
        if panel.is_visible():
            break
        tab.click()
        try:
            expect(panel).to_be_visible(timeout=3_000)
        except AssertionError:
            continue  # the workspace was still restoring the layout
    toggle = panel.locator(f".nbops-section-{section} .nbops-section-toggle")
    for _ in range(3):
        if toggle.get_attribute("aria-expanded") == "true":
            break
        toggle.click()
        try:
            expect(toggle).to_have_attribute("aria-expanded", "true", timeout=5_000)
        except AssertionError:
            continue
    expect(toggle).to_have_attribute("aria-expanded", "true")
    return panel.locator(f".nbops-section-{section}")


def expand(row: Locator) -> None:
    """Open a folded row with a click once it shows folded (a restored layout may open it by itself)."""
    expect(row).to_be_visible(timeout=20_000)
    for _ in range(3):
        if row.get_attribute("aria-expanded") != "true":
            row.click()
        try:
            expect(row).to_have_attribute("aria-expanded", "true", timeout=5_000)
            return
        except AssertionError:
            continue
    expect(row).to_have_attribute("aria-expanded", "true")


def test_deployments_show_what_each_server_serves_in_both_themes(store, page: Page, screenshot) -> None:
    store.open(page)
    section = open_section(page, "deployments")
    row = section.locator(".nbops-deployment")
    expect(row).to_have_count(1, timeout=20_000)
    expect(section.locator(".nbops-section-count")).to_have_text("1")
    expect(row).to_have_attribute("data-status", "live")
    expect(row.locator(".nbops-deployment-target")).to_have_text("loans@champion")
    expect(row.locator(".nbops-deployment-version")).to_have_text("v1")
    expect(row.locator(".nbops-split")).to_have_text(
        ["champion 80 %", "challenger 20 %", "shadow (shadow copy)"]
    )
    expect(row.locator(".nbops-deployment-url")).to_have_text("http://127.0.0.1:5999")
    # Keyboard: the row takes the focus and reads out what it is.
    row.focus()
    expect(row).to_be_focused()
    expect(row).to_have_attribute(
        "aria-label", re.compile(r"^loans@champion, live, serving v1, at http://127\.0\.0\.1:5999, started ")
    )
    light = store.luminance(
        row.locator(".nbops-deployment-target").evaluate("e => getComputedStyle(e).color")
    )
    screenshot("light")

    store.use_dark_theme(page)
    section = open_section(page, "deployments")
    target = section.locator(".nbops-deployment .nbops-deployment-target")
    expect(target).to_have_text("loans@champion", timeout=20_000)
    dark = store.luminance(target.evaluate("e => getComputedStyle(e).color"))
    assert light < 0.3 < 0.6 < dark, (light, dark)  # dark text on light, light text on dark
    screenshot("dark")


def test_an_alert_shows_that_its_notification_failed_and_why(store, page: Page) -> None:
    store.open(page)
    section = open_section(page, "alerts")
    alert = section.locator(".nbops-alert-open").filter(has_text="drifting")
    delivery = alert.locator('.nbops-delivery[data-channel="ghost"]')
    expect(delivery).to_have_attribute("data-state", "failed", timeout=20_000)
    expect(delivery.locator(".nbops-delivery-state")).to_have_text("failed")
    expect(delivery.locator(".nbops-delivery-detail")).to_have_text(
        "channel 'ghost' is not defined under [tool.nbops.notify]"
    )
    expect(delivery.locator("time")).to_have_attribute("datetime", re.compile(r"^\d{4}-\d\d-\d\dT"))


def test_a_prompt_shows_its_versions_and_is_promoted_through_the_dialog(store, page: Page) -> None:
    store.open(page)
    section = open_section(page, "prompts")
    prompt = section.locator('.nbops-prompt[data-prompt="answer"]')
    row = prompt.locator(".nbops-prompt-row")
    expect(row).to_be_visible(timeout=20_000)
    row.focus()
    page.keyboard.press("Enter")  # opens from the keyboard
    expect(row).to_have_attribute("aria-expanded", "true")
    versions = prompt.locator(".nbops-prompt-version")
    expect(versions).to_have_count(2, timeout=20_000)
    v2, v1 = versions.nth(0), versions.nth(1)
    expect(v2).to_have_attribute("data-version", "2")
    expect(v2.locator(".nbops-prompt-var")).to_have_text(["{{question}}", "{{language}}"])
    expect(v2.locator(".nbops-prompt-variable")).to_have_text(["question", "language"])
    expect(v1.locator(".nbops-alias")).to_have_text(["production"])
    expect(row.locator(".nbops-alias")).to_have_text(["production → v1"])

    v2.locator(".nbops-promote").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("prompts:/answer")
    dialog.locator(".nbops-dialog-alias").fill("production")
    dialog.locator(".nbops-dialog-reason").fill("names the language")
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    expect(dialog).to_have_count(0)
    expect(prompt.locator(".nbops-action-done")).to_have_text(
        "production of prompt answer now points at version 2."
    )
    expect(v2.locator(".nbops-alias")).to_have_text(["production"])
    expect(row.locator(".nbops-alias")).to_have_text(["production → v2"])


def test_a_prompt_shows_a_diff_its_evaluation_and_its_usage_charts(store, page: Page, screenshot) -> None:
    store.open(page)
    section = open_section(page, "prompts")
    prompt = section.locator('.nbops-prompt[data-prompt="reply"]')
    row = prompt.locator(".nbops-prompt-row")
    # Folded, the row already says where production points.
    expect(row.locator(".nbops-alias")).to_have_text(["production → v2"], timeout=20_000)
    expand(row)
    v2 = prompt.locator('.nbops-prompt-version[data-version="2"]')
    expect(v2.locator('.nbops-eval-score[data-scorer="exact_match"]')).to_have_text("exact_match 1")

    v2.locator(".nbops-diff-open").click()
    diff = prompt.locator(".nbops-prompt-diff")
    expect(diff.locator(".nbops-diff-summary")).to_have_text("v1 → v2: 1 added, 1 removed")
    lines = diff.locator(".nbops-diff-line")
    expect(lines).to_have_count(3)
    expect(lines.nth(0).locator(".nbops-diff-gutter")).to_have_text("-")
    expect(lines.nth(1).locator(".nbops-diff-gutter")).to_have_text("+")
    expect(lines.nth(2)).to_have_attribute("data-op", "kept")
    expect(diff.locator('.nbops-diff-line[data-op="added"] .nbops-diff-text')).to_have_text(
        "added: Reply to {{question}} in {{language}}."
    )

    tokens = prompt.locator('.nbops-prompt-usage .nbops-usage-chart[data-chart="tokens"]')
    expect(tokens.locator(".nbops-chart-canvas")).to_have_attribute("data-rendered", "true", timeout=20_000)
    expect(tokens.locator(".nbops-chart-canvas svg")).to_have_count(1)
    expect(tokens.locator(".nbops-figure-summary")).to_have_text("Window 2: in 14, out 22.")
    diff.scroll_into_view_if_needed()
    screenshot("diff")
    tokens.scroll_into_view_if_needed()
    screenshot("usage")


def test_readiness_shows_a_score_and_a_next_step_and_the_version_its_reproduction(
    store, page: Page, screenshot
) -> None:
    store.open(page)
    section = open_section(page, "readiness")
    loans = section.locator('.nbops-readiness-model[data-model="loans"]')
    expect(loans).to_be_visible(timeout=30_000)
    expect(loans.locator(".nbops-readiness-score")).to_have_text(re.compile(r"^score \d"))
    expect(loans.locator(".nbops-readiness-weakest")).to_have_text(re.compile(r"^weakest: \w"))
    expect(section.locator(".nbops-readiness-project")).to_contain_text("Project score")
    step = loans.locator(".nbops-readiness-step").first
    expect(step.locator("code")).to_have_text(re.compile(r"\S"))
    copy = step.locator(".nbops-copy")
    copy.focus()  # keyboard: the row and its Copy buttons take the focus
    expect(copy).to_be_focused()
    loans.focus()
    expect(loans).to_have_attribute("aria-label", re.compile(r"^loans: score \d.*, weakest section \w"))
    screenshot("readiness")

    models = open_section(page, "models")
    loans_model = models.locator('.nbops-model[data-model="loans"]')
    expand(loans_model.locator(".nbops-model-row"))
    expand(loans_model.locator('.nbops-version[data-version="1"] .nbops-version-row'))
    reproduction = models.locator(".nbops-detail .nbops-reproduction")
    expect(reproduction).to_contain_text("Not reproduced yet", timeout=20_000)
    expect(reproduction.locator("code")).to_have_text("nbops reproduce loans/1")
    reproduction.scroll_into_view_if_needed()
    screenshot("reproduction")


def test_a_canary_shows_its_traffic_and_verdict_and_is_aborted_through_the_dialog(
    store, page: Page, screenshot
) -> None:
    store.open(page)
    section = open_section(page, "deployments")
    row = section.locator(".nbops-deployment")
    charts = row.locator(".nbops-deployment-traffic .nbops-chart-canvas")
    expect(charts).to_have_count(3, timeout=20_000)
    for i in range(3):
        expect(charts.nth(i)).to_have_attribute("data-rendered", "true", timeout=20_000)
    canary = row.locator(".nbops-deployment-canary")
    expect(canary).to_have_attribute("data-canary-state", "running")
    expect(canary.locator(".nbops-canary-verdict")).to_contain_text("Canary v2 vs v1: step 1 of 2 at 20 %")
    expect(canary.locator(".nbops-canary-rules li")).to_have_text(["error_rate: 0 (limit 0.05) pass"])
    screenshot("canary")

    abort = canary.locator(".nbops-canary-abort")
    abort.focus()  # keyboard: the button takes the focus and opens the dialog with Enter
    expect(abort).to_be_focused()
    page.keyboard.press("Enter")
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text("Abort the canary of loans")
    dialog.locator(".nbops-dialog-reason").fill("p95 too high for the launch")
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    expect(dialog).to_have_count(0)

    audit = open_section(page, "audit")
    event = audit.locator('.nbops-event[data-action="canary-aborted"]')
    expect(event).to_have_count(1, timeout=20_000)
    expect(event.locator(".nbops-event-reason")).to_have_text("p95 too high for the launch")
