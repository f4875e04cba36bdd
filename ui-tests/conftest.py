"""A real ``jupyter lab`` server and Debian's Chromium, for browser tests.

Playwright cannot download its own browsers here, so the session fixture points
pytest-playwright at ``/usr/bin/chromium``. Each test module gets a fresh
JupyterLab in a temporary project folder with its own settings and workspace.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import expect

# What a user sees may take a few seconds longer than Playwright's 5 s default on a loaded
# 2-core CI machine running JupyterLab, Chromium, a kernel and a store at once: assertions
# still wait only as long as they must (they pass the moment the page matches).
expect.set_options(timeout=15_000)

CHROMIUM = os.environ.get("NBOPS_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).parents[1] / "test-results"

# The team-server backend (PostgreSQL + mlflow server) lives beside the Python tests.
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
pytest_plugins = ["backends"]


# pytest-jupyter (used by tests/) makes every test set up and close an asyncio loop;
# Playwright's sync API runs its own loop in the same thread, so these tests opt out.
@pytest.fixture(autouse=True)
def jp_asyncio_loop() -> Iterator[None]:
    yield None


@pytest.fixture(autouse=True)
def jp_server_cleanup() -> Iterator[None]:
    yield None


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run 'make test' (it installs Debian's chromium) or set NBOPS_CHROMIUM."
        )
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, "viewport": {"width": 1400, "height": 900}}


@dataclass
class Lab:
    url: str
    token: str
    root: Path

    def open(self, page, path: str = "lab") -> None:
        page.goto(f"{self.url}{path}?token={self.token}")
        page.locator("#jupyterlab-splash").wait_for(state="detached", timeout=60_000)

    def write_notebook(self, name: str, cells: list[str]) -> None:
        """A notebook of code cells in the lab's folder, with the python3 kernel chosen."""
        import nbformat

        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3 (ipykernel)",
            "language": "python",
        }
        nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
        nbformat.write(nb, self.root / name)

    def run_notebook(self, page, name: str):
        """Open notebook ``name`` and run its cells one by one with Shift+Enter; returns its cells."""
        from playwright.sync_api import expect

        # A workspace of its own: the default one would reopen the notebooks of earlier tests,
        # and their kernels and cells would answer for this one's while the page loads.
        self.open(page, f"lab/workspaces/{Path(name).stem}/tree/{name}")
        notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
        expect(page.locator(".jp-NotebookPanel")).to_have_count(1)
        # The execution indicator says "idle" before any kernel exists, and a cell run then is
        # dropped; the status bar reads "| Idle" only once the kernel is connected.
        status = page.locator("#jp-main-statusbar").get_by_text(
            re.compile(r"^Python 3 \(ipykernel\) \| Idle$")
        )
        expect(status).to_be_visible(timeout=60_000)
        cells = notebook.locator(".jp-Notebook .jp-Cell")
        count = len(json.loads((self.root / name).read_text())["cells"])
        expect(cells).to_have_count(count)
        for i in range(count):
            cells.nth(i).locator(".jp-InputArea-editor").click()
            expect(cells.nth(i)).to_have_class(re.compile(r"\bjp-mod-active\b"))
            page.keyboard.press("Shift+Enter")
            # "[*]:" while running, "[n]:" when done: the next cell needs this one's variables.
            expect(cells.nth(i).locator(".jp-InputArea-prompt")).to_have_text(
                re.compile(r"\[\d+\]"), timeout=90_000
            )
        return cells

    @staticmethod
    def use_dark_theme(page) -> None:
        """Switch JupyterLab to its dark theme from the Settings menu, as a user would."""
        from playwright.sync_api import expect

        page.locator('.lm-MenuBar-itemLabel:text-is("Settings")').click()
        page.locator('.lm-Menu-itemLabel:text-is("Theme")').hover()
        page.locator('.lm-Menu-itemLabel:text-is("JupyterLab Dark")').click()
        expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "false", timeout=20_000)
        page.locator("#jupyterlab-splash").wait_for(state="detached", timeout=60_000)

    @staticmethod
    def luminance(css_color: str) -> float:
        """Relative luminance of a CSS rgb()/rgba() colour: < 0.3 dark, > 0.6 light."""
        r, g, b = (
            int(float(v)) / 255
            for v in css_color[css_color.index("(") + 1 : css_color.index(")")].split(",")[:3]
        )
        return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def lab_tracking_uri() -> str | None:
    """The store the lab's server and kernels are pointed at; ``None``: the project's embedded default.

    A module overrides this to run its browser tests against another store, e.g. the team server.
    """
    return None


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, lab_tracking_uri: str | None) -> Iterator[Lab]:
    base = tmp_path_factory.mktemp("lab")
    root = base / "project"
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "ui-test-project"\n')
    # No "official Jupyter news?" toast over the page in screenshots.
    notification = (
        base / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    )
    notification.parent.mkdir(parents=True)
    notification.write_text('{"fetchNews": "false"}')
    token = secrets.token_hex(16)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}  # the embedded default
    if lab_tracking_uri is not None:
        env["MLFLOW_TRACKING_URI"] = lab_tracking_uri
    env["JUPYTER_CONFIG_DIR"] = str(base / "config")
    jupyter = shutil.which("jupyter", path=str(Path(sys.executable).parent)) or "jupyter"
    log = (base / "jupyter.log").open("w")
    process = subprocess.Popen(
        [
            jupyter, "lab", "--no-browser", "--allow-root", f"--port={port}", "--ip=127.0.0.1",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
            "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            f"--LabApp.user_settings_dir={base / 'settings'}", f"--LabApp.workspaces_dir={base / 'workspaces'}",
        ],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}api/status?token={token}", timeout=2)
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"jupyter lab did not start; see {base / 'jupyter.log'}")
            time.sleep(0.2)
    try:
        yield Lab(url, token, root)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture
def screenshot(page, request):
    """Save a screenshot under test-results/ (kept as a CI artefact)."""

    def take(name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in request.node.name)
        path = ARTIFACTS / f"{safe}-{name}.png"
        page.screenshot(path=str(path))
        return path

    return take
