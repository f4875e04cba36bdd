"""Reproduce a model version: run its training notebook again as it was recorded, and compare.

From the version's source run: the recorded commit is checked out into a temporary git worktree
(with the tree's recorded uncommitted diff applied), the notebook runs headless through the one
notebook ``runner`` with the parameters the run logged, in a fresh kernel, against the scratch
experiment ``nbops-reproduce`` of the same store; then every metric of the original run is compared
with the new run's within a relative tolerance. Datasets (full-content fingerprints) and the
installed packages (against the version's pinned requirements) name the likely cause of a
difference. The verdict is recorded as the gate ``reproducible`` (``records``).

The kernel is told it reproduces (``lineage.ENV_REPRODUCING``), so a notebook that registers its
model on every run logs it to the scratch run but creates no version and moves no alias.

The parts: ``worktree`` (git), ``comparing`` (judging), ``result`` (the verdict's forms) and
``records`` (the store). What cannot be rebuilt faithfully is refused before a kernel starts.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import config, lineage, registry, runner, store
from ..errors import InvalidInput
from ..filters import literal
from . import comparing, worktree
from .comparing import COULD_NOT_RUN, DIFFERS, REPRODUCED, MetricRow
from .records import GATE, latest, record
from .result import Reproduction
from .worktree import Refused

_Start = config.Start

#: The experiment reproduction runs go to (unless the notebook picks its own).
EXPERIMENT = "nbops-reproduce"
#: Tags on a reproduction run: what it reproduces.
TAG_OF = "nbops.reproduce.of"
TAG_SOURCE_RUN = "nbops.reproduce.source_run"
DEFAULT_TIMEOUT = 1800.0

__all__ = [
    "COULD_NOT_RUN",
    "DIFFERS",
    "EXPERIMENT",
    "GATE",
    "REPRODUCED",
    "MetricRow",
    "Refused",
    "Reproduction",
    "latest",
    "reproduce",
]

_TARGET = re.compile(r"(?:models:/)?(?P<name>[^/@]+)(?P<rest>/\d+|@[^/@]+)")


def _resolve(target: str, start: _Start) -> tuple[str, str]:
    found = _TARGET.fullmatch(target.strip()) if isinstance(target, str) else None
    if found is None:
        raise InvalidInput(f"name a version as MODEL/VERSION or MODEL@ALIAS (e.g. churn/3), not {target!r}.")
    return registry.resolve_model(f"models:/{found['name']}{found['rest']}", start)


def _report_dir(report: str | Path | None, root: Path, name: str, version: str) -> Path:
    if report is not None:
        folder = Path(report).expanduser().resolve()
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    label = re.sub(r"[^\w.-]", "_", name)
    base = root / "reproduce-reports" / f"{label}-v{version}-{stamp}"
    for n in range(1000):
        folder = base if n == 0 else base.with_name(f"{base.name}-{n}")
        with contextlib.suppress(FileExistsError):
            folder.mkdir(parents=True)
            return folder
    raise InvalidInput(f"too many reports at {base}; pass --report DIR.")  # pragma: no cover


def _artifact(client: Any, run_id: str, path: str) -> bytes | None:
    """A small artifact of the run, or None when it has none by that name."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        try:
            return Path(client.download_artifacts(run_id, path, folder)).read_bytes()
        except Exception:  # not recorded
            return None


def _recorded_diff(client: Any, run_id: str, tags: dict[str, str], what: str) -> tuple[bytes, bool]:
    """The uncommitted changes a dirty run was made from, and whether they cover the whole tree.

    Runs record every tracked file's diff; runs recorded before that kept the notebook's alone,
    which is applied as it was. Refused when the changes were too large to record, or not recorded.
    """
    import base64

    recorded = tags.get(lineage.TAG_GIT_DIFF, "")
    if recorded.startswith(lineage.DIFF_TOO_LARGE):
        detail = recorded.removeprefix(lineage.DIFF_TOO_LARGE).lstrip(": ")
        raise Refused(
            f"{what} was trained with uncommitted changes too large to record ({detail}); "
            "commit them and train again."
        )
    if recorded:
        whole = _artifact(client, run_id, lineage.DIFF_ARTIFACT)
        if whole is None:
            encoded = _artifact(client, run_id, lineage.DIFF_ARTIFACT_BASE64)
            whole = base64.b64decode(encoded) if encoded is not None else None
        if whole:
            return whole, True
    notebook_only = _artifact(client, run_id, lineage.NOTEBOOK_DIFF_ARTIFACT)
    if notebook_only and not recorded:
        return notebook_only, False
    raise Refused(
        f"{what} was trained with uncommitted changes that were not recorded; commit them and train again."
    )


