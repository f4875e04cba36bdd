"""The reference profile: what a model's training data looked like, kept small enough to store with it.

Drift checks compare every production batch with the data the model was trained on. Re-reading and
re-sorting that training data for every batch is the expensive part of the usual approach, so nbops
summarises it once, at registration, into a :class:`Profile` that is stored next to the model version.

Numeric columns become a :class:`NumericSketch`: sorted points with the exact number of reference
values ``<=`` and ``<`` each point. Those two counts are the reference's empirical CDF and its left
limit at the point, which is all the Kolmogorov-Smirnov, Wasserstein and PSI computations need
(see ``nbops.monitoring.drift``). When a column has at most ``sketch_size`` distinct values the points
are every distinct value, so the sketch *is* the reference multiset (``exact=True``) and every
statistic computed from it equals the one computed from the raw data. Otherwise the points are the
inverted-CDF quantiles at ``i / sketch_size``: actual reference values, so their counts are still exact
and only the mass strictly between two consecutive points is unknown (at most about
``1 / sketch_size`` of the reference). With ``sketch_size`` a multiple of 10 the deciles that PSI bins
on are among the points, so PSI is exact even for a sketch. One sort of the column gives everything:
distinct values, counts and quantiles.

Which columns are numeric is decided by :func:`kind_of`: floats always are, integers only with more
than 20 distinct values (a 0-5 rating or a class id is better compared category by category), and
booleans, strings and pandas categoricals never are. Categories are stored as strings so a profile
does not depend on the batch's dtype: an integer category read back as float (pandas does that to
integer columns with missing values) must still match, so integral floats are written without
their ``.0``.

Serialisation is an ``.npz`` archive read with ``allow_pickle=False``: a profile is loaded from the
model registry, and a registry artifact must never be able to run code when it is read. The
structure (names, kinds, counts) is a JSON header stored as a 0-d string array; the numbers and the
category labels (UTF-8 bytes plus offsets) are plain numeric arrays.

Data nbops cannot summarise (duplicate column names, something that is not a table, an archive that
is not a profile) is refused with a one-line :class:`~nbops.errors.DataError`, never a numpy or
pandas traceback: these functions run inside ``%register`` and every logged batch.
"""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from nbops.errors import DataError, InvalidInput

NUMERIC, CATEGORICAL = "numeric", "categorical"

#: Integer columns with at most this many distinct values are compared as categories.
MAX_INTEGER_CATEGORIES = 20

_FORMAT = "nbops.profile"
_VERSION = 1


def kind_of(values: pd.Series | np.ndarray) -> str:
    """``"numeric"`` or ``"categorical"``: how a column is summarised and compared."""
    series = _as_series(values)
    dtype = series.dtype
    if (
        pd.api.types.is_bool_dtype(dtype)
        or not pd.api.types.is_numeric_dtype(dtype)
        or pd.api.types.is_complex_dtype(dtype)
    ):
        return CATEGORICAL
    if pd.api.types.is_float_dtype(dtype):
        return NUMERIC
    return NUMERIC if _more_distinct_than(series, MAX_INTEGER_CATEGORIES) else CATEGORICAL


@dataclass(eq=False)
class NumericSketch:
    """A numeric column as sorted points with exact reference counts ``<=`` (``le``) and ``<`` (``lt``)."""

    points: np.ndarray
    le: np.ndarray
    lt: np.ndarray
    n: int
    missing: int
    exact: bool

    @property
    def kind(self) -> str:
        return NUMERIC

    @property
    def min(self) -> float:
        return float(self.points[0]) if self.n else float("nan")

    @property
    def max(self) -> float:
        return float(self.points[-1]) if self.n else float("nan")

    @property
    def mean(self) -> float:
        """Exact for an exact sketch; otherwise the mass between two points is put at their midpoint."""
        if not self.n:
            return float("nan")
        total = float((self.points * (self.le - self.lt)).sum())
        if not self.exact and len(self.points) > 1:
            between = self.lt[1:] - self.le[:-1]
            total += float(((self.points[1:] + self.points[:-1]) / 2 * between).sum())
        return total / self.n

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NumericSketch):
            return NotImplemented
        return (
            (self.n, self.missing, self.exact) == (other.n, other.missing, other.exact)
            and np.array_equal(self.points, other.points)
            and np.array_equal(self.le, other.le)
            and np.array_equal(self.lt, other.lt)
        )

    __hash__ = None  # type: ignore[assignment]


@dataclass
class CategoricalCounts:
    """A categorical column as counts per category (labels as strings, missing values counted apart)."""

    counts: dict[str, int]
    n: int
    missing: int

    @property
    def kind(self) -> str:
        return CATEGORICAL


Sketch = NumericSketch | CategoricalCounts


