"""Faults: small, composable transforms of a stream, in the manner of toxiproxy's toxics.

Each fault is a frozen dataclass of settings (units in the field names) plus one transform. Three
stages, in a fixed order that :func:`order_faults` enforces whatever order they were written in:

1. ``request``  — before any byte of the stream: ``http_error``.
2. ``events``   — over timed events, before the wire encoder (semantic faults, so they work for
   every wire format): ``slow_tokens``, ``malformed``, ``error_event``, ``truncate``.
3. ``frames``   — over encoded frames, after the encoder (byte-level faults): ``sse``, ``latency``,
   ``stall``, ``drop``, ``fragment``, ``bandwidth``.

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
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Union, get_args, get_origin, get_type_hints

from .errors import FaultSpecError, RequestError, ScenarioError, shown
from .events import Finish, Hold, Malformed, StreamEnd, StreamError, TextDelta, Usage
from .stream import DROP_FIN, DROP_RST, HOLD, Frame, StreamContext, Timed

__all__ = [
    "FAULTS",
    "Bandwidth",
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
    "order_faults",
    "parse_fault",
    "parse_fault_spec",
]

Stage = Literal["request", "events", "frames"]

# --------------------------------------------------------------------------------------------------
# bounds (docs/faults.md, "Limits")
#
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


@dataclass(frozen=True, slots=True)
class Fault:
    """Settings every fault has."""

    name: ClassVar[str] = ""
    stage: ClassVar[Stage] = "frames"
    rank: ClassVar[int] = 0  # order inside the stage
    primary: ClassVar[str | None] = None  # the field a bare value sets in the compact spec
    choices: ClassVar[Mapping[str, tuple[str, ...]]] = {}  # string fields with a fixed set of values
    aliases: ClassVar[Mapping[str, tuple[str, Any]]] = {}  # bare words of the compact spec

    probability: float = 1.0
    times: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.probability <= 1.0:
            raise ScenarioError(f"must be between 0 and 1, got {self.probability!r}", field="probability")
        _within(self.times, 0, MAX_TIMES, "times")
        for key, allowed in self.choices.items():
            value = getattr(self, key)
            if value not in allowed:
                raise ScenarioError(f"must be one of {', '.join(allowed)}, got {value!r}", field=key)

    def apply_events(self, events: Iterator[Timed], ctx: StreamContext) -> Iterator[Timed]:
        return events

    def apply_frames(self, frames: Iterator[Frame], ctx: StreamContext) -> Iterator[Frame]:
        return frames


@dataclass(frozen=True, slots=True)
class _Positioned(Fault):
    after_tokens: int | None = None
    after_ms: float | None = None

    def __post_init__(self) -> None:
        Fault.__post_init__(self)
        _within(self.after_tokens, 0, MAX_POSITION_TOKENS, "after_tokens")
        _duration_ms(self.after_ms, "after_ms")
        if self.after_tokens is not None and self.after_ms is not None:
            raise ScenarioError("give after_tokens or after_ms, not both", field="after_ms")

    def reached(self, tokens: int, due: float) -> bool:
        if self.after_ms is not None:
            return due * 1000.0 >= self.after_ms
        return tokens >= (self.after_tokens or 0)

    def _when(self, due: float, last_due: float) -> float:
        """The moment the fault takes effect: an ``after_ms`` between two events is exact."""
        if self.after_ms is None:
            return due
        return max(last_due, min(due, self.after_ms / 1000.0))


def _split_at(fault: _Positioned, events: Iterator[Timed]) -> Iterator[tuple[Timed | None, int, float]]:
    """Walk ``events`` yielding ``(event, tokens_before, due)``, and ``(None, tokens, due)`` once at
    the point where ``fault`` fires (before the event it precedes): at its position, or at the
    natural end of the content (finish, usage or sentinel) if the position is never reached. An
    error event or a hold means an earlier fault ended the stream: then it never fires."""
    tokens = 0
    live = True
    last_due = 0.0
    for timed in events:
        if live:
            ev = timed.event
            if isinstance(ev, StreamError | Hold):
                live = False
            elif (isinstance(ev, TextDelta) and fault.reached(tokens, timed.due)) or isinstance(
                ev, Finish | Usage | StreamEnd
            ):
                live = False
                yield None, tokens, fault._when(timed.due, last_due)
        yield timed, tokens, timed.due
        last_due = timed.due
        if isinstance(timed.event, TextDelta):
            tokens += 1


# --------------------------------------------------------------------------------------------------
# request stage


_DEFAULT_ERRORS: dict[int, tuple[str, str, str | None]] = {
    400: ("invalid_request_error", "The request is invalid (scripted by fakellm).", None),
    401: (
        "invalid_request_error",
        "Incorrect API key provided (scripted by fakellm).",
        "invalid_api_key",
    ),
    403: ("invalid_request_error", "You are not allowed to do this (scripted).", None),
    404: ("invalid_request_error", "The model does not exist (scripted by fakellm).", None),
    408: ("timeout", "Request timed out (scripted by fakellm).", None),
    409: ("invalid_request_error", "Conflict (scripted by fakellm).", None),
    422: ("invalid_request_error", "Unprocessable request (scripted by fakellm).", None),
    429: (
        "requests",
        "Rate limit reached for requests (scripted by fakellm).",
        "rate_limit_exceeded",
    ),
    500: ("server_error", "The server had an error while processing your request.", None),
    502: ("server_error", "Bad gateway (scripted by fakellm).", None),
    503: (
        "server_error",
        "The server is overloaded or not ready yet (scripted by fakellm).",
        None,
    ),
    504: ("timeout", "Gateway timeout (scripted by fakellm).", None),
}


def go_duration(ms: float) -> str:
    """A Go ``time.Duration`` string as OpenAI's ``x-ratelimit-reset-*`` headers use: 17ms, 1s, 6m0s."""
    if ms < 1000:
        return f"{ms:.0f}ms"
    seconds = ms / 1000.0
    if seconds < 60:
        return f"{seconds:g}s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{int(minutes)}m{rest:g}s"
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours}h{minutes}m{rest:g}s"


