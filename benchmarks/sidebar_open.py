"""How long the nbops panel takes to show its models in Chromium, on a store with 200 models × 5 versions.

The store is the one ``models_endpoint.py`` builds (200 registered models × 5 versions, 5,000
runs), reused from ``--store``. A real ``jupyter lab`` with the nbops extension starts on it, and
Debian's Chromium (driven by Playwright) opens JupyterLab and then the panel. Measured in the page,
with ``performance.now()``:

* **first open**: from the click on the panel's tab to the first model on screen, in a freshly
  started server — what a user sees the first time;
* **reopen**: closing and opening the panel again (later visits, data refreshed in place);
* **a new page**: a new browser tab on the running server, JupyterLab loaded, then the click.

The target is 1.5 s.

    python benchmarks/sidebar_open.py [--store DIR] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from models_endpoint import build_store, free_port

TARGET_MS = 1500
CHROMIUM = "/usr/bin/chromium"
WATCH = """() => {
    window.__opened = performance.now();
    document.addEventListener('pointerdown', event => {
        if (event.target.closest('.lm-TabBar-tab[data-id="nbops-sidebar"]')) {
            window.__opened = performance.now();
        }
    }, { capture: true, once: true });
    window.__models = undefined;
    new MutationObserver((_, observer) => {
        if (document.querySelector('#nbops-sidebar:not(.lm-mod-hidden) .nbops-model')) {
            window.__models = performance.now();
            observer.disconnect();
        }
    }).observe(document.body, { childList: true, subtree: true, attributes: true, attributeFilter: ['class'] });
}"""


def start_lab(folder: Path, uri: str, token: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    settings = folder / "lab-settings"
    (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True, exist_ok=True)
    (settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        '{"fetchNews": "false", "checkForUpdates": false}'
    )
    log = (folder / "jupyter-lab.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            f"--port={port}",
            "--ip=127.0.0.1",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={folder}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            *(["--allow-root"] if os.geteuid() == 0 else []),
        ],
        env={**os.environ, "MLFLOW_TRACKING_URI": uri, "JUPYTERLAB_SETTINGS_DIR": str(settings)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    import urllib.request

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=1)
            return process, port
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"jupyter lab exited; see {log.name}") from None
            time.sleep(0.2)
    process.kill()
    raise SystemExit("jupyter lab did not start within 90 s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--store", type=Path, default=Path(tempfile.gettempdir()) / "nbops-bench-models-200x5"
    )
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    uri = build_store(args.store)
    token = secrets.token_hex(16)
    lab, port = start_lab(args.store, uri, token)
    first: list[float] = []
    reopen: list[float] = []
    fresh_page: list[float] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])

            def load() -> tuple[object, object]:
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto(f"http://127.0.0.1:{port}/lab?token={token}")
                page.locator("#jupyterlab-splash").wait_for(state="detached", timeout=90_000)
                tab = page.locator('.lm-TabBar-tab[data-id="nbops-sidebar"]')
                if "lm-mod-current" in (tab.get_attribute("class") or ""):  # restored open: close it first
                    tab.click()
                    page.wait_for_timeout(300)
                return page, tab

            def open_panel(page: object, tab: object) -> float:
                page.evaluate(WATCH)  # type: ignore[attr-defined]
                tab.click()  # type: ignore[attr-defined]
                page.wait_for_function("() => window.__models !== undefined", timeout=60_000)  # type: ignore[attr-defined]
                return page.evaluate("() => window.__models - window.__opened")  # type: ignore[attr-defined]

            page, tab = load()
            first.append(open_panel(page, tab))
            for _ in range(args.repeats):
                tab.click()  # type: ignore[attr-defined]  # close the panel
                page.wait_for_timeout(300)  # type: ignore[attr-defined]
                reopen.append(open_panel(page, tab))
            page.close()  # type: ignore[attr-defined]
            for _ in range(args.repeats):
                page, tab = load()
                fresh_page.append(open_panel(page, tab))
                page.close()  # type: ignore[attr-defined]
            browser.close()
    finally:
        lab.terminate()
        lab.wait(timeout=30)

    def line(label: str, values: list[float]) -> str:
        med = statistics.median(values)
        verdict = "ok" if med <= TARGET_MS else "over target"
        return f"{label:<52}{med:>9.0f} ms   {verdict}"

    print(f"store: 200 models × 5 versions, 5,000 runs ({uri})")
    print(line("first open in a fresh server (click → models)", first))
    print(line(f"reopen (click → models), median of {len(reopen)}", reopen))
    print(line(f"a new page, then open (click → models), median of {len(fresh_page)}", fresh_page))
    print(f"target: the panel shows its data within {TARGET_MS} ms of opening")


if __name__ == "__main__":
    main()
