"""Faults: small, composable transforms of a stream, in the manner of toxiproxy's toxics.

Each fault is a frozen dataclass of settings (units in the field names) plus one transform. Three
stages, in a fixed order that :func:`order_faults` enforces whatever order they were written in:

1. ``request``  — before any byte of the stream: ``http_error``.
2. ``events``   — over timed events, before the wire encoder (semantic faults, so they work for
   every wire format): ``slow_tokens``, ``malformed``, ``error_event``, ``truncate``.
3. ``frames``   — over encoded frames, after the encoder (byte-level faults): ``sse``, ``latency``,
   ``stall``, ``drop``, ``fragment``, ``bandwidth``.

Positions: ``after_tokens: N`` fires after the N-th content token; ``after_ms: T`` fires at the
first event due at or after T ms since the request arrived. A position the stream never reaches
fires at the end of the content (before the finish chunk), so "error after 50 tokens" still errors
on a 30-token answer; the journal records where it really fired.

``probability`` is drawn once per stream (toxiproxy's per-connection toxicity) from an RNG derived
from the stream seed; ``times: N`` applies the fault to the first N requests that carry it only.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Union, get_args, get_origin, get_type_hints

from .errors import FaultSpecError, RequestError, ScenarioError
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
    "order_faults",
    "parse_fault",
    "parse_fault_spec",
]

Stage = Literal["request", "events", "frames"]


@dataclass(frozen=True, slots=True)
class Fault:
    """Settings every fault has."""

    name: ClassVar[str] = ""
    stage: ClassVar[Stage] = "frames"
    rank: ClassVar[int] = 0  # order inside the stage
    primary: ClassVar[str | None] = None  # the field a bare value sets in the compact spec

    probability: float = 1.0
    times: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.probability <= 1.0:
            raise ScenarioError("must be between 0 and 1", field="probability")
        if self.times is not None and self.times < 0:
            raise ScenarioError("must be >= 0", field="times")

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
        if self.after_tokens is not None and self.after_tokens < 0:
            raise ScenarioError("must be >= 0", field="after_tokens")
        if self.after_ms is not None and self.after_ms < 0:
            raise ScenarioError("must be >= 0", field="after_ms")

    def reached(self, tokens: int, due: float) -> bool:
        if self.after_ms is not None:
            return due * 1000.0 >= self.after_ms
        return tokens >= (self.after_tokens or 0)


def _split_at(fault: _Positioned, events: Iterator[Timed]) -> Iterator[tuple[Timed | None, int, float]]:
    """Walk ``events`` yielding ``(event, tokens_before, due)``; yields ``(None, tokens, due)`` once,
    at the point where ``fault`` fires (before the event it precedes)."""
    tokens = 0
    fired = False
    last_due = 0.0
    for timed in events:
        if not fired:
            ev = timed.event
            if isinstance(ev, TextDelta | Finish | Usage | StreamEnd) and (
                fault.reached(tokens, timed.due)
                or not isinstance(ev, TextDelta)  # end of content: fire now at the latest
            ):
                fired = True
                at = timed.due
                if fault.after_ms is not None:
                    at = max(last_due, min(timed.due, fault.after_ms / 1000.0))
                yield None, tokens, at
        yield timed, tokens, timed.due
        last_due = timed.due
        if isinstance(timed.event, TextDelta):
            tokens += 1
    if not fired:
        yield None, tokens, last_due


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
    """Answer with an HTTP error before any stream byte."""

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

    def __post_init__(self) -> None:
        Fault.__post_init__(self)
        if not 400 <= self.status <= 599:
            raise ScenarioError("must be an HTTP error status (400-599)", field="status")

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
        if self.ratelimit:
            reset_ms = (
                self.retry_after_ms
                if self.retry_after_ms is not None
                else (self.retry_after_s or 1.0) * 1000.0
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

    def apply_events(self, events: Iterator[Timed], ctx: StreamContext) -> Iterator[Timed]:
        anchor: float | None = None
        for timed, tokens, due in _split_at(self, events):
            if timed is None:
                anchor = due
                ctx.fire(self.name, at_token=tokens, detail=f"x{self.factor:g}")
                continue
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

    payload: str | None = None

    def apply_events(self, events: Iterator[Timed], ctx: StreamContext) -> Iterator[Timed]:
        for timed, tokens, due in _split_at(self, events):
            if timed is None:
                ctx.fire(self.name, at_token=tokens)
                payload = self.payload if self.payload is not None else '{"id":"chatcmpl-'
                yield Timed(due, Malformed(payload))
                continue
            yield timed


@dataclass(frozen=True, slots=True)
class ErrorEvent(_Positioned):
    """An error inside the 200 stream (``data: {"error": {...}}``), then the body ends cleanly
    (``then: close``), or ``[DONE]`` follows (``then: done``), or the connection stays open with
    nothing more sent (``then: hold``)."""

    name: ClassVar[str] = "error_event"
    stage: ClassVar[Stage] = "events"
    rank: ClassVar[int] = 2
    primary: ClassVar[str | None] = "then"
    choices: ClassVar[dict[str, tuple[str, ...]]] = {"then": ("close", "done", "hold")}

    message: str = "The server had an error while processing your request. Sorry about that!"
    type: str = "server_error"
    code: str | None = None
    param: str | None = None
    then: str = "close"

    def apply_events(self, events: Iterator[Timed], ctx: StreamContext) -> Iterator[Timed]:
        for timed, tokens, due in _split_at(self, events):
            if timed is None:
                ctx.fire(self.name, at_token=tokens)
                ctx.ending = "error_event"
                yield Timed(due, StreamError(self.message, self.type, self.param, self.code))
                if self.then == "done":
                    yield Timed(due, StreamEnd())
                elif self.then == "hold":
                    ctx.ending = "error_event_then_hold"
                    yield Timed(due, Hold())
                return
            yield timed


@dataclass(frozen=True, slots=True)
class Truncate(_Positioned):
    """End the body cleanly after N tokens: no finish chunk, no usage, no ``[DONE]``."""

    name: ClassVar[str] = "truncate"
    stage: ClassVar[Stage] = "events"
    rank: ClassVar[int] = 3

    def apply_events(self, events: Iterator[Timed], ctx: StreamContext) -> Iterator[Timed]:
        for timed, tokens, _due in _split_at(self, events):
            if timed is None:
                ctx.fire(self.name, at_token=tokens)
                ctx.ending = "truncated"
                return
            yield timed


# --------------------------------------------------------------------------------------------------
# frames stage


def _frames_split_at(
    fault: _Positioned, frames: Iterator[Frame]
) -> Iterator[tuple[Frame | None, int, float]]:
    """The frame-level twin of :func:`_split_at`: tokens are counted from ``Frame.text``; the end
    of content is the first ``closing`` frame (finish, usage, sentinel or error)."""
    tokens = 0
    fired = False
    last_due = 0.0
    for frame in frames:
        if not fired:
            # The role chunk (no token yet) never triggers a token position: "after 0 tokens"
            # means before the first token, after the role chunk.
            fire = frame.closing or (
                fault.reached(tokens, frame.due) and (frame.tokens > 0 or fault.after_ms is not None)
            )
            if fire:
                fired = True
                at = frame.due
                if fault.after_ms is not None:
                    at = max(last_due, min(frame.due, fault.after_ms / 1000.0))
                yield None, tokens, at
        yield frame, tokens, frame.due
        last_due = frame.due
        tokens += frame.tokens
    if not fired:
        yield None, tokens, last_due


@dataclass(frozen=True, slots=True)
class Sse(Fault):
    """Spec-valid but unusual SSE framing (shared/wire.md §5.2): other line endings, comment lines,
    a leading BOM, a ``retry:`` field, ``id:`` lines. A spec-correct parser sees the same events."""

    name: ClassVar[str] = "sse"
    rank: ClassVar[int] = 0
    primary: ClassVar[str | None] = "line_endings"
    choices: ClassVar[dict[str, tuple[str, ...]]] = {"line_endings": ("lf", "crlf", "cr")}

    line_endings: str = "lf"
    comments: bool = False
    bom: bool = False
    retry_ms: int | None = None
    ids: bool = False

    def apply_frames(self, frames: Iterator[Frame], ctx: StreamContext) -> Iterator[Frame]:
        eol = {"lf": b"\n", "crlf": b"\r\n", "cr": b"\r"}[self.line_endings]
        ctx.fire(self.name, detail=self._detail())
        first = True
        for n, frame in enumerate(frames):
            if frame.action or not frame.data:
                yield frame
                continue
            head = b""
            if first:
                if self.bom:
                    head += b"\xef\xbb\xbf"
                if self.retry_ms is not None:
                    head += b"retry: %d\n" % self.retry_ms
                first = False
            if self.comments:
                head += b": fakellm comment %d\n" % n
            if self.ids:
                head += b"id: %d\n" % n
            data = head + frame.data
            if eol != b"\n":
                data = data.replace(b"\n", eol)
            yield dataclasses.replace(frame, data=data)

    def _detail(self) -> str:
        parts = [self.line_endings]
        parts += [k for k in ("comments", "bom", "ids") if getattr(self, k)]
        if self.retry_ms is not None:
            parts.append(f"retry={self.retry_ms}")
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class Latency(Fault):
    """Shift the whole stream ``ms`` later (toxiproxy's ``latency``: throughput unchanged)."""

    name: ClassVar[str] = "latency"
    rank: ClassVar[int] = 1
    primary: ClassVar[str | None] = "ms"

    ms: float = 500.0

    def apply_frames(self, frames: Iterator[Frame], ctx: StreamContext) -> Iterator[Frame]:
        shift = self.ms / 1000.0
        ctx.fire(self.name, at_token=0, detail=f"{self.ms:g}ms")
        for frame in frames:
            yield dataclasses.replace(frame, due=frame.due + shift)


@dataclass(frozen=True, slots=True)
class Stall(_Positioned):
    """After N tokens send nothing for ``duration_ms`` (forever if null: until the client leaves or
    the server stops), optionally with ``: keep-alive`` comments every ``keepalive_ms``; then go on."""

    name: ClassVar[str] = "stall"
    rank: ClassVar[int] = 2
    primary: ClassVar[str | None] = "duration_ms"

    duration_ms: float | None = 2000.0
    keepalive_ms: float | None = None

    def apply_frames(self, frames: Iterator[Frame], ctx: StreamContext) -> Iterator[Frame]:
        shift = 0.0
        for frame, tokens, due in _frames_split_at(self, frames):
            if frame is None:
                ctx.fire(self.name, at_token=tokens, detail=f"{self.duration_ms}ms")
                ctx.stalled = True
                if self.keepalive_ms:
                    step = self.keepalive_ms / 1000.0
                    t = due + step
                    end = due + (self.duration_ms or 0.0) / 1000.0
                    while self.duration_ms is None or t < end:
                        yield Frame(t, b": keep-alive\n\n")
                        t += step
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
    choices: ClassVar[dict[str, tuple[str, ...]]] = {"mode": ("fin", "rst")}

    mode: str = "fin"

    def apply_frames(self, frames: Iterator[Frame], ctx: StreamContext) -> Iterator[Frame]:
        for frame, tokens, due in _frames_split_at(self, frames):
            if frame is None:
                ctx.fire(self.name, at_token=tokens, detail=self.mode)
                yield Frame(due, b"", action=DROP_RST if self.mode == "rst" else DROP_FIN)
                return
            yield frame


@dataclass(frozen=True, slots=True)
class Fragment(Fault):
    """Cut every frame into writes of ``min_bytes``..``max_bytes`` (seeded), ``delay_ms`` apart, each
    its own TCP write and HTTP chunk; cuts ignore SSE, JSON and UTF-8 boundaries on purpose. With
    ``coalesce``, 2-4 consecutive events are first joined into one write."""

    name: ClassVar[str] = "fragment"
    rank: ClassVar[int] = 4

    min_bytes: int = 1
    max_bytes: int = 7
    delay_ms: float = 1.0
    coalesce: bool = False

    def __post_init__(self) -> None:
        Fault.__post_init__(self)
        if self.min_bytes < 1:
            raise ScenarioError("must be >= 1", field="min_bytes")
        if self.max_bytes < self.min_bytes:
            raise ScenarioError("must be >= min_bytes", field="max_bytes")

    def apply_frames(self, frames: Iterator[Frame], ctx: StreamContext) -> Iterator[Frame]:
        rng = ctx.fork(self.name)
        ctx.fire(self.name, detail=f"{self.min_bytes}-{self.max_bytes} bytes")
        source = _coalesce(frames, rng) if self.coalesce else frames
        gap = self.delay_ms / 1000.0
        lo, hi = self.min_bytes, self.max_bytes
        for frame in source:
            data = frame.data
            if frame.action or len(data) <= lo:
                yield frame
                continue
            pos = 0
            due = frame.due
            size = len(data)
            while pos < size:
                end = min(size, pos + rng.randint(lo, hi))
                last = end == size
                yield Frame(
                    due,
                    data[pos:end],
                    frame.text if last else None,
                    frame.tokens if last else 0,
                    closing=frame.closing,
                )
                pos = end
                due += gap


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
    # A joined write carries several tokens; the journal counts them from the joined text.
    return Frame(
        batch[-1].due,
        b"".join(f.data for f in batch),
        "".join(texts) if texts else None,
        sum(f.tokens for f in batch),
        closing=any(f.closing for f in batch),
    )


@dataclass(frozen=True, slots=True)
class Bandwidth(Fault):
    """Cap the stream at ``bytes_per_s`` (toxiproxy's ``bandwidth``, in bytes rather than KB)."""

    name: ClassVar[str] = "bandwidth"
    rank: ClassVar[int] = 5
    primary: ClassVar[str | None] = "bytes_per_s"

    bytes_per_s: float = 1000.0

    def __post_init__(self) -> None:
        Fault.__post_init__(self)
        if self.bytes_per_s <= 0:
            raise ScenarioError("must be > 0", field="bytes_per_s")

    def apply_frames(self, frames: Iterator[Frame], ctx: StreamContext) -> Iterator[Frame]:
        ctx.fire(self.name, detail=f"{self.bytes_per_s:g} B/s")
        rate = self.bytes_per_s
        slice_size = max(1, int(rate / 10))  # at most 100 ms worth of bytes per write
        free_at = 0.0
        for frame in frames:
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
# registry, ordering, parsing

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


def _fields(cls: type[Fault]) -> dict[str, Any]:
    hints = get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _convert(cls: type[Fault], key: str, value: Any, hint: Any) -> Any:
    """Check (and for the compact spec, convert from a string) one field value."""
    from_text = isinstance(value, str)
    base = hint
    optional = False
    if get_origin(hint) in (Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        optional = len(args) < len(get_args(hint))
        base = args[0]
    if value is None or (from_text and value.lower() in ("null", "none") and optional):
        if optional:
            return None
        raise ScenarioError("may not be null", field=key)
    choices = getattr(cls, "choices", {}).get(key)
    try:
        if base is bool:
            if from_text and value.lower() in ("true", "yes", "on", "1"):
                return True
            if from_text and value.lower() in ("false", "no", "off", "0"):
                return False
            if isinstance(value, bool):
                return value
            raise ValueError
        if base is int:
            if isinstance(value, bool):
                raise ValueError
            if from_text:
                return int(value)
            if isinstance(value, int):
                return value
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ValueError
        if base is float:
            if isinstance(value, bool):
                raise ValueError
            if from_text:
                return float(value.removesuffix("ms").removesuffix("s"))
            if isinstance(value, int | float):
                return float(value)
            raise ValueError
        if base is str:
            if not isinstance(value, str):
                raise ValueError
            if choices is not None and value not in choices:
                raise ScenarioError(f"must be one of {', '.join(choices)}, got {value!r}", field=key)
            return value
    except ValueError:
        kind = {bool: "true or false", int: "an integer", float: "a number"}.get(base, "a string")
        raise ScenarioError(f"must be {kind}, got {value!r}", field=key) from None
    raise ScenarioError(f"unsupported value {value!r}", field=key)


def build_fault(kind: str, settings: Mapping[str, Any]) -> Fault:
    cls = FAULTS.get(kind)
    if cls is None:
        raise ScenarioError(
            f"unknown fault {kind!r}; known faults: {', '.join(sorted(FAULTS))}", field="type"
        )
    fields = _fields(cls)
    values: dict[str, Any] = {}
    for key, value in settings.items():
        if key not in fields:
            raise ScenarioError(
                f"unknown setting for {kind}; it takes: {', '.join(sorted(fields))}", field=key
            )
        values[key] = _convert(cls, key, value, fields[key])
    try:
        return cls(**values)
    except ScenarioError:
        raise
    except TypeError as exc:  # pragma: no cover - guarded by the checks above
        raise ScenarioError(str(exc)) from None


def parse_fault(item: Any) -> Fault:
    """A fault from a scenario file: ``{type: drop, after_tokens: 5, mode: rst}`` or the
    one-key form ``{drop: {after_tokens: 5, mode: rst}}``."""
    if isinstance(item, Fault):
        return item
    if isinstance(item, str):
        faults = parse_fault_spec(item)
        if len(faults) != 1:
            raise ScenarioError("a string fault must hold exactly one fault")
        return faults[0]
    if not isinstance(item, Mapping):
        raise ScenarioError(f"a fault must be a mapping, got {type(item).__name__}")
    if "type" in item:
        kind = item["type"]
        if not isinstance(kind, str):
            raise ScenarioError(f"must be a fault name, got {kind!r}", field="type")
        return build_fault(kind, {k: v for k, v in item.items() if k != "type"})
    if len(item) == 1:
        ((kind, settings),) = item.items()
        if settings is None:
            settings = {}
        if not isinstance(settings, Mapping):
            raise ScenarioError(f"the settings of {kind!r} must be a mapping", field=str(kind))
        return build_fault(str(kind), settings)
    raise ScenarioError("a fault needs a 'type' field (e.g. type: error_event)")


# The compact spec of X-FakeLLM-Faults and --faults:
#
#   spec     = fault *( ";" fault )
#   fault    = name [ "@" position ] *( ws arg )
#   position = INT                 after_tokens
#            | NUMBER "ms"         after_ms
#   arg      = key "=" value       any setting
#            | INT "-" INT "bytes" min_bytes, max_bytes (fragment)
#            | NUMBER ["ms"]       the fault's main setting (status, duration_ms, factor, ...)
#            | WORD                a choice of the main setting (rst, crlf, done) or a flag (bom)
#
# Examples: "error_event@20", "fragment 1-7 bytes", "http_error 429 retry_after_s=1 times=1",
#           "drop@5 rst", "stall@10 2000ms keepalive_ms=500", "sse crlf comments bom".


def parse_fault_spec(spec: str) -> list[Fault]:
    faults: list[Fault] = []
    offset = 0
    for part in spec.split(";"):
        start = offset + (len(part) - len(part.lstrip()))
        offset += len(part) + 1
        if not part.strip():
            continue
        faults.append(_parse_one(part.strip(), spec, start))
    return faults


def _parse_one(text: str, spec: str, start: int) -> Fault:
    words: list[tuple[str, int]] = []
    pos = 0
    for piece in text.split():
        idx = text.index(piece, pos)
        words.append((piece, start + idx))
        pos = idx + len(piece)
    head, head_at = words[0]
    name, _, position = head.partition("@")
    cls = FAULTS.get(name)
    if cls is None:
        raise FaultSpecError(
            f"unknown fault {name!r} (known: {', '.join(sorted(FAULTS))})",
            spec=spec,
            position=head_at,
        )
    fields = _fields(cls)
    values: dict[str, Any] = {}
    if position:
        at = head_at + len(name) + 1
        if "after_tokens" not in fields:
            raise FaultSpecError(f"{name} takes no position", spec=spec, position=at)
        try:
            if position.endswith("ms"):
                values["after_ms"] = float(position[:-2])
            else:
                values["after_tokens"] = int(position)
        except ValueError:
            raise FaultSpecError(
                f"bad position {position!r}: expected a token count or a time like 500ms",
                spec=spec,
                position=at,
            ) from None
    i = 1
    while i < len(words):
        word, at = words[i]
        i += 1
        key, eq, value = word.partition("=")
        try:
            if eq:
                if key not in fields:
                    raise ScenarioError(
                        f"unknown setting {key!r} for {name}; it takes: {', '.join(sorted(fields))}"
                    )
                values[key] = _convert(cls, key, value, fields[key])
                continue
            if "-" in word and "min_bytes" in fields:
                lo, _, hi = word.removesuffix("bytes").partition("-")
                values["min_bytes"], values["max_bytes"] = int(lo), int(hi)
                if i < len(words) and words[i][0] in ("bytes", "b"):
                    i += 1
                continue
            if word in fields and get_type_hints(cls)[word] is bool:
                values[word] = True
                continue
            primary = cls.primary
            if primary is None:
                raise ScenarioError(f"{name} has no main setting; use key=value")
            values[primary] = _convert(cls, primary, word, fields[primary])
        except ScenarioError as exc:
            raise FaultSpecError(f"{name}: {exc.reason}", spec=spec, position=at) from None
        except ValueError:
            raise FaultSpecError(f"{name}: cannot read {word!r}", spec=spec, position=at) from None
    try:
        return cls(**values)
    except ScenarioError as exc:
        field = f" {exc.field}" if exc.field else ""
        raise FaultSpecError(f"{name}{field}: {exc.reason}", spec=spec, position=head_at) from None
