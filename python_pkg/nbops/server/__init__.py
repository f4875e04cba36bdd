"""The Jupyter server face of nbops: REST routes under ``<base_url>/nbops/api/``."""

from __future__ import annotations

from typing import Any

from jupyter_server.utils import url_path_join

from .handlers import RunsHandler, StatusHandler

API_PREFIX = "nbops/api"

#: Every route nbops serves; ``openapi.yaml`` beside this file documents each one.
ROUTES: list[tuple[str, type]] = [
    ("status", StatusHandler),
    ("runs", RunsHandler),
]


def setup_handlers(server_app: Any) -> None:
    web_app = server_app.web_app
    base_url = web_app.settings["base_url"]
    options = {"root_dir": server_app.root_dir}
    handlers = [(url_path_join(base_url, API_PREFIX, path), cls, options) for path, cls in ROUTES]
    web_app.add_handlers(".*$", handlers)
    server_app.log.info("nbops: REST API at %s", url_path_join(base_url, API_PREFIX))