def _untracked(client: Any, run_id: str, tags: dict[str, str]) -> list[str]:
    """Untracked files the training tree had: not in the worktree, so a likely cause of a difference."""
    if not tags.get(lineage.TAG_GIT_UNTRACKED):
        return []
    listed = _artifact(client, run_id, lineage.UNTRACKED_ARTIFACT) or b""
    return [name for name in listed.decode(errors="replace").splitlines() if name]


def _names(names: list[str], shown: int = 5) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def _pinned(mv: Any) -> list[str]:
    """The version's pinned requirements: its tag, else requirements.txt in the model artifact."""
    tagged = [r for r in mv.tags.get(registry.REQUIREMENTS_TAG, "").split(",") if r]
    if tagged:
        return tagged
    with contextlib.suppress(Exception):
        import mlflow.artifacts

        text = Path(mlflow.artifacts.download_artifacts(f"{mv.source}/requirements.txt")).read_text()
        return [line.strip() for line in text.splitlines() if "==" in line and not line.startswith("#")]
    return []


def _new_runs(client: Any, notebook: Path) -> list[Any]:
    """The runs the reproduced notebook logged: their notebook path is the worktree's, unique to this run."""
    ids = list(store.experiment_ids(client))
    found = []
    for chunk in range(0, len(ids), 100):
        found += client.search_runs(
            ids[chunk : chunk + 100],
            f"tags.`{lineage.TAG_NOTEBOOK}` = {literal(str(notebook))}",
            max_results=100,
        )
    return found


