"""Kubernetes manifests from the registry's aliases: every target validates, bad input is refused.

Validation is the real thing nbops can run without a cluster: the KServe and Argo Rollouts CRD
schemas (shipped in ``nbops/deploy/crds``) and the Kubernetes schemas of ``kubernetes-validate``,
both strict. The schemas load once per process (a few seconds); each test then takes milliseconds
beyond its store.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from nbops import store
from nbops.cli import ExitCode, main
from nbops.deploy import validation
from nbops.deploy.output import INDEX

DATA = Path(__file__).parent / "data" / "k8s"
MODEL = "Churn Model"
SLUG = "churn-model"


@pytest.fixture(scope="module", autouse=True)
def _schemas() -> None:
    validation.load_schemas()


def _registered(images: bool = True) -> None:
    """Three versions of MODEL, champion → 1 and challenger → 2, with images recorded as the image step does."""
    client = store.client()
    client.create_registered_model(MODEL)
    for number in (1, 2, 3):
        client.create_model_version(MODEL, source=f"s3://models/churn/{number}")
        if images:
            client.set_model_version_tag(
                MODEL, str(number), "nbops.deploy.image", f"registry.example.com/churn:v{number}"
            )
    if images:
        client.set_model_version_tag(MODEL, "1", "nbops.deploy.image_digest", "sha256:" + "a" * 64)
    client.set_registered_model_alias(MODEL, "champion", "1")
    client.set_registered_model_alias(MODEL, "challenger", "2")


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["deploy", "manifests", *args])
    return result.exit_code, result.output


def _load(folder: Path, name: str) -> dict:
    return yaml.safe_load((folder / name).read_text())


def _strategy_args(strategy: str) -> list[str]:
    return {"plain": [], "canary": ["--canary", "challenger=10"], "blue-green": ["--blue-green"]}[strategy]


def test_every_target_and_strategy_writes_valid_manifests(project: Path) -> None:
    (project / "pyproject.toml").write_text(
        (project / "pyproject.toml").read_text()
        + '\n[tool.nbops.canary]\nsteps = [10, 50, 100]\npause = "2m"\n'
    )
    _registered()
    folders = {}
    for target in ("kserve", "rollouts", "kubernetes"):
        for strategy in ("plain", "canary", "blue-green"):
            out = project / "out" / target / strategy
            code, text = _run(
                MODEL, "--target", target, "--namespace", "ml", "--out", str(out), *_strategy_args(strategy)
            )
            assert code == ExitCode.OK, text
            assert f"{target} manifests for {MODEL}" in text
            folders[target, strategy] = out / SLUG
    code, text = _run("--check", str(project / "out"))
    assert code == ExitCode.OK, text
    assert "23 manifests" in text and "valid" in text

    plain = _load(folders["kserve", "plain"], "inferenceservice.yaml")
    assert plain["metadata"]["namespace"] == "ml"
    container = plain["spec"]["predictor"]["containers"][0]
    assert container["image"] == "registry.example.com/churn:v1@sha256:" + "a" * 64  # pinned by digest
    assert "canaryTrafficPercent" not in plain["spec"]["predictor"]
    canary = _load(folders["kserve", "canary"], "inferenceservice.yaml")["spec"]["predictor"]
    assert canary["canaryTrafficPercent"] == 10 and canary["containers"][0]["image"].endswith("churn:v2")
    preview = _load(folders["kserve", "blue-green"], "inferenceservice.yaml")
    assert preview["spec"]["predictor"]["canaryTrafficPercent"] == 0
    assert preview["metadata"]["annotations"]["serving.kserve.io/enable-tag-routing"] == "true"

    rollout = _load(folders["rollouts", "canary"], "rollout.yaml")["spec"]
    steps = rollout["strategy"]["canary"]["steps"]
    assert steps == [
        {"setWeight": 10},
        {"pause": {"duration": "2m"}},
        {"setWeight": 50},
        {"pause": {"duration": "2m"}},
        {"setWeight": 100},
    ]
    assert rollout["template"]["spec"]["containers"][0]["image"].endswith("churn:v2")
    template = _load(folders["rollouts", "canary"], "analysistemplate.yaml")
    assert (
        rollout["strategy"]["canary"]["analysis"]["templates"][0]["templateName"]
        == template["metadata"]["name"]
    )
    web = template["spec"]["metrics"][0]["provider"]["web"]
    assert "/nbops/canary?model=Churn%20Model" in web["url"] and web["jsonPath"] == "{$.verdict}"
    # Every verdict the serving app answers reads the way it means: the steps go on while the canary
    # runs or has passed, and only a failed canary aborts the rollout.
    from nbops.serving.canary_records import VERDICTS
    from nbops.serving.canary_store import VERDICTS as STORE_VERDICTS

    metric = template["spec"]["metrics"][0]
    # In a cluster the stable pods judge from the store: its verdicts read the same way.
    assert set(STORE_VERDICTS.values()) == {"running", "passed", "failed"}
    for verdict in set(VERDICTS.values()) | set(STORE_VERDICTS.values()):
        succeeds = _condition_holds(metric["successCondition"], verdict)
        fails = _condition_holds(metric["failureCondition"], verdict)
        assert (succeeds, fails) == ((False, True) if verdict == "failed" else (True, False)), verdict
    green = _load(folders["rollouts", "blue-green"], "rollout.yaml")["spec"]["strategy"]["blueGreen"]
    assert green == {
        "activeService": f"{SLUG}-active",
        "previewService": f"{SLUG}-preview",
        "autoPromotionEnabled": False,
    }
    assert (folders["rollouts", "blue-green"] / "service-preview.yaml").exists()

    version = "nbops.io/model-version"
    active = _load(folders["kubernetes", "blue-green"], "service.yaml")["spec"]["selector"]
    preview_service = _load(folders["kubernetes", "blue-green"], "service-preview.yaml")["spec"]["selector"]
    assert (active[version], preview_service[version]) == ("1", "2")
    assert sorted(p.name for p in folders["kubernetes", "canary"].iterdir()) == [
        INDEX,
        "deployment-v1.yaml",
        "deployment-v2.yaml",
        "service.yaml",
    ]
    assert version not in _load(folders["kubernetes", "canary"], "service.yaml")["spec"]["selector"]
    tags = store.client().get_model_version(MODEL, "2").tags
    assert tags["nbops.deploy.manifests"].startswith("kubernetes ")  # the sidebar shows the last target


@pytest.mark.parametrize(
    ("fixture", "field"),
    [
        ("unknown-field.yaml", "spec.predictor.canaryTraficPercent: unknown field"),
        ("wrong-type.yaml", "spec.replicas: 'two' is not of type 'integer'"),
        ("missing-required.yaml", "spec.metrics[0].provider: required field missing"),
        (
            "traffic-out-of-range.yaml",
            "spec.predictor.canaryTrafficPercent: traffic share 150 is outside 0–100 %",
        ),
        ("core-unknown-field.yaml", "spec.template.spec.containers[0].imagePullPolicyy: unknown field"),
        ("core-wrong-type.yaml", "spec.ports[0].port: 'eighty' is not of type 'integer'"),
    ],
)
def test_each_bad_fixture_is_refused_naming_the_field(fixture: str, field: str) -> None:
    code, text = _run("--check", str(DATA / fixture))
    assert code == ExitCode.USAGE
    assert f"field {field}" in text
    assert len(text.strip().splitlines()) == 1


def test_kserve_without_an_image_uses_the_mlflow_runtime_and_storage_uri(project: Path) -> None:
    _registered(images=False)
    code, text = _run(MODEL, "--canary", "challenger=25")
    assert code == ExitCode.OK, text
    folder = project / "deploy" / "manifests" / SLUG  # the default folder, under the project
    predictor = _load(folder, "inferenceservice.yaml")["spec"]["predictor"]
    assert predictor["model"]["modelFormat"] == {"name": "mlflow"}
    assert predictor["model"]["storageUri"] == "s3://models/churn/2"
    assert predictor["canaryTrafficPercent"] == 25
    assert "must be readable from the cluster" in text


def test_targets_that_run_the_image_refuse_a_version_without_one(project: Path) -> None:
    _registered(images=False)
    code, text = _run(MODEL, "--target", "rollouts", "--out", str(project / "out"))
    assert code == ExitCode.USAGE
    assert "build it first (nbops deploy image Churn Model/1) or pass --image IMAGE" in text
    assert not (project / "out").exists()
    code, text = _run(
        MODEL,
        "--target",
        "rollouts",
        "--out",
        str(project / "out"),
        "--image",
        "registry.example.com/generic:1",
    )
    assert code == ExitCode.OK, text
    image = _load(project / "out" / SLUG, "rollout.yaml")["spec"]["template"]["spec"]["containers"][0][
        "image"
    ]
    assert image == "registry.example.com/generic:1"


def test_unknown_model_or_alias_is_one_line_and_writes_nothing(project: Path) -> None:
    _registered()
    out = project / "out"
    code, text = _run("no-such-model", "--out", str(out))
    assert (code, text.strip()) == (
        ExitCode.NOT_FOUND,
        "nbops: error: no registered model named 'no-such-model'; nbops registry list shows the models.",
    )
    code, text = _run(MODEL, "--canary", "staging=10", "--out", str(out))
    assert code == ExitCode.NOT_FOUND and "has no alias 'staging'" in text
    code, text = _run(MODEL, "--canary", "challenger=150", "--out", str(out))
    assert code == ExitCode.USAGE and "the percent must be from 1 to 99" in text
    assert not out.exists()


def test_an_unwritable_output_folder_is_one_line_and_leaves_nothing(project: Path) -> None:
    _registered()
    blocker = project / "not-a-folder"
    blocker.write_text("a file where the output folder's parent should be\n")
    code, text = _run(MODEL, "--out", str(blocker / "manifests"))
    assert code == ExitCode.USAGE
    assert (
        text.startswith(f"nbops: error: cannot write manifests into {blocker}")
        and "choose a writable --out" in text
    )
    assert len(text.strip().splitlines()) == 1
    assert blocker.read_text().startswith("a file")


def test_regenerating_refuses_over_hand_edits_and_keeps_them(project: Path) -> None:
    _registered()
    out = project / "out"
    assert _run(MODEL, "--target", "kubernetes", "--out", str(out))[0] == ExitCode.OK
    code, text = _run(MODEL, "--target", "kubernetes", "--out", str(out))
    assert code == ExitCode.OK and "unchanged" in text  # nothing moved: no file changes
    service = out / SLUG / "service.yaml"
    edited = service.read_text().replace("port: 80", "port: 8081")
    service.write_text(edited)
    code, text = _run(MODEL, "--target", "kubernetes", "--blue-green", "--out", str(out))
    assert code == ExitCode.USAGE
    assert f"{service} was edited by hand" in text
    assert service.read_text() == edited
    assert not (out / SLUG / "deployment-v2.yaml").exists()


def test_promotion_and_rollback_regenerate_the_configured_folder(
    project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from nbops import registry

    (project / "pyproject.toml").write_text(
        (project / "pyproject.toml").read_text()
        + '\n[tool.nbops.deploy]\nmanifests_dir = "gitops/models"\ntarget = "kubernetes"\n'
    )
    _registered()
    registry.promote(MODEL, "1", "champion", "first release")  # in the audit log, so rollback knows it
    folder = project / "gitops" / "models" / SLUG
    assert not folder.exists()  # a promotion regenerates a folder; it does not start deploying a model
    code, text = _run(MODEL, "--blue-green")
    assert code == ExitCode.OK, text

    def selector() -> str:
        return _load(folder, "service.yaml")["spec"]["selector"]["nbops.io/model-version"]

    assert selector() == "1"
    registry.promote(MODEL, "2", "champion", "challenger won the canary")
    assert selector() == "2"  # blue-green: the Service switched to the new version
    assert "--blue-green" in (folder / "service.yaml").read_text()  # regenerated with the same options
    registry.rollback(MODEL, "champion", "latency regression")
    assert selector() == "1"

    (folder / "service.yaml").write_text((folder / "service.yaml").read_text() + "# reviewed\n")
    with caplog.at_level(logging.WARNING, logger="nbops.deploy.manifests"):
        done = registry.promote(MODEL, "3", "champion", "hotfix")
    assert done["to_version"] == "3"  # the promotion stands; the folder keeps the hand edit
    assert selector() == "1"
    assert "service.yaml was edited by hand" in caplog.text


# --- version-pinned mode ----------------------------------------------------------------------------

PINNED = "nbops.io/pinned-version"


def _record_pushed_digest(version: str, hexdigit: str) -> str:
    """Record a registry digest on ``version`` as ``nbops deploy image --push`` does after a push.

    No image is built or pushed here (no registry can run on this machine): the tag value stands in
    for the digest the registry would report.
    """
    digest = "sha256:" + hexdigit * 64
    store.client().set_model_version_tag(MODEL, version, "nbops.deploy.image_digest", digest)
    return digest


def _env(container: dict) -> dict[str, str]:
    return {item["name"]: item["value"] for item in container["env"]}


def _git(folder: Path, *args: str) -> str:
    import subprocess

    done = subprocess.run(
        ["git", "-c", "user.name=ci", "-c", "user.email=ci@example.com", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def test_pinned_manifests_name_version_and_digest_so_git_pins_and_reverts_a_release(project: Path) -> None:
    _registered()
    first = "sha256:" + "a" * 64  # recorded on version 1 by _registered
    second = _record_pushed_digest("2", "b")
    out = project / "gitops"
    code, text = _run(MODEL, "--target", "kubernetes", "--pin", "--out", str(out))
    assert code == ExitCode.OK, text
    assert "(champion→v1, pinned) written" in text
    folder = out / SLUG
    deployment = _load(folder, "deployment-v1.yaml")
    template = deployment["spec"]["template"]
    container = template["spec"]["containers"][0]
    assert container["image"] == f"registry.example.com/churn:v1@{first}"
    assert _env(container)["NBOPS_PIN"] == "true" and _env(container)["NBOPS_MODEL_VERSION"] == "1"
    assert template["metadata"]["annotations"][PINNED] == "1"
    assert template["metadata"]["labels"]["nbops.io/model-version"] == "1"
    assert "--pin" in (folder / "service.yaml").read_text().splitlines()[1]  # the regenerate command

    _git(out, "init", "-q")
    _git(out, "add", ".")
    _git(out, "commit", "-q", "-m", "champion v1")
    store.client().set_registered_model_alias(MODEL, "champion", "2")
    code, text = _run(MODEL, "--target", "kubernetes", "--pin", "--out", str(out))
    assert code == ExitCode.OK and "(champion→v2, pinned) written" in text
    _git(out, "add", "-A")
    _git(out, "commit", "-q", "-m", "champion v2")
    diff = _git(out, "diff", "HEAD~1", "--", f"{SLUG}/service.yaml", f"{SLUG}/deployment-v2.yaml")
    assert f"+        image: registry.example.com/churn:v2@{second}" in diff
    assert "-    nbops.io/model-version: '1'" in diff and "+    nbops.io/model-version: '2'" in diff

    _git(out, "revert", "--no-edit", "HEAD")  # the rollback, as a Git revert
    assert sorted(p.name for p in folder.iterdir()) == [INDEX, "deployment-v1.yaml", "service.yaml"]
    assert _load(folder, "deployment-v1.yaml") == deployment
    code, text = _run("--check", str(out))
    assert code == ExitCode.OK and "2 manifests" in text


def test_pin_from_the_settings_every_target_validates_and_a_tag_without_digest_is_noted(
    project: Path,
) -> None:
    pyproject = project / "pyproject.toml"
    base = pyproject.read_text()
    pyproject.write_text(base + "\n[tool.nbops.deploy]\npin = true\n")
    _registered()
    for target in ("kserve", "rollouts", "kubernetes"):
        code, text = _run(
            MODEL, "--target", target, "--canary", "challenger=20", "--out", str(project / target)
        )
        assert code == ExitCode.OK, text
        assert "pinned" in text
        # version 2 has a tag but no recorded digest: the manifest names it by tag, and says so
        assert "version 2's image registry.example.com/churn:v2 has no recorded digest" in text
        assert "push it with nbops deploy image 'Churn Model/2' --push" in text
    code, text = _run("--check", str(project))
    assert code == ExitCode.OK, text
    isvc = _load(project / "kserve" / SLUG, "inferenceservice.yaml")
    assert isvc["metadata"]["annotations"][PINNED] == "2"  # the candidate KServe rolls out
    assert _env(isvc["spec"]["predictor"]["containers"][0])["NBOPS_PIN"] == "true"
    rollout = _load(project / "rollouts" / SLUG, "rollout.yaml")["spec"]["template"]
    assert rollout["metadata"]["annotations"][PINNED] == "2"

    code, text = _run(MODEL, "--target", "kubernetes", "--no-pin", "--out", str(project / "follow"))
    assert code == ExitCode.OK and "pinned" not in text
    container = _load(project / "follow" / SLUG, "deployment-v1.yaml")["spec"]["template"]["spec"]
    assert _env(container["containers"][0])["NBOPS_PIN"] == "false"  # the manifest decides, not the image

    pyproject.write_text(base + '\n[tool.nbops.deploy]\npin = "yes"\n')
    code, text = _run(MODEL, "--out", str(project / "bad"))
    assert code == ExitCode.USAGE
    assert text.strip().endswith(
        "[tool.nbops.deploy] pin in " + str(pyproject) + " must be true or false, not 'yes'."
    )
    assert not (project / "bad").exists()


def _stand_in_podman(folder: Path) -> Path:
    """A ``podman`` that builds nothing and pushes nowhere: image builds are too slow for this file and
    no registry can run here. It reports a local digest and, on push, a different registry digest, as
    podman does when it compresses layers again."""
    folder.mkdir()
    script = folder / "podman"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {folder / "calls"}\n'
        'case "$1" in\n'
        f'  push) printf sha256:{"c" * 64} > "$3" ;;\n'
        f"  image) echo sha256:{'d' * 64} ;;\n"
        "esac\n"
    )
    script.chmod(0o755)
    return folder


def test_a_pinned_pushed_image_is_named_by_its_registry_digest_and_serves_its_version(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``deploy image --pin --push`` then ``deploy manifests --pin``; then the image's own entrypoint, run
    as a process on 127.0.0.1 with the manifest's environment, keeps serving its version after the alias moved."""
    import os
    import socket
    import subprocess
    import sys
    import time

    import pandas as pd
    import requests
    from sklearn.linear_model import LogisticRegression

    from nbops import audit, registry

    X = pd.DataFrame({"a": [0.0, 1.0, 0.2, 0.9], "b": [1.0, 0.0, 0.9, 0.1]})
    registry.register(LogisticRegression().fit(X, [0, 1, 0, 1]), MODEL, data=X, alias="champion")
    registry.register(LogisticRegression().fit(X, [1, 0, 1, 0]), MODEL, data=X)

    engine = _stand_in_podman(project.parent / "engine")
    monkeypatch.setenv("PATH", f"{engine}{os.pathsep}{os.environ['PATH']}")
    tag = "registry.example.com/churn:v1"
    result = CliRunner().invoke(
        main,
        ["deploy", "image", f"{MODEL}@champion", "--pin", "--push", "--tag", tag, "--context", "ctx"],
    )
    assert result.exit_code == ExitCode.OK, result.output
    assert f"serves {MODEL} version 1 pinned" in result.output and "pushed" in result.output
    pushed = "sha256:" + "c" * 64
    tags = store.client().get_model_version(MODEL, "1").tags
    assert (tags["nbops.deploy.image"], tags["nbops.deploy.image_digest"]) == (tag, pushed)
    assert "push --digestfile" in (engine / "calls").read_text()
    dockerfile = (project / "ctx" / "Dockerfile").read_text()
    assert 'NBOPS_PIN="true"' in dockerfile and 'io.nbops.model.pinned="true"' in dockerfile
    assert f'"nbops serve {MODEL}/1 (version 1)"' in dockerfile
    details = audit.events(MODEL, "image")[-1].details
    assert (details["digest"], details["pinned"], details["pushed"]) == (
        pushed,
        "True",
        "True",
    )  # stored as text

    code, text = _run(MODEL, "--target", "kubernetes", "--pin", "--out", str(project / "gitops"))
    assert code == ExitCode.OK, text
    container = _load(project / "gitops" / SLUG, "deployment-v1.yaml")["spec"]["template"]["spec"][
        "containers"
    ][0]
    assert container["image"] == f"{tag}@{pushed}"
    manifest_env = _env(container)

    store.client().set_registered_model_alias(MODEL, "champion", "2")  # the alias moved on
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, **manifest_env, "HOST": "127.0.0.1", "PORT": str(port)}
    server = subprocess.Popen(
        [sys.executable, "-m", "nbops.deploy.entrypoint"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        answer = None
        end = time.monotonic() + 240  # a deadline for start-up, not a timing target
        while answer is None and server.poll() is None and time.monotonic() < end:
            try:
                answer = requests.post(
                    f"http://127.0.0.1:{port}/invocations",
                    json={"dataframe_split": X.head(1).to_dict(orient="split")},
                    timeout=5,
                )
            except requests.ConnectionError:
                time.sleep(0.1)
        assert answer is not None, server.stdout.read() if server.poll() is not None else "no answer"
        assert answer.status_code == 200, answer.text
        assert answer.headers["X-Nbops-Model-Version"] == "1"  # pinned: not the alias's version 2
        assert answer.json()["predictions"] == [0]
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=60)
        server.stdout.close()


def _condition_holds(condition: str, result: str) -> bool:
    """Argo's condition on a string result, for the ``result == "x" || ...`` form nbops writes."""
    clauses = [clause.strip() for clause in condition.split("||")]
    assert all(re.fullmatch(r'result == "[a-z_]+"', clause) for clause in clauses), condition
    return any(clause == f'result == "{result}"' for clause in clauses)
