"""Traced LLM calls and LLM monitoring, side by side with MLflow's own ways, in one process.

1. **Tracing overhead per call**: a bare call of a fake LLM, the same call through
   ``nbops.llm.traced`` (tokens counted offline, cost priced, prompt linked) and through MLflow's
   ``@mlflow.trace``. The overhead is what the caller waits for (traces are exported in the
   background; both sides are flushed, untimed, after each loop). Target: at most 2 ms over bare.
   The calling thread's CPU time is printed too: on a machine other work is loading, wall time
   also counts the time the process waited for a core.
2. **Cost and token totals of 10,000 traces**: ``nbops.llm.summary`` (aggregated by the store:
   two SQL queries on MLflow's tables for this SQLite store)
   against ``mlflow.search_traces`` into pandas and summing there. Target: at most 200 ms.
   Writing 10,000 traces through MLflow's exporter takes minutes on SQLite (tens of ms a trace),
   so ``--seed`` traced calls are made for real and their rows are copied in the database to
   reach ``--traces``; both sides then read the same rows.

    python benchmarks/llm.py [--calls 300] [--traces 10000] [--seed 100] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import tempfile
import time
from pathlib import Path

#: The tables holding a trace's rows in MLflow's SQL store, and the column naming the trace.
_TRACE_TABLES = {
    "trace_info": "request_id",
    "trace_tags": "request_id",
    "trace_request_metadata": "request_id",
    "trace_metrics": "request_id",
    "spans": "trace_id",
    "span_metrics": "trace_id",
}


def fake_llm(question: str) -> str:
    return "The answer is " + question.upper()


def timed_loop(fn, calls: int) -> float:
    return timed_loops(fn, calls)[0]


def timed_loops(fn, calls: int) -> tuple[float, float]:
    """Wall seconds and the calling thread's CPU seconds (what a loaded machine does not inflate)."""
    started, cpu = time.perf_counter(), time.thread_time()
    for number in range(calls):
        fn(f"What is the capital of country number {number}?")
    return time.perf_counter() - started, time.thread_time() - cpu


