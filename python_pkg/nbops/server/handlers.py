"""REST handlers: parse the request, call the core off the event loop, answer JSON.

No nbops logic lives here: listing, paging, counting and the checks on names and versions
are in ``nbops.catalog``. Store calls run in nbops' store threads (``store_threads``) so a slow
query never stalls the rest of JupyterLab, and errors are mapped in one place: ``NbopsError`` → its 4xx/5xx
status with the message (plus structured details such as a refused promotion's missing
gates), anything else → 500 with a generic message (the traceback goes to the server log,
never to the client).

Every handler requires Jupyter authentication (``@tornado.web.authenticated``) and
authorization on the ``nbops`` resource (``@authorized``: GET is ``read``, POST is
``write``); POSTs made with the session cookie also need the XSRF token, which
jupyter_server checks before the handler runs.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

import tornado
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado.web import HTTPError

from .. import (
    alert_listing,
    catalog,
    config,
    deployment_listing,
    prompt_diff,
    prompt_listing,
    runs,
    version_detail,
)
from ..errors import InvalidInput, NbopsError
from ..version import __version__
from .service import SETTINGS_KEY, NbopsService
from .store_threads import run_in_store_thread, run_off_loop

#: The resource name checked by Jupyter's authorizer for every nbops route.
AUTH_RESOURCE = "nbops"
#: Largest request body accepted; an alias change is a few hundred bytes.
MAX_BODY_BYTES = 64 * 1024
INTERNAL_ERROR = "nbops hit an internal error; the Jupyter server log has the details."


class NbopsHandler(APIHandler):
    auth_resource = AUTH_RESOURCE

    @property
    def service(self) -> NbopsService:
        """The server's one ``NbopsService`` (``setup_handlers`` puts it in the settings)."""
        return self.settings[SETTINGS_KEY]

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs, start=<the project>)`` in a store thread.

        The project is resolved in that thread too: ``config.resolve`` stats ``pyproject.toml``,
        and a project with invalid settings raises there, which ``write_error`` maps like any
        other ``NbopsError``.
        """
        service = self.service

        def with_project() -> Any:
            return fn(*args, **kwargs, start=service.project())

        return await run_in_store_thread(with_project)

    @property
    def actor(self) -> str:
        """The Jupyter user, as the audit log's actor."""
        return getattr(self.current_user, "username", None) or "unknown"

    def page_arguments(self, largest: int) -> tuple[int, str | None]:
        """``max_results`` (50 unless given, at most ``largest``) and ``page_token`` of a paged list."""
        return self.int_argument("max_results", 50, 1, largest), self.get_query_argument("page_token", None)

    def int_argument(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.get_query_argument(name, str(default))
        try:
            value = int(raw)
        except ValueError:
            raise InvalidInput(f"{name} must be an integer between {low} and {high}, got {raw!r}.") from None
        if not low <= value <= high:
            raise InvalidInput(f"{name} must be between {low} and {high}, got {value}.")
        return value

    def json_body(self, allowed: set[str]) -> dict[str, Any]:
        """The request body as a JSON object; its size is checked before it is parsed."""
        size = len(self.request.body)
        if size > MAX_BODY_BYTES:
            raise HTTPError(
                413, f"the request body is {size:,} bytes; nbops accepts at most {MAX_BODY_BYTES:,}."
            )
        try:
            body = json.loads(self.request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise InvalidInput("the request body is not valid JSON; send a JSON object.") from None
        if not isinstance(body, dict):
            raise InvalidInput(f"the request body must be a JSON object, not {type(body).__name__}.")
        unknown = sorted(set(body) - allowed)
        if unknown:
            raise InvalidInput(
                f"unknown field(s) {', '.join(map(repr, unknown))}; this request takes "
                f"{', '.join(sorted(allowed))}."
            )
        return body

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
        """Every error is JSON ``{"message", "error"}``; only nbops' own messages are passed on."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, NbopsError):
            body = {"message": str(exc), "error": type(exc).__name__, **exc.details()}
            self.reply(body, exc.http_status)
        elif isinstance(exc, HTTPError) or exc is None:
            # Raised by tornado or jupyter_server themselves (403, 404, 405, 413): their messages
            # are written for clients ("'_xsrf' argument missing from POST").
            message = exc.log_message if exc is not None else None
            if message and exc is not None and exc.args:
                with contextlib.suppress(TypeError, ValueError):
                    message = message % exc.args
            self.reply({"message": message or self._reason, "error": self._reason}, status_code)
        else:
            self.reply({"message": INTERNAL_ERROR, "error": "InternalError"}, 500)


class StatusHandler(NbopsHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        settings = await run_off_loop(self.service.project)
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
        max_results, page_token = self.page_arguments(1000)
        page = await self.call(runs.recent, max_results, page_token)
        self.reply(page)


class ModelsHandler(NbopsHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        max_results, page_token = self.page_arguments(catalog.MAX_MODELS_PAGE)
        text = self.get_query_argument("filter", None)
        self.reply(await self.call(catalog.models, max_results, page_token, text))


class VersionsHandler(NbopsHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        max_results, page_token = self.page_arguments(catalog.MAX_VERSIONS_PAGE)
        self.reply(await self.call(catalog.versions, name, max_results, page_token))


class VersionHandler(NbopsHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, name: str, version: str) -> None:
        self.reply(await self.call(version_detail.version_detail, name, version))


class MonitoringHandler(NbopsHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, name: str, version: str) -> None:
        metrics = self.get_query_argument("metrics", None)
        self.reply(await self.call(catalog.monitoring_series, name, version, metrics))


class PromoteHandler(NbopsHandler):
    """``POST models/{name}/promote``; the prompt route is the same with the prompt's own core call."""

    promote = staticmethod(catalog.promote)

    @tornado.web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        body = self.json_body({"version", "alias", "reason", "force"})
        change = await self.call(
            self.promote,
            name,
            body.get("version"),
            body.get("alias"),
            body.get("reason"),
            force=body.get("force", False),
            actor=self.actor,
            source=catalog.SOURCE,
        )
        self.reply(change)


class RollbackHandler(NbopsHandler):
    """``POST models/{name}/rollback`` (``champion`` unless the body names an alias)."""

    rollback = staticmethod(catalog.rollback)
    default_alias = "champion"

    @tornado.web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        body = self.json_body({"alias", "reason"})
        change = await self.call(
            self.rollback,
            name,
            body.get("alias", self.default_alias),
            body.get("reason"),
            actor=self.actor,
            source=catalog.SOURCE,
        )
        self.reply(change)


class AuditHandler(NbopsHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        model = self.get_query_argument("model", None)
        max_results, page_token = self.page_arguments(catalog.MAX_AUDIT_PAGE)
        self.reply(await self.call(catalog.audit_page, model, max_results, page_token))


class AlertsHandler(NbopsHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        model = self.get_query_argument("model", None)
        state = self.get_query_argument("state", "open")
        self.reply(await self.call(alert_listing.alerts, model, state))


class DeploymentsHandler(NbopsHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        model = self.get_query_argument("model", None)
        if model is not None:
            catalog.check_model_name(model)
        stopped = self.get_query_argument("stopped", "false")
        if stopped not in ("true", "false"):
            raise InvalidInput(f"stopped must be true or false, got {stopped!r}.")
        from ..serving.deployments import list_deployments

        found = await self.call(list_deployments, model, stopped=stopped == "true")
        self.reply(found)


class DeploymentTrafficHandler(NbopsHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, deployment_id: str) -> None:
        self.reply(await self.call(deployment_listing.traffic, deployment_id))


class CanaryPromoteHandler(NbopsHandler):
    """``POST models/{name}/canary/promote``: what ``nbops canary promote`` does, policy included."""

    end = staticmethod(deployment_listing.promote_canary)

    @tornado.web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        body = self.json_body({"reason"})
        self.reply(await self.call(self.end, name, body.get("reason"), actor=self.actor))


class CanaryAbortHandler(CanaryPromoteHandler):
    """``POST models/{name}/canary/abort``: what ``nbops canary abort`` does."""

    end = staticmethod(deployment_listing.abort_canary)


class ReadinessHandler(NbopsHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        from ..assessment import assess  # the name is checked by assess, before anything is read

        assessment = await self.call(assess, self.get_query_argument("model", None))
        self.reply(assessment.to_dict())


class PromptsHandler(NbopsHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        max_results, page_token = self.page_arguments(prompt_listing.MAX_PROMPTS_PAGE)
        self.reply(await self.call(prompt_listing.prompts_page, max_results, page_token))


class PromptVersionsHandler(NbopsHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        max_results, page_token = self.page_arguments(prompt_listing.MAX_PROMPTS_PAGE)
        self.reply(await self.call(prompt_listing.versions_page, name, max_results, page_token))


class PromptDiffHandler(NbopsHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        old, new = self.get_query_argument("from", None), self.get_query_argument("to", None)
        self.reply(await self.call(prompt_diff.diff, name, old, new))


class PromptUsageHandler(NbopsHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        alias, version = self.get_query_argument("alias", None), self.get_query_argument("version", None)
        self.reply(await self.call(prompt_listing.usage, name, alias, version))


class PromptPromoteHandler(PromoteHandler):
    promote = staticmethod(prompt_listing.promote)


class PromptRollbackHandler(RollbackHandler):
    rollback = staticmethod(prompt_listing.rollback)
    default_alias = "production"