@dataclass(frozen=True, slots=True)
class HttpError(Fault):
    """Answer with an HTTP error before any stream byte, with OpenAI's error body. Rate-limit
    headers only when asked (real 429s often carry none): ``retry_after_s`` → ``Retry-After``,
    ``retry_after_ms`` → ``retry-after-ms``, ``ratelimit`` → the ``x-ratelimit-*`` set,
    ``should_retry`` → ``x-should-retry`` (which overrides the SDKs' status-based retry rule)."""

    name: ClassVar[str] = "http_error"
    stage: ClassVar[Stage] = "request"
    primary: ClassVar[str | None] = "status"

    status: int = 500
    message: str | None = None
    type: str | None = None
    code: str | None = None
    param: str | None = None
    retry_after_s: float | None = None
    retry_after_ms: float | None = None
    ratelimit: bool = False
    should_retry: bool | None = None

    def __post_init__(self) -> None:
        Fault.__post_init__(self)
        if not 400 <= self.status <= 599:
            raise ScenarioError(
                f"must be an HTTP error status (400-599), got {self.status!r}", field="status"
            )
        _within(self.retry_after_s, 0, MAX_DURATION_MS / 1000.0, "retry_after_s", unit=" (24 h)")
        _duration_ms(self.retry_after_ms, "retry_after_ms")

    def error(self) -> RequestError:
        default_type, default_message, default_code = _DEFAULT_ERRORS.get(
            self.status,
            ("server_error" if self.status >= 500 else "invalid_request_error", "Error.", None),
        )
        headers: dict[str, str] = {}
        if self.retry_after_s is not None:
            headers["retry-after"] = f"{self.retry_after_s:g}"
        if self.retry_after_ms is not None:
            headers["retry-after-ms"] = f"{self.retry_after_ms:g}"
        if self.should_retry is not None:
            headers["x-should-retry"] = "true" if self.should_retry else "false"
        if self.ratelimit:
            reset_ms = (
                self.retry_after_ms
                if self.retry_after_ms is not None
                else (self.retry_after_s if self.retry_after_s is not None else 1.0) * 1000.0
            )
            headers.update(
                {
                    "x-ratelimit-limit-requests": "3500",
                    "x-ratelimit-remaining-requests": "0",
                    "x-ratelimit-reset-requests": go_duration(reset_ms),
                    "x-ratelimit-limit-tokens": "90000",
                    "x-ratelimit-remaining-tokens": "0",
                    "x-ratelimit-reset-tokens": go_duration(reset_ms * 360),
                }
            )
        return RequestError(
            self.status,
            self.message or default_message,
            type=self.type or default_type,
            code=self.code if self.code is not None else default_code,
            param=self.param,
            headers=headers,
        )


# --------------------------------------------------------------------------------------------------
# events stage


@dataclass(frozen=True, slots=True)
class SlowTokens(_Positioned):
    """From the N-th token on, every inter-token gap is ``factor`` times longer."""

    name: ClassVar[str] = "slow_tokens"
    stage: ClassVar[Stage] = "events"
    rank: ClassVar[int] = 0
    primary: ClassVar[str | None] = "factor"

    factor: float = 4.0

    def __post_init__(self) -> None:
        _Positioned.__post_init__(self)
        _within(self.factor, 0, MAX_FACTOR, "factor", strict=True)

    def apply_events(self, events: Iterator[Timed], ctx: StreamContext) -> Iterator[Timed]:
        anchor: float | None = None
        previous = 0.0
        for timed, tokens, due in _split_at(self, events):
            if timed is None:
                # After N tokens: the gap before token N+1 is the first slow one. After T ms: time
                # runs slow from T on.
                anchor = due if self.after_ms is not None else min(previous, due)
                ctx.fire(self.name, at_token=tokens, due=anchor, detail=f"x{self.factor:g}")
                continue
            previous = timed.due
            if anchor is not None and timed.due > anchor:
                yield Timed(anchor + (timed.due - anchor) * self.factor, timed.event)
            else:
                yield timed


