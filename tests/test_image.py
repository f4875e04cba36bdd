"""``nbops deploy image``: real offline podman builds of registered versions, run on 127.0.0.1.

The module builds two images (as few as the contract allows): version 1 through the CLI, cold or
from podman's layer cache, then version 2 of the same model, whose build must reuse the dependency
layers. Version 1's image runs for the serving, user, label and SIGTERM tests. Podman reads the
config ``tests/images.py`` writes (runc, cgroupfs, host network) and builds on the Debian base image
made there once. Containers and tags are removed by name afterwards; the layers stay as podman's
build cache, so only the first run on a machine pays for a cold build.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import images
import mlflow
import pytest
import requests
from click.testing import CliRunner
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from nbops import audit, registry, store
from nbops.cli import ExitCode, main
from nbops.deploy.engine import NoContainerEngine, find_engine
from nbops.deploy.image import TAG_DIGEST, TAG_IMAGE, TAG_IMAGE_ID, build

# The container reaches the store by MLFLOW_TRACKING_URI like any client; a team server would add
# only more minutes of image builds to a module that already builds two images.
pytestmark = pytest.mark.sqlite_only(reason="the image talks to the store by URI; builds are minutes each")

PREFIX = f"nbops-test-{os.getpid()}"
TAG1 = f"localhost/{PREFIX}-iris:v1"
TAG2 = f"localhost/{PREFIX}-iris:v2"
CONTAINER = f"{PREFIX}-serve"
STARTUP = 240.0  # seconds: a loaded 2-core machine takes 20-30 s to import MLflow and load the model


PYPROJECT = """[project]
name = "image"

[tool.nbops.canary]
# a stricter canary than the default
min_requests = 7

[tool.other]
key = "not copied"
"""


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], capture_output=True, text=True, check=check)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def deploy_image(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["deploy", "image", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory, new_store) -> Iterator[dict]:
    """A project on its own SQLite store with ``iris`` v1 as champion, and podman set up."""
    root = tmp_path_factory.mktemp("image") / "project"
    root.mkdir()
    uri = new_store(root / ".nbops")
    (root / "pyproject.toml").write_text(PYPROJECT)
    X, y = load_iris(return_X_y=True, as_frame=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CONTAINERS_CONF", str(images.containers_conf()))
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        patch.chdir(root)
        images.ensure_base_image()
        registry.register(LogisticRegression(max_iter=500).fit(X, y), "iris", data=X, alias="champion")
        # The server in the container runs as an unprivileged user and writes the inference log.
        subprocess.run(["chmod", "-R", "a+rwX", str(root)], check=True)
        try:
            yield {"root": root, "uri": uri, "X": X, "y": y}
        finally:
            podman("rm", "-f", "-t", "0", CONTAINER, check=False)
            # Only the tags go: their layers stay as podman's build cache, so the next run of the
            # suite builds in seconds (an image still in use by someone else is never touched).
            for tag in (TAG1, TAG2):
                podman("untag", tag, tag, check=False)
            from backends import forget_process_state

            forget_process_state()


@pytest.fixture(scope="module")
def built(shop: dict) -> dict:
    """Version 1's image, built offline through the CLI, with its context kept."""
    context = shop["root"].parent / "context-v1"
    code, out, err = deploy_image(
        "iris@champion", "--tag", TAG1, "--base-image", images.BASE_IMAGE, "--engine", "podman",
        "--offline", "--context", str(context), "--json",
    )  # fmt: skip
    assert code == ExitCode.OK, err
    result = json.loads(out)
    print(f"\nbuild of version 1: {result['build_seconds']:.1f} s")
    return {**result, "context": context}