@dataclass
class Profile:
    """Per-column sketches of a reference dataset (and, optionally, of the model's predictions on it)."""

    features: dict[Any, Sketch] = field(default_factory=dict)
    prediction: Sketch | None = None
    rows: int = 0

    def to_bytes(self) -> bytes:
        arrays: dict[str, np.ndarray] = {}
        features = [_describe(name, s, f"f{i}", arrays) for i, (name, s) in enumerate(self.features.items())]
        prediction = None if self.prediction is None else _describe(None, self.prediction, "p", arrays)
        header = {
            "format": _FORMAT,
            "version": _VERSION,
            "rows": int(self.rows),
            "features": features,
            "prediction": prediction,
        }
        arrays["header"] = np.array(json.dumps(header))
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Profile:
        """The profile stored by :meth:`to_bytes`; anything else is a one-line ``DataError``."""
        again = "register the version again with data (%register MODEL --name NAME --data X_train)."
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as archive:
                arrays = {key: archive[key] for key in archive.files}
            header = json.loads(str(arrays["header"][()])) if "header" in arrays else None
        except (OSError, ValueError, TypeError, EOFError, KeyError) as exc:  # zip, pickle, JSON errors
            raise DataError(f"not an nbops profile ({_first_line(exc)}); {again}") from None
        if not isinstance(header, dict) or header.get("format") != _FORMAT:
            raise DataError(f"not an nbops profile; {again}")
        if header.get("version") != _VERSION:
            raise DataError(f"nbops profile version {header.get('version')} is not supported; {again}")
        try:
            features = {entry["name"]: _restore(entry, arrays) for entry in header["features"]}
            prediction = None if header["prediction"] is None else _restore(header["prediction"], arrays)
            return cls(features=features, prediction=prediction, rows=int(header["rows"]))
        except (KeyError, TypeError, ValueError, UnicodeDecodeError) as exc:
            raise DataError(f"the nbops profile is damaged ({_first_line(exc)}); {again}") from None


def build(
    data: pd.DataFrame, predictions: Any = None, sketch_size: int = 10_000, workers: int = 2
) -> Profile:
    """Sketch every column of ``data`` (and ``predictions``, if given); columns run on ``workers`` threads."""
    if not isinstance(data, pd.DataFrame):
        raise DataError(
            f"the reference data must be a pandas DataFrame, not {type(data).__name__}: "
            "pass pandas.DataFrame(data) with the features' names as columns."
        )
    if data.columns.has_duplicates:
        twice = sorted({str(c) for c in data.columns[data.columns.duplicated()]})
        raise DataError(
            f"the reference data has duplicate column names ({', '.join(twice)}): "
            "rename or drop them so each feature is one column."
        )
    columns = list(data.columns)
    sketches = map_columns(lambda name: sketch(data[name], sketch_size=sketch_size), columns, workers)
    prediction = None if predictions is None else sketch(_one_column(predictions), sketch_size=sketch_size)
    return Profile(features=dict(zip(columns, sketches, strict=True)), prediction=prediction, rows=len(data))


def sketch(values: Any, sketch_size: int = 10_000) -> Sketch:
    """The sketch of one column (or of the predictions), numeric or categorical by :func:`kind_of`."""
    if isinstance(sketch_size, bool) or not isinstance(sketch_size, int) or sketch_size < 1:
        raise InvalidInput(f"sketch_size must be a whole number >= 1, not {sketch_size!r}.")
    series = _as_series(values)
    if kind_of(series) == NUMERIC:
        return numeric_sketch(float_values(series), sketch_size)
    return categorical_counts(series)


def numeric_sketch(values: np.ndarray, sketch_size: int = 10_000) -> NumericSketch:
    """Sketch float64 values (NaN = missing) with one sort; see the module docstring for the layout."""
    ordered = np.sort(values)
    n = int(np.searchsorted(ordered, np.nan, side="left"))  # NaN sorts last
    missing = len(ordered) - n
    ordered = ordered[:n]
    if n == 0:
        empty = np.empty(0, dtype=np.int64)
        return NumericSketch(np.empty(0), empty, empty.copy(), 0, missing, True)
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    if len(starts) <= sketch_size:
        points = ordered[starts]
        lt = starts.astype(np.int64)
        le = np.append(starts[1:], n).astype(np.int64)
        return NumericSketch(points, le, lt, n, missing, True)
    positions = inverted_cdf_index(n, np.arange(sketch_size + 1) / sketch_size)
    picked = ordered[positions]
    points = picked[np.concatenate(([True], picked[1:] != picked[:-1]))]
    lt = np.searchsorted(ordered, points, side="left").astype(np.int64)
    le = np.searchsorted(ordered, points, side="right").astype(np.int64)
    return NumericSketch(points, le, lt, n, missing, False)


def inverted_cdf_index(n: int, probabilities: np.ndarray) -> np.ndarray:
    """0-based order statistics that ``np.quantile(..., method="inverted_cdf")`` picks, bit for bit.

    Replicates numpy's float arithmetic (``n * q - 1``, then the next index unless exactly integral), so
    ``10 * 0.3`` rounding up picks the same element numpy does.
    """
    virtual = n * np.asarray(probabilities, dtype=np.float64) - 1
    previous = np.floor(virtual)
    index = np.where(virtual - previous == 0, previous, previous + 1).astype(np.intp)
    return np.clip(index, 0, n - 1)


