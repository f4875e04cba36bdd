"""The sidebar of a JupyterLab whose store is a team's MLflow server on PostgreSQL.

The lab is started with ``MLFLOW_TRACKING_URI`` pointing at the server (``backends.py`` starts
PostgreSQL and ``mlflow server``); a tracked cell in the lab's kernel and a run (with a registered
model) logged by another process both reach the server, and the sidebar lists them — read back
through the server, with no embedded store created in the project.
"""

from __future__ import annotations

import pytest
from mlflow import MlflowClient
from playwright.sync_api import Page, expect
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import nbops
from nbops import registry


@pytest.fixture(scope="module")
def lab_tracking_uri(team_server) -> str:
    """The lab's server and kernels use the team server, in front of an empty store."""
    return team_server.reset()


def open_sidebar(page: Page) -> None:
    tab = page.locator('.lm-TabBar-tab[data-id="nbops-sidebar"]')
    expect(tab).to_be_visible()
    if "lm-mod-current" not in (tab.get_attribute("class") or ""):
        tab.click()
    expect(page.locator("#nbops-sidebar")).to_be_visible()


def test_the_sidebar_lists_runs_logged_through_the_team_server(
    lab, lab_tracking_uri: str, page: Page, screenshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A colleague's run, logged from another process (this one) straight to the server.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", lab_tracking_uri)
    X, y = load_iris(return_X_y=True, as_frame=True)
    with nbops.track("colleague-run", experiment="shared"):
        model = LogisticRegression(max_iter=500).fit(X, y)
        nbops.log_metric("accuracy", float(model.score(X, y)))
        registry.register(model, "team-model", data=X, alias="champion")

    lab.write_notebook(
        "team.ipynb",
        ["%load_ext nbops", "%%track team-browser-run\nimport nbops\nnbops.log_metric('accuracy', 0.97)"],
    )
    cells = lab.run_notebook(page, "team.ipynb")
    expect(cells.nth(1).locator(".jp-OutputArea-output").filter(has_text="FINISHED")).to_have_count(
        1, timeout=60_000
    )

    open_sidebar(page)
    page.locator("#nbops-sidebar .nbops-refresh").click()
    runs = page.locator("#nbops-sidebar .nbops-run")
    for name in ("team-browser-run", "colleague-run"):
        row = runs.filter(has_text=name)
        expect(row).to_have_count(1, timeout=20_000)
        expect(row.locator(".nbops-run-status")).to_have_text("FINISHED")
    # The model list, where this version of the panel has one (the sidebar is growing it).
    if page.locator("#nbops-sidebar .nbops-models").count():
        expect(page.locator("#nbops-sidebar .nbops-model").filter(has_text="team-model")).to_have_count(
            1, timeout=20_000
        )
    screenshot("team-server-runs")

    # Both runs are on the server, and nothing fell back to an embedded store in the project.
    client = MlflowClient(lab_tracking_uri)
    every = [e.experiment_id for e in client.search_experiments()]
    names = {r.info.run_name for r in client.search_runs(every)}
    assert {"team-browser-run", "colleague-run"} <= names
    assert not (lab.root / ".nbops").exists()