@dataclass(frozen=True, slots=True)
class MalformedChunk(_Positioned):
    """One event whose data is not valid JSON (a chunk cut off mid-object), then the stream goes on."""

    name: ClassVar[str] = "malformed"
    stage: ClassVar[Stage] = "events"
    rank: ClassVar[int] = 1
    primary: ClassVar[str | None] = "payload"

    payload: str | None = None  # default: the start of a chunk, cut off inside a JSON string

    def apply_events(self, events: Iterator[Timed], ctx: StreamContext) -> Iterator[Timed]:
        for timed, tokens, due in _split_at(self, events):
            if timed is None:
                ctx.fire(self.name, at_token=tokens, due=due)
                payload = self.payload if self.payload is not None else '{"id":"chatcmpl-'
                yield Timed(due, Malformed(payload))
                continue
            yield timed


@dataclass(frozen=True, slots=True)
class ErrorEvent(_Positioned):
    """An error inside the 200 stream (``data: {"error": {...}}``, the form the openai SDKs raise
    ``APIError`` on), then the body ends cleanly (``then: close``), or ``[DONE]`` follows
    (``then: done``), or the connection stays open with nothing more sent (``then: hold``)."""

    name: ClassVar[str] = "error_event"
    stage: ClassVar[Stage] = "events"
    rank: ClassVar[int] = 2
    primary: ClassVar[str | None] = "then"
    choices: ClassVar[Mapping[str, tuple[str, ...]]] = {"then": ("close", "done", "hold")}

    message: str = "The server had an error while processing your request. Sorry about that!"
    type: str = "server_error"
    code: str | None = None
    param: str | None = None
    then: str = "close"

    def apply_events(self, events: Iterator[Timed], ctx: StreamContext) -> Iterator[Timed]:
        for timed, tokens, due in _split_at(self, events):
            if timed is None:
                ctx.fire(self.name, at_token=tokens, due=due, detail=f"then {self.then}")
                ctx.ending = "error_event"
                yield Timed(due, StreamError(self.message, self.type, self.param, self.code))
                if self.then == "done":
                    yield Timed(due, StreamEnd())
                elif self.then == "hold":
                    yield Timed(due, Hold())
                return
            yield timed


@dataclass(frozen=True, slots=True)
class Truncate(_Positioned):
    """End the body cleanly after N tokens: no finish chunk, no usage, no ``[DONE]`` (the failure
    SDKs do not notice)."""

    name: ClassVar[str] = "truncate"
    stage: ClassVar[Stage] = "events"
    rank: ClassVar[int] = 3

    def apply_events(self, events: Iterator[Timed], ctx: StreamContext) -> Iterator[Timed]:
        for timed, tokens, due in _split_at(self, events):
            if timed is None:
                ctx.fire(self.name, at_token=tokens, due=due)
                ctx.ending = "truncated"
                return
            yield timed


# --------------------------------------------------------------------------------------------------
# frames stage


def _frames_split_at(
    fault: _Positioned, frames: Iterator[Frame], ctx: StreamContext
) -> Iterator[tuple[Frame | None, int, float]]:
    """The frame-level twin of :func:`_split_at`: tokens are counted from ``Frame.tokens``; the end
    of content is the first ``closing`` frame (finish, usage, sentinel, or an error event: the
    events stage has set ``ctx.ending`` by the time an error frame arrives here, and then the fault
    does not fire)."""
    tokens = 0
    live = True
    last_due = 0.0
    for frame in frames:
        if live and not frame.action:
            if frame.closing and ctx.ending is not None:
                live = False
            # The role chunk (no token yet) never triggers a token position: "after 0 tokens"
            # means before the first token, after the role chunk.
            elif frame.closing or (
                fault.reached(tokens, frame.due) and (frame.tokens > 0 or fault.after_ms is not None)
            ):
                live = False
                yield None, tokens, fault._when(frame.due, last_due)
        elif live and frame.action:
            live = False  # an earlier stage already ends the stream here (hold)
        yield frame, tokens, frame.due
        last_due = frame.due
        tokens += frame.tokens


def _firing(fault: Fault, frames: Iterator[Frame], ctx: StreamContext, detail: str) -> Iterator[Frame]:
    """``frames``, recording that a whole-stream fault fired when the first frame reaches it: so
    the journal lists such faults in stage order (generators start from the outermost stage)."""
    for i, frame in enumerate(frames):
        if i == 0:
            ctx.fire(fault.name, at_token=0, due=frame.due, detail=detail)
        yield frame


