"""What a set of manifests describes, decided once and read by every target's builder.

A :class:`Plan` is the registry's state for one model turned into deployment terms: the stable
release (the version the stable alias holds), optionally a candidate (a canary share or a
blue-green preview), the images they run, and the knobs from ``[tool.nbops.deploy]`` and
``[tool.nbops.canary]``. The builders (``kserve``, ``rollouts``, ``kubernetes``) only translate it
into documents, so the three targets agree on names, labels and ports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError

#: The port the nbops image listens on inside the container (it reads ``PORT``).
CONTAINER_PORT = 8080
#: The endpoint of the nbops server that answers the canary verdict (``{"verdict": "running"|"passed"|"failed", …}``).
CANARY_VERDICT_PATH = "/nbops/canary"
#: Labels every generated object carries, so ``kubectl get -l`` finds a model's objects.
MODEL_LABEL = "app.kubernetes.io/name"
VERSION_LABEL = "nbops.io/model-version"
MANAGED_BY = {"app.kubernetes.io/managed-by": "nbops"}
#: The Secret the containers read their environment from (``MLFLOW_TRACKING_URI``, ``NBOPS_SERVE_TOKEN``).
SECRET = "nbops"
#: On pinned objects: the version they serve whatever the aliases say (``--pin``).
PINNED_ANNOTATION = "nbops.io/pinned-version"

TARGETS = ("kserve", "rollouts", "kubernetes")
PLAIN, CANARY, BLUE_GREEN = "plain", "canary", "blue-green"


@dataclass(frozen=True)
class Release:
    """One model version as deployed: which alias holds it and what runs it."""

    alias: str
    version: str
    image: str | None
    storage_uri: str | None
    #: The version's tags as read, so nbops only writes a tag whose value changes.
    tags: dict[str, str] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Plan:
    model: str
    #: The model's name as a DNS-1035 label, the stem of every object's name.
    slug: str
    target: str
    namespace: str | None
    stable: Release
    candidate: Release | None = None
    mode: str = PLAIN
    #: The candidate's share in percent (canary), 0 for a blue-green preview.
    percent: int = 0
    #: Argo Rollouts' canary weights, rising to 100.
    steps: tuple[int, ...] = (10, 50, 100)
    #: How long each canary step holds before the next (an Argo duration, e.g. "5m").
    pause: str = "5m"
    replicas: int = 2
    #: Serve each release's version itself (``MODEL/VERSION``), not its alias: Git then pins what runs.
    pin: bool = False

    def releases(self) -> list[Release]:
        return [self.stable, *([self.candidate] if self.candidate else [])]

    def metadata(self, name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
        """``metadata`` for an object of this model: name, namespace when given, nbops' labels."""
        meta: dict[str, Any] = {"name": name}
        if self.namespace:
            meta["namespace"] = self.namespace
        meta["labels"] = {MODEL_LABEL: self.slug, **MANAGED_BY, **(labels or {})}
        return meta

    def annotations(self, release: Release) -> dict[str, str]:
        """The alias a release was deployed for and, when pinned, the version it keeps serving."""
        return {"nbops.io/alias": release.alias, **({PINNED_ANNOTATION: release.version} if self.pin else {})}


def resolve_pin(given: bool | None, table: dict[str, Any], where: Any) -> bool:
    """``--pin``/``--no-pin`` when given, else ``[tool.nbops.deploy] pin`` (default false)."""
    if given is not None:
        return given
    pin = table.get("pin", False)
    if not isinstance(pin, bool):
        raise ConfigError(f"[tool.nbops.deploy] pin in {where} must be true or false, not {pin!r}.")
    return pin


def slug(name: str) -> str:
    """``name`` as a DNS-1035 label (lowercase letters, digits, '-', starting with a letter)."""
    text = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    if text and not text[0].isalpha():
        text = f"m-{text}"
    return text[:40].rstrip("-")


def container(plan: Plan, release: Release, name: str = "model") -> dict[str, Any]:
    """The nbops image's container: its port, probes on ``/ping``, and what it serves.

    The image's entrypoint serves ``NBOPS_MODEL@NBOPS_ALIAS`` (the version baked in, following the
    alias as ``nbops serve`` does) or, pinned (``NBOPS_PIN=true``), ``NBOPS_MODEL/NBOPS_MODEL_VERSION``
    whatever the alias says later; ``PORT`` sets its port; the rest of its environment
    (``MLFLOW_TRACKING_URI``, ``NBOPS_SERVE_TOKEN``) comes from the Secret ``nbops``.
    """
    if release.image is None:
        raise ValueError("a release without an image has no container")
    env = [
        {"name": "PORT", "value": str(CONTAINER_PORT)},
        {"name": "NBOPS_MODEL", "value": plan.model},
        {"name": "NBOPS_MODEL_VERSION", "value": release.version},
        {"name": "NBOPS_ALIAS", "value": release.alias},
        # Always said, so the manifests, not how the image was built, decide whether pods follow the alias.
        {"name": "NBOPS_PIN", "value": "true" if plan.pin else "false"},
    ]
    return {
        "name": name,
        "image": release.image,
        "env": env,
        "envFrom": [{"secretRef": {"name": SECRET, "optional": True}}],
        "ports": [{"name": "http", "containerPort": CONTAINER_PORT, "protocol": "TCP"}],
        "readinessProbe": {"httpGet": {"path": "/ping", "port": "http"}, "periodSeconds": 5},
        "livenessProbe": {"httpGet": {"path": "/ping", "port": "http"}, "periodSeconds": 15},
        "securityContext": {"runAsNonRoot": True, "allowPrivilegeEscalation": False},
    }


def service(plan: Plan, name: str, selector: dict[str, str]) -> dict[str, Any]:
    """A ClusterIP Service on port 80 in front of the pods ``selector`` picks."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": plan.metadata(name),
        "spec": {
            "selector": selector,
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }
