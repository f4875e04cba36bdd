"""Data drift of a production batch: Evidently 0.7's ``DataDriftPreset`` against ``nbops.monitoring.drift``.

Part 1 compares a 200,000-row current batch with a 200,000-row reference (20 float columns, 5 text
columns with 5 to 50 categories; 4 numeric and 1 categorical column drifted). nbops is timed end to
end from the raw reference frame (sketching it exactly on the way, which is the headline ratio) and
against a profile built beforehand, which is how monitoring runs: the profile is made once, at
registration. The baselines are Evidently 0.7's ``Report([DataDriftPreset()])`` and a plain loop of
``scipy.stats.ks_2samp`` + ``wasserstein_distance`` per numeric column and ``chi2_contingency`` per
categorical one. Evidently 0.7 needs pandas < 3, so it runs in its own virtual environment
(``benchmarks/.venv-evidently``, created on first use with pip from PyPI) in a subprocess; only its
report computation (``Dataset.from_pandas`` + ``Report.run``, after a small warm-up run) is timed,
inside that subprocess, so interpreter start and imports are not counted against it.

Part 2 checks the sizing target: a 2,000,000 x 25 batch against a prebuilt profile in a fresh
process, within 3 s and 1.5 GiB peak RSS (``ru_maxrss`` of that whole process, data included).

    python benchmarks/drift.py [--rows 200000] [--big-rows 2000000] [--repeat 3] [--quick] [--no-evidently]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
EVIDENTLY_VENV = HERE / ".venv-evidently"
NUMERIC, CATEGORICAL = 20, 5
TIME_TARGET_S, MEMORY_TARGET_GIB = 3.0, 1.5

EVIDENTLY_SCRIPT = r"""
import json, sys, time
import numpy as np, pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset

path, repeat = sys.argv[1], int(sys.argv[2])
with np.load(path, allow_pickle=False) as archive:
    frames = {}
    for key in archive.files:
        side, column = key.split("/", 1)
        values = archive[key]
        frames.setdefault(side, {})[column] = values.astype(object) if values.dtype.kind == "U" else values
reference, current = pd.DataFrame(frames["reference"]), pd.DataFrame(frames["current"])
definition = DataDefinition(
    numerical_columns=[c for c in reference.columns if c.startswith("num")],
    categorical_columns=[c for c in reference.columns if c.startswith("cat")],
)

def run(ref, cur):
    started = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(cur, data_definition=definition),
        Dataset.from_pandas(ref, data_definition=definition),
    )
    return time.perf_counter() - started, snapshot

run(reference.head(2000), current.head(2000))  # warm-up: lazy imports and first-use costs
seconds = []
for _ in range(repeat):
    elapsed, snapshot = run(reference, current)
    seconds.append(elapsed)
drifted = None
for metric in snapshot.dict().get("metrics", []):
    value = metric.get("value")
    if isinstance(value, dict) and "count" in value:
        drifted = value["count"]
        break
print(json.dumps({"seconds": seconds, "drifted": drifted, "pandas": pd.__version__}))
"""


def make_frame(rows: int, seed: int, drifted: bool) -> pd.DataFrame:
    """20 float columns of assorted shapes and 5 text columns with 5 to 50 categories."""
    rng = np.random.default_rng(seed)
    columns: dict[str, object] = {}
    for i in range(NUMERIC):
        shift = 0.3 if drifted and i < 4 else 0.0
        if i % 3 == 2:
            values = rng.lognormal(shift, 1.0, rows)
        else:
            values = rng.normal(shift, 1.0 + i / 10, rows)
            values *= 10**i % 7 + 1
        columns[f"num_{i:02d}"] = values
    for j, size in enumerate([5, 12, 20, 35, 50]):
        labels = [f"level_{j}_{k}" for k in range(size)]
        weights = rng.random(size) + 0.2
        if drifted and j == 0:
            weights = weights[::-1]
        codes = rng.choice(size, rows, p=weights / weights.sum()).astype(np.int32)
        columns[f"cat_{j}"] = _strings(codes, labels)
    return pd.DataFrame(columns, copy=False)


def _strings(codes: np.ndarray, labels: list[str]) -> pd.Series:
    """A text column (pandas' default ``str`` dtype) without a Python object per row on the way."""
    try:
        import pyarrow as pa
    except ImportError:
        return pd.Series(pd.Categorical.from_codes(codes, labels)).astype("str")
    dictionary = pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(labels))
    return dictionary.cast(pa.string()).to_pandas()


