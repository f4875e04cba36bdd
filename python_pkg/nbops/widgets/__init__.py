"""Notebook widgets (anywidget): faces that call ``nbops.runs`` and render.

Importing this package is cheap: ``anywidget`` and MLflow load only when a
widget is first used, so nothing here slows ``%load_ext nbops`` or ``import nbops``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import lazy

if TYPE_CHECKING:
    from .compare import CompareWidget
    from .drift_report import DriftReport
    from .metric_chart import MetricChart
    from .registry import RegistryWidget
    from .run_card import RunCard

# The ``compare()`` function lives in ``nbops.widgets.compare``; it is not
# re-exported here because that name is already the submodule's.
__all__ = ["CompareWidget", "DriftReport", "MetricChart", "RegistryWidget", "RunCard"]

_WHERE = {
    "RunCard": "run_card",
    "CompareWidget": "compare",
    "RegistryWidget": "registry",
    "DriftReport": "drift_report",
    "MetricChart": "metric_chart",
}


__getattr__ = lazy.exports(__name__, _WHERE)
