"""The one error family nbops raises on purpose.

Every message is written for the person who hit it: what went wrong and what to
do next, on one line. Faces turn these into a one-line message (magics), an exit
code (CLI) or a 4xx JSON body (REST); anything that is not an ``NbopsError`` is a
bug and is reported as such.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class NbopsError(Exception):
    """Base class: a problem the user can act on."""

    #: HTTP status the REST face answers with.
    http_status: int = 400

    def details(self) -> dict[str, Any]:
        """Structured facts a program can act on besides the message (the REST body carries them)."""
        return {}


class ConfigError(NbopsError):
    """The nbops configuration (``[tool.nbops]``, environment) is invalid."""


class StoreError(NbopsError):
    """The MLflow store could not be reached or used."""

    http_status = 503


class InvalidInput(NbopsError):
    """An argument from a user or a request is malformed."""


class DataError(InvalidInput):
    """Data handed to nbops (a batch, its labels, a reference profile) that it cannot use as it is.

    Raised by the statistics themselves, so a notebook, the CLI and the REST API all get the same one
    line instead of a numpy, pandas or scikit-learn traceback.
    """


class PolicyError(InvalidInput):
    """A promotion the project's policy does not allow (required gates not passed)."""

    http_status = 409

    def __init__(self, message: str, missing_gates: Sequence[str] = ()) -> None:
        super().__init__(message)
        #: The required gates that have not passed, so a UI can offer to run exactly those.
        self.missing_gates = list(missing_gates)

    def details(self) -> dict[str, Any]:
        return {"missing_gates": self.missing_gates}


class NotFound(NbopsError):
    """A run, model or version named by the user does not exist."""

    http_status = 404
