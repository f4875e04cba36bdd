"""The retraining job's process: ``python -m nbops.monitoring.retrain_job JOB.json``.

Started by ``retraining.queue`` in a session of its own, so it outlives the kernel, CLI or
service that logged the batch. It says on the alert that it runs, does the work of ``retrain``,
and records the outcome; any exception is an outcome too (``failed`` with its reason), and
SIGTERM stops the notebook's process group and is recorded as such. A SIGKILL cannot be
recorded by the job itself: readers tell a dead job by its owner pid (``retraining.state``).
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from types import FrameType

from . import retrain, retraining


class Stopped(Exception):
    """SIGTERM reached the job: the retraining ends as failed, with that reason."""


def _stop(signum: int, frame: FrameType | None) -> None:
    raise Stopped(f"the retraining job was stopped by signal {signal.Signals(signum).name}")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m nbops.monitoring.retrain_job JOB.json", file=sys.stderr)
        return 2
    job = json.loads(Path(args[0]).read_text())
    start = job["project_root"]
    request = retrain.Request(**job["request"])
    signal.signal(signal.SIGTERM, _stop)
    if not retraining.begin(request.alert_id, start):
        print(f"the retraining of alert {request.alert_id} has already ended; nothing to do", file=sys.stderr)
        return 0
    print(f"retraining {request.model} v{request.version} for alert {request.alert_id}", flush=True)
    try:
        outcome = retrain.run(request, start=start)
    except Stopped as exc:  # raised between steps; inside a notebook run it ends up in the outcome
        outcome = {"retrain_state": retrain.FAILED, "retrain_error": str(exc)}
    retraining.end(request.alert_id, outcome, start)
    print(json.dumps(outcome, indent=2), flush=True)
    return 0 if outcome["retrain_state"] == retrain.FINISHED else 1


if __name__ == "__main__":
    sys.exit(main())
