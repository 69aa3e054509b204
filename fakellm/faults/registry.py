"""The fault names of scenario files and of the compact spec, and the documented stage order.

Its own module so that the stages do not know each other and spec.py finds every fault by name
without importing the stages one by one.
"""

from __future__ import annotations

import typing

from .base import Fault
from .events import ErrorEvent, MalformedChunk, SlowTokens, Truncate
from .frames import AccelBuffering, Bandwidth, Buffer, Drop, Fragment, Latency, Sse, Stall
from .request import HttpError

FAULTS: dict[str, type[Fault]] = {
    cls.name: cls
    for cls in (
        HttpError,
        SlowTokens,
        MalformedChunk,
        ErrorEvent,
        Truncate,
        AccelBuffering,
        Sse,
        Latency,
        Stall,
        Drop,
        Buffer,
        Fragment,
        Bandwidth,
    )
}
_STAGE_ORDER = {"request": 0, "events": 1, "frames": 2}


def order_faults(faults: typing.Iterable[Fault]) -> list[Fault]:
    """The documented stage order; faults of the same kind keep the order they were given in."""
    return sorted(faults, key=lambda f: (_STAGE_ORDER[f.stage], f.rank))
