"""``nbops serve`` and ``nbops deploy``: serving a model, building its image, writing its Kubernetes manifests."""

from __future__ import annotations

import json

import click

from .base import _reports_errors, main


@main.group()
def deploy() -> None:
    """Hand a model to the engines that run it at scale: OCI images, Kubernetes manifests."""


@deploy.command("image")
@click.argument("model", metavar="MODEL@ALIAS|MODEL/VERSION")
@click.option("--tag", help="Image name [default: localhost/nbops-MODEL:vVERSION].")
@click.option("--base-image", help="Image to build on [default: python:X.Y-slim, the model's Python].")
@click.option("--engine", type=click.Choice(["podman", "docker"]), help="[default: podman, else docker]")
@click.option(
    "--offline", is_flag=True, help="Fetch every wheel here first; build with no network and no pulls."
)
@click.option(
    "--context",
    "context_dir",
    type=click.Path(file_okay=False),
    help="Keep the build context in this folder [default: a temporary one].",
)
@click.option(
    "--pin/--no-pin",
    default=None,
    help="Serve MODEL/VERSION instead of following the alias [default: [tool.nbops.deploy] pin].",
)
@click.option("--push", is_flag=True, help="Push the tag and record the registry's digest.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@_reports_errors
def deploy_image(
    model: str,
    tag: str | None,
    base_image: str | None,
    engine: str | None,
    offline: bool,
    context_dir: str | None,
    pin: bool | None,
    push: bool,
    as_json: bool,
) -> None:
    """Build an OCI image that serves MODEL's version with nbops serve; records its tag and digest.

    Run it with --init, e.g. podman run --init -p 8080:8080 -e MLFLOW_TRACKING_URI=URI IMAGE
    (HOST, PORT and WORKERS set the address and workers).
    """
    from ..deploy.image import build

    click.echo("building the image…", err=True)
    built = build(
        model,
        tag=tag,
        base_image=base_image,
        engine=engine,
        offline=offline,
        context_dir=context_dir,
        pin=pin,
        push=push,
    )
    if as_json:
        click.echo(json.dumps(built.to_dict(), indent=2))
        return
    serves = "pinned" if built.pinned else f"as {built.alias}"
    pushed = ", pushed" if built.pushed else ""
    click.echo(
        f"{built.tag} ({built.digest or 'image ' + built.image_id}) serves {built.model} version {built.version} "
        f"{serves}; built in {built.build_seconds:.1f}s with {built.engine}{pushed}"
    )


@deploy.command("manifests")
@click.argument("model", required=False)
@click.option("--target", type=click.Choice(["kserve", "rollouts", "kubernetes"]), help="[default: kserve]")
@click.option("--canary", metavar="ALIAS=PERCENT", help="Send PERCENT % of the traffic to ALIAS's version.")
@click.option(
    "--blue-green", is_flag=True, help="Preview the challenger beside the champion; switch on promotion."
)
@click.option("--namespace", metavar="NS", help="Kubernetes namespace of every object.")
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    help="Folder [default: deploy/manifests]; MODEL gets a subfolder.",
)
@click.option("--image", metavar="IMAGE", help="Run this image instead of the one recorded on each version.")
@click.option(
    "--pin/--no-pin",
    default=None,
    help="Pods serve their version, not their alias [default: [tool.nbops.deploy] pin].",
)
@click.option(
    "--check", "check_dir", type=click.Path(), metavar="DIR", help="Only validate the manifests in DIR."
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@_reports_errors
def deploy_manifests(
    model: str | None,
    target: str | None,
    canary: str | None,
    blue_green: bool,
    namespace: str | None,
    out: str | None,
    image: str | None,
    pin: bool | None,
    check_dir: str | None,
    as_json: bool,
) -> None:
    """Write Kubernetes manifests for MODEL from its aliases, validated against the real schemas.

    With --check DIR, validate the manifests in DIR instead (exit 2 names the first bad field).
    """
    if check_dir is not None:
        from ..deploy.validation import check_folder

        if model is not None:
            raise click.UsageError("give MODEL or --check DIR, not both.")
        count = check_folder(check_dir)
        click.echo(json.dumps({"valid": count}) if as_json else f"{count} manifests in {check_dir} are valid")
        return
    if model is None:
        raise click.UsageError("give MODEL (a registered model's name), or --check DIR.")
    from ..deploy.manifests import generate

    done = generate(
        model,
        target=target,
        canary=canary,
        blue_green=blue_green,
        namespace=namespace,
        out=out,
        image=image,
        pin=pin,
    )
    if as_json:
        click.echo(json.dumps(done.to_dict(), indent=2))
        return
    versions = ", ".join(f"{alias}→v{version}" for alias, version in done.aliases.items())
    state = "written" if done.changed else "unchanged"
    pinned = ", pinned" if done.pinned else ""
    click.echo(f"{done.target} manifests for {model} ({versions}{pinned}) {state} in {done.folder}")
    for note in done.notes:
        click.echo(f"note: {note}", err=True)


@main.command()
@click.argument("model", metavar="MODEL@ALIAS")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=5001, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free one."
)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1), help="Worker processes.")
@click.option(
    "--canary", multiple=True, metavar="ALIAS=PERCENT", help="Send PERCENT % of request IDs to ALIAS."
)
@click.option(
    "--shadow", metavar="ALIAS", help="Copy every request to ALIAS; clients get the champion's answer."
)
@_reports_errors
def serve(
    model: str, host: str, port: int, workers: int, canary: tuple[str, ...], shadow: str | None
) -> None:
    """Serve MODEL@ALIAS with MLflow's scoring protocol, following the alias as it moves.

    Every request is logged to monitoring; set NBOPS_SERVE_TOKEN to require a bearer token.
    """
    from ..serving.process import run
    from ..serving.routing import parse_canary

    run(model, host=host, port=port, workers=workers, canary=parse_canary(list(canary)), shadow=shadow)
