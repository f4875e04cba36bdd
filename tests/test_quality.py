"""Performance, latency and fairness of a batch, and the one-line refusals of labels nbops cannot judge."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nbops import monitor, registry
from nbops.errors import DataError, InvalidInput
from nbops.monitoring import quality, runs


def test_regression_and_classification_are_told_apart_by_their_values():
    assert quality.task_of(np.array([1, 0, 1]), np.array([1, 1, 0])) == quality.CLASSIFICATION
    assert quality.task_of(np.array([1.0, 0.0]), np.array([1.0, 1.0])) == quality.CLASSIFICATION
    assert quality.task_of(np.array([3, 5, 8]), np.array([2.5, 5.1, 7.9])) == quality.REGRESSION  # counts
    assert quality.task_of(np.array([0.3, 1.7]), np.array([0.2, 1.9])) == quality.REGRESSION


def test_booleans_against_zero_one_predictions_are_scored_as_the_same_classes():
    scored = quality.performance(np.array([True, False, True, True]), np.array([1, 0, 0, 1]))
    assert scored["accuracy"] == pytest.approx(0.75)


def test_a_positive_class_given_as_text_matches_the_number_it_names():
    y, p = np.array([0, 1, 1, 0]), np.array([0, 1, 0, 0])
    assert quality.performance(y, p, positive="1")["f1"] == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    ("labels", "predictions", "kwargs", "message"),
    [
        (
            ["yes", "no"],
            [1, 0],
            {},
            "labels are text but predictions are numbers: pass labels in the same form",
        ),
        ([0.31, 0.72], [1, 0], {}, "labels are continuous numbers but predictions are classes"),
        (
            [1, np.nan],
            [1, 0],
            {},
            "labels has 1 missing value(s): pass only the rows whose labels are known.",
        ),
        (np.array([1, None], dtype=object), [1, 0], {}, "labels has 1 missing value(s)"),
        (np.array([1, "a"], dtype=object), [1, 0], {}, "labels mix kinds of values (mixed-integer)"),
        (
            [1, 0],
            [1, 0],
            {"positive": 7},
            "positive=7 is not one of the batch's classes (0, 1): pass one of them.",
        ),
        ([1, 0], [1, 0], {"scores": [0.2]}, "scores has shape (1,) but the batch has 2 labelled rows"),
        ([1, 0], [1, 0], {"scores": ["high", "low"]}, "scores must be numbers"),
        ([1, 0], [1, 0], {"scores": [0.9, np.nan]}, "scores has 1 missing or infinite value(s)"),
        ([1, 0, 1], [1, 0], {}, "labels has 3 values but predictions has 2"),
    ],
)
def test_labels_nbops_cannot_judge_are_refused_in_one_line(labels, predictions, kwargs, message):
    with pytest.raises(DataError) as refused:
        quality.performance(np.asarray(labels), np.asarray(predictions), **kwargs)
    assert str(refused.value).startswith(message) and "\n" not in str(refused.value)


def test_latencies_that_are_not_numbers_are_refused():
    with pytest.raises(DataError, match="latency_ms must be numbers"):
        quality.latency(["fast", "slow"])
    assert quality.latency(12.5)["p50_ms"] == 12.5


# --- through the public API: one line, and nothing written ---------------------------------------


def _register(name: str = "judged") -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {"x1": rng.normal(size=300), "x2": rng.normal(size=300), "region": rng.choice(["n", "s"], 300)}
    )
    y = (X["x1"] > 0).astype(int).to_numpy()
    model = make_pipeline(ColumnTransformer([("n", "passthrough", ["x1", "x2"])]), LogisticRegression()).fit(
        X, y
    )
    registry.register(model, name, data=X, alias="champion")
    return X, y, model.predict(X)


def _nothing_written(name: str = "judged") -> bool:
    return runs.monitoring_run_id(name, "1", create=False) is None and monitor.series(name, 1) == {}


def test_bad_labels_scores_and_counts_are_refused_by_log_batch_before_anything_is_written(
    project: Path,
) -> None:
    X, y, p = _register()
    rows = len(X)
    cases = [
        ({"labels": np.where(y == 1, "yes", "no")}, DataError, "labels are text but predictions are numbers"),
        ({"labels": np.random.default_rng(1).normal(size=rows)}, DataError, "labels are continuous numbers"),
        (
            {"labels": np.where(np.arange(rows) % 7 == 0, np.nan, y)},
            DataError,
            "labels has 43 missing value(s)",
        ),
        (
            {"labels": np.c_[y, y]},
            InvalidInput,
            "labels must be one column of values (a list, array or Series), got an",
        ),
        (
            {"labels": {"a": 1}},
            InvalidInput,
            "labels must be one column of values (a list, array or Series), got dict",
        ),
        (
            {"labels": y, "scores": np.zeros(3)},
            DataError,
            "scores has shape (3,) but the batch has 300 labelled rows",
        ),
        (
            {"labels": y, "positive": "approved"},
            DataError,
            "positive='approved' is not one of the batch's classes",
        ),
        ({"latency_ms": ["fast"] * rows}, DataError, "latency_ms must be numbers"),
        ({"sensitive": np.zeros((rows, 2))}, InvalidInput, "sensitive must be one column of values"),
        ({"errors": "many"}, InvalidInput, "errors must be a whole number >= 0, not 'many'."),
        ({"cpu_seconds": -1.0}, InvalidInput, "cpu_seconds must be a number >= 0, not -1.0."),
    ]
    for kwargs, error, message in cases:
        with pytest.raises(error) as refused:
            monitor.log_batch("judged@champion", X, p, **kwargs)
        text = str(refused.value)
        assert text.startswith(message) and "\n" not in text, (kwargs, text)
    assert _nothing_written()


def test_score_and_log_refuses_short_labels_before_scoring(project: Path) -> None:
    X, y, _ = _register()
    with pytest.raises(InvalidInput, match=r"^labels has 299 values but the batch has 300 rows\.$"):
        monitor.score_and_log("judged", X, y[:-1])
    assert _nothing_written()


def test_the_monitor_magic_shows_a_refusal_as_one_line(project: Path, capsys) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    X, y, p = _register()
    ip = InteractiveShell.instance()
    ip.run_line_magic("reload_ext", "nbops")
    ip.user_ns.update(batch=X, preds=p, truth=np.where(y == 1, "yes", "no"))
    result = ip.run_cell("%monitor judged@champion batch --predictions preds --labels truth")
    err = capsys.readouterr().err
    assert not result.success
    assert "UsageError: labels are text but predictions are numbers" in err and "Traceback" not in err
    assert _nothing_written()
