"""The Jupyter server face of nbops: REST routes under ``<base_url>/nbops/api/``."""

from __future__ import annotations

import re
from typing import Any

from jupyter_server.utils import url_path_join

from .handlers import (
    AlertsHandler,
    AuditHandler,
    CanaryAbortHandler,
    CanaryPromoteHandler,
    DeploymentsHandler,
    DeploymentTrafficHandler,
    ModelsHandler,
    MonitoringHandler,
    PromoteHandler,
    PromptDiffHandler,
    PromptPromoteHandler,
    PromptRollbackHandler,
    PromptsHandler,
    PromptUsageHandler,
    PromptVersionsHandler,
    ReadinessHandler,
    RollbackHandler,
    RunsHandler,
    StatusHandler,
    VersionHandler,
    VersionsHandler,
)
from .service import SETTINGS_KEY, NbopsService
from .store_threads import load_in_background, run_in_store_thread

API_PREFIX = "nbops/api"

#: Every route nbops serves, as OpenAPI path templates; ``openapi.yaml`` beside this file
#: documents each one. A ``{parameter}`` matches one URL segment, which tornado URL-decodes
#: before the handler (and ``nbops.catalog``'s checks) see it.
ROUTES: list[tuple[str, type]] = [
    ("status", StatusHandler),
    ("runs", RunsHandler),
    ("models", ModelsHandler),
    ("models/{name}/versions", VersionsHandler),
    ("models/{name}/versions/{version}", VersionHandler),
    ("models/{name}/versions/{version}/monitoring", MonitoringHandler),
    ("models/{name}/promote", PromoteHandler),
    ("models/{name}/rollback", RollbackHandler),
    ("audit", AuditHandler),
    ("alerts", AlertsHandler),
    ("deployments", DeploymentsHandler),
    ("deployments/{deployment_id}/traffic", DeploymentTrafficHandler),
    ("models/{name}/canary/promote", CanaryPromoteHandler),
    ("models/{name}/canary/abort", CanaryAbortHandler),
    ("readiness", ReadinessHandler),
    ("prompts", PromptsHandler),
    ("prompts/{name}/versions", PromptVersionsHandler),
    ("prompts/{name}/diff", PromptDiffHandler),
    ("prompts/{name}/usage", PromptUsageHandler),
    ("prompts/{name}/promote", PromptPromoteHandler),
    ("prompts/{name}/rollback", PromptRollbackHandler),
]


def route_pattern(template: str) -> str:
    """``models/{name}/versions`` → ``models/(?P<name>[^/]+)/versions`` for tornado."""
    return re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)


def setup_handlers(server_app: Any) -> None:
    web_app = server_app.web_app
    base_url = web_app.settings["base_url"]
    service = NbopsService(server_app.root_dir)
    web_app.settings[SETTINGS_KEY] = service
    handlers = [(url_path_join(base_url, API_PREFIX, route_pattern(path)), cls) for path, cls in ROUTES]
    web_app.add_handlers(".*$", handlers)
    server_app.log.info("nbops: REST API at %s", url_path_join(base_url, API_PREFIX))
    watch_kernels(server_app, service)
    warm_up(server_app)


def warm_up(server_app: Any) -> None:
    """Load MLflow in the background once the server runs, while JupyterLab's page loads.

    The first store call otherwise pays for ``import mlflow`` (seconds), and the sidebar asks for
    its models right after the page opens. The load starts from the event loop, after every
    server extension has been imported, so it imports alone; store calls wait for it
    (``store_threads.load``). Only imports: no store is touched until a request needs it.
    """
    server_app.io_loop.add_callback(load_in_background, server_app.log)


KERNEL_ACTIONS_SCHEMA = "https://events.jupyter.org/jupyter_server/kernel_actions/v1"


def watch_kernels(server_app: Any, service: NbopsService) -> None:
    """When Jupyter restarts or shuts down a kernel, mark that kernel's orphaned runs KILLED.

    A kernel that dies is restarted by Jupyter's auto-restarter, which emits the
    same ``restart`` event, so crashes and SIGKILLs are covered too.
    """
    from ..liveness import sweep

    async def on_kernel_action(logger: Any, schema_id: str, data: dict) -> None:
        kernel_id = data.get("kernel_id")
        if data.get("action") in ("restart", "shutdown") and data.get("status") == "success" and kernel_id:
            try:
                marked = await run_in_store_thread(lambda: sweep(service.project(), kernel_id=kernel_id))
            except Exception:
                server_app.log.warning(
                    "nbops: could not check the runs of kernel %s", kernel_id, exc_info=True
                )
                return
            if marked:
                server_app.log.info("nbops: marked %d run(s) of kernel %s KILLED", len(marked), kernel_id)

    server_app.event_logger.add_listener(schema_id=KERNEL_ACTIONS_SCHEMA, listener=on_kernel_action)
