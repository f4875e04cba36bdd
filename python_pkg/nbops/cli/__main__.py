"""``python -m nbops.cli``: the ``nbops`` command, for environments without its script on PATH."""

from . import main

main()
