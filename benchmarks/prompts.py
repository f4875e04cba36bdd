"""Registering an unchanged prompt cell: ``%%prompt`` / ``nbops.prompts.register`` against MLflow's ``register_prompt``.

A notebook re-runs its prompt cells on every run. MLflow's ``mlflow.genai.register_prompt`` writes a
new version each time, whatever the text; nbops compares the cell's content hash with the latest
version (one store read) and writes nothing when it is unchanged. Both register the same text in one
process on the same fresh SQLite store (or ``--uri``, e.g. a team's tracking server), after a warm-up
that pays the one-time imports for both. The cell is timed twice: through the core function, and as a
whole ``%%prompt`` cell in a real IPython shell (parsing, lineage and printing included).
Target: an unchanged cell in at most 50 ms.

    python benchmarks/prompts.py [--repeat 20] [--uri URI]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

TEXT = (
    "You are a support agent for {{product}}.\nAnswer {{customer}}'s question in one paragraph:\n{{question}}"
)
TARGET_S = 0.050


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--uri", default=None, help="Tracking URI (default: a fresh SQLite store).")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="nbops-bench-"))
    os.environ["MLFLOW_TRACKING_URI"] = args.uri or f"sqlite:///{folder / 'mlflow.db'}"
    os.chdir(folder)

    from IPython.core.interactiveshell import InteractiveShell

    from nbops import prompts, store

    mlflow = store.fluent()
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "nbops")
    cell = f"%%prompt nbops-bench -m 'first'\n{TEXT}\n"

    def baseline() -> None:
        mlflow.genai.register_prompt("mlflow-bench", TEXT, commit_message="first")

    def nbops_register() -> None:
        assert not prompts.register("nbops-bench", TEXT).created

    def nbops_cell() -> None:
        with contextlib.redirect_stdout(io.StringIO()) as out:
            shell.run_cell(cell).raise_error()
        assert "unchanged" in out.getvalue()

    baseline()  # warm-up: imports and first-use costs, for both; the first nbops run registers
    with contextlib.redirect_stdout(io.StringIO()):
        shell.run_cell(cell).raise_error()
    nbops_register()
    timings: dict[str, list[float]] = {
        "mlflow.genai.register_prompt": [],
        "nbops.prompts.register (unchanged)": [],
        "%%prompt cell (unchanged)": [],
    }
    runs: tuple[Callable[[], None], ...] = (baseline, nbops_register, nbops_cell)
    for _ in range(args.repeat):
        for name, fn in zip(timings, runs, strict=True):
            started = time.perf_counter()
            fn()
            timings[name].append(time.perf_counter() - started)
    medians = {name: statistics.median(values) for name, values in timings.items()}
    for name, value in medians.items():
        print(f"{name:38s} median {value * 1000:7.1f} ms")
    base = medians["mlflow.genai.register_prompt"]
    for name in list(timings)[1:]:
        verdict = "within" if medians[name] <= TARGET_S else "OVER"
        print(
            f"{name}: {medians[name] / base:.2f}x MLflow's time, {verdict} the {TARGET_S * 1000:.0f} ms target"
        )
    versions = len(store.client().search_prompt_versions("mlflow-bench", max_results=1000))
    print(f"\nMLflow wrote {versions} versions of the same text; nbops wrote 1.")


if __name__ == "__main__":
    main()