def categorical_counts(values: Any) -> CategoricalCounts:
    """Counts per category label; strings are made only from the distinct values, never per row."""
    series = _as_series(values)
    counted = series.value_counts(dropna=True, sort=True)
    counts: dict[str, int] = {}
    for value, count in zip(counted.index, counted.to_numpy(), strict=True):
        if count:
            key = label(value)
            counts[key] = counts.get(key, 0) + int(count)
    n = sum(counts.values())
    return CategoricalCounts(counts=counts, n=n, missing=len(series) - n)


def label(value: Any) -> str:
    """The string a category is stored under: ``str(value)``, with integral floats written as integers."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def float_values(series: pd.Series) -> np.ndarray:
    """A numeric series as float64 with NaN for missing; a view when it already is float64."""
    if series.dtype == np.float64:
        return series.to_numpy()
    if pd.api.types.is_object_dtype(series.dtype):
        series = pd.to_numeric(series)
    return series.to_numpy(dtype=np.float64, na_value=np.nan)


def map_columns(fn: Callable[[Any], Any], columns: Iterable[Any], workers: int) -> list[Any]:
    """``[fn(c) for c in columns]`` on ``workers`` threads: numpy sorts and searches release the GIL."""
    columns = list(columns)
    if workers <= 1 or len(columns) <= 1:
        return [fn(c) for c in columns]
    with ThreadPoolExecutor(max_workers=min(workers, len(columns))) as pool:
        return list(pool.map(fn, columns))


def _as_series(values: Any) -> pd.Series:
    if isinstance(values, pd.Series):
        return values
    array = np.asarray(values)
    if array.ndim != 1:
        raise DataError(f"expected one column of values, got an array of shape {array.shape}.")
    return pd.Series(array, copy=False)


def _one_column(predictions: Any) -> pd.Series:
    if isinstance(predictions, pd.DataFrame):
        if predictions.shape[1] != 1:
            raise DataError(
                f"predictions must be one column, got {predictions.shape[1]}: pass the predicted labels or values."
            )
        return predictions.iloc[:, 0]
    if isinstance(predictions, pd.Series):
        return predictions
    array = np.asarray(predictions)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise DataError(
            f"predictions must be one column, got an array of shape {array.shape}: "
            "pass the predicted labels or values."
        )
    return pd.Series(array, copy=False)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _more_distinct_than(series: pd.Series, limit: int) -> bool:
    # A cheap look at a prefix first: most numeric columns show their variety early.
    head = series.iloc[:10_000]
    if head.nunique(dropna=True) > limit:
        return True
    return len(head) < len(series) and series.nunique(dropna=True) > limit


def _describe(name: Any, sketch: Sketch, prefix: str, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    if isinstance(sketch, NumericSketch):
        arrays[f"{prefix}.points"] = np.asarray(sketch.points, dtype=np.float64)
        arrays[f"{prefix}.le"] = np.asarray(sketch.le, dtype=np.int64)
        arrays[f"{prefix}.lt"] = np.asarray(sketch.lt, dtype=np.int64)
        extra: dict[str, Any] = {"exact": bool(sketch.exact)}
    else:
        encoded = [key.encode("utf-8") for key in sketch.counts]
        arrays[f"{prefix}.labels"] = np.frombuffer(b"".join(encoded), dtype=np.uint8)
        arrays[f"{prefix}.offsets"] = np.cumsum([0, *map(len, encoded)], dtype=np.int64)
        arrays[f"{prefix}.counts"] = np.fromiter(sketch.counts.values(), dtype=np.int64, count=len(encoded))
        extra = {}
    return {
        "name": _json_name(name),
        "kind": sketch.kind,
        "prefix": prefix,
        "n": int(sketch.n),
        "missing": int(sketch.missing),
        **extra,
    }


def _restore(entry: dict[str, Any], arrays: dict[str, np.ndarray]) -> Sketch:
    prefix = entry["prefix"]
    if entry["kind"] == NUMERIC:
        return NumericSketch(
            points=arrays[f"{prefix}.points"],
            le=arrays[f"{prefix}.le"],
            lt=arrays[f"{prefix}.lt"],
            n=int(entry["n"]),
            missing=int(entry["missing"]),
            exact=bool(entry["exact"]),
        )
    raw = arrays[f"{prefix}.labels"].tobytes()
    offsets = arrays[f"{prefix}.offsets"].tolist()
    labels = [raw[a:b].decode("utf-8") for a, b in itertools.pairwise(offsets)]
    counts = dict(zip(labels, arrays[f"{prefix}.counts"].tolist(), strict=True))
    return CategoricalCounts(counts=counts, n=int(entry["n"]), missing=int(entry["missing"]))


def _json_name(name: Any) -> Any:
    if name is None or isinstance(name, str | int | float | bool):
        return name
    if isinstance(name, np.integer | np.floating):
        return name.item()
    return str(name)
