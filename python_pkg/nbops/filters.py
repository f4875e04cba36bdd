"""Values inside MLflow search filters.

MLflow's filter parser takes a string in single or double quotes but keeps a backslash escape as
part of the value, so ``name = 'o\\'brien'`` finds nothing. A value is quoted with whichever quote
it does not contain.
"""

from __future__ import annotations

from .errors import InvalidInput


def literal(value: str) -> str:
    """``value`` as a string literal for an MLflow ``filter_string``."""
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    raise InvalidInput(f"{value!r} contains both ' and \", which MLflow searches cannot match; rename it.")