@pytest.fixture(scope="module")
def container(shop: dict, built: dict) -> Iterator[dict]:
    """Version 1's image running on a free loopback port, logging to the project's store."""
    port = free_port()
    root = str(shop["root"])
    podman(
        "run", "-d", "--init", "--name", CONTAINER, "--net", "host", "-e", "HOST=127.0.0.1",
        "-e", f"PORT={port}", "-e", f"MLFLOW_TRACKING_URI={shop['uri']}", "-v", f"{root}:{root}", TAG1,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    end = time.monotonic() + STARTUP
    while True:
        try:
            if requests.get(f"{url}/ping", timeout=2).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        state = podman("inspect", "--format", "{{.State.Status}}", CONTAINER).stdout.strip()
        if state != "running" or time.monotonic() > end:
            logs = podman("logs", CONTAINER, check=False)
            pytest.fail(f"the container did not answer /ping ({state}):\n{logs.stdout}{logs.stderr}")
        time.sleep(0.5)
    try:
        yield {"url": url}
    finally:
        podman("rm", "-f", "-t", "0", CONTAINER, check=False)


def test_the_offline_image_answers_like_pyfunc(shop: dict, container: dict) -> None:
    url, X = container["url"], shop["X"]
    ping = requests.get(f"{url}/ping", timeout=10)
    assert ping.status_code == 200 and ping.headers["X-Nbops-Model-Version"] == "1"
    rows = X.sample(20, random_state=0)
    body = {"dataframe_split": rows.to_dict(orient="split")}
    answer = requests.post(f"{url}/invocations", json=body, timeout=60)
    assert answer.status_code == 200, answer.text
    expected = mlflow.pyfunc.load_model("models:/iris/1").predict(rows)
    assert answer.json()["predictions"] == list(expected)


def test_it_runs_as_a_non_root_user_with_a_passing_healthcheck(container: dict) -> None:
    uid = podman("exec", CONTAINER, "id", "-u").stdout.strip()
    assert uid.isdigit() and int(uid) != 0
    assert podman("healthcheck", "run", CONTAINER, check=False).returncode == 0


def test_labels_version_tags_audit_and_pinned_requirements_name_the_version(
    shop: dict, built: dict, container: dict
) -> None:
    (inspected,) = json.loads(podman("image", "inspect", TAG1).stdout)
    labels = inspected["Config"]["Labels"]
    mv = registry.get_version("iris", "1")
    assert labels["io.nbops.model"] == labels["org.opencontainers.image.title"] == "iris"
    assert labels["io.nbops.model.version"] == labels["org.opencontainers.image.version"] == "1"
    assert labels["io.nbops.run_id"] == mv.run_id
    assert labels["io.nbops.version"] == __import__("nbops").__version__
    assert "io.nbops.git_commit" in labels and "org.opencontainers.image.revision" in labels
    assert inspected["Healthcheck"]["Test"][-1].endswith("/ping', timeout=4)")
    # Not pushed: podman's image ID is recorded as an ID, and there is no registry digest to pin by.
    image_id = podman("image", "inspect", "--format", "{{.Id}}", TAG1).stdout.strip()
    assert (mv.tags[TAG_IMAGE], mv.tags[TAG_IMAGE_ID], built["digest"]) == (TAG1, image_id, "")
    assert TAG_DIGEST not in mv.tags
    (event,) = audit.events("iris", "image")
    assert (event.version, event.details["image"], event.details["image_id"]) == ("1", TAG1, image_id)
    locked = podman("exec", CONTAINER, "cat", "/opt/nbops/requirements.lock").stdout.splitlines()
    assert f"mlflow=={mlflow.__version__}" in locked and all("==" in line for line in locked)
    assert "nbops==" not in " ".join(locked)  # nbops comes from its own layer, not the pinned set


def test_the_server_in_the_image_reads_the_projects_nbops_settings(container: dict) -> None:
    """A pod judging a canary applies the project's limits, not the defaults."""
    read = "from nbops import config; print(config.resolve().tool)"
    seen = podman("exec", CONTAINER, "/opt/venv/bin/python", "-c", read).stdout.strip()
    assert seen == str({"canary": {"min_requests": 7}})
    copied = podman("exec", CONTAINER, "cat", "/home/nbops/pyproject.toml").stdout
    assert "# a stricter canary than the default" in copied and "tool.other" not in copied


def test_project_settings_copy_the_nbops_tables_or_else_the_whole_file(tmp_path: Path) -> None:
    from nbops.deploy.context import project_settings

    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    copied = project_settings(tmp_path)
    assert "[tool.nbops.canary]\n# a stricter canary than the default\nmin_requests = 7" in copied
    assert "[project]" not in copied and "tool.other" not in copied
    dotted = "[tool]\nnbops.canary.min_requests = 7\n"  # a layout the table copy cannot cut out
    (tmp_path / "pyproject.toml").write_text(dotted)
    assert project_settings(tmp_path).endswith(dotted)
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert "[project]" not in project_settings(tmp_path)  # no nbops settings: an empty file


def test_sigterm_stops_the_server_itself(container: dict) -> None:
    """``podman stop`` sends SIGTERM through ``--init``; the server exits on its own, not by SIGKILL."""
    podman("stop", "-t", "30", CONTAINER)
    code = int(podman("inspect", "--format", "{{.State.ExitCode}}", CONTAINER).stdout.strip())
    assert code in (0, 143)  # 137 would mean SIGTERM was ignored until podman killed it


def test_a_new_version_rebuilds_on_the_cached_dependency_layers(shop: dict, built: dict) -> None:
    X, y = shop["X"], shop["y"]
    registry.register(DecisionTreeClassifier(max_depth=2).fit(X, y), "iris", data=X)  # v2
    rebuilt = build("iris/2", tag=TAG2, base_image=images.BASE_IMAGE, engine="podman", offline=True)
    print(f"\nrebuild after only the model changed (version 2): {rebuilt.build_seconds:.1f} s")
    steps = rebuilt.output.split("STEP ")
    install = next(step for step in steps if "pip install" in step and "requirements.txt" in step)
    assert "Using cache" in install, install
    layers = [
        json.loads(podman("image", "inspect", tag).stdout)[0]["RootFS"]["Layers"] for tag in (TAG1, TAG2)
    ]
    # The layers up to the dependency install are the same; the model layer (the last) differs. The
    # two nbops layers between are shared too unless nbops' own sources changed between the builds.
    assert len(layers[0]) == len(layers[1]) and layers[0][:-3] == layers[1][:-3]
    assert layers[0][-1] != layers[1][-1]
    labels = json.loads(podman("image", "inspect", TAG2).stdout)[0]["Config"]["Labels"]
    assert labels["io.nbops.model.version"] == "2"
    assert registry.get_version("iris", "2").tags[TAG_IMAGE] == TAG2


# --- refusals: one line, an exit code, nothing written -----------------------------------------------


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("building")]
    assert len(lines) == 1, err
    return lines[0]


