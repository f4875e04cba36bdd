"""Drift statistics against scipy on random data, the drift rule, and the table's edge cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from nbops.monitoring import profile
from nbops.monitoring.drift import (
    COLUMNS,
    column_drift,
    drift,
    drift_share,
    ks_bound,
    kstwo_sf,
    wasserstein_bound,
)

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

DECILES = np.arange(1, 10) / 10


def _numeric_pair(seed: int, n_ref: int, n_cur: int, ties: bool) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ref = rng.normal(size=n_ref)
    # The sign matters: KS is reached where F_c is below F_r for a shift up, above it for a shift down.
    cur = rng.normal(0.15 if seed % 2 == 0 else -0.15, 1.1, size=n_cur)
    if ties:  # few distinct values, many ties, shared between the two samples
        ref, cur = np.round(ref, 1), np.round(cur, 1)
    return ref, cur


def _direct_psi(ref: np.ndarray, cur: np.ndarray) -> float:
    edges = np.unique(np.quantile(ref, DECILES, method="inverted_cdf"))
    ref_counts = np.diff(np.concatenate(([0], np.searchsorted(np.sort(ref), edges, "right"), [len(ref)])))
    cur_counts = np.diff(np.concatenate(([0], np.searchsorted(np.sort(cur), edges, "right"), [len(cur)])))
    r = np.maximum(ref_counts / len(ref), 1e-4)
    c = np.maximum(cur_counts / len(cur), 1e-4)
    return float(np.sum((c - r) * np.log(c / r)))


SIZES = [
    (1, 1),
    (3, 5),
    (8, 8),
    (40, 25),
    (700, 1300),
    (5000, 5000),
    (9000, 10_000),
    (12_000, 3_000),
    (20_000, 15_000),
]


@pytest.mark.parametrize("ties", [False, True], ids=["continuous", "ties"])
@pytest.mark.parametrize(("n_ref", "n_cur"), SIZES)
@pytest.mark.parametrize("seed", [0, 1])
def test_numeric_statistics_from_a_raw_reference_equal_scipy(n_ref, n_cur, seed, ties):
    ref, cur = _numeric_pair(seed, n_ref, n_cur, ties)
    row = drift(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur})).iloc[0]
    expected = scipy.stats.ks_2samp(ref, cur)
    assert row["ks"] == pytest.approx(expected.statistic, abs=1e-9)
    assert row["ks_pvalue"] == pytest.approx(expected.pvalue, abs=1e-9)
    assert row["statistic"] == row["ks"] and row["p_value"] == row["ks_pvalue"] and row["effect"] == row["ks"]
    assert row["wasserstein"] == pytest.approx(scipy.stats.wasserstein_distance(ref, cur), abs=1e-9)
    assert row["psi"] == pytest.approx(_direct_psi(ref, cur), abs=1e-12)
    assert row["kind"] == "numeric" and row["note"] == ""


@pytest.mark.parametrize(("n_ref", "n_cur"), [(30_000, 20_000), (50_000, 800), (200, 40_000)])
def test_numeric_statistics_from_an_exact_profile_equal_scipy_beyond_the_exact_p_value_range(n_ref, n_cur):
    ref, cur = _numeric_pair(n_ref, n_ref, n_cur, ties=True)  # few distinct values: the sketch is exact
    built = profile.build(pd.DataFrame({"x": ref}))
    assert built.features["x"].exact
    row = drift(built, pd.DataFrame({"x": cur})).iloc[0]
    expected = scipy.stats.ks_2samp(ref, cur)
    assert row["ks"] == pytest.approx(expected.statistic, abs=1e-9)
    assert row["ks_pvalue"] == pytest.approx(expected.pvalue, abs=1e-9)
    assert row["wasserstein"] == pytest.approx(scipy.stats.wasserstein_distance(ref, cur), abs=1e-9)
    assert row["psi"] == pytest.approx(_direct_psi(ref, cur), abs=1e-12)


@pytest.mark.parametrize("n", [20_001, 60_000, 250_000])
@pytest.mark.parametrize("n_d_squared", [2.2, 3.0, 8.0, 30.0, 369.0])
def test_the_vectorised_kolmogorov_tail_equals_scipys_kstwo(n, n_d_squared):
    d = float(np.sqrt(n_d_squared / n))
    assert kstwo_sf(d, float(n)) == pytest.approx(scipy.stats.kstwo.sf(d, n), abs=1e-9, rel=1e-8)


def test_a_small_significant_shift_in_big_samples_has_scipys_p_value():
    # m*n/(m+n) = 30,000 and D near 0.015: the band where nbops sums the Smirnov tail itself.
    rng = np.random.default_rng(21)
    ref, cur = rng.normal(size=60_000), rng.normal(0.035, size=60_000)
    row = drift(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur})).iloc[0]
    expected = scipy.stats.ks_2samp(ref, cur)
    assert 2.2 <= 30_000 * expected.statistic**2 < 370
    assert row["ks"] == pytest.approx(expected.statistic, abs=1e-9)
    assert row["ks_pvalue"] == pytest.approx(expected.pvalue, abs=1e-9, rel=1e-8)


@pytest.mark.parametrize(("n_ref", "n_cur", "sketch_size"), [(20_000, 5_000, 1_000), (6_000, 30_000, 100)])
@pytest.mark.parametrize("seed", [2, 3, 4])
def test_a_quantile_sketch_bounds_ks_and_wasserstein_and_keeps_psi_exact(n_ref, n_cur, sketch_size, seed):
    rng = np.random.default_rng(seed)
    ref = np.concatenate([rng.lognormal(size=n_ref - 500), np.full(500, 1.0)])
    cur = rng.lognormal(0.05, 1.0, size=n_cur)
    s = profile.sketch(ref, sketch_size=sketch_size)
    assert not s.exact
    row = column_drift(s, cur)
    true_d = scipy.stats.ks_2samp(ref, cur).statistic
    bound = ks_bound(s)
    assert 0 < bound <= 2 / sketch_size
    assert row["ks"] <= true_d + 1e-12
    assert true_d <= row["ks"] + bound + 1e-12
    m, n = sorted([float(n_ref), float(n_cur)], reverse=True)
    assert row["ks_pvalue"] == pytest.approx(scipy.stats.kstwo.sf(row["ks"], np.round(m * n / (m + n))))
    true_w = scipy.stats.wasserstein_distance(ref, cur)
    assert abs(row["wasserstein"] - true_w) <= wasserstein_bound(s) + 1e-12
    assert row["psi"] == pytest.approx(_direct_psi(ref, cur), abs=1e-12)


def test_ks_distance_inside_a_gap_of_the_reference_is_found_from_the_left_limit():
    # F_r is about 1/4 on [0, 10); the batch's CDF jumps to 1 at 5, so D is about 3/4, reached just
    # below 10. Over 10,000 reference values, so the distance is nbops' own, not scipy's exact path.
    s = profile.sketch(np.repeat([0.0, 10.0], [2500, 7501]))
    assert column_drift(s, np.array([5.0]))["ks"] == pytest.approx(1 - 2500 / 10_001, abs=1e-12)
    assert column_drift(s, np.array([-1.0]))["ks"] == pytest.approx(1.0, abs=1e-12)


def test_ks_bound_is_zero_for_an_exact_sketch():
    s = profile.sketch(np.repeat([1.0, 2.0, 5.0], 10))
    assert ks_bound(s) == 0.0 and wasserstein_bound(s) == 0.0


@pytest.mark.parametrize("seed", [0, 5])
@pytest.mark.parametrize(("n_ref", "n_cur"), [(12, 9), (500, 2000), (40_000, 7_000)])
def test_categorical_statistics_equal_scipy_chi2_contingency_over_the_union_of_categories(seed, n_ref, n_cur):
    rng = np.random.default_rng(seed)
    ref = rng.choice(["a", "b", "c", "d"], n_ref, p=[0.4, 0.3, 0.2, 0.1])
    cur = rng.choice(["a", "b", "c", "e"], n_cur, p=[0.35, 0.3, 0.25, 0.1])
    row = drift(pd.DataFrame({"k": ref}), pd.DataFrame({"k": cur})).iloc[0]
    labels = sorted(set(ref) | set(cur))
    r = np.array([(ref == v).sum() for v in labels])
    c = np.array([(cur == v).sum() for v in labels])
    expected = scipy.stats.chi2_contingency(np.vstack([r, c]))
    assert row["chi2"] == pytest.approx(expected.statistic, rel=1e-12)
    assert row["chi2_pvalue"] == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-300)
    assert row["statistic"] == row["chi2"] and row["p_value"] == row["chi2_pvalue"]
    assert row["unseen_share"] == pytest.approx(np.isin(cur, ref, invert=True).mean())
    rs, cs = r / n_ref, c / n_cur
    assert row["effect"] == pytest.approx(np.abs(rs - cs).sum() / 2)
    rf, cf = np.maximum(rs, 1e-4), np.maximum(cs, 1e-4)
    assert row["psi"] == pytest.approx(np.sum((cf - rf) * np.log(cf / rf)), abs=1e-12)
    assert np.isnan(row["ks"]) and np.isnan(row["wasserstein"])
    assert row["kind"] == "categorical"


def test_two_categorical_values_use_scipys_default_yates_correction():
    ref = np.array(["yes"] * 30 + ["no"] * 70)
    cur = np.array(["yes"] * 45 + ["no"] * 55)
    row = drift(pd.DataFrame({"k": ref}), pd.DataFrame({"k": cur})).iloc[0]
    expected = scipy.stats.chi2_contingency(np.array([[30, 70], [45, 55]]))
    assert row["chi2"] == pytest.approx(expected.statistic)
    assert row["chi2_pvalue"] == pytest.approx(expected.pvalue)


def test_a_single_shared_category_has_chi2_zero_and_p_one():
    row = drift(pd.DataFrame({"k": ["a"] * 5}), pd.DataFrame({"k": ["a"] * 9})).iloc[0]
    assert (row["chi2"], row["chi2_pvalue"], row["psi"], row["effect"]) == (0.0, 1.0, 0.0, 0.0)
    assert not row["drifted"]


def test_new_categories_count_as_unseen_and_drift():
    ref = pd.DataFrame({"k": ["a", "b"] * 500})
    cur = pd.DataFrame({"k": ["a", "b"] * 400 + ["c"] * 200})
    row = drift(ref, cur).iloc[0]
    assert row["unseen_share"] == pytest.approx(0.2)
    assert row["drifted"]


def test_equal_constant_columns_have_no_drift_and_defined_numbers():
    row = drift(pd.DataFrame({"x": np.full(50, 3.0)}), pd.DataFrame({"x": np.full(80, 3.0)})).iloc[0]
    assert (row["ks"], row["ks_pvalue"], row["wasserstein"], row["psi"]) == (0.0, 1.0, 0.0, 0.0)
    assert not row["drifted"]


def test_different_constant_columns_drift_completely():
    ref, cur = np.full(50, 3.0), np.full(80, 5.0)
    row = drift(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur})).iloc[0]
    assert row["ks"] == 1.0
    assert row["ks_pvalue"] == pytest.approx(scipy.stats.ks_2samp(ref, cur).pvalue, abs=1e-9)
    assert row["wasserstein"] == pytest.approx(2.0)
    assert row["psi"] > 1
    assert row["drifted"]


def test_an_empty_batch_is_reported_without_statistics_or_drift_flags():
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"x": rng.normal(size=100), "k": rng.choice(["a", "b"], 100)})
    table = drift(ref, ref.iloc[:0])
    assert list(table["note"]) == ["no values in the batch"] * 2
    assert not table["drifted"].any() and not table["schema_violation"].any()
    assert table[["ks", "psi", "chi2", "effect"]].isna().all().all()
    assert drift_share(table) == 0.0
    untyped = drift(ref, pd.DataFrame({"x": [], "k": []}))
    assert list(untyped["note"]) == ["no values in the batch"] * 2


def test_an_all_missing_column_has_no_values_and_counts_its_missing_rows():
    ref = pd.DataFrame({"x": np.arange(100.0), "k": ["a", "b"] * 50})
    cur = pd.DataFrame({"x": np.full(30, np.nan), "k": [None] * 30})
    table = drift(ref, cur).set_index("feature")
    assert list(table["note"]) == ["no values in the batch"] * 2
    assert list(table["missing_current"]) == [30, 30] and list(table["n_current"]) == [0, 0]
    assert not table["drifted"].any()
    assert np.isnan(table.loc["x", "ks"]) and np.isnan(table.loc["k", "chi2"])


def test_missing_values_are_left_out_of_the_statistics_and_counted():
    rng = np.random.default_rng(4)
    ref, cur = rng.normal(size=300), rng.normal(size=200)
    with_gaps = cur.copy()
    with_gaps[::4] = np.nan
    row = drift(pd.DataFrame({"x": ref}), pd.DataFrame({"x": with_gaps})).iloc[0]
    assert (row["n_current"], row["missing_current"]) == (150, 50)
    assert row["ks"] == pytest.approx(
        scipy.stats.ks_2samp(ref, cur[1::4].tolist() + cur[2::4].tolist() + cur[3::4].tolist()).statistic
    )


def test_a_reference_column_missing_from_the_batch_is_a_schema_violation():
    ref = pd.DataFrame({"x": np.arange(10.0), "k": list("ababababab")})
    table = drift(ref, pd.DataFrame({"x": np.arange(10.0)}))
    row = table.set_index("feature").loc["k"]
    assert row["note"] == "missing from the batch"
    assert row["schema_violation"] and not row["drifted"]
    assert np.isnan(row["chi2"]) and np.isnan(row["psi"])
    assert drift_share(table) == 0.0  # the one evaluated column did not drift


def test_text_where_numbers_were_is_a_schema_violation():
    ref = pd.DataFrame({"x": np.arange(100.0)})
    row = drift(ref, pd.DataFrame({"x": ["a", "b", "c"]})).iloc[0]
    assert row["schema_violation"] and not row["drifted"]
    assert "expected numbers" in row["note"]
    assert np.isnan(row["ks"])


def test_numbers_in_an_object_column_are_still_compared_as_numbers():
    rng = np.random.default_rng(8)
    ref, cur = rng.normal(size=200), rng.normal(size=100)
    loose = pd.Series([*cur[:-1], None], dtype=object)
    row = drift(pd.DataFrame({"x": ref}), pd.DataFrame({"x": loose})).iloc[0]
    assert not row["schema_violation"] and row["missing_current"] == 1
    assert row["ks"] == pytest.approx(scipy.stats.ks_2samp(ref, cur[:-1]).statistic)


def test_a_batch_of_few_integers_is_compared_numerically_against_a_numeric_reference():
    ref = pd.DataFrame({"age": np.arange(18, 90)})  # 72 distinct integers: numeric
    cur = pd.DataFrame({"age": [30, 30, 31, 40]})  # would be categorical on its own
    row = drift(ref, cur).iloc[0]
    assert row["kind"] == "numeric" and not row["schema_violation"]
    assert row["ks"] == pytest.approx(scipy.stats.ks_2samp(ref["age"], cur["age"]).statistic)


def test_integer_categories_arriving_as_floats_match_the_reference():
    ref = pd.DataFrame({"rooms": [1, 2, 3, 2] * 50})
    cur = pd.DataFrame({"rooms": [1.0, 2.0, 3.0, 2.0, np.nan] * 40})
    row = drift(ref, cur).iloc[0]
    assert row["unseen_share"] == 0.0 and row["effect"] == pytest.approx(0.0)
    assert not row["drifted"] and row["missing_current"] == 40


def test_extra_batch_columns_are_ignored_and_the_reference_order_is_kept():
    ref = pd.DataFrame({"b": np.arange(30.0), "a": ["x", "y", "z"] * 10})
    cur = pd.DataFrame({"new": np.arange(30.0), "a": ["x", "y", "z"] * 10, "b": np.arange(30.0)})
    table = drift(ref, cur)
    assert list(table["feature"]) == ["b", "a"]
    assert list(table.columns) == COLUMNS


def test_the_table_has_plain_bool_flags_and_numeric_statistics():
    rng = np.random.default_rng(1)
    ref = pd.DataFrame({"x": rng.normal(size=100), "k": rng.choice(list("ab"), 100)})
    table = drift(ref, ref.drop(columns="k"))
    assert table["drifted"].dtype == bool and table["schema_violation"].dtype == bool
    assert table["ks"].dtype == np.float64 and table["n_current"].dtype == np.int64
    assert isinstance(table["drifted"].iloc[0], np.bool_)


def test_a_small_but_significant_shift_in_a_large_batch_is_not_drift():
    rng = np.random.default_rng(6)
    ref = pd.DataFrame({"x": rng.normal(size=100_000)})
    cur = pd.DataFrame({"x": rng.normal(0.05, size=100_000)})
    row = drift(profile.build(ref), cur).iloc[0]
    assert row["ks_pvalue"] < 1e-6  # significant ...
    assert row["ks"] < 0.1 and row["psi"] < 0.2  # ... but small
    assert not row["drifted"]
    assert drift(profile.build(ref), cur, effect_threshold=0.01).iloc[0]["drifted"]


def test_a_large_shift_drifts_and_the_share_counts_it():
    rng = np.random.default_rng(7)
    ref = pd.DataFrame(
        {"x": rng.normal(size=5000), "y": rng.normal(size=5000), "k": rng.choice(list("ab"), 5000)}
    )
    cur = ref.assign(x=ref["x"] + 1.0)
    table = drift(ref, cur)
    assert list(table["drifted"]) == [True, False, False]
    assert drift_share(table) == pytest.approx(1 / 3)


def test_a_prebuilt_profile_and_the_raw_reference_agree():
    rng = np.random.default_rng(9)
    ref = pd.DataFrame({"x": rng.integers(0, 500, 3000).astype(float), "k": rng.choice(list("abc"), 3000)})
    cur = pd.DataFrame({"x": rng.integers(0, 520, 2000).astype(float), "k": rng.choice(list("abcd"), 2000)})
    raw = drift(ref, cur)
    prebuilt = drift(profile.build(ref), cur)
    pd.testing.assert_frame_equal(raw, prebuilt)


def test_one_worker_and_two_give_the_same_table():
    rng = np.random.default_rng(10)
    ref = pd.DataFrame({f"c{i}": rng.normal(size=2000) for i in range(6)})
    cur = pd.DataFrame({f"c{i}": rng.normal(i / 10, size=1500) for i in range(6)})
    built = profile.build(ref, sketch_size=500)
    pd.testing.assert_frame_equal(drift(built, cur, workers=1), drift(built, cur, workers=2))


def test_prediction_drift_is_one_row_for_an_array_of_predictions():
    rng = np.random.default_rng(12)
    built = profile.build(pd.DataFrame({"x": rng.normal(size=500)}), predictions=rng.random(500))
    row = column_drift(built.prediction, rng.random(400) ** 3, feature="prediction")
    assert set(row) == set(COLUMNS)
    assert row["feature"] == "prediction" and row["kind"] == "numeric"
    assert row["drifted"] is True


def test_drift_share_ignores_rows_that_were_not_evaluated():
    table = pd.DataFrame(
        {"drifted": [True, False, False, False], "note": ["", "", "missing from the batch", ""]}
    )
    assert drift_share(table) == pytest.approx(1 / 3)
    assert drift_share(table.iloc[2:3]) == 0.0
