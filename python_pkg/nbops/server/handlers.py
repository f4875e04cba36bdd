"""REST handlers: parse the request, call the core off the event loop, answer JSON.

No nbops logic lives here. Store calls run in a worker thread so a slow query
never stalls the rest of JupyterLab, and errors are mapped in one place:
``NbopsError`` → its 4xx/5xx status with the message, anything else → 500 with a
generic message (the traceback goes to the server log, never to the client).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import tornado
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler

from .. import __version__, config, runs
from ..errors import InvalidInput, NbopsError

#: The resource name checked by Jupyter's authorizer for every nbops route.
AUTH_RESOURCE = "nbops"

_executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="nbops-store")


async def run_in_store_thread(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a (blocking) core function off the event loop, in nbops' store threads."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_executor, lambda: fn(*args, **kwargs))


class NbopsHandler(APIHandler):
    auth_resource = AUTH_RESOURCE

    def initialize(self, root_dir: str) -> None:
        self.root_dir = root_dir

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await run_in_store_thread(fn, *args, **kwargs)

    def int_argument(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.get_query_argument(name, str(default))
        try:
            value = int(raw)
        except ValueError:
            raise InvalidInput(f"{name} must be an integer between {low} and {high}, got {raw!r}.") from None
        if not low <= value <= high:
            raise InvalidInput(f"{name} must be between {low} and {high}, got {value}.")
        return value

    def reply(self, body: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def log_exception(self, typ, value, tb) -> None:  # type: ignore[override]
        if isinstance(value, NbopsError):
            self.log.info("nbops: %s %s → %s", self.request.method, self.request.path, value)
        else:
            super().log_exception(typ, value, tb)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, NbopsError):
            self.reply({"message": str(exc), "error": type(exc).__name__}, exc.http_status)
        else:
            super().write_error(status_code, **kwargs)


class StatusHandler(NbopsHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        settings = await self.call(config.resolve, self.root_dir)
        self.reply(
            {
                "version": __version__,
                "store": config.redact_uri(settings.tracking_uri),
                "store_source": settings.source,
                "project_root": str(settings.project_root),
            }
        )


class RunsHandler(NbopsHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        max_results = self.int_argument("max_results", 50, 1, 1000)
        page_token = self.get_query_argument("page_token", None)
        page = await self.call(runs.recent, max_results, page_token, start=self.root_dir)
        self.reply(page)