def copy_traces(db: Path, experiment: str, copies: int) -> None:
    """Every trace of ``experiment`` ``copies`` more times, under new ids (same tags, tokens, cost)."""
    with sqlite3.connect(db, timeout=60) as connection:
        query = "SELECT request_id FROM trace_info WHERE experiment_id = ?"
        originals = [row[0] for row in connection.execute(query, (int(experiment),))]
        marks = ",".join("?" * len(originals))
        for table, key in _TRACE_TABLES.items():
            columns = [row[1] for row in connection.execute(f"PRAGMA table_info({table})")]
            picked = ", ".join(f"{key} || '-' || ?" if c == key else c for c in columns)
            for copy in range(copies):
                connection.execute(
                    f"INSERT INTO {table} ({', '.join(columns)}) "
                    f"SELECT {picked} FROM {table} WHERE {key} IN ({marks})",
                    [str(copy), *originals],
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="calls per overhead loop")
    parser.add_argument("--traces", type=int, default=10_000, help="traces to aggregate")
    parser.add_argument("--seed", type=int, default=100, help="traces written for real, then copied")
    parser.add_argument("--repeat", type=int, default=5, help="cached summary calls; the best is printed")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="nbops-bench-llm-"))
    (folder / "pyproject.toml").write_text(
        '[project]\nname = "bench"\n\n[tool.nbops.llm.prices.fake-llm]\n'
        "input_per_million_tokens = 2.0\noutput_per_million_tokens = 6.0\n"
    )
    os.chdir(folder)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    import mlflow

    import nbops.llm as llm
    from nbops import store

    store.fluent(folder)
    version = mlflow.genai.register_prompt("bench", "Answer: {{question}}")
    mlflow.set_experiment("overhead")
    traced = llm.traced(fake_llm, model="fake-llm", provider="local", prompt=version)
    mlflow_traced = mlflow.trace(fake_llm, span_type="LLM")
    for fn in (fake_llm, traced, mlflow_traced):  # imports, the tokenizer, the first export
        timed_loop(fn, 20)
    llm.flush()

    bare_s = timed_loops(fake_llm, args.calls)
    nbops_s = timed_loops(traced, args.calls)
    llm.flush()
    mlflow_s = timed_loops(mlflow_traced, args.calls)
    llm.flush()
    per_call = {
        name: s[0] / args.calls * 1000
        for name, s in (("bare", bare_s), ("nbops", nbops_s), ("mlflow", mlflow_s))
    }
    cpu = {
        name: s[1] / args.calls * 1000
        for name, s in (("bare", bare_s), ("nbops", nbops_s), ("mlflow", mlflow_s))
    }
    print(f"bare call                 {per_call['bare']:8.3f} ms/call")
    print(
        f"nbops.llm.traced          {per_call['nbops']:8.3f} ms/call  overhead {per_call['nbops'] - per_call['bare']:.3f} ms (target: at most 2 ms)"
    )
    print(
        f"@mlflow.trace             {per_call['mlflow']:8.3f} ms/call  overhead {per_call['mlflow'] - per_call['bare']:.3f} ms"
    )
    print(
        f"caller's CPU per call: bare {cpu['bare']:.3f} ms, nbops.llm.traced {cpu['nbops']:.3f} ms, "
        f"@mlflow.trace {cpu['mlflow']:.3f} ms"
    )
    print(
        f"overhead ratio nbops / mlflow  {(per_call['nbops'] - per_call['bare']) / max(per_call['mlflow'] - per_call['bare'], 1e-9):.2f}"
    )

    experiment = mlflow.set_experiment("totals").experiment_id
    totals_prompt = mlflow.genai.register_prompt("bench-totals", "Answer: {{question}}")
    seed = llm.traced(fake_llm, model="fake-llm", provider="local", prompt=totals_prompt)
    timed_loop(seed, args.seed)
    llm.flush()
    copy_traces(folder / ".nbops" / "mlflow.db", experiment, max(args.traces // args.seed - 1, 0))
    address = f"bench-totals/{totals_prompt.version}"

    llm.summary(prompt=f"bench/{version.version}")  # warm-up of both sides: imports, connections
    mlflow.search_traces(locations=[experiment], max_results=1, return_type="pandas")
    started = time.perf_counter()
    totals = llm.summary(prompt=address)
    first_ms = (time.perf_counter() - started) * 1000
    nbops_ms = nbops_cpu_ms = float("inf")
    for _ in range(args.repeat):  # again, rows in the cache: the best of a few (the machine may be shared)
        started, cpu_started = time.perf_counter(), time.thread_time()
        totals = llm.summary(prompt=address)
        nbops_ms = min(nbops_ms, (time.perf_counter() - started) * 1000)
        nbops_cpu_ms = min(nbops_cpu_ms, (time.thread_time() - cpu_started) * 1000)

    started = time.perf_counter()
    frame = mlflow.search_traces(
        locations=[experiment], filter_string=f"tags.`nbops.llm.prompt` = '{address}'", return_type="pandas"
    )
    usage = frame["trace_metadata"].map(lambda m: m.get("mlflow.trace.tokenUsage", "{}"))
    import json

    tokens_in = sum(json.loads(u).get("input_tokens", 0) for u in usage)
    baseline_ms = (time.perf_counter() - started) * 1000

    assert totals["llm.calls"] == len(frame), (totals["llm.calls"], len(frame))
    assert totals["llm.tokens_in"] == tokens_in, (totals["llm.tokens_in"], tokens_in)
    print(
        f"totals of {len(frame):,} traces: nbops.llm.summary {nbops_ms:8.1f} ms (target: at most 200 ms); "
        f"search_traces + pandas {baseline_ms:8.1f} ms; ratio {baseline_ms / nbops_ms:.0f}x "
        f"(first nbops call, rows not yet cached: {first_ms:.1f} ms; best of {args.repeat} cached calls; CPU {nbops_cpu_ms:.1f} ms)"
    )
    print(
        f"  {int(totals['llm.calls']):,} calls, {int(totals['llm.tokens_in']):,} tokens in, "
        f"{int(totals['llm.tokens_out']):,} out, ${totals['llm.cost']:.4f}"
    )


if __name__ == "__main__":
    main()
