"""Which served version answers a request: the champion, or a canary chosen by the request ID.

The choice is a pure function of the request ID (a stable hash, not ``hash()``, which Python salts
per process), so a client that retries with the same ``X-Request-Id`` lands on the same version in
every worker and after every restart, and a split of N distinct IDs is binomial around the share.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from ..errors import InvalidInput

#: Buckets per request ID: a percentage is a whole number, so 1/10,000 resolution is plenty.
BUCKETS = 10_000


def bucket(request_id: str) -> int:
    """The request ID's bucket in ``[0, BUCKETS)``; the same ID always gives the same bucket."""
    digest = hashlib.blake2b(request_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


def choose(request_id: str, canary: Mapping[str, int]) -> str | None:
    """The canary alias that answers ``request_id``, or None for the champion.

    Canaries take consecutive slices of the buckets in the mapping's order, so two canaries of
    10 % each take buckets 0–999 and 1000–1999 and the champion keeps the rest.
    """
    if not canary:
        return None
    position = bucket(request_id)
    edge = 0
    for alias, percent in canary.items():
        edge += percent * (BUCKETS // 100)
        if position < edge:
            return alias
    return None


def parse_canary(specs: list[str] | tuple[str, ...] | None) -> dict[str, int]:
    """``["challenger=30"]`` → ``{"challenger": 30}``; a malformed spec is one actionable line."""
    split: dict[str, int] = {}
    for spec in specs or ():
        alias, sep, percent = str(spec).partition("=")
        alias = alias.strip()
        if not sep or not alias:
            raise InvalidInput(f"--canary takes ALIAS=PERCENT, e.g. challenger=10; got {spec!r}.")
        try:
            share = int(percent)
        except ValueError:
            raise InvalidInput(
                f"--canary {spec!r}: the percent must be a whole number from 1 to 99."
            ) from None
        if alias in split:
            raise InvalidInput(f"--canary names alias {alias!r} twice; give each alias once.")
        split[alias] = share
    return check_split(split)


def check_split(split: Mapping[str, int]) -> dict[str, int]:
    """A canary split whose shares are 1–99 each and leave the champion at least 1 %."""
    checked = {str(alias): int(percent) for alias, percent in split.items()}
    for alias, percent in checked.items():
        if not 1 <= percent <= 99:
            raise InvalidInput(f"--canary {alias}={percent}: the percent must be from 1 to 99.")
    if sum(checked.values()) > 99:
        raise InvalidInput(
            f"the canary shares add up to {sum(checked.values())} %; leave the champion at least 1 %."
        )
    return checked
