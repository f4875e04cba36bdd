"""What monitoring compares against, kept with the model version in the store.

At registration nbops stores a *reference profile* of the training data (``profile.build``) as an
artifact of the version's run, and tags the version with where it is. Monitoring then never needs
the raw training data again, and a team sharing an MLflow server shares the profiles too. A
profile never changes once written, so it is cached per process.

The *baseline* of the performance metrics is what the version was accepted on: the checks of its
``performance`` gate when it ran one, else the metrics of its training run.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .. import store
from ..errors import InvalidInput
from .profile_store import PROFILE_FILE, PROFILE_TAG, build_profile, save_profile, version_profile

# Where profiles live is part of what a reference means: their names are offered here too.
__all__ = [
    "BASELINE_NAMES",
    "PROFILE_FILE",
    "PROFILE_TAG",
    "baseline_metrics",
    "build_profile",
    "load_profile",
    "resolve",
    "save_profile",
    "version_profile",
]

_Start = Path | str | None

#: Performance metrics a batch with labels reports, and the names a baseline may carry them under.
BASELINE_NAMES = {
    "accuracy": ("accuracy", "test_accuracy", "val_accuracy", "holdout_accuracy"),
    "f1": ("f1", "test_f1", "f1_score", "val_f1"),
    "roc_auc": ("roc_auc", "test_roc_auc", "roc_auc_score", "val_roc_auc"),
    "rmse": ("rmse", "test_rmse", "val_rmse"),
    "mae": ("mae", "test_mae", "val_mae"),
}
_SPEC = re.compile(r"^(?:models:/)?(?P<name>[^/@]+?)(?:/(?P<version>\d+)|@(?P<alias>[^/@]+))?$")


def resolve(model: str, start: _Start = None) -> tuple[str, str]:
    """``(name, version)`` of ``NAME@ALIAS``, ``NAME/VERSION`` (``models:/`` optional) or ``NAME``.

    A bare name means its ``champion``: what serves is what is monitored.
    """
    from ..registry import resolve_model

    found = _SPEC.fullmatch(model.strip()) if isinstance(model, str) else None
    if found is None:
        raise InvalidInput(f"model must be NAME@ALIAS or NAME/VERSION (e.g. churn@champion), not {model!r}.")
    name = found["name"]
    if found["version"]:
        return resolve_model(f"models:/{name}/{found['version']}", start)
    return resolve_model(f"models:/{name}@{found['alias'] or 'champion'}", start)


def load_profile(name: str, version: str, start: _Start = None) -> Any:
    """The version's reference profile; ``NotFound`` says how to get one."""
    from ..registry import get_version

    return version_profile(get_version(name, version, start), start)


def baseline_metrics(name: str, version: str, start: _Start = None) -> dict[str, float]:
    """The performance the version was accepted on: its performance gate's checks, else its run's metrics."""
    from ..registry import get_version

    mv = get_version(name, version, start)
    client = store.client(start)
    sources: list[dict[str, float]] = []
    gate = mv.tags.get("nbops.gate.performance", "").split()
    if len(gate) >= 2:
        try:
            metrics = client.get_run(gate[1]).data.metrics
            sources.append(
                {k.removeprefix("check."): v for k, v in metrics.items() if k.startswith("check.")}
            )
        except Exception:  # a deleted gate run: fall back to the training run
            pass
    if mv.run_id:
        sources.append(dict(client.get_run(mv.run_id).data.metrics))
    found: dict[str, float] = {}
    for metric, names in BASELINE_NAMES.items():
        for source in sources:
            value = next((source[n] for n in names if n in source), None)
            if value is not None:
                found[metric] = float(value)
                break
    return found
