"""Per-column drift of a production batch against a model's reference profile.

Drift rule (the defaults are ``alpha=0.05``, ``psi_threshold=0.2``, ``effect_threshold=0.1``):

* numeric column: drifted when ``psi >= psi_threshold`` or (``ks_pvalue < alpha`` and
  ``ks >= effect_threshold``);
* categorical column: drifted when ``psi >= psi_threshold`` or (``chi2_pvalue < alpha`` and
  ``tvd >= effect_threshold``) or ``unseen_share >= effect_threshold``.

A p-value alone is not enough because production batches are large: at a million rows a KS distance
of 0.002 is "significant" and means nothing for the model. Requiring an effect size as well keeps
the alarm for changes a person would act on, and PSI (the industry's habit) catches broad shifts
that spread over the distribution. Categories the reference never had are drift on their own: the
model has never seen them.

Why the work is shaped as it is. The reference is never touched again after registration: it is a
:class:`~nbops.monitoring.profile.NumericSketch` of ``m`` points (``m <= sketch_size``) with exact
counts ``le`` (reference values ``<=`` point) and ``lt`` (``<`` point). Each current column is sorted
once (numpy's SIMD sort), and the ``m`` sketch points are searched *into* it, ``m log n`` instead of
the ``n log m`` the other way round. The Wasserstein integral is taken over the merged breakpoints,
built by scatter rather than by a second sort. Columns run on a small thread pool (numpy releases
the GIL while it sorts and searches); categorical columns are counted by pandas and only the
distinct values are turned into strings.

KS from a sketch. Both empirical CDFs are right-continuous step functions, so ``|F_r - F_c|`` is
constant between consecutive sketch points except where ``F_c`` steps. On ``[p_k, p_k+1)``, if the
sketch holds every distinct reference value, ``F_r`` is the constant ``le_k/N = lt_k+1/N`` while
``F_c`` is non-decreasing, so the supremum of ``|F_r - F_c|`` there is reached at one of the two ends:
``|le_k/N - F_c(p_k)|`` or the left limit ``|lt_k+1/N - F_c(p_k+1 -)|``; below the first point
``F_r = 0 = lt_1/N`` and from the last point on ``F_r = 1 = le_m/N``. Hence, exactly,

    D = max_k max(|le_k/N - F_c(p_k)|, |lt_k/N - F_c(p_k -)|),

with ``F_c(p) = searchsorted(x, p, "right")/n`` and ``F_c(p-) = searchsorted(x, p, "left")/n`` on the
sorted current ``x``. For a quantile sketch the points are still reference values with exact counts,
so every term above is a value (or left limit) of the true ``|F_r - F_c|``: ``D_sketch <= D``. Inside a
gap, ``F_r`` moves by the reference mass strictly between the points, ``delta_k = (lt_k+1 - le_k)/N``;
with ``a = le_k/N``, ``b = lt_k+1/N = a + delta_k`` and ``u = F_c(p_k) <= F_c(t) <= v = F_c(p_k+1 -)``,
``F_r(t) - F_c(t) <= b - u <= |a - u| + delta_k`` and ``F_c(t) - F_r(t) <= v - a <= |b - v| + delta_k``.
So ``D <= D_sketch + max_k delta_k``, which is :func:`ks_bound` (about ``1/sketch_size``).

KS p-values (``ks_method``). scipy's ``ks_2samp(method="auto")`` computes the exact distribution of
the two-sample statistic whenever both samples have at most 10,000 values, and its asymptotic formula
``kstwo.sf(D, round(m*n/(m+n)))`` otherwise. The exact computation costs about ``m*n`` steps: 30-60 ms
per column at 5,000 x 10,000, so a batch of 20 features spends most of a second on p-values alone.

* ``"auto"`` (the default): exact, as scipy, when the reference sketch is exact, both sizes are at most
  10,000 *and* ``m*n <= 1,000,000`` (a millisecond or two per column); the asymptotic formula otherwise.
* ``"exact"``: exactly what ``scipy.stats.ks_2samp(method="auto")`` returns on the raw data (when the
  sketch is exact): exact up to 10,000 values per side, asymptotic above.
* ``"asymp"``: always the asymptotic formula.

Tolerance of ``"auto"`` against scipy. The two differ only where ``"auto"`` takes the asymptotic formula
and scipy the exact one, i.e. for ``m*n > 1,000,000`` with both sizes at most 10,000. There the absolute
difference of the p-values is at most ``0.4 / sqrt(min(m, n))``. Equal sizes are the worst case, because
the exact distribution is a coarse staircase there: measured 0.0123 at 1,050 x 1,050 (the largest over
the whole range), 0.0056 at 5,000 x 5,000; unequal sizes stay far below the bound (0.003 at
5,000 x 1,000, 0.0006 at 10,000 x 101). Below ``p = 0.1``, where a verdict at ``alpha = 0.05`` is
decided, the difference is at most 0.004; the largest ones sit around ``p = 0.5``, far from any verdict. ``tests/test_drift.py`` checks the bound against scipy on a grid of sizes. The KS distance
itself is always exact (or within :func:`ks_bound` for a quantile sketch). A quantile sketch always
gets the asymptotic formula, whatever the method.

One branch of ``kstwo.sf`` (significant shifts, ``2.2 <= n D^2 < 370``, ``n > 140``) is an O(n) scalar
loop in scipy that costs 20-300 ms per column at the sizes of production batches; :func:`kstwo_sf`
evaluates that same sum with numpy instead, equal to scipy's to about 1e-12.

Wasserstein-1 is the integral of ``|F_r - F_c|`` over the merged breakpoints, exactly as scipy's
``wasserstein_distance`` sums it. For a quantile sketch ``F_r`` is taken as ``le_k/N`` across each
gap, i.e. the gap's mass is moved to the gap's right end, which changes the distance by at most
``sum_k (p_k+1 - p_k) * delta_k`` (:func:`wasserstein_bound`).

PSI uses 10 bins cut at the reference's inverted-CDF deciles (duplicates dropped), with proportions
floored at 1e-4 so an empty bin costs a bounded amount instead of infinity. The deciles are sketch
points whenever ``sketch_size`` is a multiple of 10, so PSI is exact even from a sketch.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import scipy.special
import scipy.stats

from nbops.errors import DataError, InvalidInput
from nbops.monitoring.columns import COLUMNS
from nbops.monitoring.profile import (
    CATEGORICAL,
    NUMERIC,
    CategoricalCounts,
    NumericSketch,
    Profile,
    Sketch,
    categorical_counts,
    float_values,
    inverted_cdf_index,
    map_columns,
    sketch,
)

_STATS = COLUMNS[COLUMNS.index("statistic") : COLUMNS.index("effect") + 1]

MISSING_COLUMN = "missing from the batch"
NO_VALUES = "no values in the batch"
NO_REFERENCE_VALUES = "no values in the reference"

#: scipy's ``ks_2samp(method="auto")`` is exact up to this many values in the larger sample.
EXACT_KS_MAX_N = 10_000
#: ``ks_method="auto"`` computes the exact p-value only up to this many ``m*n`` steps (see above).
EXACT_KS_MAX_CELLS = 1_000_000
#: How KS p-values are computed: see the module docstring.
KS_METHODS = ("auto", "exact", "asymp")
#: Above this effective size the one-sided Smirnov tail is summed with numpy instead of scipy's loop
#: (scipy itself switches to that tail formula above 140).
FAST_SMIRNOV_MIN_N = 140
#: Proportions are floored here for PSI, so an empty bin or category contributes a finite amount.
PSI_FLOOR = 1e-4
_DECILES = np.arange(1, 10) / 10


def drift(
    reference: pd.DataFrame | Profile,
    current: pd.DataFrame,
    *,
    alpha: float = 0.05,
    psi_threshold: float = 0.2,
    effect_threshold: float = 0.1,
    workers: int = 2,
    ks_method: str = "auto",
) -> pd.DataFrame:
    """One row per reference column: statistics, whether it drifted, and schema problems.

    ``reference`` is a prebuilt :class:`Profile` (fast: nothing about the reference is recomputed) or
    the raw reference frame, which is sketched exactly on the way, so every statistic then equals the
    one scipy computes from the raw data (p-values with ``ks_method="exact"``; see the module
    docstring for the default's tolerance). Batch columns the reference does not have are ignored.
    """
    if not isinstance(current, pd.DataFrame):
        raise DataError(
            f"the batch must be a pandas DataFrame, not {type(current).__name__}: "
            "pass pandas.DataFrame(batch) with the reference's column names."
        )
    _no_duplicates(current, "the batch")
    check_ks_method(ks_method)
    if isinstance(reference, Profile):
        names = list(reference.features)
    elif isinstance(reference, pd.DataFrame):
        _no_duplicates(reference, "the reference")
        names = list(reference.columns)
        exact_size = max(len(reference), 1)
    else:
        raise DataError(
            f"the reference must be a stored profile or a pandas DataFrame, not {type(reference).__name__}: "
            "pass the training data as a DataFrame."
        )
    present = set(current.columns)

    def one(name: Any) -> dict[str, Any]:
        if isinstance(reference, Profile):
            ref = reference.features[name]
        else:
            ref = sketch(reference[name], sketch_size=exact_size)
        if name not in present:
            return _row(
                name,
                ref,
                n_current=0,
                missing_current=len(current),
                schema_violation=True,
                note=MISSING_COLUMN,
            )
        return column_drift(
            ref,
            current[name],
            alpha=alpha,
            psi_threshold=psi_threshold,
            effect_threshold=effect_threshold,
            feature=name,
            ks_method=ks_method,
        )

    rows = map_columns(one, names, workers)
    table = pd.DataFrame(rows, columns=COLUMNS)
    return table.astype(
        {
            "kind": object,
            "n_reference": np.int64,
            "n_current": np.int64,
            "missing_current": np.int64,
            **dict.fromkeys(_STATS, np.float64),
            "drifted": bool,
            "schema_violation": bool,
            "note": object,
        }
    )


def column_drift(
    reference: Sketch,
    values: pd.Series | np.ndarray,
    *,
    alpha: float = 0.05,
    psi_threshold: float = 0.2,
    effect_threshold: float = 0.1,
    feature: Any = None,
    ks_method: str = "auto",
) -> dict[str, Any]:
    """One row of the :func:`drift` table, for one column (or the predictions) against its sketch."""
    series = values if isinstance(values, pd.Series) else pd.Series(_one_dimensional(values), copy=False)
    if feature is None:
        feature = series.name
    if isinstance(reference, NumericSketch):
        numbers = _numbers_or_none(series)
        if numbers is None:
            if not series.count():
                return _row(feature, reference, n_current=0, missing_current=len(series), note=NO_VALUES)
            return _row(
                feature,
                reference,
                n_current=int(series.count()),
                missing_current=int(series.isna().sum()),
                schema_violation=True,
                note=f"expected numbers, got {_kind_of_values(series)} values",
            )
        ordered = np.sort(numbers)
        n = int(np.searchsorted(ordered, np.nan, side="left"))  # NaN sorts last
        counts = {"n_current": n, "missing_current": len(ordered) - n}
        if n == 0:
            return _row(feature, reference, **counts, note=NO_VALUES)
        if reference.n == 0:
            return _row(feature, reference, **counts, note=NO_REFERENCE_VALUES)
        stats = numeric_statistics(reference, ordered[:n], ks_method=ks_method)
        drifted = stats["psi"] >= psi_threshold or (
            stats["ks_pvalue"] < alpha and stats["ks"] >= effect_threshold
        )
        return _row(
            feature,
            reference,
            **counts,
            statistic=stats["ks"],
            p_value=stats["ks_pvalue"],
            effect=stats["ks"],
            drifted=bool(drifted),
            **stats,
        )
    if isinstance(reference, CategoricalCounts):
        batch = categorical_counts(series)
        counts = {"n_current": batch.n, "missing_current": batch.missing}
        if batch.n == 0:
            return _row(feature, reference, **counts, note=NO_VALUES)
        if reference.n == 0:
            return _row(feature, reference, **counts, note=NO_REFERENCE_VALUES)
        stats = categorical_statistics(reference, batch)
        drifted = (
            stats["psi"] >= psi_threshold
            or (stats["chi2_pvalue"] < alpha and stats["tvd"] >= effect_threshold)
            or stats["unseen_share"] >= effect_threshold
        )
        return _row(
            feature,
            reference,
            **counts,
            statistic=stats["chi2"],
            p_value=stats["chi2_pvalue"],
            chi2=stats["chi2"],
            chi2_pvalue=stats["chi2_pvalue"],
            psi=stats["psi"],
            unseen_share=stats["unseen_share"],
            effect=stats["tvd"],
            drifted=bool(drifted),
        )
    raise InvalidInput(
        f"not a reference sketch: {type(reference).__name__}; build one with profile.sketch(values)."
    )


def check_ks_method(ks_method: Any) -> str:
    """``ks_method`` itself, or a one-line refusal naming the choices."""
    if ks_method not in KS_METHODS:
        raise InvalidInput(f"ks_method must be one of {', '.join(KS_METHODS)}, not {ks_method!r}.")
    return ks_method


def drift_share(table: pd.DataFrame) -> float:
    """Drifted columns / evaluated columns; rows with a note (missing column, no values) are not evaluated."""
    if table.empty:
        return 0.0
    evaluated = table["note"].isna() | (table["note"] == "")
    total = int(evaluated.sum())
    return float(table.loc[evaluated, "drifted"].sum()) / total if total else 0.0


def ks_bound(sketch: NumericSketch) -> float:
    """How much larger than the sketch's KS distance the true one can be: the largest gap mass."""
    if sketch.exact or sketch.n == 0 or len(sketch.points) < 2:
        return 0.0
    return float(np.max(sketch.lt[1:] - sketch.le[:-1])) / sketch.n


def wasserstein_bound(sketch: NumericSketch) -> float:
    """How far the sketch's Wasserstein distance can be from the true one."""
    if sketch.exact or sketch.n == 0 or len(sketch.points) < 2:
        return 0.0
    between = (sketch.lt[1:] - sketch.le[:-1]) / sketch.n
    return _dot(np.diff(sketch.points), between)


def numeric_statistics(reference: NumericSketch, x: np.ndarray, ks_method: str = "auto") -> dict[str, float]:
    """KS distance and p-value, Wasserstein-1 and PSI of sorted, NaN-free ``x`` against a sketch."""
    points, le, lt = reference.points, reference.le, reference.lt
    big_n, n = reference.n, len(x)
    below = np.searchsorted(x, points, side="left")  # n * F_c(p-)
    # n * F_c(p): a second search only for the points some current value equals (few, for floats).
    below_or_at = below.copy()
    hit = np.flatnonzero(x[np.minimum(below, n - 1)] == points)
    below_or_at[hit] = np.searchsorted(x, points[hit], side="right")
    at_points = np.abs(le / big_n - below_or_at / n)  # |F_r(p) - F_c(p)|
    ks = float(max(np.max(at_points), np.max(np.abs(lt / big_n - below / n))))
    if _exact_p_value(reference, n, ks_method):
        result = scipy.stats.ks_2samp(np.repeat(points, le - lt), x)
        ks, ks_pvalue = float(result.statistic), float(result.pvalue)
    else:
        m_size, n_size = sorted([float(big_n), float(n)], reverse=True)
        en = m_size * n_size / (m_size + n_size)
        ks_pvalue = float(np.clip(kstwo_sf(ks, float(np.round(en))), 0.0, 1.0))
    return {
        "ks": ks,
        "ks_pvalue": ks_pvalue,
        "wasserstein": _wasserstein(reference, x, below, at_points),
        "psi": _numeric_psi(reference, n, below_or_at),
    }


def _exact_p_value(reference: NumericSketch, n: int, ks_method: str) -> bool:
    """Whether the KS p-value is scipy's exact one (see ``ks_method`` in the module docstring)."""
    if ks_method == "asymp" or not reference.exact or max(reference.n, n) > EXACT_KS_MAX_N:
        return False
    return ks_method == "exact" or reference.n * n <= EXACT_KS_MAX_CELLS


def kstwo_sf(d: float, n: float) -> float:
    """``scipy.stats.kstwo.sf(d, n)``, with its slow branch evaluated vectorised.

    For ``n > 140`` and ``2.2 <= n d^2 < 370`` scipy returns ``2 * scipy.special.smirnov(n, d)``, whose
    loop over ``n`` terms takes 20 ms to 2 s per call at the ``n`` of production batches; that is
    the band of significant shifts, where every column of a batch can land. There the same
    Birnbaum-Tingey sum is taken with numpy (:func:`_smirnov_sf`); it agrees with scipy to about
    1e-11 absolute (``gammaln`` of large arguments limits it), far inside the 1e-9 the tests demand.
    Everywhere else scipy is called as is.
    """
    if n > FAST_SMIRNOV_MIN_N and 0.0 < d < 0.5 and 1.0 < n * d < n - 1 and 2.2 <= n * d * d < 370.0:
        return 2.0 * _smirnov_sf(int(n), d)
    return float(scipy.stats.kstwo.sf(d, n))


def _smirnov_sf(n: int, d: float, chunk: int = 1 << 20) -> float:
    """P(D_n^+ >= d) = d * sum_j C(n, j) (1 - d - j/n)^(n-j) (d + j/n)^(j-1), for j <= n(1 - d)."""
    top = int(np.floor(n * (1.0 - d)))
    log_n_factorial = float(scipy.special.gammaln(n + 1.0))
    total = 0.0
    for start in range(0, top + 1, chunk):  # bounded memory however large the batch
        j = np.arange(start, min(start + chunk, top + 1), dtype=np.float64)
        at = np.minimum(d + j / n, 1.0)
        with np.errstate(divide="ignore"):  # (1 - d - j/n) can be exactly 0: a zero term
            terms = log_n_factorial - scipy.special.gammaln(j + 1.0) - scipy.special.gammaln(n - j + 1.0)
            terms += (n - j) * np.log1p(-at) + (j - 1.0) * np.log(at)
        total += float(np.exp(terms).sum())
    return d * total


def categorical_statistics(reference: CategoricalCounts, batch: CategoricalCounts) -> dict[str, float]:
    """Chi-squared test on the 2 x k table over the union of categories, PSI, TVD and the unseen share."""
    labels = list(reference.counts)
    labels += [key for key in batch.counts if key not in reference.counts]
    ref = np.array([reference.counts.get(key, 0) for key in labels], dtype=np.int64)
    cur = np.array([batch.counts.get(key, 0) for key in labels], dtype=np.int64)
    if len(labels) < 2:
        chi2, chi2_pvalue = 0.0, 1.0
    else:
        result = scipy.stats.chi2_contingency(np.vstack([ref, cur]))
        chi2, chi2_pvalue = float(result.statistic), float(result.pvalue)
    ref_share, cur_share = ref / reference.n, cur / batch.n
    return {
        "chi2": chi2,
        "chi2_pvalue": chi2_pvalue,
        "psi": _psi(ref_share, cur_share),
        "tvd": float(np.abs(ref_share - cur_share).sum() / 2),
        "unseen_share": float(cur[len(reference.counts) :].sum() / batch.n),
    }


def _numeric_psi(reference: NumericSketch, n: int, below_or_at: np.ndarray) -> float:
    # The point holding the k-th smallest reference value is the first with more than k values <= it.
    order = inverted_cdf_index(reference.n, _DECILES)
    edges = np.unique(np.searchsorted(reference.le, order, side="right"))
    ref = np.diff(np.concatenate(([0], reference.le[edges], [reference.n])))
    cur = np.diff(np.concatenate(([0], below_or_at[edges], [n])))
    return _psi(ref / reference.n, cur / n)


def _psi(ref_share: np.ndarray, cur_share: np.ndarray) -> float:
    ref_share = np.maximum(ref_share, PSI_FLOOR)
    cur_share = np.maximum(cur_share, PSI_FLOOR)
    return float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))