def test_unknown_model_or_alias_is_refused_with_nothing_written(shop: dict, tmp_path: Path) -> None:
    for target, named in (("nosuch@champion", "nosuch"), ("iris@nosuch", "nosuch"), ("iris/99", "99")):
        context = tmp_path / "context"
        code, _, err = deploy_image(target, "--engine", "podman", "--offline", "--context", str(context))
        assert code == ExitCode.NOT_FOUND and named in _one_line(err)
        assert list(tmp_path.iterdir()) == []


def test_a_version_whose_artifacts_are_missing_is_refused(shop: dict, tmp_path: Path) -> None:
    X, y = shop["X"], shop["y"]
    version = registry.register(LogisticRegression(max_iter=50).fit(X, y), "iris", data=X).version
    folder = store.client().get_model_version_download_uri("iris", version)
    shutil.rmtree(folder.removeprefix("file://"))
    context = tmp_path / "context"
    code, _, err = deploy_image(
        f"iris/{version}", "--engine", "podman", "--offline", "--context", str(context)
    )
    assert code == ExitCode.NOT_FOUND
    assert f"version {version} of 'iris' has no model artifacts" in _one_line(err)
    assert list(tmp_path.iterdir()) == []


def test_no_container_engine_says_how_to_install_one(shop: dict, tmp_path: Path, monkeypatch) -> None:
    # The real lookup, on a PATH where no engine is installed.
    with pytest.raises(NoContainerEngine, match="apt-get install podman"):
        find_engine(path=str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    code, _, err = deploy_image("iris@champion", "--context", str(tmp_path / "context"))
    assert code == ExitCode.USAGE
    line = _one_line(err)
    assert "apt-get install podman" in line and "Docker" in line
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_or_foreign_context_folder_is_refused(shop: dict, tmp_path: Path) -> None:
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "mine.txt").write_text("keep me")
    code, _, err = deploy_image("iris@champion", "--engine", "podman", "--context", str(foreign))
    assert code == ExitCode.USAGE and "holds files nbops did not write" in _one_line(err)
    assert [p.name for p in foreign.iterdir()] == ["mine.txt"]
    if os.geteuid() == 0:  # root may write anywhere permissions apply; sysfs refuses it too
        unwritable = Path("/sys/kernel/nbops-context")
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        unwritable = locked / "context"
    code, _, err = deploy_image("iris@champion", "--engine", "podman", "--context", str(unwritable))
    assert code == ExitCode.USAGE and "is not writable" in _one_line(err)
    assert not unwritable.exists()


def test_an_unpushed_docker_build_is_never_pinned_by_its_image_id(
    shop: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Docker has no digest for an image it only built and prints the image ID as ``sha256:…``; a
    manifest naming ``tag@sha256:<id>`` could not be pulled. No Docker daemon can run here, so a
    stand-in ``docker`` answers ``image inspect`` as Docker does and builds nothing."""
    from nbops.deploy.manifests import plan

    image_id = "sha256:" + "e" * 64
    engine = tmp_path / "engine"
    engine.mkdir()
    (engine / "docker").write_text(
        "#!/bin/sh\n"
        'case "$*" in\n'
        f"  *{{{{.Id}}}}*) echo {image_id} ;;\n"
        '  *{{.Digest}}*) echo "<no value>" ;;\n'
        "esac\n"
    )
    (engine / "docker").chmod(0o755)
    monkeypatch.setenv("PATH", f"{engine}{os.pathsep}{os.environ['PATH']}")
    X, y = shop["X"], shop["y"]
    registry.register(DecisionTreeClassifier(max_depth=2).fit(X, y), "iris-docker", data=X, alias="champion")
    # A digest an earlier push recorded names another build than the one the tag now points at.
    store.client().set_model_version_tag("iris-docker", "1", TAG_DIGEST, "sha256:" + "a" * 64)

    built = build("iris-docker@champion", tag="registry.example.com/iris:v1", engine="docker")

    tags = registry.get_version("iris-docker", "1").tags
    assert (built.digest, built.image_id, tags[TAG_IMAGE_ID]) == ("", image_id, image_id)
    assert TAG_DIGEST not in tags
    pinned = plan("iris-docker", target="kubernetes", pin=True)
    assert pinned.stable.image == "registry.example.com/iris:v1"  # by tag: nothing else can be pulled
