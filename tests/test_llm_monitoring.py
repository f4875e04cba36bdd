"""LLM monitoring: store-side aggregates of traced calls, logged as monitoring batches that alert rules read.

The LLM is a deterministic Python function (no paid API can be reached here); tokens and costs
are exact.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import nbops.llm as llm
from nbops import monitor, store
from nbops.errors import InvalidInput
from nbops.monitoring import runs

SETTINGS = """
[tool.nbops.llm.prices.fake-llm]
input_per_million_tokens = 2000.0
output_per_million_tokens = 6000.0

[tool.nbops.alerts.llm-budget]
metric = "llm.cost_per_1k_calls"
op = ">"
threshold = 50.0
model = "prompts:/qa"

[tool.nbops.alerts.llm-quality]
metric = "quality.exact_match"
op = "<"
threshold = 0.8
model = "prompts:/qa"
"""


def fake_llm(question: str) -> str:
    """7 tokens in for the question, 11 out; ``fail`` raises."""
    if question == "fail":
        raise RuntimeError("the fake LLM is down")
    return "The answer is " + question.upper()


@pytest.fixture(autouse=True)
def _catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_MODEL_CATALOG_URI", raising=False)


def test_windows_of_traffic_are_aggregated_by_the_store_and_alerted_on(project: Path) -> None:
    with (project / "pyproject.toml").open("a") as f:
        f.write(SETTINGS)
    mlflow = store.fluent(project)
    mlflow.set_experiment("llm-app")
    mlflow.genai.register_prompt("qa", "Answer briefly: {{question}}")
    mlflow.genai.set_prompt_alias("qa", "production", 1)
    # The latest evaluation of the version, as nbops.llm.evaluate records it.
    store.client(project).set_prompt_version_tag("qa", "1", "nbops.eval.exact_match.mean", "0.75")
    ask = llm.traced(fake_llm, model="fake-llm", prompt="qa@production")
    other = llm.traced(fake_llm, model="other-llm")  # not priced, not this prompt: counted apart

    for _ in range(4):
        ask("What is the capital of France?")
    with pytest.raises(RuntimeError):
        ask("fail")
    other("What is the capital of France?")

    window = llm.log_window(prompt="qa@production")

    m = window.metrics
    assert (window.name, window.version, window.batch) == ("prompts:/qa", "1", 1)
    assert (m["llm.calls"], m["llm.errors"], m["llm.error_rate"]) == (5, 1, 0.2)
    assert (m["llm.tokens_in"], m["llm.tokens_out"]) == (4 * 7, 4 * 11)  # the failed call used none
    cost = 4 * (7 * 2000 + 11 * 6000) / 1e6  # $0.32
    assert m["llm.cost"] == pytest.approx(cost)
    assert m["llm.cost_per_1k_calls"] == pytest.approx(cost / 5 * 1000)  # $64 > the $50 budget
    assert 0 <= m["llm.latency_p50_ms"] <= m["llm.latency_p95_ms"]
    assert m["quality.exact_match"] == 0.75
    assert {a["message"].split(" ")[0] for a in window.alerts} == {
        "llm.cost_per_1k_calls",
        "quality.exact_match",
    }
    assert {a["state"] for a in window.alerts} == {"open"}
    assert {(v["model"], v["version"]) for v in runs.monitored_versions(start=project)} == {
        ("prompts:/qa", "1")
    }
    assert len(monitor.alerts(model="prompts:/qa", state="open", start=project)) == 2

    # The next window starts where the last one ended: no call counted twice.
    ask("What is the capital of France?")
    second = llm.log_window(prompt="qa/1")
    assert second.batch == 2 and second.metrics["llm.calls"] == 1 and second.metrics["llm.errors"] == 0
    assert second.metrics["llm.cost_per_1k_calls"] == pytest.approx(80.0)
    history = llm.history(prompt="qa@production")
    assert list(history.index) == [1, 2] and list(history["llm.calls"]) == [5.0, 1.0]

    by_model = llm.summary(model="other-llm")
    assert (by_model["llm.calls"], by_model["llm.tokens_in"], by_model["llm.cost"]) == (1, 7, 0.0)
    assert "quality.exact_match" not in by_model


@pytest.mark.sqlite_only(reason="refused before anything reaches a store")
def test_naming_what_to_monitor_is_checked(project: Path) -> None:
    with pytest.raises(InvalidInput, match="exactly one of prompt"):
        llm.summary(prompt="qa@production", model="fake-llm")
    with pytest.raises(InvalidInput, match="exactly one of prompt"):
        llm.log_window()
    with pytest.raises(InvalidInput, match="NAME@ALIAS or NAME/VERSION"):
        llm.log_window(prompt="qa")


def test_the_sql_fast_path_gives_what_mlflows_trace_metrics_give(project: Path) -> None:
    import time

    from nbops.llm import totals

    with (project / "pyproject.toml").open("a") as f:
        f.write(SETTINGS)
    mlflow = store.fluent(project)
    mlflow.set_experiment("llm-app")
    mlflow.genai.register_prompt("qa", "Answer briefly: {{question}}")

    def slow_llm(question: str) -> str:
        time.sleep(0.03)  # the latency a real LLM call has, so the percentiles are not all zero
        return fake_llm(question)

    ask = llm.traced(fake_llm, model="fake-llm", prompt="qa/1")
    slow = llm.traced(slow_llm, model="fake-llm", prompt="qa/1")
    for _ in range(4):
        ask("What is the capital of France?")
    with pytest.raises(RuntimeError):
        ask("fail")
    slow("What is the capital of France?")
    llm.traced(fake_llm, model="other-llm")("not this prompt")
    llm.flush()

    client = store.client(project)
    experiments = list(store.experiment_ids(client))
    # The embedded store is SQL (read directly); a tracking server answers query_trace_metrics.
    assert (store.sql_tracking_store(client) is not None) == (project / ".nbops" / "mlflow.db").exists()
    now = int(time.time() * 1000)
    for window in ((None, None), (now - 3_600_000, now), (now + 1, None)):
        fast = totals.totals(client, experiments, "nbops.llm.prompt", "qa/1", *window)
        reference = totals.metric_totals(client, experiments, "nbops.llm.prompt", "qa/1", *window)
        assert (fast.calls, fast.errors, fast.tokens_in, fast.tokens_out) == (
            reference.calls,
            reference.errors,
            reference.tokens_in,
            reference.tokens_out,
        ), window
        # Sums of floats: the same values, added in the order each query visits them.
        assert fast.cost == pytest.approx(reference.cost, rel=1e-12, abs=0), window
        assert (fast.p50, fast.p95) == (reference.p50, reference.p95), window
    everything = totals.totals(client, experiments, "nbops.llm.prompt", "qa/1", None, None)
    assert (everything.calls, everything.errors, everything.tokens_in, everything.tokens_out) == (
        6,
        1,
        35,
        55,
    )
    assert everything.cost > 0
    assert totals.totals(client, experiments, "nbops.llm.prompt", "qa/1", now + 1, None).calls == 0

    # What a user reads: the percentiles MLflow computed, not zeros (the slow call is the p95).
    window = llm.summary(prompt="qa/1")
    assert window["llm.latency_p95_ms"] == everything.p95 and window["llm.latency_p95_ms"] >= 20
    assert window["llm.latency_p50_ms"] == everything.p50
