"""Running one notebook headless, as its own process group, against the project's store.

Monitoring's retraining job and the health review both execute a notebook on the user's behalf.
papermill runs in a child process so the kernel gets the store's URI in its environment (whatever
the calling process resolved), a hung kernel can be stopped as a whole at the timeout (or when
the caller itself is stopped), and the executed notebook is written even when a cell fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from . import config, lineage
from .errors import NbopsError


def execute(
    notebook: Path, output: Path, parameters: dict[str, Any], tracking_uri: str, timeout: float
) -> None:
    """Execute ``notebook`` into ``output`` (cwd: the notebook's folder); ``NbopsError`` when it fails."""
    import yaml

    from .gates import kill_tree

    if not notebook.is_file():
        raise NbopsError(f"no notebook at {notebook}.")
    output.parent.mkdir(parents=True, exist_ok=True)
    params_path = output.with_suffix(".parameters.yaml")
    params_path.write_text(yaml.safe_dump(parameters, sort_keys=False, allow_unicode=True))
    command = [
        sys.executable, "-m", "papermill", str(notebook), str(output),
        "--parameters_file", str(params_path), "--cwd", str(notebook.parent), "--no-progress-bar",
    ]  # fmt: skip
    env = os.environ | {config.ENV_TRACKING_URI: tracking_uri, lineage.ENV_NOTEBOOK_PATH: str(notebook)}
    log = output.with_suffix(".log")
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
            env=env, cwd=notebook.parent, start_new_session=True,
        )  # fmt: skip
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_tree(proc)
            proc.wait()
            raise NbopsError(
                f"{notebook.name} ran past {timeout:g} s and was stopped; see {output}"
            ) from None
        except BaseException:  # the caller is being stopped (a signal, Ctrl-C): so is the notebook
            kill_tree(proc)
            proc.wait()
            raise
    if proc.returncode != 0:
        lines = [x for x in log.read_text(errors="replace").splitlines() if x.strip()]
        last = next((x for x in reversed(lines) if "Error" in x), lines[-1] if lines else "no output")
        raise NbopsError(f"{notebook.name} failed ({last.strip()[:300]}); see {output}")
