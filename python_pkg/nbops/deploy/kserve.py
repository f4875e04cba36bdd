"""KServe: one ``InferenceService`` per model, canary through ``canaryTrafficPercent``.

The predictor runs the nbops image as a custom container when the version has one (inference
logging, canary verdicts and the same answers as ``nbops serve``), otherwise KServe's own MLflow
runtime (``modelFormat: mlflow``) on the version's artifacts (``storageUri``), which must then
live where the cluster can read them (``s3://``, ``gs://``, ``pvc://``).

KServe's serverless mode keeps the previously rolled-out revision and routes
``canaryTrafficPercent`` of the traffic to the one the spec describes, so a canary or preview
manifest describes the candidate and the stable version is the revision applied before it (the
previous commit of this folder). A blue-green preview is a canary at 0 % with tag routing, which
gives the candidate its own ``latest-`` URL until promotion moves the stable alias.
"""

from __future__ import annotations

from typing import Any

from .plan import BLUE_GREEN, CANARY, Plan, Release, container

API_VERSION = "serving.kserve.io/v1beta1"


def _predictor(plan: Plan, release: Release) -> dict[str, Any]:
    if release.image:
        return {"containers": [container(plan, release, name="kserve-container")]}
    return {
        "model": {
            "modelFormat": {"name": "mlflow"},
            "protocolVersion": "v2",
            "storageUri": release.storage_uri or "",
        }
    }


def build(plan: Plan) -> list[tuple[str, dict[str, Any]]]:
    """``inferenceservice.yaml``: the candidate with its share when there is one, else the stable version."""
    release = plan.candidate or plan.stable
    predictor = _predictor(plan, release)
    annotations = {"nbops.io/stable-version": plan.stable.version, **plan.annotations(release)}
    if plan.candidate and plan.mode == CANARY:
        predictor["canaryTrafficPercent"] = plan.percent
    elif plan.candidate and plan.mode == BLUE_GREEN:
        predictor["canaryTrafficPercent"] = 0
        annotations["serving.kserve.io/enable-tag-routing"] = "true"
    metadata = plan.metadata(plan.slug, {"nbops.io/model-version": release.version})
    metadata["annotations"] = annotations
    doc = {
        "apiVersion": API_VERSION,
        "kind": "InferenceService",
        "metadata": metadata,
        "spec": {"predictor": predictor},
    }
    return [("inferenceservice.yaml", doc)]
