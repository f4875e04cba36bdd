"""The reference profile: column kinds, what the sketches hold, and a pickle-free round trip."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pandas as pd
import pytest

from nbops.errors import DataError, InvalidInput
from nbops.monitoring import profile
from nbops.monitoring.profile import CategoricalCounts, NumericSketch, Profile

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


def test_floats_are_numeric_and_small_integer_sets_bools_and_text_are_categorical():
    assert profile.kind_of(pd.Series([1.0, 1.0, 2.0])) == profile.NUMERIC
    assert profile.kind_of(np.arange(21)) == profile.NUMERIC
    assert profile.kind_of(np.arange(20)) == profile.CATEGORICAL
    assert profile.kind_of(pd.Series([True, False])) == profile.CATEGORICAL
    assert profile.kind_of(pd.Series(["a", "b"])) == profile.CATEGORICAL
    assert profile.kind_of(pd.Series(np.arange(100)).astype("category")) == profile.CATEGORICAL
    assert profile.kind_of(pd.Series(range(50), dtype="Int64")) == profile.NUMERIC


def test_a_column_with_few_distinct_values_is_sketched_exactly_with_counts_at_each_value():
    values = np.array([3.0, 1.0, 2.0, 2.0, np.nan, 3.0, 3.0])
    s = profile.sketch(values)
    assert isinstance(s, NumericSketch)
    assert s.exact
    np.testing.assert_array_equal(s.points, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(s.le, [1, 3, 6])
    np.testing.assert_array_equal(s.lt, [0, 1, 3])
    assert (s.n, s.missing) == (6, 1)
    assert (s.min, s.max) == (1.0, 3.0)
    assert s.mean == pytest.approx(np.nanmean(values))
    assert s.points.dtype == np.float64 and s.le.dtype == np.int64 and s.lt.dtype == np.int64


def test_a_column_with_many_distinct_values_keeps_inverted_cdf_quantiles_with_exact_counts():
    rng = np.random.default_rng(3)
    values = np.concatenate([rng.normal(size=5_000), np.full(300, 0.5)])  # a heavy tie inside
    s = profile.sketch(values, sketch_size=100)
    assert not s.exact
    expected = np.unique(np.quantile(values, np.arange(101) / 100, method="inverted_cdf"))
    np.testing.assert_array_equal(s.points, expected)
    assert s.points[0] == values.min() and s.points[-1] == values.max()
    ordered = np.sort(values)
    np.testing.assert_array_equal(s.le, np.searchsorted(ordered, s.points, side="right"))
    np.testing.assert_array_equal(s.lt, np.searchsorted(ordered, s.points, side="left"))
    deciles = np.quantile(values, np.arange(1, 10) / 10, method="inverted_cdf")
    assert np.isin(deciles, s.points).all()
    assert s.mean == pytest.approx(values.mean(), abs=0.05)


def test_integer_columns_with_many_values_are_sketched_as_numbers():
    s = profile.sketch(pd.Series(np.arange(1000) % 97, dtype="int64"))
    assert isinstance(s, NumericSketch) and s.exact and len(s.points) == 97


def test_categories_are_counted_as_strings_with_missing_values_apart():
    s = profile.sketch(pd.Series(["a", "b", None, "a", np.nan]))
    assert isinstance(s, CategoricalCounts)
    assert s.counts == {"a": 2, "b": 1}
    assert (s.n, s.missing) == (3, 2)
    assert profile.sketch(np.array([True, False, True])).counts == {"True": 2, "False": 1}


def test_integer_categories_read_back_as_floats_get_the_same_labels():
    as_ints = profile.sketch(pd.Series([1, 2, 2, 3]))
    as_floats = profile.sketch(pd.Series([1.0, 2.0, 2.0, None, 3.0], dtype=object))
    assert as_ints.counts == as_floats.counts == {"2": 2, "1": 1, "3": 1}


def test_build_sketches_every_column_in_order_and_the_predictions():
    rng = np.random.default_rng(0)
    data = pd.DataFrame({"z": rng.normal(size=200), "a": rng.choice(["x", "y"], 200), "m": np.arange(200)})
    p = profile.build(data, predictions=rng.integers(0, 2, 200))
    assert list(p.features) == ["z", "a", "m"]
    assert p.rows == 200
    assert isinstance(p.features["z"], NumericSketch)
    assert isinstance(p.features["a"], CategoricalCounts)
    assert isinstance(p.prediction, CategoricalCounts) and p.prediction.n == 200
    assert profile.build(data).prediction is None


def test_predictions_must_be_one_column():
    with pytest.raises(DataError, match="predictions must be one column, got an array of shape"):
        profile.build(pd.DataFrame({"a": [1.0, 2.0]}), predictions=np.zeros((2, 2)))


def _mixed_profile() -> Profile:
    rng = np.random.default_rng(11)
    data = pd.DataFrame(
        {
            "exact": rng.integers(0, 50, 5000).astype(float),
            "sketched": rng.normal(size=5000),
            "text": rng.choice(["été", "", "naïve", "b"], 5000),
            "empty": np.full(5000, np.nan),
            7: rng.integers(0, 3, 5000),
        }
    )
    data.loc[::7, "sketched"] = np.nan
    return profile.build(data, predictions=rng.random(5000), sketch_size=100)


def test_a_profile_round_trips_through_bytes_exactly():
    original = _mixed_profile()
    restored = Profile.from_bytes(original.to_bytes())
    assert restored == original
    assert list(restored.features) == ["exact", "sketched", "text", "empty", 7]
    assert restored.features["text"].counts == original.features["text"].counts
    assert not restored.features["sketched"].exact and restored.features["exact"].exact
    assert restored.prediction == original.prediction


def test_loading_a_profile_never_unpickles(monkeypatch: pytest.MonkeyPatch):
    data = _mixed_profile().to_bytes()

    def refuse(*args, **kwargs):
        raise AssertionError("pickle was used")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    assert Profile.from_bytes(data) == _mixed_profile()


def test_an_archive_holding_python_objects_is_refused():
    buffer = io.BytesIO()
    np.savez(buffer, header=np.array(["x", None], dtype=object))
    with pytest.raises(
        DataError, match=r"^not an nbops profile \(.*\); register the version again with data"
    ):
        Profile.from_bytes(buffer.getvalue())


def test_bytes_that_are_not_a_profile_are_refused():
    buffer = io.BytesIO()
    np.savez(buffer, header=np.array('{"format": "something else"}'))
    with pytest.raises(DataError, match="not an nbops profile"):
        Profile.from_bytes(buffer.getvalue())


def test_bytes_that_are_not_an_archive_are_refused_in_one_line():
    with pytest.raises(DataError, match=r"^not an nbops profile \(.*\); register the version again"):
        Profile.from_bytes(b"<html>not found</html>")


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: profile.build([[1.0, 2.0]]),
            DataError,
            "the reference data must be a pandas DataFrame, not list",
        ),
        (
            lambda: profile.build(pd.DataFrame([[1.0, 2.0]], columns=["a", "a"])),
            DataError,
            "the reference data has duplicate column names (a): rename or drop them",
        ),
        (
            lambda: profile.sketch([1.0], sketch_size=0),
            InvalidInput,
            "sketch_size must be a whole number >= 1",
        ),
        (
            lambda: profile.sketch(np.zeros((2, 2))),
            DataError,
            "expected one column of values, got an array of shape (2, 2)",
        ),
    ],
)
def test_what_cannot_be_profiled_is_refused_in_one_line(call, error, message):
    with pytest.raises(error) as refused:
        call()
    assert str(refused.value).startswith(message) and "\n" not in str(refused.value)
