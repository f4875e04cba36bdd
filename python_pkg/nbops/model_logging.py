"""Log a fitted model into a given run, by its id, in a fixed number of store calls.

``mlflow.<flavor>.log_model`` logs into the process's active run, so a run that has
already finished (the training cell ran, then the model is registered in the next
cell) would have to be re-opened — RUNNING again, a new end time — to receive it.
Here the run is named by id, as MLflow's client allows for a finished run, and its
status and times are left alone.

It also counts round trips, which on a team's tracking server cost more than the
work: the caller reads the run once and passes it in (``log_model``'s parameters and
metrics come from it instead of one request per metric), and the serving-input check
``log_model`` runs — it loads the model back and predicts, to print a warning — is
left out: the caller has just computed the signature from the model's own predictions.
What is stored is what ``log_model`` stores: the same files, a ``LoggedModel`` with the
run's params, linked to the run as an output, with the run's step-0 metrics.
"""

from __future__ import annotations

import shutil
import tempfile
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The artifact name ``log_model(name="model")`` gives the model.
MODEL_NAME = "model"
#: Model files sent to the store at once.
UPLOADS = 8


@dataclass(frozen=True)
class LoggedModel:
    """What registration needs of a logged model."""

    model_id: str
    model_uri: str
    signature: Any


def own_skops_types(model: Any) -> list[str] | None:
    """The types MLflow's skops format would refuse to load back (tree ensembles, for instance).

    The model object was built in this very process by the person registering it,
    so its own types are trusted; anything loaded later from the store is checked
    against exactly this list, not opened up wholesale.
    """
    try:
        from skops.io import dumps, get_untrusted_types
    except ImportError:  # an MLflow without skops serialises with cloudpickle
        return None
    return get_untrusted_types(data=dumps(model)) or None


def log_model(
    client: Any,
    model: Any,
    flavor: str,
    run: Any,
    *,
    signature: Any,
    input_example: Any,
    pip_requirements: list[str],
    side_by_side: bool = False,
) -> LoggedModel:
    """Save ``model`` (``sklearn`` or ``pyfunc`` flavor) as a LoggedModel output of ``run``.

    ``run`` is the ``mlflow.entities.Run`` as just read from the store; it may be
    FINISHED, and it stays so. The model's files are sent side by side; with
    ``side_by_side`` (a tracking server, where each call waits for a round trip) the
    run's links to the model are written meanwhile too.
    """
    from concurrent.futures import ThreadPoolExecutor

    from mlflow.entities import LoggedModelOutput, LoggedModelStatus
    from mlflow.models import Model
    from mlflow.tracking.context import registry as context_registry

    run_id = run.info.run_id
    logged = client.create_logged_model(
        experiment_id=run.info.experiment_id,
        name=MODEL_NAME,
        source_run_id=run_id,
        tags=context_registry.resolve_tags(None),
        params=dict(run.data.params) or None,
    )

    def link() -> None:
        client.log_outputs(run_id, [LoggedModelOutput(logged.model_id, step=0)])
        _link_metrics(client, run, logged.model_id)

    described = Model(
        artifact_path=logged.artifact_location,
        model_uuid=logged.model_id,
        run_id=run_id,
        model_id=logged.model_id,
    )
    try:
        with ThreadPoolExecutor(max_workers=UPLOADS, thread_name_prefix="nbops-upload") as pool:
            pending = [pool.submit(link)] if side_by_side else []
            if not side_by_side:
                link()
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / MODEL_NAME
                _save(model, flavor, path, described, signature, input_example, pip_requirements)
                for cache in path.rglob("__pycache__"):
                    shutil.rmtree(cache, ignore_errors=True)
                pending += _upload(pool, client, logged.artifact_location, path)
                for future in pending:
                    future.result()
    except BaseException:
        with suppress(Exception):  # the error that stopped the logging is the one to see
            client.finalize_logged_model(logged.model_id, LoggedModelStatus.FAILED)
        raise
    client.finalize_logged_model(logged.model_id, LoggedModelStatus.READY)
    return LoggedModel(logged.model_id, f"models:/{logged.model_id}", described.signature)


def _save(
    model: Any,
    flavor: str,
    path: Path,
    described: Any,
    signature: Any,
    input_example: Any,
    pip_requirements: list[str],
) -> None:
    if flavor == "sklearn":
        import mlflow.sklearn

        mlflow.sklearn.save_model(
            model,
            str(path),
            mlflow_model=described,
            signature=signature,
            input_example=input_example,
            pip_requirements=pip_requirements,
            skops_trusted_types=own_skops_types(model),
        )
    else:
        import mlflow.pyfunc

        mlflow.pyfunc.save_model(
            str(path),
            python_model=model,
            mlflow_model=described,
            signature=signature,
            input_example=input_example,
            pip_requirements=pip_requirements,
        )


def _link_metrics(client: Any, run: Any, model_id: str) -> None:
    """The run's metrics at step 0, logged again for the model, as ``log_model`` does.

    The run as read already holds each metric's latest point; ``log_model`` would ask
    the store for every metric's whole history instead (one request per metric).
    """
    from mlflow.entities import Metric

    points = [
        Metric(m.key, m.value, m.timestamp, m.step, model_id=model_id, run_id=run.info.run_id)
        for m in getattr(run.data, "_metric_objs", [])
        if m.step == 0 and getattr(m, "model_id", None) is None
    ]
    for start in range(0, len(points), 1000):
        client.log_batch(run.info.run_id, metrics=points[start : start + 1000])


def _upload(pool: Any, client: Any, artifact_location: str, folder: Path) -> list[Any]:
    """Send the model's files side by side (a server takes one request per file); their futures.

    ``MlflowClient.log_model_artifacts`` would first ask the store where the model's
    artifacts go, which the logged model just created already says, then send the files
    one after another.
    """
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
    from mlflow.utils.uri import add_databricks_profile_info_to_artifact_uri

    uri = add_databricks_profile_info_to_artifact_uri(artifact_location, client.tracking_uri)
    repository = get_artifact_repository(uri, tracking_uri=client.tracking_uri)

    def send(file: Path) -> None:
        inside = file.parent.relative_to(folder).as_posix()
        repository.log_artifact(str(file), None if inside == "." else inside)

    return [pool.submit(send, file) for file in sorted(folder.rglob("*")) if file.is_file()]
