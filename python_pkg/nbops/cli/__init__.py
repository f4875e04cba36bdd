"""The ``nbops`` command: the terminal and CI face of nbops.

``base`` holds the command group, the exit codes and the one error boundary; each other module
adds the commands of one area to that group when imported: ``models`` (registry, promote,
rollback, audit), ``gating`` (gate run and list), ``operations`` (monitor, review, notify,
deployments) and ``deploying`` (serve, deploy image and manifests).
"""

from __future__ import annotations

from . import assessing, canary, deploying, evidence, gating, models, operations
from .base import EXIT_MEANINGS, ExitCode, _gate_exit_code, main

__all__ = [
    "EXIT_MEANINGS",
    "ExitCode",
    "_gate_exit_code",
    "assessing",
    "canary",
    "deploying",
    "evidence",
    "gating",
    "main",
    "models",
    "operations",
]
