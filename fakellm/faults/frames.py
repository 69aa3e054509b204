"""The frames stage: the connection's faults, over encoded frames after the wire encoder
(``accel_buffering`` on the response head; ``sse``, ``latency``, ``stall``, ``drop``, ``buffer``,
``fragment``, ``bandwidth`` on the body).

They know nothing about JSON or the wire format: they move due times, re-cut bytes and add the
transport's actions (hold, drop); tokens are counted from ``Frame.tokens``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from ..errors import ScenarioError
from ..stream import DROP_FIN, DROP_RST, HOLD, Frame, StreamContext
from .base import Fault, _Positioned
from .bounds import (
    BYTES_PER_S_RANGE,
    MAX_BUFFER_BYTES,
    MAX_DURATION_MS,
    MAX_WRITE_BYTES,
    MIN_KEEPALIVE_MS,
    _duration_ms,
    _within,
)


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
            if self.ids and not data.startswith(b"id: "):
                # A resumable stream's events carry their ids already (event_ids.py): a second
                # ``id:`` line would win, and its client could not resume with it.
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
class AccelBuffering(Fault):
    """What a stream's response head tells a proxy in ``X-Accel-Buffering``. fakellm sends ``no``
    on every stream, so nginx (and the proxies that read it) pass each event on at once; ``omit``
    sends no such header, so a proxy in front buffers as its own settings say (nginx's
    ``proxy_buffering`` is on by default); ``yes`` asks it to buffer. A stage of its own would be
    one fault: it is the connection's, like the body's faults, so a resumed stream's attempt takes
    it too (``resume.plan_again``). Several: the last applies (a request's header comes last)."""

    name: ClassVar[str] = "accel_buffering"
    rank: ClassVar[int] = -1  # the head goes out before any byte of the body
    primary: ClassVar[str | None] = "value"
    choices: ClassVar[Mapping[str, tuple[str, ...]]] = {"value": ("omit", "yes", "no")}

    value: str = "omit"

    def apply_head(self, headers: list[tuple[str, str]], ctx: StreamContext) -> list[tuple[str, str]]:
        ctx.fire(self.name, at_token=0, detail=self.value)
        kept = [(k, v) for k, v in headers if k.lower() != "x-accel-buffering"]
        return kept if self.value == "omit" else [*kept, ("x-accel-buffering", self.value)]


@dataclass(frozen=True, slots=True)
class Buffer(Fault):
    """Hold the body's bytes as a buffering proxy does (nginx with ``proxy_buffering``, many CDNs
    and load balancers): nothing reaches the client until ``size_bytes`` are held; then the full
    buffers go out in one write, at the due time of the frame that filled the last of them, and
    the rest waits for the next. ``null`` (``all``) holds everything to the end of the stream (at
    most :data:`MAX_BUFFER_BYTES`). The end of the stream lets out what is held.

    A frame's text and tokens go with the write that carries its last byte (the journal's text is
    what reached the client). While bytes are held, each frame taken in is passed on as an empty
    frame at its due time: the transport waits for it and writes nothing, so the stages before
    this one are pulled in real time (an endless run of keep-alive comments is taken in as it
    falls due, never all at once), and shutdown and a client that leaves end the wait as always.

    A drop lets out what is held first, then closes as its ``mode`` says: what nginx does when its
    upstream breaks off (its event pipe passes on what it read, then the response ends without its
    terminator); the reset is kept, since ``drop`` says what the client sees. A hold (``stall
    forever``, ``error_event then=hold``) keeps what is held: a proxy waiting for more bytes sends
    nothing (nginx until its ``proxy_read_timeout``). Keep-alive comments are bytes like any
    other: they fill the buffer, and behind ``buffer all`` none reaches the client."""

    name: ClassVar[str] = "buffer"
    rank: ClassVar[int] = 4  # after the origin's faults (drop), before the link's (fragment)
    primary: ClassVar[str | None] = "size_bytes"
    aliases: ClassVar[Mapping[str, tuple[str, Any]]] = {"all": ("size_bytes", None)}

    size_bytes: int | None = 4096

    def __post_init__(self) -> None:
        Fault.__post_init__(self)
        _within(self.size_bytes, 1, MAX_BUFFER_BYTES, "size_bytes")

    def apply_frames(self, frames: Iterator[Frame], ctx: StreamContext) -> Iterator[Frame]:
        size = self.size_bytes or MAX_BUFFER_BYTES
        detail = "all" if self.size_bytes is None else f"{self.size_bytes} bytes"
        held = bytearray()
        ending: list[Frame] = []  # the frames whose last byte is held
        due = 0.0
        for frame in _firing(self, frames, ctx, detail):
            due = frame.due
            if frame.action:
                if frame.action == HOLD:  # nothing more is sent, what is held included
                    yield frame
                    return
                if held:
                    yield _burst(due, bytes(held), ending)
                    held.clear()
                    ending = []
                yield frame
                continue
            if not frame.data:
                yield frame
                continue
            held += frame.data
            ending.append(frame)
            if len(held) < size:
                yield Frame(due, b"")  # taken in: nothing is written
                continue
            # Before this frame less than a buffer was held: the cut falls inside its bytes, and
            # whatever is left over is its own.
            cut = len(held) - len(held) % size
            rest = held[cut:]
            yield _burst(due, bytes(held[:cut]), ending[:-1] if rest else ending)
            held = rest
            ending = [frame] if rest else []
        if held:
            yield _burst(due, bytes(held), ending)


def _burst(due: float, data: bytes, ending: list[Frame]) -> Frame:
    """One write of held bytes, completing the texts of ``ending``."""
    if not ending:
        return Frame(due, data)
    return dataclasses.replace(_join(ending), due=due, data=data)


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
    rank: ClassVar[int] = 5

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
                    arguments=frame.arguments if last else (),
                    choice_texts=frame.choice_texts if last else (),
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
        arguments=tuple(a for f in batch for a in f.arguments),
        choice_texts=tuple(c for f in batch for c in f.choice_texts),
    )


@dataclass(frozen=True, slots=True)
class Bandwidth(Fault):
    """Cap the stream at ``bytes_per_s`` (toxiproxy's ``bandwidth``, in bytes rather than KB):
    writes of at most 100 ms worth of bytes, each due when the previous one has drained."""

    name: ClassVar[str] = "bandwidth"
    rank: ClassVar[int] = 6
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
                    arguments=frame.arguments if last else (),
                    choice_texts=frame.choice_texts if last else (),
                )