_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class Sse(Fault):
    """Spec-valid but unusual SSE framing (shared/wire.md §5.2): other line endings, comment lines
    between events, a leading BOM, a ``retry:`` field, ``id:`` lines. A spec-correct parser sees
    exactly the same events; naive parsers (and some SDKs, see docs/faults.md) do not."""

    name: ClassVar[str] = "sse"
    rank: ClassVar[int] = 0
    primary: ClassVar[str | None] = "line_endings"
    choices: ClassVar[Mapping[str, tuple[str, ...]]] = {"line_endings": ("lf", "crlf", "cr")}

    line_endings: str = "lf"
    comments: bool = False
    bom: bool = False
    retry_ms: int | None = None
    ids: bool = False

    def __post_init__(self) -> None:
        Fault.__post_init__(self)
        _duration_ms(self.retry_ms, "retry_ms")

    def apply_frames(self, frames: Iterator[Frame], ctx: StreamContext) -> Iterator[Frame]:
        eol = {"lf": b"\n", "crlf": b"\r\n", "cr": b"\r"}[self.line_endings]
        first = True
        n = 0
        for frame in _firing(self, frames, ctx, self._detail()):
            if frame.action or not frame.data:
                yield frame
                continue
            n += 1
            head = b""
            data = frame.data
            if first:
                # The BOM must be the body's first bytes whatever the order of stacked sse faults:
                # one an earlier sse fault wrote is moved in front of this fault's lines (and never
                # doubled), or a parser reads "\ufeff: comment" as a field and loses the first event.
                had_bom = data.startswith(_BOM)
                if had_bom:
                    data = data[len(_BOM) :]
                if self.bom or had_bom:
                    head += _BOM
                if self.retry_ms is not None:
                    # In the first event's block, never alone: a retry-only block makes
                    # openai-python dispatch an empty event (wire.md T16).
                    head += b"retry: %d\n" % self.retry_ms
                first = False
            if self.comments:
                head += b": fakellm comment %d\n" % n
            if self.ids:
                head += b"id: %d\n" % n
            data = head + data
            if eol != b"\n":
                data = data.replace(b"\n", eol)
            yield dataclasses.replace(frame, data=data)

    def _detail(self) -> str:
        parts = [self.line_endings]
        parts += [k for k in ("comments", "bom", "ids") if getattr(self, k)]
        if self.retry_ms is not None:
            parts.append(f"retry_ms={self.retry_ms}")
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class Latency(Fault):
    """Shift the whole body ``ms`` later (toxiproxy's ``latency``: throughput unchanged). The
    response head is not delayed; for a slow first token use the scenario's ``ttft_ms``."""

    name: ClassVar[str] = "latency"
    rank: ClassVar[int] = 1
    primary: ClassVar[str | None] = "ms"

    ms: float = 500.0

    def __post_init__(self) -> None:
        Fault.__post_init__(self)
        _duration_ms(self.ms, "ms")

    def apply_frames(self, frames: Iterator[Frame], ctx: StreamContext) -> Iterator[Frame]:
        shift = self.ms / 1000.0
        for frame in _firing(self, frames, ctx, f"{self.ms:g}ms"):
            yield dataclasses.replace(frame, due=frame.due + shift)


@dataclass(frozen=True, slots=True)
class Stall(_Positioned):
    """After N tokens send nothing for ``duration_ms`` (forever if null: until the client leaves or
    the server stops), optionally with ``: keep-alive`` comments every ``keepalive_ms``; then go on."""

    name: ClassVar[str] = "stall"
    rank: ClassVar[int] = 2
    primary: ClassVar[str | None] = "duration_ms"
    aliases: ClassVar[Mapping[str, tuple[str, Any]]] = {"forever": ("duration_ms", None)}

    duration_ms: float | None = 2000.0
    keepalive_ms: float | None = None

    def __post_init__(self) -> None:
        _Positioned.__post_init__(self)
        _duration_ms(self.duration_ms, "duration_ms")
        _within(self.keepalive_ms, MIN_KEEPALIVE_MS, MAX_DURATION_MS, "keepalive_ms", unit=" (24 h)")

    def apply_frames(self, frames: Iterator[Frame], ctx: StreamContext) -> Iterator[Frame]:
        shift = 0.0
        for frame, tokens, due in _frames_split_at(self, frames, ctx):
            if frame is None:
                length = "forever" if self.duration_ms is None else f"{self.duration_ms:g}ms"
                ctx.fire(self.name, at_token=tokens, due=due, detail=length)
                ctx.stalled = True
                if self.keepalive_ms:
                    # Forever with keep-alives: an endless, lazily produced run of comments.
                    k = 1
                    while self.duration_ms is None or k * self.keepalive_ms < self.duration_ms:
                        yield Frame(due + k * self.keepalive_ms / 1000.0, b": keep-alive\n\n")
                        k += 1
                if self.duration_ms is None:
                    yield Frame(due, b"", action=HOLD)
                    return
                shift = self.duration_ms / 1000.0
                continue
            yield dataclasses.replace(frame, due=frame.due + shift) if shift else frame