def _wasserstein(reference: NumericSketch, x: np.ndarray, below: np.ndarray, at_points: np.ndarray) -> float:
    """Integral of |F_r - F_c| over the merged breakpoints, in O(n) passes and without a second sort.

    In the merged order a sketch point goes before current values equal to it. Each breakpoint
    starts a piece that runs to the next breakpoint, on which both CDFs are constant:

    * current value ``x[j]``: ``F_c = (j+1)/n`` and ``F_r = le[k-1]/N`` with ``k`` the number of points
      ``<= x[j]``; ``k`` is constant between consecutive points, so ``F_r`` over all ``j`` is one
      ``np.repeat`` of ``le`` by the run lengths ``diff(below)``. The piece usually ends at ``x[j+1]``;
      it ends earlier at the first point ``p_k`` of a run when ``x[j] < p_k < x[j+1]``, which is a
      correction per point, not per value;
    * point ``p_k``: ``|F_r - F_c|`` is ``at_points[k]``, up to ``min(p_k+1, x[below_k])``.

    Tied breakpoints make zero-length pieces, as in scipy's own sum, so their heights do not matter.
    """
    points, le = reference.points, reference.le
    big_n, n = reference.n, len(x)
    le_before = np.concatenate(([0], le)) / big_n  # F_r just below point k, for k = 0..m
    heights = np.repeat(le_before, np.diff(np.concatenate(([0], below, [n]))))
    steps = np.arange(1, n + 1, dtype=np.float64)
    steps /= n
    heights -= steps
    np.abs(heights, out=heights)
    with np.errstate(invalid="ignore"):  # infinite values make an infinite (or undefined) distance
        total = _dot(heights[:-1], np.diff(x))
        # Points that cut a current piece short: the first point of each run after some x[j].
        first = np.concatenate(([True], below[1:] != below[:-1])) & (below > 0)
        k = np.flatnonzero(first)
        after = below[k]  # the cut piece starts at x[after - 1]; F_c there is after/n
        cut = points[k] - x[np.minimum(after, n - 1)]  # <= 0, or the last value's new piece (> 0)
        total += _dot(np.abs(le_before[k] - after / n), cut)
        # Pieces that start at a point.
        next_value = x[np.minimum(below, n - 1)]
        ends = np.minimum(np.append(points[1:], np.inf), np.where(below < n, next_value, np.inf))
        lengths = ends - points
        if below[-1] == n:  # the last point is the last breakpoint: no piece after it
            lengths[-1] = 0.0
        total += _dot(at_points, lengths)
    return total


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """``sum(a * b)`` without BLAS: OpenBLAS wakes its own threads for a long ``np.dot``, which on a
    busy machine (and inside our column threads) costs milliseconds per call instead of microseconds.
    """
    return float(np.multiply(a, b).sum())


