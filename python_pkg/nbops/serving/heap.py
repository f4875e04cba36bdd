"""Keeping the garbage collector off what a model server loaded once.

A server's heap is mostly what it loaded to start: MLflow, pandas, scikit-learn and the served
models, several hundred thousand objects that live as long as the process. CPython's cyclic
collector walks every one of them on each full collection: about 140 ms a time, fifteen times in
8,000 one-row requests here, and once more at exit. Requests leave little behind that lives, so
those walks find nothing to free. ``gc.freeze()`` moves what is loaded into a generation the
collector skips, as long-running Python servers commonly do once they have started.

Only the process that serves calls these (``nbops serve``, each of its workers), never a notebook
or the Jupyter server.
"""

from __future__ import annotations

import atexit
import gc


def freeze_loaded() -> None:
    """Collect once, then keep everything alive now out of later collections.

    Called when a server has loaded its versions and opened its log, and again after a swap
    (the version swapped out is then collected with the rest of what died since). Objects frozen
    are still freed by reference counting; only cycles among them wait for the next call.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def skip_final_collection() -> None:
    """Skip the collection of the whole heap when this server process exits.

    The interpreter's final collection walks everything and took about 1.5 s of every stop here,
    after the requests in flight had finished, the inference log was flushed and the deployment
    record ended. ``gc.freeze()`` at exit moves those objects out of its sight, so the process
    ends at once; nothing is lost, since everything that must be written has been written by
    then (the lifespan's ``Engine.close``) and the standard streams are still flushed by the
    interpreter. Registered only once a server actually runs, in the process that runs it.
    """
    atexit.register(gc.freeze)
