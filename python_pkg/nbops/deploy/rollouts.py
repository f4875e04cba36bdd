"""Argo Rollouts: a ``Rollout`` running the nbops image, moved by canary steps or blue-green.

The Rollout's pod template runs the candidate's image (or the stable version's when there is no
candidate); Argo keeps the previous ReplicaSet as stable and shifts traffic itself, so a
promotion that regenerates this folder is what starts a rollout.

- **canary**: ``setWeight`` steps from ``[tool.nbops.canary] steps`` with a ``pause`` between,
  and a background analysis from the ``AnalysisTemplate`` written next to it: its ``web`` metric
  asks the stable nbops server for the canary verdict at ``/nbops/canary`` (``running``, ``passed``
  or ``failed``) and aborts the rollout on ``failed`` (and after repeated errors, e.g. an
  unreachable server). The stable pods run no canary themselves: they judge the canary version
  from the store (``nbops.serving.canary_store``), on the inference batches both versions' pods
  logged since the canary's first batch, with the rules and ``min_requests`` of
  ``[tool.nbops.canary]``.
- **blue-green**: ``activeService`` and ``previewService``; promotion is left to a person
  (``autoPromotionEnabled: false``), as nbops' promotion policy expects.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from .plan import BLUE_GREEN, CANARY_VERDICT_PATH, MODEL_LABEL, VERSION_LABEL, Plan, container, service

API_VERSION = "argoproj.io/v1alpha1"


def _template_name(plan: Plan) -> str:
    return f"{plan.slug}-canary-verdict"


def analysis_template(plan: Plan) -> dict[str, Any]:
    """The verdict check: ``GET http://<stable service>/nbops/canary?model=…&version=…`` → ``{"verdict": …}``.

    The stable pod answers from the store: the canary pods' and its own logged batches, judged by
    ``[tool.nbops.canary]``'s rules (``running`` until both sides logged ``min_requests`` rows,
    then ``passed`` or ``failed`` naming the rule); a version with no batch yet is ``running``.
    """
    url = (
        f"http://{plan.slug}-stable.{{{{args.namespace}}}}.svc.cluster.local{CANARY_VERDICT_PATH}"
        f"?model={quote(plan.model, safe='')}&version={{{{args.canary-version}}}}"
    )
    return {
        "apiVersion": API_VERSION,
        "kind": "AnalysisTemplate",
        "metadata": plan.metadata(_template_name(plan)),
        "spec": {
            "args": [{"name": "namespace"}, {"name": "canary-version"}],
            "metrics": [
                {
                    "name": "nbops-canary-verdict",
                    "interval": "1m",
                    # "running" (too little traffic yet) and "passed" (every rule holds so far) count
                    # as success so the steps go on; only a failed verdict aborts.
                    "successCondition": 'result == "running" || result == "passed"',
                    "failureCondition": 'result == "failed"',
                    "failureLimit": 0,
                    "consecutiveErrorLimit": 3,
                    "provider": {"web": {"url": url, "jsonPath": "{$.verdict}", "timeoutSeconds": 10}},
                }
            ],
        },
    }


def _steps(plan: Plan) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    for index, weight in enumerate(plan.steps):
        steps.append({"setWeight": weight})
        if index < len(plan.steps) - 1:
            steps.append({"pause": {"duration": plan.pause}})
    return steps


def build(plan: Plan) -> list[tuple[str, dict[str, Any]]]:
    release = plan.candidate or plan.stable
    pods = {MODEL_LABEL: plan.slug}
    template = {
        "metadata": {
            "labels": {**pods, VERSION_LABEL: release.version},
            "annotations": plan.annotations(release),
        },
        "spec": {"containers": [container(plan, release)]},
    }
    if plan.mode == BLUE_GREEN:
        strategy: dict[str, Any] = {
            "blueGreen": {
                "activeService": f"{plan.slug}-active",
                "previewService": f"{plan.slug}-preview",
                "autoPromotionEnabled": False,
            }
        }
        services = [f"{plan.slug}-active", f"{plan.slug}-preview"]
    else:
        strategy = {
            "canary": {
                "stableService": f"{plan.slug}-stable",
                "canaryService": f"{plan.slug}-canary",
                "steps": _steps(plan),
                "analysis": {
                    "templates": [{"templateName": _template_name(plan)}],
                    "startingStep": 1,
                    "args": [
                        {"name": "namespace", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                        {"name": "canary-version", "value": release.version},
                    ],
                },
            }
        }
        services = [f"{plan.slug}-stable", f"{plan.slug}-canary"]
    rollout = {
        "apiVersion": API_VERSION,
        "kind": "Rollout",
        "metadata": plan.metadata(plan.slug, {VERSION_LABEL: release.version}),
        "spec": {
            "replicas": plan.replicas,
            "selector": {"matchLabels": pods},
            "template": template,
            "strategy": strategy,
        },
    }
    docs = [("rollout.yaml", rollout)]
    if plan.mode != BLUE_GREEN:
        docs.append(("analysistemplate.yaml", analysis_template(plan)))
    docs += [
        (f"service-{name.removeprefix(plan.slug + '-')}.yaml", service(plan, name, pods)) for name in services
    ]
    return docs