def reproduce(
    target: str,
    *,
    tolerance: float | None = None,
    report: str | Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    progress: Callable[[str], None] | None = None,
    start: _Start = None,
) -> Reproduction:
    """Run ``MODEL/VERSION`` (or ``MODEL@ALIAS``) again from its lineage and compare its metrics.

    ``tolerance`` is the relative tolerance for every metric without its own entry under
    ``[tool.nbops.reproduce.metrics]`` (default: ``tolerance`` under ``[tool.nbops.reproduce]``,
    else 1 %). Raises ``Refused`` (one line, nothing recorded) when the source cannot be rebuilt;
    a notebook that fails is the verdict "could not run", recorded like the others.
    """
    say = progress or (lambda line: None)
    project = config.resolve(start)
    store.prepare(project.tracking_uri)
    client = store.client(project)
    name, version = _resolve(target, project)
    mv = registry.get_version(name, version, project)
    if not mv.run_id:
        raise Refused(
            f"{name} version {version} has no source run to reproduce (it was not logged by nbops)."
        )
    run = client.get_run(mv.run_id)
    tags = {**run.data.tags, **mv.tags}
    commit, recorded = tags.get(lineage.TAG_GIT_COMMIT), tags.get(lineage.TAG_NOTEBOOK)
    if not recorded or not commit:
        missing = "notebook" if not recorded else "git commit"
        raise Refused(
            f"{name} version {version} has no recorded {missing}; only versions trained in a tracked "
            "notebook inside a git repository can be reproduced."
        )
    repo = worktree.repository(Path(recorded).parent, project.project_root)
    if not worktree.has_commit(repo, commit):
        raise Refused(
            f"commit {commit[:12]} that {name} version {version} was trained from is not in the repository "
            f"at {repo}; fetch it (git fetch --all) or restore the branch that held it."
        )
    relative = worktree.notebook_in_commit(repo, commit, recorded)
    diff, whole_tree = b"", True
    if tags.get(lineage.TAG_GIT_DIRTY) == "true":
        diff, whole_tree = _recorded_diff(client, mv.run_id, run.data.tags, f"{name} version {version}")
    base, per_metric = comparing.tolerances(
        project.tool, tolerance, str(project.pyproject or project.project_root)
    )
    untracked = _untracked(client, mv.run_id, run.data.tags)
    source = worktree.Source(repo, commit, relative, diff, whole_tree)
    say(
        f"reproducing {name} version {version}: checking out commit {commit[:12]} into a temporary worktree"
        + (" and applying the recorded diff" if diff else "")
    )
    if untracked:
        say(f"not reproduced: {len(untracked)} untracked file(s) of the training tree ({_names(untracked)})")
    began = time.monotonic()
    with worktree.checked_out(source) as notebook:
        import nbformat

        folder = _report_dir(report, project.project_root, name, version)  # once the source is rebuilt

        declared = comparing.declared_parameters(nbformat.read(notebook, as_version=4))
        parameters = {
            k: comparing.parameter_value(run.data.params[k]) for k in declared if k in run.data.params
        }
        shown = ", ".join(f"{k}={v!r}" for k, v in parameters.items()) or "the notebook's defaults"
        say(f"running {relative} in a fresh kernel with {shown} (experiment {EXPERIMENT})")
        experiment_id = store.ensure_experiment(EXPERIMENT, project)
        executed = folder / f"{Path(relative).stem}.reproduced.ipynb"
        # Kernels log to the scratch experiment unless their notebook picks one, and register nothing.
        environment = {"MLFLOW_EXPERIMENT_ID": experiment_id}
        environment |= lineage.reproduction_environment(f"{name}/{version}")
        execution = runner.Execution(
            notebook,
            executed,
            parameters,
            project.tracking_uri,
            timeout,
            cwd=notebook.parent,
            env=environment,
        )
        outcome = runner.run(execution)
        say("the notebook ran to its end; comparing" if outcome.ok else "the notebook did not run to its end")
        new_runs = _new_runs(client, notebook) if outcome.ok else []
    result = Reproduction(
        name, version, COULD_NOT_RUN, [], [], commit, relative, mv.run_id, parameters,
        applied_diff=bool(diff), report_dir=folder, executed=executed if executed.exists() else None,
        time=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )  # fmt: skip
    result.environment = comparing.environment_changes(_pinned(mv), lineage.installed_versions())
    if not outcome.ok:
        why = outcome.not_started or (
            f"ran past {timeout:g} s" if outcome.timed_out else outcome.last_error()
        )
        result.causes = [f"the notebook failed: {why}"]
        if untracked:
            result.causes.append(f"untracked files were not reproduced: {_names(untracked)}")
    elif not new_runs:
        result.causes = ["the notebook logged no run (does it still use nbops.track or %%track?)"]
    else:
        original = dict(run.data.metrics)
        new = max(new_runs, key=lambda r: len(set(r.data.metrics) & set(original)))
        result.run_id = new.info.run_id
        for key, value in ((TAG_OF, f"{name}/{version}"), (TAG_SOURCE_RUN, mv.run_id)):
            client.set_tag(new.info.run_id, key, value)
        result.metrics = comparing.compare_metrics(original, dict(new.data.metrics), base, per_metric)
        result.datasets = comparing.dataset_changes(
            comparing.datasets(run.data.tags), comparing.datasets(new.data.tags)
        )
        result.verdict = REPRODUCED if all(row.ok for row in result.metrics) else DIFFERS
        if result.verdict == DIFFERS:
            result.causes = [*result.datasets, *(f"package {line}" for line in result.environment)]
            if untracked:
                result.causes.append(f"untracked files were not reproduced: {_names(untracked)}")
            result.causes = result.causes or [
                "no dataset or package changed: the notebook may not be deterministic (fix its random seeds)"
            ]
    say(f"recording the verdict on {name} version {version}: {result.verdict}")
    record(result, time.monotonic() - began, project)
    return result


reproduce.latest = latest  # type: ignore[attr-defined]  # nbops.reproduce.latest(model, version)
