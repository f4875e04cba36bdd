"""Proof that generated manifests are what a cluster accepts, without a cluster.

No kube-apiserver runs where nbops runs (a notebook, CI), so the manifests are checked the way
the API server's first stage does it: custom resources (KServe ``InferenceService``, Argo
Rollouts ``Rollout`` and ``AnalysisTemplate``) against the ``openAPIV3Schema`` of their real
CRDs, shipped in ``crds/`` (see its README for the releases), and core kinds (``Deployment``,
``Service``) against the Kubernetes OpenAPI schema that ``kubernetes-validate`` ships. Both are
strict: an unknown field is an error, as the API server's field validation reports it. On top
come the rules the CRDs leave to admission webhooks that nbops knows about (a traffic share
outside 0–100).

Loading the schemas takes a few seconds, so each is loaded once per process; validating a
document then takes milliseconds.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidInput

CRD_DIR = Path(__file__).with_name("crds")

#: (apiVersion, kind) → the file in ``crds/`` holding that CRD version's schema.
CRDS = {
    ("serving.kserve.io/v1beta1", "InferenceService"): "serving.kserve.io_v1beta1_inferenceservice.json",
    ("argoproj.io/v1alpha1", "Rollout"): "argoproj.io_v1alpha1_rollout.json",
    ("argoproj.io/v1alpha1", "AnalysisTemplate"): "argoproj.io_v1alpha1_analysistemplate.json",
}

#: Field paths (with ``*`` for any list index) that hold a traffic share in percent.
TRAFFIC_FIELDS = (
    ("spec", "predictor", "canaryTrafficPercent"),
    ("spec", "canary", "*", "trafficPercent"),
    ("spec", "strategy", "canary", "steps", "*", "setWeight"),
)


@dataclass(frozen=True)
class Problem:
    """One reason a document is refused: where (file, kind/name, field) and why."""

    source: str
    resource: str
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.source}: " if self.source else ""
        return f"{where}{self.resource}: field {self.field or '(document)'}: {self.message}"


class ManifestInvalid(InvalidInput):
    """A manifest the cluster would refuse; the message names the file, the resource and the field."""

    def __init__(self, problems: list[Problem]) -> None:
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        super().__init__(f"invalid manifest: {problems[0]}{more}")
        self.problems = problems

    def details(self) -> dict[str, Any]:
        return {"problems": [str(p) for p in self.problems]}


# --- schemas, loaded once ------------------------------------------------------------------------


def _strict(node: Any) -> Any:
    """The CRD schema as the API server applies it: unknown fields refused, ``nullable`` honoured.

    An object schema that lists ``properties`` (and neither keeps unknown fields nor declares
    ``additionalProperties``) gets ``additionalProperties: false``, recursively — the API server
    prunes or rejects such fields, JSON Schema would silently allow them.
    """
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _strict(value) for key, value in node.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    if out.pop("nullable", False) and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


@functools.cache
def _crd_validator(api_version: str, kind: str) -> Any:
    import jsonschema

    with open(CRD_DIR / CRDS[(api_version, kind)], encoding="utf-8") as handle:
        schema = _strict(json.load(handle)["openAPIV3Schema"])
    return jsonschema.Draft7Validator(schema)


def _kubernetes_validate() -> Any:
    try:
        from kubernetes_validate import utils
    except ImportError:
        raise InvalidInput(
            "checking Deployments and Services needs kubernetes-validate: pip install 'nbops[deploy]'."
        ) from None
    return utils


def kubernetes_version() -> str:
    """The newest Kubernetes release whose schemas ``kubernetes-validate`` ships (checked against)."""
    return _kubernetes_validate().latest_version()


@functools.cache
def _core_validator(api_version: str, kind: str) -> Any:
    """``kubernetes-validate``'s strict schema for a core kind, built once (it re-reads files per call)."""
    import jsonschema
    from referencing import Registry, Resource

    utils = _kubernetes_validate()
    version = kubernetes_version()
    group = api_version.split("/")[0].split(".")[0] + "-" if "/" in api_version else ""
    stem = f"{kind.lower()}-{group}{api_version.split('/')[-1]}"
    folder = f"kubernetes-json-schema/v{version}-local-strict"
    try:
        schema = utils.schema_contents(f"{folder}/{stem}.json", version)
    except FileNotFoundError:
        return None
    definitions = utils.schema_contents(f"{folder}/_definitions.json", version)
    registry = Resource.from_contents(definitions) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


