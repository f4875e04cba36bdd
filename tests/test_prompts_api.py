"""The sidebar's prompt reads over REST: aliases on each prompt, evaluations, diffs and usage windows.

A real Jupyter server with the nbops extension serves a real store. The LLM whose calls are traced
is a deterministic Python function (no LLM can be reached here), so tokens and costs are exact.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_server import error_of, get_json

from nbops import prompts, store

PRICES = """
[tool.nbops.llm.prices.fake-llm]
input_per_million_tokens = 2000.0
output_per_million_tokens = 6000.0
"""


@pytest.fixture
def jp_server_config(jp_server_config):
    jp_server_config["ServerApp"]["jpserver_extensions"]["nbops"] = True
    return jp_server_config


def fake_llm(question: str) -> str:
    """7 tokens in for the question below, 11 out."""
    return "The answer is " + question.upper()


async def test_prompt_rows_carry_aliases_versions_their_evaluation_and_two_versions_a_diff(
    jp_fetch, tracking_uri, jp_root_dir
) -> None:
    root = Path(jp_root_dir)
    prompts.register("answer", "Answer {{question}} politely.\nBe brief.", alias="production", start=root)
    prompts.register("answer", "Answer {{question}} in {{language}}.\nBe brief.", start=root)
    prompts.register("chat", [{"role": "user", "content": "Hi {{name}}"}], start=root)
    prompts.register(
        "chat",
        [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi {{name}}\nBye."}],
        start=root,
    )
    # The latest evaluation of version 2, as nbops.llm.evaluate records it: one scorer scored
    # every row, a judge that could not run has no mean.
    recorded = {
        "run": "0123abcd",
        "rows": "4",
        "at": "2026-11-29T10:00:00+00:00",
        "exact_match.mean": "0.75",
        "exact_match.status": "ok",
        "judge.mean": "",
        "judge.status": "could not run",
    }
    client = store.client(root)
    for key, value in recorded.items():
        client.set_prompt_version_tag("answer", "2", f"nbops.eval.{key}", value)

    # A folded row shows where each alias points, without loading the versions.
    listed = await get_json(jp_fetch, "prompts")
    assert {p["name"]: p["aliases"] for p in listed["prompts"]} == {
        "answer": {"production": "1"},
        "chat": {},
    }

    versions = (await get_json(jp_fetch, "prompts", "answer", "versions"))["versions"]
    assert versions[0]["evaluation"] == {
        "run": "0123abcd",
        "rows": 4,
        "at": "2026-11-29T10:00:00+00:00",
        "scores": [
            {"scorer": "exact_match", "mean": 0.75, "status": "ok"},
            {"scorer": "judge", "mean": None, "status": "could not run"},
        ],
    }
    assert versions[1]["evaluation"] is None

    text = await get_json(jp_fetch, "prompts", "answer", "diff", params={"from": "1", "to": "2"})
    assert (text["chat"], text["added"], text["removed"]) == (False, 1, 1)
    (block,) = text["blocks"]
    assert (block["role"], block["change"]) == (None, "changed")
    assert [(line["op"], line["text"], line["old"], line["new"]) for line in block["lines"]] == [
        ("-", "Answer {{question}} politely.", 1, None),
        ("+", "Answer {{question}} in {{language}}.", None, 1),
        (" ", "Be brief.", 2, 2),
    ]
    # A chat prompt message by message: the system message inserted on top is one added message.
    chat = await get_json(jp_fetch, "prompts", "chat", "diff", params={"from": "1", "to": "2"})
    assert [(b["role"], b["change"]) for b in chat["blocks"]] == [("system", "added"), ("user", "changed")]
    assert [(line["op"], line["text"]) for line in chat["blocks"][1]["lines"]] == [
        (" ", "Hi {{name}}"),
        ("+", "Bye."),
    ]
    assert (chat["chat"], chat["added"], chat["removed"]) == (True, 2, 0)

    code, body = await error_of(
        jp_fetch("nbops", "api", "prompts", "answer", "diff", params={"from": "1", "to": "9"})
    )
    assert code == 404 and body["message"].startswith("prompt 'answer' has no version 9;")
    code, body = await error_of(
        jp_fetch("nbops", "api", "prompts", "nothing", "diff", params={"from": "1", "to": "2"})
    )
    assert code == 404 and "no prompt named 'nothing'" in body["message"]
    code, body = await error_of(jp_fetch("nbops", "api", "prompts", "answer", "diff", params={"from": "1"}))
    assert code == 400 and body["message"] == "name both versions to compare, e.g. from=1 and to=2."
    code, body = await error_of(
        jp_fetch("nbops", "api", "prompts", "answer", "diff", params={"from": "0", "to": "2"})
    )
    assert code == 400 and "not a version number" in body["message"] and "\n" not in body["message"]


async def test_usage_gives_the_logged_windows_of_the_version_an_alias_holds(
    jp_fetch, tracking_uri, jp_root_dir
) -> None:
    import nbops.llm as llm

    root = Path(jp_root_dir)
    with (root / "pyproject.toml").open("a") as f:
        f.write(PRICES)
    prompts.register("answer", "Answer briefly: {{question}}", alias="production", start=root)
    prompts.register("answer", "Answer in one word: {{question}}", start=root)
    store.fluent(root).set_experiment("llm-app")
    ask = llm.traced(fake_llm, model="fake-llm", prompt="answer@production", start=root)
    for calls in (3, 2):
        for _ in range(calls):
            ask("What is the capital of France?")
        llm.log_window(prompt="answer@production", start=root)

    usage = await get_json(jp_fetch, "prompts", "answer", "usage", params={"alias": "production"})
    assert (usage["prompt"], usage["version"], usage["alias"]) == ("answer", "1", "production")
    series = usage["series"]
    assert [(p["step"], p["value"]) for p in series["llm.calls"]] == [(1, 3.0), (2, 2.0)]
    assert [p["value"] for p in series["llm.tokens_in"]] == [3 * 7, 2 * 7]
    assert [p["value"] for p in series["llm.tokens_out"]] == [3 * 11, 2 * 11]
    per_call = (7 * 2000 + 11 * 6000) / 1e6
    assert [p["value"] for p in series["llm.cost_per_1k_calls"]] == pytest.approx([per_call * 1000] * 2)
    assert [p["step"] for p in series["llm.latency_p95_ms"]] == [1, 2]
    first, second = (p["timestamp"] for p in series["llm.calls"])
    assert 0 < first <= second  # the end of each window
    assert "llm.window_end_ms" not in series

    unused = await get_json(jp_fetch, "prompts", "answer", "usage", params={"version": "2"})
    assert (unused["version"], unused["alias"], unused["series"]) == ("2", None, {})

    code, body = await error_of(
        jp_fetch("nbops", "api", "prompts", "answer", "usage", params={"alias": "staging"})
    )
    assert code == 404 and body["message"].startswith("prompt 'answer' has no alias 'staging';")
    code, body = await error_of(jp_fetch("nbops", "api", "prompts", "answer", "usage"))
    assert (
        code == 400 and body["message"] == "name exactly one of alias (e.g. production) or version (e.g. 2)."
    )
    code, body = await error_of(
        jp_fetch("nbops", "api", "prompts", "answer", "usage", params={"alias": "production", "version": "1"})
    )
    assert code == 400
