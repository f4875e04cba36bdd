"""Kubernetes manifests from the registry's aliases, for ``kubectl apply`` or a GitOps repository.

``generate`` reads where a model's aliases point, turns that into a :class:`~.plan.Plan` (the
stable alias's version, an optional canary or blue-green candidate, the images the versions were
built into, ``[tool.nbops.deploy]`` and ``[tool.nbops.canary]``), lets the target's builder write
the documents, validates every one against the real schemas, and only then replaces the model's
folder. Output is deterministic (no timestamps), so regenerating after nothing moved changes no
file, and the folder's Git history is the model's deployment history: promotions and rollbacks
regenerate it (:func:`regenerate_after_alias_change`) when ``manifests_dir`` is configured.

Pinned (``pin``), each container serves its version rather than following its alias, the image is
named by the digest recorded on the version, and the version is in the objects' labels and
annotations: the folder's diff is then exactly what each environment runs, and a Git revert is a
rollback.
"""

from __future__ import annotations

import logging
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import config, store
from ..errors import ConfigError, InvalidInput, NotFound
from ..identifiers import check_alias
from ..version import __version__
from . import kserve, kubernetes, output, rollouts, validation
from .plan import BLUE_GREEN, CANARY, PLAIN, TARGETS, Plan, Release, resolve_pin, slug

log = logging.getLogger(__name__)

IMAGE_TAG = "nbops.deploy.image"
IMAGE_DIGEST_TAG = "nbops.deploy.image_digest"
#: Set on each version a folder deploys: which target's manifests were generated for it, and where.
MANIFESTS_TAG = "nbops.deploy.manifests"
BUILDERS = {"kserve": kserve.build, "rollouts": rollouts.build, "kubernetes": kubernetes.build}
_NAMESPACE = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_Start = Path | str | None


@dataclass
class Generated:
    """What ``generate`` wrote: the folder, its files, and which version each alias deploys."""

    model: str
    target: str
    folder: Path
    files: list[str]
    aliases: dict[str, str]
    changed: bool
    notes: list[str] = field(default_factory=list)
    #: Whether the pods serve their version (``--pin``) rather than following their alias.
    pinned: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "folder": str(self.folder)}


# --- settings ------------------------------------------------------------------------------------


def _table(settings: Any, name: str) -> dict[str, Any]:
    table = settings.tool.get(name, {})
    if not isinstance(table, dict):
        raise ConfigError(f"[tool.nbops.{name}] in {settings.pyproject} must be a table.")
    return table


def _steps(canary: dict[str, Any], percent: int, where: Any) -> tuple[int, ...]:
    steps = canary.get("steps", [10, 50, 100])
    if (
        not isinstance(steps, list)
        or not steps
        or not all(isinstance(s, int) and not isinstance(s, bool) and 1 <= s <= 100 for s in steps)
        or steps != sorted(set(steps))
    ):
        raise ConfigError(
            f"[tool.nbops.canary] steps in {where} must be rising percentages from 1 to 100, e.g. [10, 50, 100]."
        )
    return tuple([percent, *(s for s in steps if s > percent)] if percent else steps)


def _parse_canary(spec: str) -> tuple[str, int]:
    from ..serving.routing import parse_canary

    split = parse_canary([spec])
    alias, percent = next(iter(split.items()))
    check_alias(alias)
    return alias, percent


def default_folder(settings: Any) -> Path:
    """``[tool.nbops.deploy] manifests_dir`` (relative to the project), else ``deploy/manifests``."""
    configured = _table(settings, "deploy").get("manifests_dir")
    if configured is not None and (not isinstance(configured, str) or not configured.strip()):
        raise ConfigError(f"[tool.nbops.deploy] manifests_dir in {settings.pyproject} must be a folder path.")
    return Path(settings.project_root) / (configured or "deploy/manifests")


# --- the registry's state as a plan --------------------------------------------------------------


def _image(tags: dict[str, str]) -> str | None:
    image = tags.get(IMAGE_TAG)
    if not image:
        return None
    pinned = tags.get(IMAGE_DIGEST_TAG, "")
    return f"{image}@{pinned}" if pinned.startswith("sha256:") and "@" not in image else image


def _release(client: Any, name: str, alias: str, version: str, image: str | None) -> Release:
    mv = client.get_model_version(name, version)
    tags = dict(mv.tags)
    found = image or _image(tags)
    # Only KServe's MLflow runtime reads the artifacts' location; resolving it costs a store round trip.
    uri = None if found else client.get_model_version_download_uri(name, version)
    return Release(alias=alias, version=str(version), image=found, storage_uri=uri, tags=tags)


