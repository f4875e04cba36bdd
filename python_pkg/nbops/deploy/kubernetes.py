"""Plain Kubernetes: a ``Deployment`` per version and a ``Service`` in front, no controller needed.

Blue-green is the Service's selector: it picks the pods of the stable alias's version, and a
promotion regenerates the folder so the selector names the new version (the switch is one line
in the Git diff). The preview Service reaches the candidate before that. A canary has no exact
share without a service mesh: both Deployments sit behind the one Service and the candidate's
share is approximated by its replica count.
"""

from __future__ import annotations

from typing import Any

from .plan import BLUE_GREEN, CANARY, MODEL_LABEL, VERSION_LABEL, Plan, Release, container, service


def _deployment(plan: Plan, release: Release, replicas: int) -> tuple[str, dict[str, Any]]:
    labels = {MODEL_LABEL: plan.slug, VERSION_LABEL: release.version}
    doc = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": plan.metadata(f"{plan.slug}-v{release.version}", {VERSION_LABEL: release.version}),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels, "annotations": plan.annotations(release)},
                "spec": {"containers": [container(plan, release)]},
            },
        },
    }
    return f"deployment-v{release.version}.yaml", doc


def canary_replicas(stable: int, percent: int) -> int:
    """Replicas that give the candidate about ``percent`` % of the pods next to ``stable`` ones."""
    return max(1, round(stable * percent / max(1, 100 - percent)))


def build(plan: Plan) -> list[tuple[str, dict[str, Any]]]:
    docs = [_deployment(plan, plan.stable, plan.replicas)]
    if plan.candidate is None:
        selector = {MODEL_LABEL: plan.slug, VERSION_LABEL: plan.stable.version}
        return [*docs, ("service.yaml", service(plan, plan.slug, selector))]
    if plan.mode == CANARY:
        docs.append(_deployment(plan, plan.candidate, canary_replicas(plan.replicas, plan.percent)))
        return [*docs, ("service.yaml", service(plan, plan.slug, {MODEL_LABEL: plan.slug}))]
    assert plan.mode == BLUE_GREEN
    docs.append(_deployment(plan, plan.candidate, plan.replicas))
    active = service(plan, plan.slug, {MODEL_LABEL: plan.slug, VERSION_LABEL: plan.stable.version})
    preview = service(
        plan, f"{plan.slug}-preview", {MODEL_LABEL: plan.slug, VERSION_LABEL: plan.candidate.version}
    )
    return [*docs, ("service.yaml", active), ("service-preview.yaml", preview)]
