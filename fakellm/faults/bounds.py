"""The bounds of every fault setting (docs/faults.md, "Limits"), and the checks that apply them.

Its own module because every other part of fakellm that reads a number from a client or a file
(the timing headers, scenario files, recordings) checks it against the same limits.
"""

from __future__ import annotations

import math

from ..errors import ScenarioError, shown

# Every number a client or a scenario file can give is checked here, where it is read: a value that
# passes goes on to be turned into deadlines in nanoseconds, write sizes and counts, and NaN, an
# infinity or 1e306 ms would otherwise pass validation and only fail mid-stream.

MAX_DURATION_MS = 86_400_000.0
"""Any duration (``*_ms``, ``*_s``, a timing field, a timing header): finite, 0 to 24 h."""
MAX_POSITION_TOKENS = 1_000_000
"""The largest token position (``after_tokens``, ``@N``)."""
MAX_TIMES = 1_000_000
"""The largest ``times``."""
MAX_FACTOR = 1000.0
"""The largest ``slow_tokens`` factor."""
BYTES_PER_S_RANGE = (1.0, 1e12)
"""``bandwidth``: at least 1 byte a second (a smaller rate only makes one write last for years)."""
MAX_WRITE_BYTES = 1_048_576
"""The largest ``fragment`` write size."""
MAX_BUFFER_BYTES = 16_777_216
"""The largest ``buffer`` size, and the most ``buffer all`` holds before it lets the bytes go: what
one stream may keep in memory (16 MiB, the largest request body)."""
MIN_KEEPALIVE_MS = 1.0
"""The shortest ``stall`` keep-alive interval (shorter ones only busy the server with writes)."""
MAX_FAULTS = 32
"""The most faults one spec (a header, ``--faults``) or one scenario may hold: each one is a stage
that every frame passes through."""
_MAX_INT_DIGITS = 18  # longer digit strings are out of every range; never hand them to int()


def _finite(value: float, field: str) -> None:
    if isinstance(value, int):  # every int is finite; a huge one fails the maximum instead
        return
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an int too large for a float
        finite = False
    if not finite:
        raise ScenarioError(f"must be a finite number, got {shown(value)}", field=field)


def _at_least(value: float | None, minimum: float, field: str, *, strict: bool = False) -> None:
    if value is None:
        return
    if value < minimum or (strict and value == minimum):
        raise ScenarioError(f"must be {'>' if strict else '>='} {minimum:g}, got {shown(value)}", field=field)


def _within(
    value: float | None, minimum: float, maximum: float, field: str, *, strict: bool = False, unit: str = ""
) -> None:
    """``minimum <= value <= maximum`` (``minimum < value`` with ``strict``); None passes."""
    if value is None:
        return
    _finite(value, field)
    _at_least(value, minimum, field, strict=strict)
    if value > maximum:
        raise ScenarioError(f"must be <= {maximum:.12g}{unit}, got {shown(value)}", field=field)


def _duration_ms(value: float | None, field: str, *, strict: bool = False) -> None:
    _within(value, 0, MAX_DURATION_MS, field, strict=strict, unit=" (24 h)")