def median_time(fn, repeat: int) -> tuple[float, object]:
    result = fn()  # warm-up
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def scipy_baseline(reference: pd.DataFrame, current: pd.DataFrame) -> int:
    import scipy.stats

    drifted = 0
    for column in reference.columns:
        if column.startswith("num"):
            ref, cur = reference[column].to_numpy(), current[column].to_numpy()
            ks = scipy.stats.ks_2samp(ref, cur)
            scipy.stats.wasserstein_distance(ref, cur)
            drifted += ks.pvalue < 0.05 and ks.statistic >= 0.1
        else:
            table = pd.concat(
                [reference[column].value_counts(), current[column].value_counts()], axis=1
            ).fillna(0)
            drifted += scipy.stats.chi2_contingency(table.to_numpy().T).pvalue < 0.05
    return drifted


def ensure_evidently() -> Path:
    """The cached venv with Evidently 0.7 and pandas < 3; created with pip on first use."""
    python = EVIDENTLY_VENV / "bin" / "python"
    check = [str(python), "-c", "import evidently, pandas; assert pandas.__version__ < '3'"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    print(f"creating {EVIDENTLY_VENV} (Evidently 0.7, pandas<3; once) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(EVIDENTLY_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "evidently==0.7.*", "pandas<3"], check=True)
    return python


def run_evidently(reference: pd.DataFrame, current: pd.DataFrame, repeat: int) -> dict:
    python = ensure_evidently()
    with tempfile.TemporaryDirectory(prefix="nbops-bench-") as folder:
        path = Path(folder) / "data.npz"
        arrays = {}
        for side, frame in (("reference", reference), ("current", current)):
            for column in frame.columns:
                values = frame[column].to_numpy()
                arrays[f"{side}/{column}"] = values.astype(str) if values.dtype == object else values
        np.savez(path, **arrays)
        done = subprocess.run(
            [str(python), "-c", EVIDENTLY_SCRIPT, str(path), str(repeat)],
            capture_output=True,
            text=True,
            check=True,
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def big_batch(rows: int, profile_path: str, repeat: int) -> None:
    """Runs in a fresh process: times drift of a big batch and reports the process's peak RSS."""
    from nbops.monitoring import drift, profile

    built = profile.Profile.from_bytes(Path(profile_path).read_bytes())
    current = make_frame(rows, seed=2, drifted=True)
    data_bytes = int(current.memory_usage(deep=True).sum())
    rss_before = _proc_status("VmRSS")
    # Reset the kernel's high-water mark, so the peak *during* drift can be told from the data's setup.
    try:
        Path("/proc/self/clear_refs").write_text("5")
        resettable = True
    except OSError:
        resettable = False
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        table = drift.drift(built, current)
        times.append(time.perf_counter() - started)
    result = {
        "seconds": times,
        "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "before": rss_before,
        "during": _proc_status("VmHWM") if resettable else None,
        "data": data_bytes,
        "drifted": int(table["drifted"].sum()),
    }
    print(json.dumps(result))


def _proc_status(field: str) -> int:
    """A memory figure of this process from /proc/self/status, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--big-rows", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    parser.add_argument("--no-evidently", action="store_true", help="skip the Evidently baseline")
    parser.add_argument("--big-batch", nargs=2, metavar=("ROWS", "PROFILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.big_batch:
        big_batch(int(args.big_batch[0]), args.big_batch[1], args.repeat)
        return
    if args.quick:
        args.rows, args.big_rows, args.repeat = 20_000, 200_000, 1

    from nbops.monitoring import drift, profile

    reference = make_frame(args.rows, seed=0, drifted=False)
    current = make_frame(args.rows, seed=1, drifted=True)
    print(
        f"Part 1: {args.rows:,} x {NUMERIC + CATEGORICAL} current batch against a {args.rows:,}-row reference "
        f"({NUMERIC} numeric, {CATEGORICAL} categorical); medians of {args.repeat}; load {os.getloadavg()[0]:.2f}"
    )
    build_s, built = median_time(lambda: profile.build(reference), args.repeat)
    raw_s, raw_table = median_time(lambda: drift.drift(reference, current), args.repeat)
    pre_s, pre_table = median_time(lambda: drift.drift(built, current), args.repeat)
    scipy_s, scipy_drifted = median_time(lambda: scipy_baseline(reference, current), args.repeat)
    rows = [
        ("nbops.drift(reference_df, current_df)", raw_s, int(raw_table["drifted"].sum())),
        ("nbops.drift(profile, current_df)", pre_s, int(pre_table["drifted"].sum())),
        ("  profile.build(reference_df), once", build_s, None),
        ("scipy loop (ks_2samp, wasserstein, chi2)", scipy_s, scipy_drifted),
    ]
    evidently = None
    if not args.no_evidently:
        evidently = run_evidently(reference, current, args.repeat)
        evidently_s = statistics.median(evidently["seconds"])
        rows.append(("Evidently 0.7 DataDriftPreset", evidently_s, evidently["drifted"]))
    print(f"{'':44s} {'median':>9s}  drifted columns")
    for name, seconds, drifted_count in rows:
        shown = "" if drifted_count is None else str(int(drifted_count))
        print(f"{name:44s} {seconds:8.3f}s  {shown}")
    print(f"\nnbops end to end (raw reference) is {scipy_s / raw_s:.1f}x faster than the scipy loop", end="")
    print(f"; with the profile prebuilt {scipy_s / pre_s:.1f}x.")
    if evidently is not None:
        print(
            f"Evidently ran in its own venv ({EVIDENTLY_VENV.relative_to(HERE.parent)}, pandas "
            f"{evidently['pandas']}); only its report computation was timed, inside that process."
        )
        print(
            f"nbops end to end is {evidently_s / raw_s:.1f}x faster than Evidently (goal: >= 20x); "
            f"with the profile prebuilt {evidently_s / pre_s:.1f}x."
        )

    print(
        f"\nPart 2: {args.big_rows:,} x {NUMERIC + CATEGORICAL} batch against a prebuilt profile, fresh process"
    )
    with tempfile.NamedTemporaryFile(suffix=".npz", delete=False) as handle:
        handle.write(built.to_bytes())
    try:
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "--big-batch",
                str(args.big_rows),
                handle.name,
                "--repeat",
                str(args.repeat),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        os.unlink(handle.name)
    big = json.loads(done.stdout.strip().splitlines()[-1])
    seconds, gib = statistics.median(big["seconds"]), big["peak"] / 2**30
    print(f"{'drift time (median)':34s} {seconds:8.2f} s    target <= {TIME_TARGET_S} s")
    print(f"{'peak RSS of the whole process':34s} {gib:8.2f} GiB  target <= {MEMORY_TARGET_GIB} GiB")
    print(
        f"{'  RSS before drift ran':34s} {big['before'] / 2**30:8.2f} GiB  (interpreter, imports, the batch)"
    )
    if big["during"] is not None:
        print(f"{'  peak RSS while drift ran':34s} {big['during'] / 2**30:8.2f} GiB")
    print(f"{'  the batch itself':34s} {big['data'] / 2**30:8.2f} GiB")
    verdict = "met" if seconds <= TIME_TARGET_S and gib <= MEMORY_TARGET_GIB else "NOT met"
    print(f"targets {verdict}; {big['drifted']} drifted columns")


if __name__ == "__main__":
    main()
