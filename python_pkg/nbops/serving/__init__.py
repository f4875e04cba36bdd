"""Serving registered models: ``nbops serve MODEL@ALIAS`` and ``nbops.serve(...)``.

A server follows its alias (promote or roll back, and it serves the new version within a poll),
can send a canary share of requests to another alias or copy them to a shadow, and logs every
request into nbops' monitoring. It is MLflow's scoring server underneath, so clients speak MLflow's
scoring protocol. Importing this package is cheap: MLflow and uvicorn load when a server starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .process import ServerProcess

__all__ = ["serve", "servers", "stop"]


def serve(
    model: str,
    *,
    name: str | None = None,
    host: str = "127.0.0.1",
    port: int | None = None,
    workers: int = 1,
    canary: dict[str, int] | None = None,
    shadow: str | None = None,
    start: Path | str | None = None,
    timeout: float = 120.0,
) -> ServerProcess:
    """Serve ``model`` ("NAME@ALIAS") from a child process; returns once it answers ``/ping``.

    The handle has ``url``, ``status()`` and ``stop()``. ``canary={"challenger": 10}`` sends
    10 % of request IDs to the challenger alias (judged step by step, then promoted or rolled back,
    when the project has a ``[tool.nbops.canary]`` table); ``shadow="challenger"`` copies every
    request to it after the client has the champion's answer. The child lives in its own process group, so
    stopping it (or this process exiting) leaves nothing behind.
    """
    from .process import start_child

    return start_child(
        model,
        name=name,
        host=host,
        port=port,
        workers=workers,
        canary=canary,
        shadow=shadow,
        start=start,
        timeout=timeout,
    )


def servers() -> list[ServerProcess]:
    """The servers started from this process that are still running."""
    from .process import running

    return running()


def stop(name: str) -> int:
    """Stop the server started here under ``name``; returns its exit code."""
    from .process import stop as stop_server

    return stop_server(name)
