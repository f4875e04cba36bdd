"""The entrypoint of an nbops image: ``nbops serve`` for the baked-in model, configured by environment.

MLflow's generated entrypoint hard-codes its ports; here ``HOST``, ``PORT`` and ``WORKERS`` come from
the environment and the model from ``NBOPS_MODEL``/``NBOPS_ALIAS`` (set by the Dockerfile, overridable
with ``-e``). The server runs in this very process (no shell in between), so the SIGTERM that
``podman stop`` sends — through ``--init`` — reaches uvicorn, which shuts down gracefully.

The version the image was built for is in ``NBOPS_MODEL_DIR``: loading ``models:/NAME/VERSION`` for it
reads that folder instead of downloading the artifacts again. The store named by
``MLFLOW_TRACKING_URI`` is still used for the alias, the deployment record and the inference log; if the
alias has moved to another version, the server follows it as ``nbops serve`` always does — unless
``NBOPS_PIN`` is true (an image built with ``--pin``, or a pinned manifest): then it serves
``NBOPS_MODEL/NBOPS_MODEL_VERSION`` and nothing else, so the version a pod runs is the one its image
and manifest name, and moving it is a new manifest (a Git commit), not an alias change. The redirect
is installed at import time, so the worker processes uvicorn spawns (which re-import this module)
have it too.
"""

from __future__ import annotations

import os
import sys
from typing import Any


def _serve_baked_version() -> None:
    """Make ``mlflow.pyfunc.load_model("models:/NAME/VERSION")`` of the baked version read its folder."""
    folder = os.environ.get("NBOPS_MODEL_DIR")
    name, version = os.environ.get("NBOPS_MODEL"), os.environ.get("NBOPS_MODEL_VERSION")
    if not (folder and name and version and os.path.isfile(os.path.join(folder, "MLmodel"))):
        return
    import mlflow.pyfunc

    original = mlflow.pyfunc.load_model
    if getattr(original, "_nbops_baked", False):
        return
    baked = f"models:/{name}/{version}"

    def load_model(model_uri: Any, *args: Any, **kwargs: Any) -> Any:
        return original(folder if str(model_uri) == baked else model_uri, *args, **kwargs)

    load_model._nbops_baked = True  # type: ignore[attr-defined]
    mlflow.pyfunc.load_model = load_model


def main() -> int:
    """Serve ``NBOPS_MODEL@NBOPS_ALIAS`` (pinned: its version) on ``HOST:PORT`` with ``WORKERS`` processes.

    It calls the function behind ``nbops serve`` (a face's code does not belong in the image's
    process); a problem the user can fix ends as one line on stderr, like the CLI's.
    """
    from nbops.errors import NbopsError, NotFound
    from nbops.serving.process import run

    target = f"{os.environ.get('NBOPS_MODEL', '')}@{os.environ.get('NBOPS_ALIAS', '')}"
    pinned = os.environ.get("NBOPS_PIN", "").strip().lower() in ("1", "true", "yes")
    version = (os.environ.get("NBOPS_MODEL_VERSION") or None) if pinned else None
    if pinned and version is None:
        print("nbops serve: error: NBOPS_PIN is set but NBOPS_MODEL_VERSION is not.", file=sys.stderr)
        return 2
    try:
        port, workers = int(os.environ.get("PORT") or 8080), int(os.environ.get("WORKERS") or 1)
    except ValueError:
        print("nbops serve: error: PORT and WORKERS must be whole numbers.", file=sys.stderr)
        return 2
    try:
        run(target, host=os.environ.get("HOST") or "0.0.0.0", port=port, workers=workers, version=version)
    except NbopsError as exc:
        print(f"nbops serve: error: {exc}", file=sys.stderr)
        return 4 if isinstance(exc, NotFound) else 2
    return 0


_serve_baked_version()

if __name__ == "__main__":
    sys.exit(main())
