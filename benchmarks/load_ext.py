"""How long ``%load_ext nbops`` takes, next to importing MLflow (the baseline it avoids).

nbops imports MLflow lazily, when a run starts, so loading the extension costs
about as much as an empty IPython shell. Each measurement is a fresh interpreter
(import costs are only paid once per process), repeated; the medians are printed
with their ratio.

    python benchmarks/load_ext.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

SETUP = "from IPython.core.interactiveshell import InteractiveShell; ip = InteractiveShell.instance()\n"
CASES = {
    "empty IPython shell": "",
    "import mlflow (baseline)": "import mlflow",
    "%load_ext nbops": "ip.run_line_magic('load_ext', 'nbops')",
}


def measure(statement: str) -> float:
    code = SETUP + "import time; t = time.perf_counter()\n" + statement + "\nprint(time.perf_counter() - t)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    medians = {}
    for name, statement in CASES.items():
        times = [measure(statement) for _ in range(args.repeat)]
        medians[name] = statistics.median(times)
        print(f"{name:28s} median {medians[name] * 1000:8.1f} ms  (min {min(times) * 1000:.1f} ms)")
    ratio = medians["import mlflow (baseline)"] / medians["%load_ext nbops"]
    print(f"\n%load_ext nbops is {ratio:.0f}x faster than importing MLflow")


if __name__ == "__main__":
    main()
