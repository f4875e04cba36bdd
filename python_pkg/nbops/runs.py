"""Reading runs back: one run in full, pages of runs, and how many runs match.

The run card and the compare widget show what this module returns; they never
talk to MLflow themselves. Filtering, ordering and paging are always done by the
store (``MlflowClient.search_runs``), so a project with thousands of runs costs
one page per request and "sorted by accuracy" means sorted across every run, not
just the ones a browser happens to hold.

MLflow is imported lazily, like everywhere in nbops' core.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import config, store, tracking
from .errors import InvalidInput, NotFound, StoreError

#: Largest page a single ``search`` may ask for: a page is rendered, not processed.
MAX_PAGE = 1000
#: Page sizes ``count`` tries, largest first: SQL and file stores accept 50,000
#: runs per page, REST stores (Databricks, some proxies) refuse more than 1,000.
COUNT_PAGE_SIZES = (50_000, 1_000)
#: Example used in messages about filter strings.
FILTER_EXAMPLE = "metrics.accuracy > 0.9 and params.model = 'rf'"

#: Tags written by MLflow and nbops themselves, not by the user.
_BOOKKEEPING_TAG_PREFIXES = ("mlflow.", "nbops.")

_Start = Path | str | None


#: Experiments that hold nbops' own records, not anybody's training runs: the audit log, served
#: traffic, alerts, and the model servers' deployment records (one long ``serve-…`` run each).
INTERNAL_EXPERIMENTS = ("nbops-audit", "nbops-monitoring", "nbops-alerts", "nbops-deployments")


def recent(max_results: int = 50, page_token: str | None = None, start: _Start = None) -> dict[str, Any]:
    """The newest runs across all experiments, one page at a time (the sidebar's list).

    Ordering and paging are done by the store, so thousands of runs cost one page
    per request. A store that was never written to is not created just to be
    read: it simply has no runs yet.
    """
    if not 1 <= max_results <= MAX_PAGE:
        raise InvalidInput(f"max_results must be between 1 and {MAX_PAGE}, got {max_results}.")
    resolved = config.resolve(start)
    page: dict[str, Any] = {
        "runs": [],
        "next_page_token": None,
        "store": config.redact_uri(resolved.tracking_uri),
    }
    if not store.exists(resolved.tracking_uri):
        return page
    mlflow_client = store.client(start)
    names = store.experiment_ids(mlflow_client, exclude=INTERNAL_EXPERIMENTS)
    if not names:
        return page
    found = _search_page(
        mlflow_client, list(names), None, ["attributes.start_time DESC"], max_results, page_token
    )
    page["runs"] = [tracking.RunSummary.from_run(r, names.get(r.info.experiment_id)).to_dict() for r in found]
    page["next_page_token"] = _token_text(found.token)
    return page


def run_details(run_id: str, start: _Start = None) -> dict[str, Any]:
    """Everything a person wants to see of one run, as plain JSON-able values."""
    from mlflow.exceptions import MlflowException

    mlflow_client = store.client(start)
    try:
        run = mlflow_client.get_run(run_id)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            raise NotFound(
                f"no run with id {run_id!r}; check the id (nbops runs lists recent runs)."
            ) from None
        reason = store.error_reason(exc)
        raise StoreError(
            f"the MLflow store could not read run {run_id!r} ({reason}); check that it is reachable (nbops info)."
        ) from None
    experiment = mlflow_client.get_experiment(run.info.experiment_id)
    return run_dict(run, experiment.name if experiment else None)


def run_dict(run: Any, experiment_name: str | None) -> dict[str, Any]:
    """A ``mlflow.entities.Run`` as the dict every nbops face renders.

    ``metrics`` are final values (MLflow's latest per key); ``tags`` are the
    user's own, without the bookkeeping MLflow (``mlflow.*``) and nbops
    (``nbops.*``: environment, owner, the error — which is ``error`` already)
    write on every run.
    """
    row = tracking.RunSummary.from_run(run, experiment_name).to_dict()
    data = run.data
    row["params"] = dict(data.params)
    row["metrics"] = dict(data.metrics)
    row["error"] = data.tags.get(tracking.ERROR_TAG)
    row["tags"] = {
        key: value for key, value in data.tags.items() if not key.startswith(_BOOKKEEPING_TAG_PREFIXES)
    }
    return row


def experiment_ids(experiment: str | list[str] | None = None, start: _Start = None) -> list[str]:
    """Experiment ids for experiment names; ``None`` means the notebook's current experiment.

    That is the experiment new runs go to (``mlflow.set_experiment``, the
    ``MLFLOW_EXPERIMENT_NAME`` variable, else ``Default``), so ``compare()`` right
    after a few tracked cells shows those runs.
    """
    if experiment is None:
        return [tracking.current_experiment_id(start)]
    names = [experiment] if isinstance(experiment, str) else list(experiment)
    if not names:
        raise InvalidInput(
            "no experiment given; name one such as 'Default', or leave it out for the current one."
        )
    mlflow_client = store.client(start)
    ids = []
    for name in names:
        found = mlflow_client.get_experiment_by_name(name)
        if found is None:
            raise NotFound(
                f"no experiment named {name!r}; check the name (nbops runs shows the experiments of recent runs)."
            )
        if found.lifecycle_stage == "deleted":
            raise NotFound(f"experiment {name!r} is deleted; restore it in the MLflow UI or choose another.")
        ids.append(found.experiment_id)
    return ids


def search(
    experiment_ids: list[str],
    filter_string: str | None = None,
    order_by: list[str] | None = None,
    max_results: int = 100,
    page_token: str | None = None,
    start: _Start = None,
) -> dict[str, Any]:
    """One page of matching runs, filtered, ordered and paged by the store.

    Returns ``{"runs": [...], "next_page_token": str | None, "total": int | None}``.
    ``total`` is known only when this page is the whole answer (first page, no
    next page); otherwise ask ``count``, which may take a while on large stores.
    """
    if not 1 <= max_results <= MAX_PAGE:
        raise InvalidInput(f"max_results must be between 1 and {MAX_PAGE}, got {max_results}.")
    if not experiment_ids:
        raise InvalidInput("no experiment ids given; pass at least one (see runs.experiment_ids).")
    mlflow_client = store.client(start)
    runs = _search_page(mlflow_client, experiment_ids, filter_string, order_by, max_results, page_token)
    names = _experiment_names(mlflow_client, {r.info.experiment_id for r in runs})
    token = _token_text(runs.token)
    return {
        "runs": [run_dict(r, names.get(r.info.experiment_id)) for r in runs],
        "next_page_token": token,
        "total": len(runs) if token is None and not page_token else None,
    }


def count(
    experiment_ids: list[str],
    filter_string: str | None = None,
    start: _Start = None,
    *,
    page_size: int | None = None,
) -> int:
    """How many runs match, counted by paging through the store.

    MLflow has no count API, so the store is asked for pages as large as it
    accepts (``COUNT_PAGE_SIZES``: 50,000 for SQL stores, 1,000 where a REST
    store refuses more) and the page lengths are added up. This reads every
    matching run, so faces call it off their main thread. ``page_size`` forces
    one size (tests use it to page without creating 50,000 runs).
    """
    if not experiment_ids:
        raise InvalidInput("no experiment ids given; pass at least one (see runs.experiment_ids).")
    from mlflow.exceptions import MlflowException

    mlflow_client = store.client(start)
    sizes = [page_size] if page_size is not None else list(COUNT_PAGE_SIZES)
    total, token = 0, None
    while True:
        try:
            page = _search_page(mlflow_client, experiment_ids, filter_string, None, sizes[0], token, raw=True)
        except MlflowException as exc:
            # A store that refuses the page size says so with INVALID_PARAMETER_VALUE:
            # try the next size; a bad filter fails the same way at every size.
            if len(sizes) > 1 and exc.error_code == "INVALID_PARAMETER_VALUE":
                sizes.pop(0)
                continue
            raise _as_nbops_error(mlflow_client, exc, experiment_ids, filter_string, None, token) from None
        sizes = sizes[:1]  # the store accepted this size: keep it
        total += len(page)
        token = page.token
        if not token:
            return total


def order_clause(key: str, descending: bool) -> str:
    """An MLflow ``order_by`` clause for a column key such as ``metrics.accuracy``.

    Param and metric names are quoted with backticks so names with spaces, dots
    or dashes sort as well as simple ones.
    """
    kind, _, name = key.partition(".")
    if kind not in ("attributes", "params", "metrics", "tags") or not name:
        raise InvalidInput(
            f"cannot sort by {key!r}; use 'metrics.<name>', 'params.<name>' or 'attributes.start_time'."
        )
    if "`" in name:
        raise InvalidInput(f"cannot sort by {key!r}: MLflow cannot order by names that contain a backtick.")
    field = name if kind == "attributes" else f"`{name}`"
    return f"{kind}.{field} {'DESC' if descending else 'ASC'}"


def _search_page(
    mlflow_client: Any,
    experiment_ids: list[str],
    filter_string: str | None,
    order_by: list[str] | None,
    max_results: int,
    page_token: str | None,
    *,
    raw: bool = False,
) -> Any:
    """``search_runs`` with MLflow's errors turned into one-line nbops errors.

    With ``raw`` the ``MlflowException`` is left to the caller (``count`` uses it
    to detect a page size the store refuses).
    """
    from mlflow.exceptions import MlflowException

    try:
        return mlflow_client.search_runs(
            experiment_ids=list(experiment_ids),
            filter_string=filter_string or "",
            order_by=order_by or None,
            max_results=max_results,
            page_token=page_token or None,
        )
    except MlflowException as exc:
        if raw:
            raise
        raise _as_nbops_error(
            mlflow_client, exc, experiment_ids, filter_string, order_by, page_token
        ) from None


def _as_nbops_error(
    mlflow_client: Any,
    exc: Any,
    experiment_ids: list[str],
    filter_string: str | None,
    order_by: list[str] | None,
    page_token: str | None,
) -> Exception:
    """Say which of the user's inputs the store refused, with MLflow's reason, on one line.

    MLflow reports a bad filter, a bad ``order_by`` and a bad page token alike
    (``INVALID_PARAMETER_VALUE`` with a reason); when both a filter and an
    ordering were given, one cheap probe with the filter alone tells which.
    """
    from mlflow.exceptions import MlflowException

    reason = store.error_reason(exc)
    if exc.error_code != "INVALID_PARAMETER_VALUE":
        return StoreError(
            f"the MLflow store could not search runs ({reason}); check that it is reachable (nbops info)."
        )
    if page_token and "token" in reason.lower():
        return InvalidInput("the page token is not one this store issued; start again from the first page.")
    blame_filter = bool(filter_string)
    if filter_string and order_by:
        try:
            mlflow_client.search_runs(
                experiment_ids=list(experiment_ids), filter_string=filter_string, max_results=1
            )
        except MlflowException:
            blame_filter = True
        else:
            blame_filter = False
    if blame_filter:
        return InvalidInput(
            f"the filter {filter_string!r} is not valid: {reason}; write it like {FILTER_EXAMPLE!r}."
        )
    if order_by:
        return InvalidInput(
            f"cannot order by {', '.join(order_by)}: {reason}; use e.g. 'metrics.`accuracy` DESC'."
        )
    return InvalidInput(f"the store refused the search: {reason}.")


def _experiment_names(mlflow_client: Any, ids: set[str]) -> dict[str, str]:
    """Names of the (few) experiments a page of runs belongs to."""
    names = {}
    for experiment_id in ids:
        experiment = mlflow_client.get_experiment(experiment_id)
        if experiment is not None:
            names[experiment_id] = experiment.name
    return names


def _token_text(token: Any) -> str | None:
    """Page tokens as text: the SQL store hands out bytes, JSON and traitlets need str."""
    if isinstance(token, bytes):
        token = token.decode("ascii")
    return token or None