@dataclass(frozen=True, slots=True)
class Drop(_Positioned):
    """Close the connection abruptly: no chunked terminator (``mode: fin``) or a TCP reset
    (``mode: rst``). The client sees an incomplete body, never a clean end."""

    name: ClassVar[str] = "drop"
    rank: ClassVar[int] = 3
    primary: ClassVar[str | None] = "mode"
    choices: ClassVar[Mapping[str, tuple[str, ...]]] = {"mode": ("fin", "rst")}

    mode: str = "fin"

    def apply_frames(self, frames: Iterator[Frame], ctx: StreamContext) -> Iterator[Frame]:
        for frame, tokens, due in _frames_split_at(self, frames, ctx):
            if frame is None:
                ctx.fire(self.name, at_token=tokens, due=due, detail=self.mode)
                yield Frame(due, b"", action=DROP_RST if self.mode == "rst" else DROP_FIN)
                return
            yield frame


@dataclass(frozen=True, slots=True)
class Fragment(Fault):
    """Re-cut the encoded byte stream into writes of ``min_bytes``..``max_bytes`` (seeded), each its
    own TCP write and HTTP chunk, at least ``delay_ms`` apart so that they arrive as separate reads.
    Cuts ignore SSE, JSON and UTF-8 boundaries on purpose. Writes are serial, like a slow link:
    a write never goes out before the previous one plus ``delay_ms``.

    ``coalesce``: first join 2-4 consecutive events into one write (each batch goes out when its
    last event is due). Alone, the joined writes are not cut; with sizes given as well, the joined
    bytes are cut again, so writes straddle event boundaries. Sizes default to 1-7 bytes, and to
    no cutting with ``coalesce``."""

    name: ClassVar[str] = "fragment"
    rank: ClassVar[int] = 4

    min_bytes: int | None = None
    max_bytes: int | None = None
    delay_ms: float = 1.0
    coalesce: bool = False

    def __post_init__(self) -> None:
        Fault.__post_init__(self)
        _within(self.min_bytes, 1, MAX_WRITE_BYTES, "min_bytes")
        _within(self.max_bytes, 1, MAX_WRITE_BYTES, "max_bytes")
        _duration_ms(self.delay_ms, "delay_ms")
        sizes = self.sizes()
        if sizes is not None and sizes[1] < sizes[0]:
            raise ScenarioError(
                f"must be >= min_bytes ({sizes[0]}), got {sizes[1]}",
                field="max_bytes" if self.max_bytes is not None else "min_bytes",
            )

    def sizes(self) -> tuple[int, int] | None:
        """The write sizes in bytes, or None: joined events are not cut."""
        if self.min_bytes is None and self.max_bytes is None:
            return None if self.coalesce else (1, 7)
        lo = self.min_bytes if self.min_bytes is not None else 1
        hi = self.max_bytes if self.max_bytes is not None else max(lo, 7)
        return lo, hi

    def apply_frames(self, frames: Iterator[Frame], ctx: StreamContext) -> Iterator[Frame]:
        rng = ctx.fork(self.name)
        sizes = self.sizes()
        detail = "coalesce" if self.coalesce else ""
        if sizes is not None:
            detail = f"{sizes[0]}-{sizes[1]} bytes {detail}".strip()
        frames = _firing(self, frames, ctx, detail)
        source = _coalesce(frames, rng) if self.coalesce else frames
        gap = self.delay_ms / 1000.0
        free_at = 0.0
        for frame in source:
            data = frame.data
            due = max(frame.due, free_at)
            if frame.action or not data or sizes is None or len(data) <= sizes[0]:
                yield dataclasses.replace(frame, due=due) if due != frame.due else frame
                if data:
                    free_at = due + gap
                continue
            pos = 0
            size = len(data)
            while pos < size:
                end = min(size, pos + rng.randint(*sizes))
                last = end == size
                yield Frame(
                    due,
                    data[pos:end],
                    frame.text if last else None,
                    frame.tokens if last else 0,
                    closing=frame.closing,
                )
                pos = end
                free_at = due + gap
                due = free_at


def _coalesce(frames: Iterator[Frame], rng: Any) -> Iterator[Frame]:
    batch: list[Frame] = []
    want = rng.randint(2, 4)
    for frame in frames:
        if frame.action:
            if batch:
                yield _join(batch)
                batch = []
            yield frame
            continue
        batch.append(frame)
        if len(batch) >= want:
            yield _join(batch)
            batch = []
            want = rng.randint(2, 4)
    if batch:
        yield _join(batch)


def _join(batch: list[Frame]) -> Frame:
    texts = [f.text for f in batch if f.text is not None]
    # One write, several tokens: the transport counts them all when the write goes out.
    return Frame(
        batch[-1].due,
        b"".join(f.data for f in batch),
        "".join(texts) if texts else None,
        sum(f.tokens for f in batch),
        closing=any(f.closing for f in batch),
    )


