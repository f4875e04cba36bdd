"""A fake OpenAI-compatible chat completions server on 127.0.0.1, and a minimal client for it.

A fake because no paid API can be reached from the test machines (and the ``openai`` package is
not a dependency): the server answers ``POST /v1/chat/completions`` deterministically, with exact
``usage`` counts, so tests can assert tokens and costs to the cent. The model ``fake-judge``
answers as an LLM judge does (``{"result": "yes", "rationale": ...}``).
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def answer_of(messages: list[dict[str, Any]]) -> str:
    """What the fake model says: the last user message, upper-cased, after ``ANSWER:``."""
    last = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
    return f"ANSWER: {str(last).upper()}"


def words(messages: list[dict[str, Any]]) -> int:
    return sum(len(str(m.get("content", "")).split()) for m in messages)


class _Handler(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        self.server.requests.append(body)  # type: ignore[attr-defined]
        messages = body.get("messages", [])
        if body.get("model") == "fake-judge":
            content = json.dumps({"result": "yes", "rationale": "the fake judge agrees"})
        else:
            content = answer_of(messages)
        reply = {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 1700000000,
            "model": body.get("model", "fake"),
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
            ],
            # Deterministic counts a test can assert: words in, words out.
            "usage": {
                "prompt_tokens": words(messages),
                "completion_tokens": len(content.split()),
                "total_tokens": words(messages) + len(content.split()),
            },
        }
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def fake_openai() -> Iterator[Any]:
    """The running server (``.base_url`` ends in ``/v1``; ``.requests`` lists the bodies received)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.requests = []  # type: ignore[attr-defined]
    server.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


class _Obj(dict):
    """An answer as the openai SDK shows it: attributes as well as keys, and ``model_dump``."""

    def __getattr__(self, key: str) -> Any:
        try:
            value = self[key]
        except KeyError:
            raise AttributeError(key) from None
        if isinstance(value, dict):
            return _Obj(value)
        if isinstance(value, list):
            return [_Obj(v) if isinstance(v, dict) else v for v in value]
        return value

    def model_dump(self) -> dict[str, Any]:
        return dict(self)


class _Completions:
    def __init__(self, base_url: str) -> None:
        self._base_url = base_url

    def create(self, **kwargs: Any) -> _Obj:
        request = urllib.request.Request(
            f"{self._base_url}/chat/completions",
            data=json.dumps(kwargs).encode(),
            headers={"Content-Type": "application/json", "Authorization": "Bearer sk-fake"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return _Obj(json.loads(answer.read()))


class Client:
    """The shape of ``openai.OpenAI``: ``client.chat.completions.create(model=..., messages=...)``."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.chat = type("Chat", (), {})()
        self.chat.completions = _Completions(base_url)
