"""``nbops deploy image``: build the OCI image of a registered version with podman or Docker.

The steps: resolve ``MODEL@ALIAS`` or ``MODEL/VERSION`` to a version, write its build context
(``context.py``), build it (offline: ``--network none --pull=never``, the wheels already in the
context), optionally push it, then record the image on the model version (tags ``nbops.deploy.image``,
``nbops.deploy.image_id`` and, once pushed, ``nbops.deploy.image_digest``) and in the audit log
(action ``image``).
Podman builds in Docker's image format, because the OCI format has no HEALTHCHECK.

A pushed image's digest is the one the registry reports (an engine may compress layers again on
push, so the local digest would name nothing a cluster can pull); a pinned manifest names the image
by it. An image that was only built has no such digest: its engine's image ID (which Docker prints
as ``sha256:…`` too) is recorded as an ID, never as a digest, so no manifest names it
``image@sha256:<id>``, a reference no registry can serve. With ``pin`` the image serves ``MODEL/VERSION`` instead of following its alias.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError, InvalidInput, NbopsError
from .context import BuildContext, VersionFacts, write_context
from .engine import Engine, find_engine

TAG_IMAGE = "nbops.deploy.image"
TAG_DIGEST = "nbops.deploy.image_digest"
TAG_IMAGE_ID = "nbops.deploy.image_id"
AUDIT_ACTION = "image"
_TARGET = re.compile(r"(?:models:/)?(?P<name>[^/@]+)(?:/(?P<version>\d+)|@(?P<alias>[^/@]+))")
_DEFAULT_ALIAS = "champion"


class BuildFailed(NbopsError):
    """The container engine could not build the image."""


class PushFailed(NbopsError):
    """The container engine could not push the image (not logged in, no such registry, refused)."""


@dataclass
class BuiltImage:
    """A built image: its tag, ID and registry digest, the version it serves, and how long the build took.

    ``digest`` is the registry's (``""`` until the image is pushed); ``image_id`` the engine's local ID.
    """

    tag: str
    digest: str
    model: str
    version: str
    alias: str
    base_image: str
    engine: str
    context: str | None
    build_seconds: float
    image_id: str = ""
    pinned: bool = False
    pushed: bool = False
    output: str = field(repr=False, default="")

    def to_dict(self) -> dict[str, object]:
        return {key: value for key, value in self.__dict__.items() if key != "output"}


def resolve(target: str, start: Path | str | None = None) -> VersionFacts:
    """The version ``MODEL@ALIAS`` or ``MODEL/VERSION`` names, with its run and commit."""
    from .. import lineage, registry, store

    found = _TARGET.fullmatch(str(target).strip())
    if found is None:
        raise InvalidInput(
            f"deploy image takes MODEL@ALIAS or MODEL/VERSION, e.g. churn@champion; got {target!r}."
        )
    name = found["name"]
    uri = f"models:/{name}@{found['alias']}" if found["alias"] else f"models:/{name}/{found['version']}"
    name, version = registry.resolve_model(uri, start)
    alias = found["alias"] or next(iter(registry.aliases_of(name, version, start)), _DEFAULT_ALIAS)
    mv = registry.get_version(name, version, start)
    commit = (mv.tags or {}).get(lineage.TAG_GIT_COMMIT, "")
    if not commit and mv.run_id:
        try:
            commit = store.client(start).get_run(mv.run_id).data.tags.get(lineage.TAG_GIT_COMMIT, "")
        except Exception:  # the run may be gone; the label is then empty
            commit = ""
    return VersionFacts(name=name, version=version, alias=alias, run_id=mv.run_id or "", git_commit=commit)


def default_tag(facts: VersionFacts) -> str:
    """``localhost/nbops-NAME:vVERSION``: a valid image reference for any registered model name."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", facts.name.lower()).strip("-._") or "model"
    return f"localhost/nbops-{slug}:v{facts.version}"


