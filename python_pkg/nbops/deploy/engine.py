"""Which container engine builds the image: podman (daemonless, rootless) or Docker.

Found on ``PATH`` when the command runs, podman first; a machine with neither gets one line that says
how to install one, instead of a ``FileNotFoundError`` from deep inside a build.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from ..errors import InvalidInput, NbopsError

ENGINES = ("podman", "docker")


class NoContainerEngine(NbopsError):
    """Neither podman nor Docker is installed."""


@dataclass(frozen=True)
class Engine:
    """A container engine: its name (``podman``/``docker``) and the executable to run."""

    name: str
    path: str

    @property
    def is_podman(self) -> bool:
        return self.name == "podman"


def find_engine(wanted: str | None = None, path: str | None = None) -> Engine:
    """The engine to build with: ``wanted`` if given, else podman, else Docker (``path`` overrides ``PATH``)."""
    if wanted is not None and wanted not in ENGINES:
        raise InvalidInput(f"--engine must be podman or docker, not {wanted!r}.")
    for name in (wanted,) if wanted else ENGINES:
        found = shutil.which(name, path=path)
        if found:
            return Engine(name, found)
    which = wanted or "no container engine (podman or docker)"
    raise NoContainerEngine(
        f"{which} is not installed: install podman (sudo apt-get install podman) or Docker "
        "(https://docs.docker.com/engine/install/), then run the command again."
    )
