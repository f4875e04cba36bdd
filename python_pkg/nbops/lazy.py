"""Names a package offers but imports on first use (PEP 562), so ``import nbops`` stays instant.

``nbops.monitor``, ``nbops.monitoring``, ``nbops.llm`` and ``nbops.widgets`` gather functions from
submodules that pull in MLflow, pandas or scipy; each names where its functions live and lets
``exports`` import the submodule the first time one of them is asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def exports(package: str, where: Mapping[str, str], owner: str | None = None) -> Callable[[str], Any]:
    """A module ``__getattr__``: ``name`` is read from the submodule ``where[name]`` of ``package``.

    ``where`` maps each offered name to a module path relative to ``package`` (``"batches"`` or
    ``"monitoring.batches"``); ``owner`` is the module named in the ``AttributeError`` for any
    other name (``package`` by default).
    """

    def __getattr__(name: str) -> Any:
        if name in where:
            return getattr(import_module(f".{where[name]}", package), name)
        raise AttributeError(f"module {owner or package!r} has no attribute {name!r}")

    return __getattr__