def _base_python(engine: Engine) -> object:
    """``probe(image) -> "3.11"``: the Python of a local base image, so offline wheels match it."""

    def probe(image: str) -> str | None:
        if subprocess.run([engine.path, "image", "inspect", image], capture_output=True).returncode != 0:
            raise InvalidInput(
                f"the base image {image} is not on this machine; an offline build cannot pull it: "
                f"{engine.name} pull it (or load it) first, or pass --base-image."
            )
        done = subprocess.run(
            [engine.path, "run", "--rm", "--network", "none", "--entrypoint", "python3", image, "-c",
             "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True, text=True,
        )  # fmt: skip
        if done.returncode != 0 or not re.fullmatch(r"\d+\.\d+", done.stdout.strip()):
            raise InvalidInput(
                f"the base image {image} has no python3 to install the model's requirements into."
            )
        return done.stdout.strip()

    return probe


def build(
    target: str,
    *,
    tag: str | None = None,
    base_image: str | None = None,
    engine: str | None = None,
    offline: bool = False,
    context_dir: Path | str | None = None,
    pin: bool | None = None,
    push: bool = False,
    start: Path | str | None = None,
) -> BuiltImage:
    """Write the context of ``target``'s version, build its image, and record tag and digest.

    Everything that can be refused (engine, version, artifacts, folder) is checked before the build;
    without ``context_dir`` the context lives in a temporary folder that is removed afterwards.
    ``pin`` (default ``[tool.nbops.deploy] pin``) bakes in ``MODEL/VERSION`` rather than the alias;
    ``push`` pushes the tag and records the registry's digest; without it no digest is recorded (the
    local image ID is not one a cluster can pull by).
    """
    from .. import config
    from .plan import resolve_pin

    settings = config.resolve(start)
    table = settings.tool.get("deploy", {})
    if not isinstance(table, dict):
        raise ConfigError(f"[tool.nbops.deploy] in {settings.pyproject} must be a table.")
    pinned = resolve_pin(pin, table, settings.pyproject)
    found_engine = find_engine(engine)
    facts = resolve(target, start)
    facts.pinned = pinned
    tag = tag or default_tag(facts)
    if push and tag.startswith("localhost/"):
        raise InvalidInput(
            f"--push needs a registry in --tag (e.g. registry.example.com/churn:v3), not {tag}."
        )
    probe = _base_python(found_engine) if offline else None
    context = write_context(
        facts,
        dest=Path(context_dir) if context_dir is not None else None,
        base_image=base_image,
        offline=offline,
        base_python=probe,
        start=start,
    )
    try:
        seconds, output = _run_build(found_engine, context, tag)
        image_id = _image_id(found_engine, tag)
        digest = _push(found_engine, tag) if push else ""
    finally:
        if context_dir is None:
            shutil.rmtree(context.path, ignore_errors=True)
    built = BuiltImage(
        tag=tag,
        digest=digest,
        model=facts.name,
        version=facts.version,
        alias=facts.alias,
        base_image=context.base_image,
        engine=found_engine.name,
        context=str(context.path) if context_dir is not None else None,
        build_seconds=seconds,
        image_id=image_id,
        pinned=pinned,
        pushed=push,
        output=output,
    )
    _record(built, offline, start)
    return built


def _run_build(engine: Engine, context: BuildContext, tag: str) -> tuple[float, str]:
    command = [engine.path, "build", "-t", tag]
    if engine.is_podman:
        command += ["--format", "docker", "--layers"]
    if context.offline:
        command += ["--network", "none", "--pull=never" if engine.is_podman else "--pull=false"]
    command.append(str(context.path))
    env = {**os.environ, "DOCKER_BUILDKIT": "1"}
    began = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - began
    output = done.stdout + done.stderr
    if done.returncode != 0:
        lines = [line for line in output.strip().splitlines() if line.strip()]
        last = lines[-1] if lines else f"exit status {done.returncode}"
        raise BuildFailed(f"{engine.name} build of {tag} failed: {last.strip()[:300]}")
    return seconds, output


def _image_id(engine: Engine, tag: str) -> str:
    """The engine's ID of the built image: it names the image on this machine only."""
    done = subprocess.run(
        [engine.path, "image", "inspect", "--format", "{{.Id}}", tag], capture_output=True, text=True
    )
    found = done.stdout.strip()
    return found if done.returncode == 0 and found != "<no value>" else ""


def _push(engine: Engine, tag: str) -> str:
    """Push ``tag`` and return the digest the registry now holds it under (``sha256:…``).

    ``""`` when the engine reports none: the image is then named by its tag, never by a local ID.
    """
    import tempfile

    with tempfile.TemporaryDirectory(prefix="nbops-push-") as folder:
        digest_file = Path(folder) / "digest"
        command = [engine.path, "push", tag]
        if engine.is_podman:
            command[2:2] = ["--digestfile", str(digest_file)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            lines = [line for line in (done.stdout + done.stderr).strip().splitlines() if line.strip()]
            last = lines[-1].strip()[:300] if lines else f"exit status {done.returncode}"
            registry = tag.split("/", 1)[0]
            raise PushFailed(
                f"{engine.name} push of {tag} failed: {last}; log in first ({engine.name} login {registry})."
            )
        if engine.is_podman and digest_file.is_file():
            return digest_file.read_text().strip()
    repository = tag.rsplit(":", 1)[0] if ":" in tag.rsplit("/", 1)[-1] else tag
    found = re.findall(r"digest: (sha256:[0-9a-f]{64})", done.stdout + done.stderr)  # docker's last line
    if found:
        return found[-1]
    inspected = subprocess.run(
        [engine.path, "image", "inspect", "--format", "{{range .RepoDigests}}{{println .}}{{end}}", tag],
        capture_output=True, text=True,
    )  # fmt: skip
    for line in inspected.stdout.split():
        if line.startswith(f"{repository}@sha256:"):
            return line.split("@", 1)[1]
    return ""


def _record(built: BuiltImage, offline: bool, start: Path | str | None) -> None:
    """The tag, ID and digest on the model version, and one ``image`` event in the audit log.

    A build that was not pushed removes a digest recorded by an earlier push: that digest names
    another build than the one the tag now points at.
    """
    from .. import audit, store

    client = store.client(start)
    client.set_model_version_tag(built.model, built.version, TAG_IMAGE, built.tag)
    client.set_model_version_tag(built.model, built.version, TAG_IMAGE_ID, built.image_id)
    if built.digest:
        client.set_model_version_tag(built.model, built.version, TAG_DIGEST, built.digest)
    elif TAG_DIGEST in (client.get_model_version(built.model, built.version).tags or {}):
        client.delete_model_version_tag(built.model, built.version, TAG_DIGEST)
    audit.append(
        AUDIT_ACTION,
        model=built.model,
        version=built.version,
        alias=built.alias,
        source="deploy",
        details={
            "image": built.tag,
            "digest": built.digest,
            "image_id": built.image_id,
            "base_image": built.base_image,
            "engine": built.engine,
            "offline": offline,
            "pinned": built.pinned,
            "pushed": built.pushed,
        },
        start=start,
    )