def _numbers_or_none(series: pd.Series) -> np.ndarray | None:
    """The batch column as float64 (NaN = missing), or None when it does not hold numbers."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_complex_dtype(dtype):
        return None
    if pd.api.types.is_numeric_dtype(dtype):
        return float_values(series)
    if isinstance(dtype, pd.CategoricalDtype):
        categories = dtype.categories.dtype
        if pd.api.types.is_numeric_dtype(categories) and not pd.api.types.is_bool_dtype(categories):
            return series.astype(np.float64).to_numpy()
        return None
    if pd.api.types.is_object_dtype(dtype):
        inferred = pd.api.types.infer_dtype(series, skipna=True)
        if inferred in {"integer", "floating", "mixed-integer-float", "decimal", "empty"}:
            try:
                return pd.to_numeric(series).to_numpy(dtype=np.float64, na_value=np.nan)
            except (OverflowError, ValueError, TypeError):  # integers beyond float64, odd decimals
                return None
    return None


def _kind_of_values(series: pd.Series) -> str:
    """The column's kind as a user reads it: text is "text" whether pandas keeps it as ``str`` or ``object``."""
    if pd.api.types.infer_dtype(series, skipna=True) == "string":
        return "text"
    return str(series.dtype)


def _no_duplicates(frame: pd.DataFrame, what: str) -> None:
    if frame.columns.has_duplicates:
        twice = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
        raise DataError(
            f"{what} has duplicate column names ({', '.join(twice)}): "
            "rename or drop them so each feature is one column."
        )


def _one_dimensional(values: Any) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise DataError(f"expected one column of values, got an array of shape {array.shape}.")
    return array


def _row(
    feature: Any,
    reference: Sketch,
    *,
    n_current: int,
    missing_current: int,
    drifted: bool = False,
    schema_violation: bool = False,
    note: str = "",
    **stats: float,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "feature": feature,
        "kind": NUMERIC if isinstance(reference, NumericSketch) else CATEGORICAL,
        "n_reference": int(reference.n),
        "n_current": int(n_current),
        "missing_current": int(missing_current),
    }
    row.update(dict.fromkeys(_STATS, math.nan))
    row.update({key: float(value) for key, value in stats.items()})
    row.update({"drifted": bool(drifted), "schema_violation": bool(schema_violation), "note": note})
    return row
