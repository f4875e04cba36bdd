"""nbops: a notebook-first MLOps workbench for JupyterLab, on MLflow.

Importing this package is cheap on purpose (no MLflow, no tornado): it is what
``%load_ext nbops`` and Jupyter's extension discovery load.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .tracking import track

__all__ = ["__version__", "track"]


def __getattr__(name: str) -> Any:
    # The public API is imported on first use so ``import nbops`` stays instant.
    if name == "track":
        from .tracking import track

        return track
    raise AttributeError(f"module 'nbops' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext nbops``: register the magics (MLflow loads when a run starts)."""
    from .magics import NbopsMagics

    ipython.register_magics(NbopsMagics)


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "nbops"}]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "nbops"}]


def _load_jupyter_server_extension(server_app: Any) -> None:
    """Serve nbops' REST API under ``<base_url>/nbops/api/``."""
    from .server import setup_handlers

    setup_handlers(server_app)
