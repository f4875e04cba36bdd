"""Offline evaluation of LLM output: deterministic scorers, judges that can and cannot run, the gate.

The application under test is a deterministic Python function; the judge talks to a fake
OpenAI-compatible server on 127.0.0.1 (``fake_openai``), since no paid API can be reached here.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import papermill as pm
import pytest
from fake_openai import fake_openai

import nbops.llm as llm
from nbops import gate, store
from nbops.errors import InvalidInput
from nbops.llm.evaluation import FAILED, OK, PARTIAL

GATE = Path(__file__).parents[1] / "notebooks" / "gates" / "llm_quality.ipynb"
CITIES = ["paris", "rome", "oslo", "bern"]
ROWS = [
    {"inputs": {"question": c}, "expectations": {"expected_response": f"ANSWER: {c.upper()}"}} for c in CITIES
]


def answer(question: str, prompt) -> str:
    """The application: right on three cities; on Bern it answers JSON with an e-mail address in it."""
    assert "Answer briefly" in prompt.format(question=question)
    if question == "bern":
        return '{"city": "bern", "contact": "ops@example.com"}'
    return f"ANSWER: {question.upper()}"


def fails_on_rome(inputs: dict, outputs: str) -> float:
    if inputs["question"] == "rome":
        raise ValueError("no score for Rome")
    return 1.0


def test_deterministic_scores_go_on_the_prompt_and_model_versions(project: Path) -> None:
    mlflow = store.fluent(project)
    mlflow.set_experiment("evaluations")
    version = mlflow.genai.register_prompt("qa", "Answer briefly: {{question}}")
    mlflow.genai.set_prompt_alias("qa", "candidate", version.version)
    client = store.client(project)
    client.create_registered_model("bot")
    with mlflow.start_run() as run:
        pass
    client.create_model_version("bot", source=f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)

    result = llm.evaluate(
        ROWS,
        answer,
        scorers=[
            llm.exact_match(),
            llm.regex(r"^ANSWER: [A-Z]+$"),
            llm.length(max_length=20),
            llm.json_valid(),
            llm.no_pii(),
            fails_on_rome,
        ],
        prompt="qa@candidate",
        model="bot/1",
    )

    means = {k: v for k, v in result.metrics.items() if k.endswith("/mean")}
    assert means == {
        "exact_match/mean": 0.75,
        "regex_match/mean": 0.75,
        "response_length/mean": 0.75,
        "json_valid/mean": 0.25,
        "no_pii/mean": 0.75,
        "fails_on_rome/mean": 1.0,  # over the three rows it could score
    }
    scores = {s["scorer"]: s for s in result.scores}
    assert scores["fails_on_rome"] | {"first_error": None} == {
        "scorer": "fails_on_rome", "mean": 1.0, "scored": 3, "errors": 1, "status": PARTIAL, "first_error": None,
    }  # fmt: skip
    assert "no score for Rome" in scores["fails_on_rome"]["first_error"]
    assert all(scores[n]["status"] == OK for n in ("exact_match", "json_valid", "no_pii"))
    assert result.metrics["fails_on_rome/errors"] == 1.0
    assert len(result.rows) == 4 and result.prompt == "qa/1" and result.model == "bot/1"
    assert "some rows failed" in result._repr_html_()

    on_prompt = client.get_prompt_version("qa", "1").tags
    on_model = client.get_model_version("bot", "1").tags
    for tags in (on_prompt, on_model):
        assert tags["nbops.eval.run"] == result.run_id
        assert float(tags["nbops.eval.exact_match.mean"]) == 0.75
        assert tags["nbops.eval.fails_on_rome.status"] == PARTIAL
    evaluation_run = client.get_run(result.run_id)
    assert evaluation_run.data.tags["nbops.eval.prompt"] == "qa/1"
    assert json.loads(evaluation_run.data.tags["mlflow.linkedPrompts"]) == [{"name": "qa", "version": "1"}]


@pytest.mark.sqlite_only(reason="judges call their endpoint, not the store")
def test_a_judge_that_cannot_run_is_reported_never_passed(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.genai.scorers import Correctness, Guidelines

    store.fluent(project).set_experiment("judged")
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with fake_openai() as server:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-fake")
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        result = llm.evaluate(
            ROWS[:2],
            lambda question: f"ANSWER: {question.upper()}",
            scorers=[
                Correctness(model="openai:/fake-judge"),
                Guidelines(name="no_key_judge", guidelines="Be polite.", model="anthropic:/claude-fake"),
            ],
        )
        judged = [r for r in server.requests if r.get("model") == "fake-judge"]

    assert len(judged) == 2  # the reachable judge asked the endpoint once per row
    assert result.metrics["correctness/mean"] == 1.0
    assert "no_key_judge/mean" not in result.metrics
    scores = {s["scorer"]: s for s in result.scores}
    assert scores["no_key_judge"]["status"] == FAILED and scores["no_key_judge"]["mean"] is None
    assert result.failed_scorers == ["no_key_judge"]
    assert any(note.startswith("no_key_judge could not run") for note in result.notes)


@pytest.mark.sqlite_only(reason="refused before anything reaches a store")
def test_bad_evaluation_input_is_one_line_and_writes_nothing(project: Path) -> None:
    import pandas as pd

    cases = [
        ([{"question": "paris"}], "row 0 of the evaluation data has no inputs"),
        ([*ROWS[:1], {"inputs": {}}], "row 1 of the evaluation data has no inputs"),
        (pd.DataFrame({"question": ["paris"]}), "has no 'inputs' column"),
        ([{"inputs": {"city": "paris"}}], "predict_fn has no parameter 'city'"),
    ]
    for data, expected in cases:
        with pytest.raises(InvalidInput) as caught:
            llm.evaluate(data, answer, scorers=[llm.exact_match()], prompt="qa/1")
        assert expected in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(InvalidInput, match="at least one scorer"):
        llm.evaluate(ROWS, answer, scorers=[])
    client = store.client(project)
    assert client.search_runs([e.experiment_id for e in client.search_experiments()]) == []


@pytest.mark.sqlite_only(
    reason="a papermill kernel per run; the store side is the evaluation's, tested above"
)
def test_the_llm_quality_gate_thresholds_scorer_means_latency_and_cost(project: Path) -> None:
    with (project / "pyproject.toml").open("a") as f:
        f.write(
            "\n[tool.nbops.llm.prices.fake-llm]\ninput_per_million_tokens = 2.0\noutput_per_million_tokens = 6.0\n"
        )
    (project / "app.py").write_text(
        "import nbops.llm\n\n"
        "@nbops.llm.traced(model='fake-llm')\n"
        "def call(text, prompt):\n"
        "    return 'ANSWER: ' + text.split(': ')[-1].upper() if 'bern' not in text else 'no idea'\n\n"
        "def answer(question, prompt):\n"
        "    return call(prompt.format(question=question), prompt)\n"
    )
    (project / "rows.jsonl").write_text("\n".join(json.dumps(r) for r in ROWS))
    mlflow = store.fluent(project)
    mlflow.genai.register_prompt("qa", "Answer briefly: {{question}}")

    output = project / "gate-run.ipynb"
    pm.execute_notebook(
        GATE,
        output,
        parameters={
            "model_uri": "prompts:/qa/1",
            "data_path": str(project / "rows.jsonl"),
            "predict": "app:answer",
            "scorers": '["exact_match", {"regex": "^ANSWER"}]',
            "min_scores": '{"exact_match": 0.9, "regex_match": 0.5}',
            "max_p95_ms": 60000.0,
            "max_cost_per_1k_calls": 1.0,
        },
        kernel_name="python3",
        cwd=str(project),
        progress_bar=False,
    )
    nb = nbformat.read(output, as_version=4)
    checks = {c.name: c for c in gate.checks_from_notebook(nb)}
    assert set(checks) == {
        "exact_match/mean",
        "regex_match/mean",
        "llm.latency_p95_ms",
        "llm.cost_per_1k_calls",
    }
    assert checks["exact_match/mean"].value == 0.75 and not checks["exact_match/mean"].passed
    assert checks["regex_match/mean"].value == 0.75 and checks["regex_match/mean"].passed
    assert checks["llm.latency_p95_ms"].passed and checks["llm.cost_per_1k_calls"].passed
    # 4 calls: 17 tokens in ("Answer briefly: paris"...), 14 out, at $2 and $6 per million: $0.000118.
    assert checks["llm.cost_per_1k_calls"].value == pytest.approx(0.118 / 4)
    assert gate.verdict(nb)[0] == "failed"
