"""The one notebook runner: papermill in its own process group, with a timeout, against a store.

Gates, retraining, the health review and reproduction all execute notebooks on the user's behalf
in the same way: papermill runs in a child process (so the kernel gets the store's URI in its
environment, whatever the calling process resolved), in a new session (so a hung kernel can be
stopped as a whole at the timeout, or when the caller itself is stopped), and the executed
notebook and a log are written even when a cell fails. What each caller makes of the outcome
(a gate verdict, a job failure) is its own business; how a notebook runs is decided here.

Ways of executing a notebook are named in ``ENGINES`` (as papermill names its engines), so a
second executor is an entry there, not an ``if`` in every caller.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import config, lineage
from .errors import NbopsError

#: Seconds between papermill's saves of the executed notebook while it runs (so a timed-out or
#: killed run still shows how far it got).
AUTOSAVE_SECONDS = 5


@dataclass(frozen=True)
class Execution:
    """What to run: a notebook, where its executed copy goes, its parameters and limits."""

    notebook: Path
    executed: Path
    parameters: Mapping[str, Any]
    tracking_uri: str
    timeout: float
    #: The kernel's working directory (default: the notebook's folder).
    cwd: Path | None = None
    #: Save the executed notebook as cells run (gates: a timed-out gate shows how far it got).
    autosave: bool = False
    #: Variables added to the kernel's environment (reproduction: the scratch experiment).
    env: Mapping[str, str] | None = None


@dataclass
class Outcome:
    """How a notebook run ended; ``ok`` when papermill finished every cell."""

    notebook: Path
    executed: Path
    log: Path
    returncode: int | None = None
    timed_out: bool = False
    duration: float = 0.0
    #: Why the run could not even start (no papermill, no notebook), else None.
    not_started: str | None = None

    @property
    def ok(self) -> bool:
        return self.not_started is None and not self.timed_out and self.returncode == 0

    def last_error(self) -> str:
        """The last line of the log that names an error (else its last line): a one-line reason."""
        try:
            lines = [x for x in self.log.read_text(errors="replace").splitlines() if x.strip()]
        except OSError:
            return "no output"
        last = next((x for x in reversed(lines) if "Error" in x), lines[-1] if lines else "no output")
        return last.strip()[:300]


def _papermill(run: Execution, params_file: Path) -> list[str]:
    command = [
        sys.executable, "-m", "papermill", str(run.notebook), str(run.executed),
        "--parameters_file", str(params_file),
        "--cwd", str(run.cwd or run.notebook.parent),
        "--no-progress-bar",
    ]  # fmt: skip
    if run.autosave:
        command += ["--request-save-on-cell-execute", "--autosave-cell-every", str(AUTOSAVE_SECONDS)]
    return command


#: Engine name → the command line that executes an ``Execution`` given its parameters file.
ENGINES: dict[str, Callable[[Execution, Path], list[str]]] = {"papermill": _papermill}


class Live:
    """The runs in progress, so an interrupted caller (Ctrl-C, SIGTERM) leaves none behind."""

    def __init__(self) -> None:
        self._procs: set[subprocess.Popen] = set()
        self._lock = threading.Lock()
        self.stopping = False

    def add(self, proc: subprocess.Popen) -> None:
        with self._lock:
            self._procs.add(proc)
            if self.stopping:
                kill_tree(proc)

    def discard(self, proc: subprocess.Popen) -> None:
        with self._lock:
            self._procs.discard(proc)

    def kill_all(self) -> None:
        with self._lock:
            self.stopping = True
            for proc in list(self._procs):
                kill_tree(proc)


def run(execution: Execution, *, engine: str = "papermill", live: Live | None = None) -> Outcome:
    """Execute a notebook to the end, the timeout, or the caller's interruption; never raises for
    a failing notebook (the outcome says how it ended). Writes ``<executed>.log`` and
    ``<executed>.parameters.yaml`` beside the executed notebook."""
    import yaml

    executed = execution.executed
    executed.parent.mkdir(parents=True, exist_ok=True)
    executed.unlink(missing_ok=True)
    log_path = executed.with_suffix(".log")
    params_path = executed.with_suffix(".parameters.yaml")
    params_path.write_text(yaml.safe_dump(dict(execution.parameters), sort_keys=False, allow_unicode=True))
    outcome = Outcome(execution.notebook, executed, log_path)
    if not execution.notebook.is_file():
        outcome.not_started = f"no notebook at {execution.notebook}"
        return outcome
    command = ENGINES[engine](execution, params_path)
    env = os.environ | {
        config.ENV_TRACKING_URI: execution.tracking_uri,
        lineage.ENV_NOTEBOOK_PATH: str(execution.notebook),
        "PYTHONUNBUFFERED": "1",
        **(execution.env or {}),
    }
    began = time.monotonic()
    with log_path.open("wb") as log:
        try:
            proc = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=env, cwd=execution.cwd or execution.notebook.parent, start_new_session=True,
            )  # fmt: skip
        except OSError as exc:
            outcome.not_started = f"cannot start {engine} ({exc.strerror})"
            return outcome
        if live is not None:
            live.add(proc)
        try:
            proc.wait(timeout=execution.timeout)
        except subprocess.TimeoutExpired:
            outcome.timed_out = True
            kill_tree(proc)
            proc.wait()
        except BaseException:  # the caller is being stopped (a signal, Ctrl-C): so is the notebook
            kill_tree(proc)
            proc.wait()
            raise
        finally:
            if live is not None:
                live.discard(proc)
    outcome.returncode = proc.returncode
    outcome.duration = time.monotonic() - began
    return outcome


def execute(
    notebook: Path, output: Path, parameters: dict[str, Any], tracking_uri: str, timeout: float
) -> None:
    """Execute ``notebook`` into ``output`` (cwd: the notebook's folder) as a job: ``NbopsError`` with one
    line when it fails (retraining and the health review stop there; gates judge the outcome instead)."""
    outcome = run(Execution(notebook, output, parameters, tracking_uri, timeout))
    if outcome.not_started:
        raise NbopsError(f"{outcome.not_started}.")
    if outcome.timed_out:
        raise NbopsError(f"{notebook.name} ran past {timeout:g} s and was stopped; see {output}")
    if outcome.returncode != 0:
        raise NbopsError(f"{notebook.name} failed ({outcome.last_error()}); see {output}")


def kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL the run's process group and the group of every process under it (the kernel's)."""
    groups = {proc.pid}
    with contextlib.suppress(Exception):
        import psutil  # comes with ipykernel

        for child in psutil.Process(proc.pid).children(recursive=True):
            with contextlib.suppress(OSError):
                groups.add(os.getpgid(child.pid))
            with contextlib.suppress(psutil.Error):
                child.kill()
    groups.discard(os.getpgrp())  # never this process's own group
    for group in groups:
        with contextlib.suppress(OSError):
            os.killpg(group, signal.SIGKILL)
