"""Drift statistics against scipy on random data, the drift rule, and the table's edge cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from nbops.errors import DataError, InvalidInput
from nbops.monitoring import profile
from nbops.monitoring.drift import (
    COLUMNS,
    EXACT_KS_MAX_CELLS,
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
    row = drift(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur}), ks_method="exact").iloc[0]
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


def test_integers_too_large_for_a_float_are_a_schema_violation_not_an_error():
    row = drift(
        pd.DataFrame({"x": np.arange(100.0)}), pd.DataFrame({"x": pd.Series([10**400] * 5, dtype=object)})
    )
    assert row.iloc[0]["schema_violation"] and row.iloc[0]["note"] == "expected numbers, got object values"


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


# --- KS p-values: the fast default against scipy, within the documented tolerance -----------------


def _shifted(seed: int, n_ref: int, n_cur: int, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Continuous samples whose KS distance is about ``z / sqrt(m n / (m + n))``."""
    rng = np.random.default_rng(seed)
    shift = z / np.sqrt(n_ref * n_cur / (n_ref + n_cur))
    return rng.normal(size=n_ref), rng.normal(shift, size=n_cur)


@pytest.mark.parametrize(
    ("n_ref", "n_cur"),
    [
        (1001, 1000),
        (1200, 1200),
        (2000, 1000),
        (5000, 1000),
        (1000, 5000),
        (3000, 700),
        (5000, 5000),
        (5000, 10_000),
    ],
)
@pytest.mark.parametrize("z", [0.6, 1.4, 2.0, 3.0])
def test_the_default_ks_p_value_is_within_the_documented_tolerance_of_scipy(n_ref, n_cur, z):
    ref, cur = _shifted(n_ref + n_cur, n_ref, n_cur, z)
    assert n_ref * n_cur > EXACT_KS_MAX_CELLS  # where the default leaves scipy's exact computation
    row = drift(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur})).iloc[0]
    expected = scipy.stats.ks_2samp(ref, cur)  # scipy's default: exact at these sizes
    assert row["ks"] == pytest.approx(expected.statistic, abs=1e-12)
    assert abs(row["ks_pvalue"] - expected.pvalue) <= 0.4 / np.sqrt(min(n_ref, n_cur))
    if expected.pvalue <= 0.1:
        assert abs(row["ks_pvalue"] - expected.pvalue) <= 0.004
    asymptotic = scipy.stats.ks_2samp(ref, cur, method="asymp").pvalue
    assert row["ks_pvalue"] == pytest.approx(asymptotic, abs=1e-9)  # it is scipy's asymptotic formula


@pytest.mark.parametrize(("n_ref", "n_cur"), [(1000, 1000), (200, 5000), (100, 10_000), (40, 25)])
def test_the_default_ks_p_value_is_scipys_exact_one_while_that_is_cheap(n_ref, n_cur):
    ref, cur = _shifted(7, n_ref, n_cur, 1.5)
    row = drift(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur})).iloc[0]
    assert row["ks_pvalue"] == pytest.approx(scipy.stats.ks_2samp(ref, cur).pvalue, abs=1e-9)


def test_ks_method_asymp_is_scipys_asymptotic_formula_and_others_are_refused():
    ref, cur = _shifted(3, 300, 200, 1.5)
    row = drift(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur}), ks_method="asymp").iloc[0]
    assert row["ks_pvalue"] == pytest.approx(scipy.stats.ks_2samp(ref, cur, method="asymp").pvalue, abs=1e-9)
    with pytest.raises(InvalidInput, match="ks_method must be one of auto, exact, asymp, not 'fast'"):
        drift(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur}), ks_method="fast")


@pytest.mark.parametrize("n", [141, 500, 4545, 19_999])
@pytest.mark.parametrize("n_d_squared", [2.2, 8.0, 120.0])
def test_the_vectorised_kolmogorov_tail_equals_scipys_kstwo_at_mid_sizes(n, n_d_squared):
    d = float(np.sqrt(n_d_squared / n))
    assert kstwo_sf(d, float(n)) == pytest.approx(scipy.stats.kstwo.sf(d, n), abs=1e-11, rel=1e-9)


# --- refusals of drift() itself ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reference", "current", "message"),
    [
        (
            [1.0, 2.0],
            pd.DataFrame({"x": [1.0]}),
            "the reference must be a stored profile or a pandas DataFrame, not list",
        ),
        (pd.DataFrame({"x": [1.0]}), {"x": [1.0]}, "the batch must be a pandas DataFrame, not dict"),
        (pd.DataFrame({"x": [1.0]}), np.ones((3, 1)), "the batch must be a pandas DataFrame, not ndarray"),
        (
            pd.DataFrame({"x": [1.0]}),
            pd.DataFrame([[1.0, 2.0]], columns=["x", "x"]),
            "the batch has duplicate column names (x)",
        ),
        (
            pd.DataFrame([[1.0, 2.0]], columns=["x", "x"]),
            pd.DataFrame({"x": [1.0]}),
            "the reference has duplicate column names (x)",
        ),
    ],
)
def test_drift_refuses_what_it_cannot_compare_in_one_line(reference, current, message):
    with pytest.raises(DataError) as refused:
        drift(reference, current)
    assert str(refused.value).startswith(message) and "\n" not in str(refused.value)