def _aliases(client: Any, name: str) -> dict[str, str]:
    from mlflow.exceptions import MlflowException

    try:
        found = client.get_registered_model(name)
    except MlflowException as exc:
        if exc.error_code not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            raise
        raise NotFound(f"no registered model named {name!r}; nbops registry list shows the models.") from None
    return {alias: str(version) for alias, version in found.aliases.items()}


def plan(
    model: str,
    *,
    target: str | None = None,
    canary: str | None = None,
    blue_green: bool = False,
    namespace: str | None = None,
    image: str | None = None,
    pin: bool | None = None,
    strict: bool = True,
    start: _Start = None,
) -> Plan:
    """The deployment ``model``'s aliases describe now; ``strict=False`` drops a vanished candidate.

    ``pin`` (default ``[tool.nbops.deploy] pin``) makes each container serve its version, not its alias.
    """
    settings = config.resolve(start)
    deploy, canary_table = _table(settings, "deploy"), _table(settings, "canary")
    target = target or deploy.get("target", "kserve")
    if target not in TARGETS:
        raise InvalidInput(f"unknown target {target!r}; choose one of {', '.join(TARGETS)}.")
    if canary and blue_green:
        raise InvalidInput("--canary and --blue-green are two strategies; choose one.")
    namespace = namespace or deploy.get("namespace")
    if namespace is not None and not (isinstance(namespace, str) and _NAMESPACE.fullmatch(namespace)):
        raise InvalidInput(
            f"namespace {namespace!r} is not a Kubernetes name (lowercase letters, digits, '-')."
        )
    replicas = deploy.get("replicas", 2)
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 1:
        raise ConfigError(f"[tool.nbops.deploy] replicas in {settings.pyproject} must be a whole number ≥ 1.")
    pause = str(canary_table.get("pause", "5m"))
    pinned = resolve_pin(pin, deploy, settings.pyproject)
    stable_alias = str(deploy.get("alias", "champion"))
    candidate_alias, percent = _parse_canary(canary) if canary else (None, 0)
    if blue_green:
        candidate_alias = str(deploy.get("preview_alias", "challenger"))
    name_slug = slug(model)
    if not name_slug:
        raise InvalidInput(
            f"model name {model!r} gives no Kubernetes name; rename it with letters or digits."
        )

    client = store.client(start)
    aliases = _aliases(client, model)
    if stable_alias not in aliases:
        raise NotFound(
            f"model {model!r} has no alias {stable_alias!r} to deploy; promote a version first "
            f"(nbops promote {model} VERSION --to {stable_alias} --reason ...)."
        )
    if candidate_alias is not None and candidate_alias not in aliases and strict:
        raise NotFound(
            f"model {model!r} has no alias {candidate_alias!r}; nbops registry list {model} shows its aliases."
        )
    stable = _release(client, model, stable_alias, aliases[stable_alias], image)
    candidate = None
    if candidate_alias in aliases and aliases[candidate_alias] != stable.version:
        candidate = _release(client, model, candidate_alias, aliases[candidate_alias], image)
    if target != "kserve":
        for release in [stable, *([candidate] if candidate else [])]:
            if release.image is None:
                raise InvalidInput(
                    f"{model} version {release.version} ({release.alias}) has no image; build it first "
                    f"(nbops deploy image {model}/{release.version}) or pass --image IMAGE."
                )
    mode = CANARY if candidate_alias and not blue_green else BLUE_GREEN if blue_green else PLAIN
    return Plan(
        model=model,
        slug=name_slug,
        target=target,
        namespace=namespace,
        stable=stable,
        candidate=candidate,
        mode=mode,
        percent=percent,
        steps=_steps(canary_table, percent, settings.pyproject),
        pause=pause,
        replicas=replicas,
        pin=pinned,
    )


# --- rendering and writing ----------------------------------------------------------------------


def command_line(model: str, options: dict[str, Any]) -> str:
    """The command that regenerates the folder (the header of every file says it)."""
    words = ["nbops", "deploy", "manifests", model, "--target", options["target"]]
    if options.get("canary"):
        words += ["--canary", options["canary"]]
    if options.get("blue_green"):
        words.append("--blue-green")
    if options.get("namespace"):
        words += ["--namespace", options["namespace"]]
    if options.get("image"):
        words += ["--image", options["image"]]
    if options.get("pin"):
        words.append("--pin")
    return " ".join(shlex.quote(word) for word in words)


