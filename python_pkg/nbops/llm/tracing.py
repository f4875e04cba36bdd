"""Traced LLM calls: each call one MLflow trace span with its model, tokens, cost and prompt version.

``traced(fn, model=..., provider=...)`` (or ``@traced(model=...)``) wraps any function that calls
an LLM; ``traced(client)`` wraps an OpenAI-compatible client's ``chat.completions.create``. Each
call becomes an ``LLM`` span in MLflow's own trace format — ``mlflow.chat.tokenUsage``,
``mlflow.llm.model``, ``mlflow.llm.provider``, ``mlflow.llm.cost`` — so the store sums tokens and
cost itself, MLflow's UI shows them, and ``search_traces(filter_string="prompt = 'name/1'")`` finds
the calls of a prompt version. A run active at the time owns the trace (MLflow records it).

Prompt versions are linked to the trace when they are handed to the call (``prompt=`` on
``traced``, or a prompt version among the call's arguments) or loaded during it (MLflow links
those itself). nbops also tags the trace with the model and prompt version, which is what
monitoring aggregates on, store-side.

No trace is lost: MLflow exports traces on background threads from a bounded queue and drops
what does not fit. A traced call that finds the queue half full waits until it has drained to a
quarter — backpressure only when the store cannot keep up, none otherwise. ``flush()`` waits for
every trace to be stored.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import config, store
from ..errors import InvalidInput
from . import usage

_Start = config.Start
TAG_MODEL = "nbops.llm.model"
TAG_PROVIDER = "nbops.llm.provider"
TAG_PROMPT = "nbops.llm.prompt"  # name/version
TAG_PROMPT_ALIAS = "nbops.llm.prompt_alias"  # name@alias, when the call named the alias
ATTR_TOKENS_FROM = "nbops.llm.tokens_from"
#: Without access to MLflow's export queue, flush after this many traced calls.
_FLUSH_EVERY = 200
_calls = 0
_calls_lock = threading.Lock()


@dataclass(frozen=True)
class _Spec:
    model: str | None
    provider: str | None
    name: str
    prompt: Any
    project: config.Project
    prices: dict[str, usage.Price]
    chat: bool


def traced(
    fn: Any = None,
    *,
    model: str | None = None,
    provider: str | None = None,
    name: str | None = None,
    prompt: Any = None,
    start: _Start = None,
) -> Any:
    """Trace every call of ``fn`` (a function, or an OpenAI-compatible client) as an LLM span.

    ``model`` names the LLM (a client's calls may name it in ``model=`` instead); ``provider`` is
    its provider for MLflow's price catalog; ``prompt`` a prompt version or ``"NAME@ALIAS"`` the
    calls use (an alias is followed as it moves, within MLflow's prompt cache time). The price
    table is checked here, so a bad entry fails before any call is made.
    """
    if fn is None:
        return lambda f: traced(f, model=model, provider=provider, name=name, prompt=prompt, start=start)
    project = config.resolve(start)
    table = usage.prices(project)
    if isinstance(prompt, str):
        _prompt_address(prompt)  # a malformed address fails now, in one line
    is_client = _completions(fn) is not None
    if not is_client and not callable(fn):
        raise InvalidInput(
            f"traced() wraps a function or an OpenAI-compatible client, not {type(fn).__name__}."
        )
    if not is_client and not model and not _is_create(fn):
        raise InvalidInput("traced() needs model='...' naming the LLM the function calls.")
    usage.prepare_catalog(table)
    spec = _Spec(
        model=model,
        provider=provider or ("openai" if is_client or _is_create(fn) else None),
        name=name or ("chat.completions.create" if is_client else getattr(fn, "__name__", "llm")),
        prompt=prompt,
        project=project,
        prices=table,
        chat=is_client or _is_create(fn),
    )
    if is_client:
        return _TracedClient(fn, spec)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return _call(fn, spec, args, kwargs)

    wrapper.__nbops_traced__ = spec  # type: ignore[attr-defined]
    return wrapper


def flush() -> None:
    """Wait until every trace exported so far is in the store (at once when none is pending)."""
    if not _pending():
        return
    import mlflow

    mlflow.flush_trace_async_logging()


def _pending() -> bool:
    """Whether MLflow may still hold traces not yet stored (True when it cannot be told).

    MLflow's own flush stops and restarts its export threads (a second or two even when idle), so
    it is asked for only when a span is on its way: in a batch processor, or queued for the store.
    """
    try:
        from mlflow.tracing.processor.base_mlflow import _batch_processor_registry

        queues = [_export_queue()]
        for processor in list(_batch_processor_registry):
            if processor._pending_on_end_count:
                return True
            delegate = processor._batch_delegate
            if delegate is not None:
                inner = delegate._batch_processor
                if len(inner._queue) or inner._export_lock.locked():
                    return True
            queues.append(processor.span_exporter._async_queue._queue)
        return any(q is None or q.unfinished_tasks > 0 for q in queues)  # put, and not yet written
    except Exception:
        return True


# --- one call ----------------------------------------------------------------------------------------


def _call(fn: Callable[..., Any], spec: _Spec, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    import mlflow

    if mlflow.get_tracking_uri() != spec.project.tracking_uri:  # traces go to the project's store
        store.fluent(spec.project)
    from mlflow.entities import SpanType
    from mlflow.tracing.constant import SpanAttributeKey

    _backpressure()
    model = spec.model or (kwargs.get("model") if spec.chat else None) or "unknown"
    prompts = _prompts(spec.prompt, args, kwargs)
    with mlflow.start_span(name=spec.name, span_type=SpanType.LLM) as span:
        span.set_inputs(dict(kwargs) if not args else {"args": list(args), **kwargs})
        span.set_attribute(SpanAttributeKey.MODEL, model)
        if spec.provider:
            span.set_attribute(SpanAttributeKey.MODEL_PROVIDER, spec.provider)
        tags = {TAG_MODEL: model, **({TAG_PROVIDER: spec.provider} if spec.provider else {})}
        live = span.trace_id != _no_op_trace_id()  # MLflow's dry runs trace nothing
        if prompts:
            version, alias = prompts[0]
            tags[TAG_PROMPT] = f"{version.name}/{version.version}"
            if alias:
                tags[TAG_PROMPT_ALIAS] = f"{version.name}@{alias}"
        if live:
            _tag_trace(span, tags, [version for version, _ in prompts])
        response = fn(*args, **kwargs)
        if live and not prompts:  # prompts the call loaded itself, which MLflow linked to the span
            linked = _linked_inside(span)
            if linked:
                _tag_trace(span, {TAG_PROMPT: linked})
        span.set_outputs(_plain(response))
        if spec.chat and spec.model is None:
            model = _attr(response, "model") or model
            span.set_attribute(SpanAttributeKey.MODEL, model)
        counted = usage.usage_of(response)
        if counted is not None:
            (tokens_in, tokens_out), how = counted, usage.FROM_RESPONSE
        else:
            tokens_in, how = usage.count_tokens(_input_text(spec, args, kwargs), model)
            tokens_out, _ = usage.count_tokens(usage.text_of(response), model)
        span.set_attribute(
            SpanAttributeKey.CHAT_USAGE,
            {"input_tokens": tokens_in, "output_tokens": tokens_out, "total_tokens": tokens_in + tokens_out},
        )
        span.set_attribute(ATTR_TOKENS_FROM, how)
        # Always set, even when unknown (null): the store then never looks a price up online.
        span.set_attribute(
            SpanAttributeKey.LLM_COST, usage.cost(model, spec.provider, tokens_in, tokens_out, spec.prices)
        )
    return response


def _no_op_trace_id() -> str:
    from mlflow.entities.span import NO_OP_SPAN_TRACE_ID

    return NO_OP_SPAN_TRACE_ID


def _input_text(spec: _Spec, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    if spec.chat:
        return usage.text_of(kwargs.get("messages") or kwargs.get("prompt") or list(args))
    # A prompt version handed in is linked to the trace; what was sent is the text made from it.
    return usage.text_of([v for v in (*args, *kwargs.values()) if not _is_prompt_version(v)])


def _plain(response: Any) -> Any:
    """What the span shows as the call's output: a client's answer object as its dict."""
    dump = getattr(response, "model_dump", None)
    if callable(dump):
        try:
            return dump()
        except Exception:
            return str(response)
    return response


def _attr(response: Any, key: str) -> Any:
    return response.get(key) if isinstance(response, dict) else getattr(response, key, None)


# --- prompts -----------------------------------------------------------------------------------------


def _prompt_address(text: str) -> tuple[str, str | None, str | None]:
    """``(name, alias, version)`` of ``NAME@ALIAS`` / ``NAME/VERSION``, with or without ``prompts:/``."""
    import re

    found = re.fullmatch(
        r"(?:prompts:/)?(?P<name>[A-Za-z0-9_.-]+)(?:@(?P<alias>[A-Za-z0-9_-]+)|/(?P<version>\d+))",
        text.strip(),
    )
    if found is None:
        raise InvalidInput(f"prompt must be NAME@ALIAS or NAME/VERSION, not {text!r}.")
    return found["name"], found["alias"], found["version"]


def _prompts(given: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[tuple[Any, str | None]]:
    """``(prompt version, alias or None)`` for the prompt named on ``traced`` and those passed in."""
    found: list[tuple[Any, str | None]] = []
    if isinstance(given, str):
        name, alias, version = _prompt_address(given)
        import mlflow

        # MLflow's client caches an alias for a minute and a version for good; no run linking here.
        uri = f"prompts:/{name}@{alias}" if alias else f"prompts:/{name}/{version}"
        client = _client(mlflow.get_tracking_uri(), mlflow.get_registry_uri())
        found.append((client.load_prompt(uri), alias))
    elif given is not None and _is_prompt_version(given):
        found.append((given, None))
    for value in (*args, *kwargs.values()):
        if _is_prompt_version(value) and all(value is not v for v, _ in found):
            found.append((value, None))
    return found


@functools.lru_cache(maxsize=8)
def _client(tracking_uri: str, registry_uri: str) -> Any:
    """One MLflow client per store, built once rather than on every call that names a prompt."""
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri)


def _is_prompt_version(value: Any) -> bool:
    return (
        type(value).__name__ == "PromptVersion" and hasattr(value, "template") and hasattr(value, "version")
    )


def _link(span: Any, versions: list[Any], trace: Any) -> None:
    """Link prompt versions to a new span's trace as MLflow's ``load_prompt`` does (no store call).

    ``trace`` is MLflow's in-memory trace, held under its lock. A trace that links no prompt yet
    (the usual case: the span just started it) gets the versions and the linked-prompts tag
    directly, its JSON made once per set of versions (``_linked_json``); one that already links
    some (a call inside a span that loaded others) goes through MLflow's own merge.
    """
    from mlflow.tracing.constant import SpanAttributeKey, TraceTagKey
    from mlflow.tracing.trace_manager import InMemoryTraceManager

    linked = _linked_json(tuple((v.name, str(v.version)) for v in versions))
    if not trace.prompts and TraceTagKey.LINKED_PROMPTS not in trace.info.tags:
        for version in versions:
            if version not in trace.prompts:
                trace.prompts.append(version)
        trace.info.tags[TraceTagKey.LINKED_PROMPTS] = linked
    else:
        manager = InMemoryTraceManager.get_instance()
        for version in versions:
            manager.register_prompt(span.trace_id, version)
    span.set_attribute(SpanAttributeKey.LINKED_PROMPTS, linked)


@functools.lru_cache(maxsize=256)
def _linked_json(key: tuple[tuple[str, str], ...]) -> str:
    """MLflow's linked-prompts value (``[{"name", "version"}, ...]``) for these versions, once."""
    import json

    return json.dumps([{"name": name, "version": version} for name, version in dict.fromkeys(key)])


def _tag_trace(span: Any, tags: dict[str, str], versions: list[Any] | None = None) -> None:
    """Set tags on the span's trace (and link ``versions``) in MLflow's in-memory trace, in one lock.

    ``mlflow.update_current_trace`` looks the active span up again and checks each argument it
    could take; the span is in hand here, so the tags go straight onto its trace.
    """
    try:
        from mlflow.tracing.trace_manager import InMemoryTraceManager

        with InMemoryTraceManager.get_instance().get_trace(span.trace_id) as trace:
            if trace is not None:
                if versions:
                    _link(span, versions, trace)
                trace.info.tags.update(tags)
                return
    except (ImportError, AttributeError):  # MLflow moved its internals: its public ways
        pass
    import mlflow

    for version in versions or []:
        mlflow.genai.load_prompt(f"prompts:/{version.name}/{version.version}")
    mlflow.update_current_trace(tags=tags)


def _linked_inside(span: Any) -> str | None:
    """``name/version`` of the first prompt the call loaded inside the span, if any."""
    import json

    from mlflow.tracing.constant import SpanAttributeKey

    value = span.get_attribute(SpanAttributeKey.LINKED_PROMPTS)
    try:
        linked = json.loads(value) if isinstance(value, str) else value
        return f"{linked[0]['name']}/{linked[0]['version']}" if linked else None
    except (ValueError, LookupError, TypeError):
        return None


# --- not losing traces -------------------------------------------------------------------------------


def _export_queue() -> Any:
    """MLflow's bounded queue of traces waiting to be stored (None when it cannot be found)."""
    try:
        from mlflow.tracking.fluent import _get_trace_exporter

        exporter = _get_trace_exporter()
        return exporter._async_queue._queue if exporter is not None else None
    except Exception:
        return None


def _backpressure() -> None:
    """Before a call: wait while MLflow's export queue is half full, so the next trace fits."""
    global _calls
    queue = _export_queue()
    if queue is None or not getattr(queue, "maxsize", 0):
        with _calls_lock:
            _calls += 1
            due = _calls % _FLUSH_EVERY == 0
        if due:
            flush()
        return
    if queue.qsize() < queue.maxsize // 2:
        return
    deadline = time.monotonic() + 120
    while queue.qsize() > queue.maxsize // 4:
        if time.monotonic() > deadline:  # the export threads are stuck: drain in this thread
            flush()
            return
        time.sleep(0.005)


# --- OpenAI-compatible clients -----------------------------------------------------------------------


def _completions(obj: Any) -> Any:
    """``obj.chat.completions`` when ``obj`` is an OpenAI-compatible client, else None."""
    if callable(obj) and not hasattr(obj, "chat"):
        return None
    completions = getattr(getattr(obj, "chat", None), "completions", None)
    return completions if callable(getattr(completions, "create", None)) else None


def _is_create(fn: Any) -> bool:
    """A client's bound ``chat.completions.create``, wrapped directly."""
    owner = getattr(fn, "__self__", None)
    return getattr(fn, "__name__", "") == "create" and type(owner).__name__.lower().endswith("completions")


class _TracedClient:
    """The client, with ``chat.completions.create`` traced; everything else passes through."""

    def __init__(self, client: Any, spec: _Spec) -> None:
        self._client = client
        self.chat = _Namespace(client.chat, completions=_TracedCompletions(client.chat.completions, spec))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class _TracedCompletions:
    def __init__(self, completions: Any, spec: _Spec) -> None:
        self._completions = completions
        self._spec = spec

    def create(self, *args: Any, **kwargs: Any) -> Any:
        return _call(self._completions.create, self._spec, args, kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._completions, name)


class _Namespace:
    def __init__(self, inner: Any, **overrides: Any) -> None:
        self._inner = inner
        self.__dict__.update(overrides)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
