"""How ``nbops serve`` behaves: the ``[tool.nbops.serving]`` table, read and checked once.

Every knob has a default that suits a small team's server, so the table is optional. A key
nbops does not know, or a value of the wrong kind, is refused at start-up with one line that
names the key and what it accepts: a typo (``batch_row = 100``) must not be silently ignored
while the server runs with the default.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..config import Settings

TABLE = "[tool.nbops.serving]"


@dataclass(frozen=True)
class ServingSettings:
    """The serving knobs; ``ServingSettings.from_settings(config.resolve())`` reads the project's."""

    batch_rows: int = 500  # a monitoring batch closes every N rows ...
    batch_seconds: float = 30.0  # ... or every S seconds, whichever first
    keep_payloads: bool = False  # raw request rows kept as a batch artifact
    max_buffer_rows: int = 50_000  # rows held while the store is unreachable (oldest dropped, counted)
    max_body_bytes: int = 10 * 1024 * 1024
    poll_seconds: float = 1.0  # how often the alias is re-read
    heartbeat_seconds: float = 10.0
    shadow_share: float = 0.05  # most of one core a shadow may use while requests wait

    def __post_init__(self) -> None:
        for item in dataclasses.fields(self):
            _check(item.name, getattr(self, item.name), "")
        if self.max_buffer_rows < self.batch_rows:
            raise ConfigError(
                f"max_buffer_rows ({self.max_buffer_rows}) must be at least batch_rows ({self.batch_rows}): "
                "the buffer has to hold one whole batch."
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> ServingSettings:
        """The ``[tool.nbops.serving]`` table of a resolved project, over the defaults."""
        table = settings.tool.get("serving", {})
        where = f" in {settings.pyproject}" if settings.pyproject else ""
        if not isinstance(table, dict):
            raise ConfigError(
                f"{TABLE}{where} must be a table of settings; see the README's serving section."
            )
        known = [item.name for item in dataclasses.fields(cls)]
        unknown = sorted(set(table) - set(known))
        if unknown:
            raise ConfigError(
                f"unknown key {unknown[0]!r} under {TABLE}{where}; the keys are {', '.join(known)}."
            )
        for key, value in table.items():
            _check(key, value, where)
        return cls(**table)


#: key → (kind, lowest allowed value, whether the lowest is allowed itself)
_RULES: dict[str, tuple[str, float, bool]] = {
    "batch_rows": ("int", 1, True),
    "batch_seconds": ("float", 0, False),
    "max_buffer_rows": ("int", 1, True),
    "max_body_bytes": ("int", 1, True),
    "poll_seconds": ("float", 0, False),
    "heartbeat_seconds": ("float", 0, False),
    "shadow_share": ("share", 0, False),
}


def _check(key: str, value: Any, where: str) -> None:
    """Raise ``ConfigError`` naming ``key`` and what it accepts unless ``value`` fits."""
    if key == "keep_payloads":
        if not isinstance(value, bool):
            raise ConfigError(f"keep_payloads under {TABLE}{where} must be true or false, not {value!r}.")
        return
    kind, low, inclusive = _RULES[key]
    number = isinstance(value, int) if kind == "int" else isinstance(value, int | float)
    fits = (
        number
        and not isinstance(value, bool)
        and math.isfinite(value)
        and (value >= low if inclusive else value > low)
        and (kind != "share" or value <= 1)
    )
    if not fits:
        wanted = {
            "int": f"a whole number >= {low}",
            "share": "a fraction above 0 and at most 1 (0.05 is 5 % of one core)",
        }.get(kind, f"a number of seconds > {low}")
        raise ConfigError(f"{key} under {TABLE}{where} must be {wanted}, not {value!r}.")
