"""The one object the REST handlers share: the project the Jupyter server serves.

The server is started in one root folder, so every request is about the same project. Resolving
it per call from the folder would repeat the search for ``pyproject.toml`` in every core function a
request reaches; instead the handlers take this service from the tornado settings (as
jupyterlab-git's handlers take their ``Git`` object) and hand its ``Project`` to the core as
``start=``. ``config.resolve`` keeps the answer per folder and reads ``pyproject.toml`` again only
when it changed, so a project whose settings are edited while the server runs is still followed.
"""

from __future__ import annotations

from pathlib import Path

from .. import config

#: The key of the service in ``web_app.settings``.
SETTINGS_KEY = "nbops"


class NbopsService:
    """The project of the Jupyter server's root folder, resolved once and re-read on change."""

    def __init__(self, root_dir: str | Path) -> None:
        self.root_dir = Path(root_dir)

    def project(self) -> config.Project:
        """The resolved project; raises ``ConfigError`` (a 4xx) when ``[tool.nbops]`` is invalid."""
        return config.resolve(self.root_dir)
