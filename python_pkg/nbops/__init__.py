"""nbops: a notebook-first MLOps workbench for JupyterLab, on MLflow.

Importing this package is cheap on purpose (no MLflow, no tornado): it is what
``%load_ext nbops`` and Jupyter's extension discovery load.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .version import __version__

if TYPE_CHECKING:
    from .assessment import assess
    from .datasets import log_dataset
    from .registry import promote, register, rollback
    from .serving import serve
    from .tracking import log_metric, log_metrics, log_param, log_params, track
    from .widgets.compare import compare
    from .widgets.registry import registry_widget

#: Public name → the module that defines it; imported on first use so ``import nbops`` stays instant.
_LAZY = {
    "track": "tracking",
    "log_metric": "tracking",
    "log_metrics": "tracking",
    "log_param": "tracking",
    "log_params": "tracking",
    "log_dataset": "datasets",
    "register": "registry",
    "promote": "registry",
    "rollback": "registry",
    "serve": "serving",
    "assess": "assessment",
    "compare": "widgets.compare",
    "registry_widget": "widgets.registry",
    "reproduce": "reproducing",
}
#: Submodules reachable as attributes (``nbops.registry.history(...)``), imported on first use.
_SUBMODULES = (
    "audit",
    "datasets",
    "gate",
    "gates",
    "llm",
    "monitor",
    "monitoring",
    "prompts",
    "registry",
    "reproducing",
    "runs",
    "serving",
    "tracking",
    "widgets",
)

__all__ = [
    "__version__",
    "assess",
    "compare",
    "log_dataset",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "promote",
    "register",
    "registry_widget",
    "rollback",
    "serve",
    "track",
]


def __getattr__(name: str) -> Any:
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'nbops' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext nbops``: register the magics (MLflow loads when a run starts).

    Runs left RUNNING by dead kernels are marked KILLED by a background sweep, so
    loading stays instant.
    """
    from .liveness import sweep_in_background
    from .magics import NbopsMagics
    from .prompt_magics import PromptMagics

    ipython.register_magics(NbopsMagics, PromptMagics)
    sweep_in_background()


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "nbops"}]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "nbops"}]


def _load_jupyter_server_extension(server_app: Any) -> None:
    """Serve nbops' REST API under ``<base_url>/nbops/api/``."""
    from .server import setup_handlers

    setup_handlers(server_app)
