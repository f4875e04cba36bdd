"""Where the Jupyter server runs nbops' store calls: a few worker threads, once MLflow has loaded.

Store calls block (SQL queries, HTTP to a tracking server), so they run off the event loop. Two
rules keep them from hurting the rest of JupyterLab:

* **Imports happen once, in one thread at a time.** Python cannot import the same package's
  circular modules (SQLAlchemy's, MLflow's, nbops' own) from two threads at once: the second
  thread may get a partially initialised module and fail with ``cannot import name ... from
  partially initialized module``, or leave the package half-imported for every later request.
  The server loads MLflow and the modules the routes reach (``load``) in the background as soon
  as it runs, and every store call waits for that load to be done (or retries it, if it failed).
* **Few threads, short pauses.** Every store thread competes for the GIL with the event loop that
  serves all of JupyterLab; with more busy threads than cores, the loop waits its turn behind each
  of them. ``STORE_THREADS`` bounds them; requests beyond that queue here instead of in the GIL.
  And once MLflow has loaded, the objects alive then (modules, classes: some 400,000 of them, kept
  for the life of the server) are moved out of the garbage collector's reach (``gc.freeze``):
  otherwise the full collections that a store call's allocations trigger walk them all, holding
  the GIL for a fifth of a second or more each time, and every tab's requests wait meanwhile.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .. import store
from ..errors import StoreError

#: Store calls that run at once. One would let a slow call (a tracking server that takes its
#: time) hold up every other sidebar request; more than two let store threads outnumber the
#: cores and crowd out the event loop.
STORE_THREADS = 2

#: What the routes import on first use besides MLflow (which ``store.load_mlflow`` brings):
#: nbops' monitoring reads (the models list counts open alerts), the model card renderer, the
#: delivery outcomes shown with alerts, the deployment records and the prompt registry reads.
ROUTE_MODULES = (
    "nbops.monitoring.alerting",
    "nbops.monitoring.batches",
    "nbops.monitoring.runs",
    "nbops.monitoring.card",
    "nbops.cards",
    "nbops.notify.delivery",
    "nbops.serving.deployments",
    "nbops.prompts",
    "jinja2",
    "mistune",
)

_executor = ThreadPoolExecutor(max_workers=STORE_THREADS, thread_name_prefix="nbops-store")
_settings_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nbops-settings")
_load_lock = threading.Lock()
_loaded = False


def load() -> None:
    """Import MLflow and everything the routes use, once per process; a failure is retried next time.

    Raises ``StoreError`` (a 503 with the reason) when an import fails.
    """
    global _loaded
    if _loaded:
        return
    with _load_lock:
        if _loaded:
            return
        store.load_mlflow()
        for name in ROUTE_MODULES:
            try:
                importlib.import_module(name)
            except Exception as exc:
                raise StoreError(
                    f"cannot load {name} ({' '.join(str(exc).split())[:200]}); check that nbops "
                    "and its dependencies are installed in the Jupyter server's environment."
                ) from exc
        gc.freeze()
        _loaded = True


def load_in_background(log: Any) -> threading.Thread:
    """``load`` in a thread of its own, so the first sidebar request does not pay for ``import mlflow``.

    A failure is only logged: the next store call tries again and reports it to its client.
    """

    def work() -> None:
        try:
            load()
        except Exception as exc:
            log.warning("nbops: loading MLflow failed (%s); the next request will try again", exc)

    thread = threading.Thread(target=work, name="nbops-load", daemon=True)
    thread.start()
    return thread


async def run_in_store_thread(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a (blocking) core function in nbops' store threads, after ``load``."""

    def job() -> Any:
        load()
        return fn(*args, **kwargs)

    return await asyncio.get_running_loop().run_in_executor(_executor, job)


async def run_off_loop(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a short blocking call that needs no MLflow (reading the project's settings) off the loop.

    It neither waits for ``load`` nor queues behind store calls, so ``status`` answers while MLflow
    is still loading or every store thread is busy.
    """
    return await asyncio.get_running_loop().run_in_executor(_settings_executor, lambda: fn(*args, **kwargs))