def render(the_plan: Plan, options: dict[str, Any]) -> dict[str, str]:
    """File name → YAML text, each validated against its schema before it is returned."""
    import yaml

    docs = BUILDERS[the_plan.target](the_plan)
    validation.validate_documents(docs)
    header = (
        f"# Generated by nbops {__version__} from the registry's aliases; do not edit by hand.\n"
        f"# Regenerate with: {command_line(the_plan.model, options)}\n"
    )
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when present: ten times faster
    return {name: header + yaml.dump(doc, Dumper=dumper, sort_keys=False, width=120) for name, doc in docs}


def generate(
    model: str,
    *,
    target: str | None = None,
    canary: str | None = None,
    blue_green: bool = False,
    namespace: str | None = None,
    out: Path | str | None = None,
    image: str | None = None,
    pin: bool | None = None,
    strict: bool = True,
    start: _Start = None,
) -> Generated:
    """Write ``model``'s manifests into ``OUT/<model>/`` (validated, atomically, never over hand edits)."""
    the_plan = plan(
        model,
        target=target,
        canary=canary,
        blue_green=blue_green,
        namespace=namespace,
        image=image,
        pin=pin,
        strict=strict,
        start=start,
    )
    options = {
        "target": the_plan.target,
        "canary": canary,
        "blue_green": blue_green,
        "namespace": namespace,
        "image": image,
        "pin": the_plan.pin,
    }
    files = render(the_plan, options)
    root = Path(out) if out is not None else default_folder(config.resolve(start))
    folder = root / the_plan.slug
    aliases = {r.alias: r.version for r in the_plan.releases()}
    meta = {"model": model, "nbops_version": __version__, "options": options, "aliases": aliases}
    previous = output.read_index(folder)
    unchanged = previous is not None and previous.get("files") == {
        name: output.digest(text) for name, text in sorted(files.items())
    }
    if not unchanged or output.hand_edits(folder) is not None:
        output.write_folder(folder, files, meta)
    client = store.client(start)
    where = f"{the_plan.target} {folder.resolve()}"
    for release in the_plan.releases():
        if release.tags.get(MANIFESTS_TAG) != where:
            client.set_model_version_tag(model, release.version, MANIFESTS_TAG, where)
    notes = []
    if the_plan.target == "kserve" and not the_plan.stable.image:
        notes.append(
            f"storageUri {the_plan.stable.storage_uri} must be readable from the cluster (s3://, gs://, pvc://)."
        )
    if the_plan.pin:
        for release in the_plan.releases():
            if release.image and "@sha256:" not in release.image:
                notes.append(
                    f"version {release.version}'s image {release.image} has no recorded digest, so it is named "
                    f"by tag, which can move; push it with "
                    f"nbops deploy image {shlex.quote(f'{model}/{release.version}')} --push."
                )
    return Generated(
        model,
        the_plan.target,
        folder,
        sorted(files),
        aliases,
        changed=not unchanged,
        notes=notes,
        pinned=the_plan.pin,
    )


def regenerate_after_alias_change(model: str, start: _Start = None) -> Generated | None:
    """After a promotion or rollback: regenerate ``model``'s folder under ``manifests_dir``, if there is one.

    Uses the options the folder was generated with. Never raises:
    the alias has already moved, so a folder that cannot follow (hand edits, no image yet) is a
    warning in the log, and ``nbops deploy manifests`` says why when run by hand.
    """
    try:
        if model.startswith("prompts:/"):
            return None
        settings = config.resolve(start)
        if not _table(settings, "deploy").get("manifests_dir"):
            return None
        root = default_folder(settings)
        index = output.read_index(root / slug(model)) or {}
        if index.get("model") != model:
            return None  # never generated here: a promotion does not start deploying a model
        options = index.get("options", {})
        return generate(
            model,
            target=options.get("target"),
            canary=options.get("canary"),
            blue_green=bool(options.get("blue_green")),
            namespace=options.get("namespace"),
            image=options.get("image"),
            pin=options.get("pin"),
            out=root,
            strict=False,
            start=start,
        )
    except Exception as exc:  # the promotion already happened; this must not undo it
        log.warning("nbops: the manifests of %s were not regenerated: %s", model, exc)
        return None
