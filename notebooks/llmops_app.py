"""A tiny LLM application for notebooks/07_llmops.ipynb: a deterministic fake LLM behind a prompt.

``fake_llm`` stands in for a chat model (no API key, no network): it knows a few capitals and
follows one instruction — answering "in capitals" after ``ANSWER:`` — so two prompt versions score
differently. Replace it with ``nbops.llm.traced(openai.OpenAI())`` and a real model for real use;
nothing else here changes.
"""

from __future__ import annotations

from typing import Any

import nbops.llm

CAPITALS = {"France": "Paris", "Italy": "Rome", "Norway": "Oslo", "Japan": "Tokyo", "Peru": "Lima"}
#: The evaluation set: one question per country, the answer the application should give.
ROWS = [
    {
        "inputs": {"question": f"What is the capital of {country}?"},
        "expectations": {"expected_response": f"ANSWER: {city.upper()}"},
    }
    for country, city in CAPITALS.items()
]


@nbops.llm.traced(model="demo-llm", provider="local")
def fake_llm(text: str, prompt: Any = None) -> str:
    """The fake chat model; ``prompt`` (the version used) links each call's trace to it."""
    country = next((c for c in CAPITALS if c in text), None)
    city = CAPITALS.get(country or "", "unknown")
    if "in capitals" in text:
        return f"ANSWER: {city.upper()}"
    return f"I believe the capital is {city}, if I remember well."


def answer(question: str, prompt: Any) -> str:
    """The application: fill the prompt, ask the model."""
    return fake_llm(prompt.format(question=question), prompt)