def load_schemas() -> None:
    """Load every schema nbops generates for now, so the first validation is not the slow one."""
    for api_version, kind in CRDS:
        _crd_validator(api_version, kind)
    for api_version, kind in (("apps/v1", "Deployment"), ("v1", "Service")):
        _core_validator(api_version, kind)


# --- validation ----------------------------------------------------------------------------------


def _path(parts: Iterable[Any]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _schema_problem(error: Any, source: str, resource: str) -> Problem:
    """One jsonschema error as a Problem naming the offending field itself."""
    field = _path(error.absolute_path)
    if error.validator == "additionalProperties":
        unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        if unknown:
            field = _path([*error.absolute_path, unknown[0]])
            return Problem(source, resource, field, "unknown field (not in the schema)")
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else ""
        return Problem(source, resource, _path([*error.absolute_path, missing]), "required field missing")
    return Problem(source, resource, field, error.message)


def _traffic_values(doc: Any, path: tuple[str, ...], seen: tuple[Any, ...] = ()) -> Iterator[tuple[str, Any]]:
    if not path:
        yield _path(seen), doc
        return
    head, rest = path[0], path[1:]
    if head == "*":
        for index, item in enumerate(doc if isinstance(doc, list) else []):
            yield from _traffic_values(item, rest, (*seen, index))
    elif isinstance(doc, dict) and head in doc:
        yield from _traffic_values(doc[head], rest, (*seen, head))


def _nbops_rules(doc: dict[str, Any], source: str, resource: str) -> list[Problem]:
    """What admission webhooks would refuse and the schemas cannot say: shares outside 0–100 %."""
    problems = []
    for path in TRAFFIC_FIELDS:
        for field, value in _traffic_values(doc, path):
            if isinstance(value, int) and not 0 <= value <= 100:
                problems.append(Problem(source, resource, field, f"traffic share {value} is outside 0–100 %"))
    return problems


def problems_of(doc: Any, source: str = "") -> list[Problem]:
    """Everything wrong with one manifest document (empty: the cluster's schemas accept it)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("kind"), str) or "apiVersion" not in doc:
        return [Problem(source, "?", "", "not a Kubernetes object (apiVersion and kind are required)")]
    api_version, kind = str(doc["apiVersion"]), doc["kind"]
    name = (doc.get("metadata") or {}).get("name", "?") if isinstance(doc.get("metadata"), dict) else "?"
    resource = f"{kind}/{name}"
    if (api_version, kind) in CRDS:
        validator = _crd_validator(api_version, kind)
    else:
        validator = _core_validator(api_version, kind)
        if validator is None:
            return [
                Problem(source, resource, "kind", f"no schema for {api_version} {kind} to check it against")
            ]
    errors = sorted(validator.iter_errors(doc), key=lambda e: (len(e.absolute_path), _path(e.absolute_path)))
    found = [_schema_problem(error, source, resource) for error in errors]
    return found + _nbops_rules(doc, source, resource)


def validate_documents(docs: Iterable[tuple[str, Any]]) -> None:
    """Refuse the first batch of problems among ``(source, document)`` pairs; silent when all are valid."""
    problems = [problem for source, doc in docs for problem in problems_of(doc, source)]
    if problems:
        raise ManifestInvalid(problems)


def read_folder(folder: Path) -> list[tuple[str, Any]]:
    """Every YAML document under ``folder`` (or in the one file) as ``(relative file, document)``."""
    import yaml

    if folder.is_file():
        paths, base = [folder], folder.parent
    elif folder.is_dir():
        paths, base = sorted([*folder.rglob("*.yaml"), *folder.rglob("*.yml")]), folder
    else:
        raise InvalidInput(f"{folder} does not exist; give the folder nbops deploy manifests wrote.")
    docs = []
    for path in paths:
        relative = str(path.relative_to(base))
        try:
            loaded = [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f" at line {mark.line + 1}" if mark else ""
            raise InvalidInput(f"{relative}: not valid YAML{line}; fix the file and check again.") from None
        docs += [(relative, doc) for doc in loaded]
    if not docs:
        raise InvalidInput(f"{folder} holds no .yaml manifests to check.")
    return docs


def check_folder(folder: Path | str) -> int:
    """Validate every manifest under ``folder``; returns how many documents passed, else raises."""
    docs = read_folder(Path(folder))
    validate_documents(docs)
    return len(docs)