@dataclass(frozen=True, slots=True)
class Bandwidth(Fault):
    """Cap the stream at ``bytes_per_s`` (toxiproxy's ``bandwidth``, in bytes rather than KB):
    writes of at most 100 ms worth of bytes, each due when the previous one has drained."""

    name: ClassVar[str] = "bandwidth"
    rank: ClassVar[int] = 5
    primary: ClassVar[str | None] = "bytes_per_s"

    bytes_per_s: float = 1000.0

    def __post_init__(self) -> None:
        Fault.__post_init__(self)
        _within(self.bytes_per_s, *BYTES_PER_S_RANGE, "bytes_per_s")

    def apply_frames(self, frames: Iterator[Frame], ctx: StreamContext) -> Iterator[Frame]:
        rate = self.bytes_per_s
        slice_size = max(1, int(rate / 10))
        free_at = 0.0
        for frame in _firing(self, frames, ctx, f"{self.bytes_per_s:g} B/s"):
            if frame.action:
                yield dataclasses.replace(frame, due=max(frame.due, free_at))
                continue
            data = frame.data
            for start in range(0, len(data), slice_size):
                piece = data[start : start + slice_size]
                due = max(frame.due, free_at)
                free_at = due + len(piece) / rate
                last = start + slice_size >= len(data)
                yield Frame(
                    due,
                    piece,
                    frame.text if last else None,
                    frame.tokens if last else 0,
                    closing=frame.closing,
                )


# --------------------------------------------------------------------------------------------------
# registry and ordering

FAULTS: dict[str, type[Fault]] = {
    cls.name: cls
    for cls in (
        HttpError,
        SlowTokens,
        MalformedChunk,
        ErrorEvent,
        Truncate,
        Sse,
        Latency,
        Stall,
        Drop,
        Fragment,
        Bandwidth,
    )
}
_STAGE_ORDER = {"request": 0, "events": 1, "frames": 2}


def order_faults(faults: typing.Iterable[Fault]) -> list[Fault]:
    """The documented stage order; faults of the same kind keep the order they were given in."""
    return sorted(faults, key=lambda f: (_STAGE_ORDER[f.stage], f.rank))


# --------------------------------------------------------------------------------------------------
# settings from scenario files and from the compact spec


def _fields(cls: type[Fault]) -> dict[str, Any]:
    hints = get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _unit(key: str) -> str | None:
    if key == "ms" or key.endswith("_ms"):
        return "ms"
    if key.endswith("_s") and not key.endswith("_per_s"):
        return "s"
    return None


_DURATION = re.compile(r"([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)(ms|s)?")


def _number(text: str, key: str) -> float:
    """A number from text; for duration settings ``500ms`` and ``2s`` are converted to the
    setting's own unit (so ``duration_ms=2s`` is 2000, ``retry_after_s=500ms`` is 0.5)."""
    unit = _unit(key)
    if key == "factor":
        text = text.removeprefix("x").removesuffix("x")
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        return float(text)  # raises ValueError, or reads "inf"/"nan", refused by the caller
    value = float(match.group(1))
    given = match.group(2)
    if given is None:
        return value
    if unit is None:
        raise ValueError(text)
    if given != unit:
        value = value * 1000.0 if given == "s" else value / 1000.0
    return value


def _int(text: str) -> int:
    """``int(text)`` without Python's digit limit (a ValueError that is not ours past 4300 digits):
    no setting takes a number of more than 18 digits."""
    if len(text.lstrip("+-").lstrip("0")) > _MAX_INT_DIGITS:
        raise ValueError(text)
    return int(text)