# --- batches nbops cannot compare, through the public API: one line, nothing written -------------


def _register_reference(name: str = "drifting") -> pd.DataFrame:
    from sklearn.dummy import DummyClassifier

    from nbops import registry

    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {"x1": rng.normal(size=200), "x2": rng.normal(size=200), "region": rng.choice(["n", "s"], 200)}
    )
    registry.register(DummyClassifier().fit(X, np.arange(200) % 2), name, data=X, alias="champion")
    return X


def _nothing_logged(name: str = "drifting") -> bool:
    from nbops import monitor
    from nbops.monitoring import runs

    return runs.monitoring_run_id(name, "1", create=False) is None and monitor.series(name, 1) == {}


def test_batches_that_cannot_be_compared_are_refused_in_one_line_and_nothing_is_written(project) -> None:
    from nbops import monitor

    X = _register_reference()
    table = "pass a pandas DataFrame with the features as columns"
    cases = [
        (pd.concat([X, X[["x1"]]], axis=1), "features has duplicate column names (x1): rename or drop them"),
        (X.rename(columns={"x2": 1}).assign(**{"1": 0.0}), "features has duplicate column names (1)"),
        (X.to_numpy().tolist()[0], f"features must be a table, got 1-D data of shape (3,): {table}"),
        (X.to_dict("list"), f"features must be a table, got dict: {table}"),
        (None, f"features must be a table, got NoneType: {table}"),
        ("batch.csv", f"features must be a table, got str: {table}"),
        (X["x1"].to_numpy(), f"features must be a table, got 1-D data of shape (200,): {table}"),
        (
            X.to_numpy()[:, :2],
            "features has 2 columns but the reference has 3 (x1, x2, region): pass a DataFrame",
        ),
    ]
    for features, message in cases:
        with pytest.raises(InvalidInput) as refused:
            monitor.log_batch("drifting@champion", features)
        text = str(refused.value)
        assert text.startswith(message) and "\n" not in text, text
    with pytest.raises(InvalidInput, match=r"^features has duplicate column names \(x1\)"):
        monitor.score_and_log("drifting", pd.concat([X, X[["x1"]]], axis=1))
    assert _nothing_logged()


def test_odd_but_comparable_columns_are_reported_in_the_table_not_raised(project) -> None:
    from nbops import monitor

    X = _register_reference()
    n = len(X)
    odd = {
        "text where numbers were": (X.assign(x1="a"), "expected numbers, got text values"),
        "numbers and text in one column": (
            X.assign(x1=pd.Series([1.5, "a"] * (n // 2), dtype=object)),
            "expected numbers, got object values",
        ),
        "dates where numbers were": (
            X.assign(x1=pd.date_range("2024-01-01", periods=n)),
            "expected numbers, got datetime64",
        ),
        "only missing values": (X.assign(x1=np.nan), "no values in the batch"),
    }
    for what, (batch, note) in odd.items():
        row = monitor.log_batch("drifting", batch).drift.set_index("feature").loc["x1"]
        assert row["note"].startswith(note), what
    infinite = monitor.log_batch("drifting", X.assign(x1=np.inf)).drift.set_index("feature").loc["x1"]
    assert infinite["ks"] == 1.0 and infinite["drifted"]
    mixed = X.assign(region=pd.Series([1, "n"] * (n // 2), dtype=object))
    assert monitor.log_batch("drifting", mixed).drift.set_index("feature").loc["region", "note"] == ""
    empty = monitor.log_batch("drifting", X.iloc[:0])
    assert set(empty.drift["note"]) == {"no values in the batch"}


def test_a_damaged_reference_profile_is_one_line_saying_how_to_repair_it(project, tmp_path) -> None:
    from nbops import monitor, registry, store
    from nbops.monitoring import reference

    X = _register_reference()
    run_id = registry.get_version("drifting", 1).run_id
    damaged = tmp_path / reference.PROFILE_FILE
    damaged.write_bytes(b"<html>not a profile</html>")
    store.client().log_artifact(run_id, str(damaged), "damaged")
    store.client().set_model_version_tag(
        "drifting", "1", reference.PROFILE_TAG, f"runs:/{run_id}/damaged/{damaged.name}"
    )
    with pytest.raises(
        DataError, match=r"^not an nbops profile \(.*\); register the version again with data"
    ):
        monitor.log_batch("drifting", X)
    assert _nothing_logged()


def test_registering_data_that_cannot_be_profiled_is_refused(project) -> None:
    from sklearn.dummy import DummyClassifier

    from nbops import registry

    X = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.0, 1.0, 0.0]})
    model = DummyClassifier().fit(X, [0, 1, 0])
    with pytest.raises(DataError, match=r"^the reference data has duplicate column names \(a\)"):
        registry.register(model, "unprofiled", data=pd.concat([X, X[["a"]]], axis=1))
    with pytest.raises(InvalidInput, match=r"^--data has no rows \(or no columns\)"):
        registry.register(model, "unprofiled", data=X.iloc[:0])
    assert registry.list_models() == []
