"""Faults: small, composable transforms of a stream, in the manner of toxiproxy's toxics.

Each fault is a frozen dataclass of settings (units in the field names) plus one transform. Three
stages, in a fixed order that :func:`order_faults` enforces whatever order they were written in:

1. ``request``  — before any byte of the stream: ``http_error``.
2. ``events``   — over timed events, before the wire encoder (semantic faults, so they work for
   every wire format): ``slow_tokens``, ``malformed``, ``error_event``, ``truncate``.
3. ``frames``   — the connection's: the response head (``accel_buffering``), then over encoded
   frames, after the encoder (byte-level faults): ``sse``, ``latency``, ``stall``, ``drop``,
   ``buffer``, ``fragment``, ``bandwidth``.

Transforms are pure: they move due times (seconds after the request arrived) and bytes as plain
data, draw randomness only from RNGs forked from the stream seed, and never sleep. Only the
transport turns due times into waits, so every fault is unit-tested without a clock or a socket.

Positions: ``after_tokens: N`` fires after the N-th content token (no position: after 0, that is
after the role chunk and before the first token); ``after_ms: T`` fires at T ms since the request
arrived. A position the stream never reaches fires at the natural end of the content (before the
finish chunk), so "error after 50 tokens" still errors on a 30-token answer; a fault whose position
comes after an earlier fault already ended the stream (error event, truncation) does not fire. The
journal records where each fault really fired.

``probability`` is rolled once per request (toxiproxy's per-connection toxicity) from an RNG
derived from the stream seed and the request's number, so a seeded run replays exactly while
repeated requests still fire about ``probability`` of the time. ``times: N`` applies the fault to
the first N requests that carry it, then the stream behaves normally (retry tests). Both are
applied by ``pipeline.plan_stream``.

The package follows those stages, one module each, over the shared parts:

- ``bounds``   the limits of every setting (docs/faults.md, "Limits") and their checks;
- ``base``     :class:`Fault` and the positioned base of faults that fire at a token or a time;
- ``request``, ``events``, ``frames``   the faults of each stage;
- ``registry`` :data:`FAULTS` (name -> fault) and :func:`order_faults`;
- ``spec``     settings from scenario files and the compact ``X-FakeLLM-Faults`` spec.

Import from ``fakellm.faults`` itself: the modules are its layout, not its interface.
"""

from __future__ import annotations

from .base import Fault
from .base import _Positioned as _Positioned  # for tests/fuzz/strategies.py
from .bounds import MAX_DURATION_MS, MAX_FAULTS
from .events import ErrorEvent, MalformedChunk, SlowTokens, Truncate
from .frames import AccelBuffering, Bandwidth, Buffer, Drop, Fragment, Latency, Sse, Stall
from .registry import FAULTS, order_faults
from .request import HttpError, go_duration
from .spec import _fields as _fields  # for tests/fuzz/strategies.py
from .spec import build_fault, parse_fault, parse_fault_spec

__all__ = [
    "FAULTS",
    "MAX_DURATION_MS",
    "MAX_FAULTS",
    "AccelBuffering",
    "Bandwidth",
    "Buffer",
    "Drop",
    "ErrorEvent",
    "Fault",
    "Fragment",
    "HttpError",
    "Latency",
    "MalformedChunk",
    "SlowTokens",
    "Sse",
    "Stall",
    "Truncate",
    "build_fault",
    "go_duration",
    "order_faults",
    "parse_fault",
    "parse_fault_spec",
]