def _convert(key: str, value: Any, hint: Any, *, quoted: bool = False) -> Any:
    """Check one setting's value (YAML-typed, or text from the compact spec) against its type."""
    from_text = isinstance(value, str)
    base = hint
    optional = False
    if get_origin(hint) in (Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        optional = len(args) < len(get_args(hint))
        base = args[0]
    if value is None or (from_text and not quoted and value.lower() in ("null", "none")):
        if optional:
            return None
        raise ScenarioError("may not be null", field=key)
    try:
        if base is str:
            if not from_text:
                raise ValueError
            return value
        if base is bool:
            if isinstance(value, bool):
                return value
            if from_text and value.lower() in ("true", "yes", "on", "1"):
                return True
            if from_text and value.lower() in ("false", "no", "off", "0"):
                return False
            raise ValueError
        if isinstance(value, bool):
            raise ValueError
        if base is int:
            if from_text:
                return _int(value.strip())
            if isinstance(value, int):
                return value
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ValueError
        if base is float:
            number = _number(value, key) if from_text else value
            if not isinstance(number, int | float) or not math.isfinite(number):
                raise ValueError
            return float(number)
    except (ValueError, OverflowError):  # OverflowError: an int too large for a float
        unit = _unit(key)
        kind = {
            bool: "true or false",
            int: "an integer",
            float: f"a number{f' of {unit} (or a duration like 500ms, 2s)' if unit else ''}",
        }.get(base, "a string")
        raise ScenarioError(f"must be {kind}, got {shown(value)}", field=key) from None
    raise ScenarioError(f"unsupported value {value!r}", field=key)  # pragma: no cover


def _suggest(word: str, options: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def build_fault(kind: str, settings: Mapping[str, Any], *, prefix: str = "") -> Fault:
    """A fault from its name and a mapping of settings. Errors name the field, with ``prefix``."""
    cls = FAULTS.get(kind)
    if cls is None:
        raise ScenarioError(
            f"unknown fault {kind!r}{_suggest(kind, FAULTS)}; known faults: {', '.join(sorted(FAULTS))}",
            field="type" if not prefix else None,
        )
    fields = _fields(cls)
    values: dict[str, Any] = {}
    try:
        for key, value in settings.items():
            key = str(key)
            if key not in fields:
                raise ScenarioError(
                    f"unknown setting for {kind}{_suggest(key, fields)}; it takes: "
                    f"{', '.join(sorted(fields))}",
                    field=key,
                )
            values[key] = _convert(key, value, fields[key])
        return cls(**values)
    except ScenarioError as exc:
        if not prefix:
            raise
        field = f"{prefix}{exc.field}" if exc.field else prefix.rstrip(".")
        raise ScenarioError(exc.reason, field=field) from None


def parse_fault(item: Any) -> Fault:
    """A fault from a scenario file: ``{type: drop, after_tokens: 5, mode: rst}``, the one-key form
    ``{drop: {after_tokens: 5, mode: rst}}``, or one compact spec string ``"drop@5 rst"``.
    Errors are :class:`ScenarioError` naming the field (the scenario loader adds file and line)."""
    if isinstance(item, Fault):
        return item
    if isinstance(item, str):
        try:
            faults = parse_fault_spec(item)
        except FaultSpecError as exc:
            raise ScenarioError(str(exc)) from None
        if len(faults) != 1:
            raise ScenarioError(
                f"a fault written as a string must hold exactly one fault, got {len(faults)}: {item!r}"
            )
        return faults[0]
    if not isinstance(item, Mapping):
        raise ScenarioError(f"a fault must be a mapping or a string, got {type(item).__name__}")
    if "type" in item:
        kind = item["type"]
        if not isinstance(kind, str):
            raise ScenarioError(f"must be a fault name, got {kind!r}", field="type")
        return build_fault(kind, {k: v for k, v in item.items() if k != "type"})
    if len(item) == 1:
        ((kind, settings),) = item.items()
        kind = str(kind)
        if settings is None:
            settings = {}
        if not isinstance(settings, Mapping):
            raise ScenarioError(
                f"the settings of {kind!r} must be a mapping, got {type(settings).__name__}", field=kind
            )
        return build_fault(kind, settings, prefix=f"{kind}.")
    raise ScenarioError(
        "a fault needs a 'type' field (e.g. {type: drop, mode: rst}) or a single key naming it "
        "(e.g. {drop: {mode: rst}})"
    )


# The compact spec of X-FakeLLM-Faults and --faults (docs/faults.md has the full reference):
#
#   spec     = [ fault ] *( ";" [ fault ] )
#   fault    = name [ "@" position ] *( ws arg )
#   position = INT                       after_tokens
#            | NUMBER ( "ms" | "s" )      after_ms
#   arg      = key "=" value             any setting
#            | INT "-" INT [ "bytes" ]   min_bytes, max_bytes (fragment)
#            | flag                      a true/false setting set to true (comments, bom, coalesce, ...)
#            | value                     the fault's main setting (status, duration_ms, mode, ...)
#   value    = WORD | '"' text '"'        quotes allow spaces and ';' (\" and \\ escape)
#
# Durations: "500ms" or "2s" for any *_ms or *_s setting. Examples: "error_event@20",
# "fragment 1-7 bytes", "http_error 429 retry_after_s=1 times=1", "drop@5 rst",
# "stall@10 2s keepalive_ms=500", "sse crlf comments bom", 'error_event@3 message="Overloaded"'.


@dataclass(frozen=True, slots=True)
class _Word:
    text: str
    at: int  # offset in the spec
    key: str | None = None  # set for key=value
    quoted: bool = False


def _words(spec: str) -> list[list[_Word]]:
    """Split a spec into faults and words, keeping each word's offset, honouring quotes."""
    faults: list[list[_Word]] = [[]]
    i, n = 0, len(spec)
    while i < n:
        ch = spec[i]
        if ch == ";":
            faults.append([])
            i += 1
            continue
        if ch.isspace():
            i += 1
            continue
        start = i
        buf: list[str] = []
        key: str | None = None
        quoted = False
        while i < n and not spec[i].isspace() and spec[i] != ";":
            ch = spec[i]
            if ch == '"':
                quoted = True
                j = i + 1
                while j < n and spec[j] != '"':
                    if spec[j] == "\\" and j + 1 < n:
                        j += 1
                    buf.append(spec[j])
                    j += 1
                if j >= n:
                    raise FaultSpecError("unterminated quote", spec=spec, position=i)
                i = j + 1
                continue
            if ch == "=" and key is None and not quoted:
                key = "".join(buf)
                buf = []
                i += 1
                continue
            buf.append(ch)
            i += 1
        faults[-1].append(_Word("".join(buf), start, key, quoted))
    return [f for f in faults if f]


_POSITION_TOKENS = re.compile(r"[0-9]+")
_POSITION_TIME = re.compile(r"([0-9]*\.?[0-9]+)(ms|s)")
_RANGE = re.compile(r"([0-9]+)-([0-9]+)(?:bytes|b)?")


def parse_fault_spec(spec: str) -> list[Fault]:
    """Parse a compact spec (``X-FakeLLM-Faults`` header, ``--faults``) into faults.

    Raises :class:`FaultSpecError` saying what is wrong and at which character."""
    faults = _words(spec)
    if len(faults) > MAX_FAULTS:
        raise FaultSpecError(
            f"at most {MAX_FAULTS} faults in one spec, got {len(faults)}",
            spec=spec,
            position=faults[MAX_FAULTS][0].at,
        )
    return [_parse_one(words, spec) for words in faults]


def _parse_one(words: list[_Word], spec: str) -> Fault:
    head = words[0]
    name, at_sign, position = head.text.partition("@")
    if head.key is not None or head.quoted or not name:
        raise FaultSpecError(
            f"expected a fault name (one of {', '.join(sorted(FAULTS))})", spec=spec, position=head.at
        )
    cls = FAULTS.get(name)
    if cls is None:
        raise FaultSpecError(
            f"unknown fault {name!r}{_suggest(name, FAULTS)}; known faults: {', '.join(sorted(FAULTS))}",
            spec=spec,
            position=head.at,
        )
    fields = _fields(cls)
    values: dict[str, Any] = {}
    where: dict[str, int] = {}

    def fail(message: str, at: int, field: str | None = None) -> FaultSpecError:
        return FaultSpecError(f"{name}{f' {field}' if field else ''}: {message}", spec=spec, position=at)

    def put(key: str, value: Any, at: int) -> None:
        if key in values:
            raise fail(f"{key} is given twice", at)
        values[key] = value
        where[key] = at

    if at_sign:
        at = head.at + len(name) + 1
        if not issubclass(cls, _Positioned):
            positioned = sorted(k for k, c in FAULTS.items() if issubclass(c, _Positioned))
            raise fail(f"takes no position (only {', '.join(positioned)} do)", at)
        if _POSITION_TOKENS.fullmatch(position):
            if len(position.lstrip("0")) > _MAX_INT_DIGITS:
                raise fail(f"must be <= {MAX_POSITION_TOKENS}, got {position[:20]}...", at, "after_tokens")
            put("after_tokens", int(position), at)
        elif match := _POSITION_TIME.fullmatch(position):
            value = float(match.group(1))
            put("after_ms", value * 1000.0 if match.group(2) == "s" else value, at)
        else:
            raise fail(f"bad position {position!r}: expected a token count (@20) or a time (@500ms, @2s)", at)

    after_range = False
    for word in words[1:]:
        text = word.text
        try:
            if word.key is not None:
                if word.key not in fields:
                    raise ScenarioError(
                        f"unknown setting {word.key!r}{_suggest(word.key, fields)}; "
                        f"{name} takes: {', '.join(sorted(fields))}"
                    )
                put(word.key, _convert(word.key, text, fields[word.key], quoted=word.quoted), word.at)
            elif not word.quoted and after_range and text in ("bytes", "b"):
                pass
            elif not word.quoted and (match := _RANGE.fullmatch(text)) and "min_bytes" in fields:
                for key, digits in (("min_bytes", match.group(1)), ("max_bytes", match.group(2))):
                    try:
                        put(key, _int(digits), word.at)
                    except ValueError:  # more digits than any bound
                        raise fail(
                            f"must be an integer <= {MAX_WRITE_BYTES}, got {shown(digits)}", word.at, key
                        ) from None
                after_range = True
                continue
            elif not word.quoted and text in cls.aliases:
                key, value = cls.aliases[text]
                put(key, value, word.at)
            elif not word.quoted and text in fields and fields[text] in (bool, bool | None):
                put(text, True, word.at)
            elif cls.primary is not None:
                put(
                    cls.primary, _convert(cls.primary, text, fields[cls.primary], quoted=word.quoted), word.at
                )
            else:
                raise ScenarioError(
                    f"cannot read {text!r}: {name} has no main setting; use key=value "
                    f"(it takes: {', '.join(sorted(fields))})"
                )
        except ScenarioError as exc:
            raise fail(exc.reason, word.at, exc.field) from None
        after_range = False
    try:
        return cls(**values)
    except ScenarioError as exc:
        raise fail(exc.reason, where.get(exc.field or "", head.at), exc.field) from None
