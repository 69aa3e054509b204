"""Event ids for resumable streams: the stage that numbers a stream's SSE events, and that starts
a resumed stream after the last event its client had.

A resumable stream (``resumable: true``, ``X-FakeLLM-Resumable: 1``, a Responses background
response) carries ``id: <stream id>:<n>`` on every event, ``n`` counting from 0 across the
stream (so that on Responses it is the event's ``sequence_number``). The stage runs between the
encoder and the frame faults (``pipeline.compose``): it numbers the events the encoder wrote, not
what a fault adds (keep-alive comments, a BOM), and a fault that breaks the connection (``drop``)
breaks it after numbered events, as it would on any stream.

A resume plans the same stream again (same seed, request and scenario: ``resume.py``), and this
stage leaves out the events up to ``after`` and moves the rest earlier by ``offset_s``, the time
between the original request and the resuming one: every event keeps its place on the original
schedule, the ones already due go out at once, and none is sent twice or skipped.

A frame is one write, and one write may hold several events (a format opens its message and its
first block in the write of the first token: ``pipeline._encode``); the encoders end every event
with a blank line, so the events of a frame are found by splitting there. A frame's content
(``text``, ``tokens``, ``arguments``) belongs to its last event, the token's own, so a resume that
starts inside a frame sends that content with the frame's last events.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

from .stream import WRITE, Frame

__all__ = ["ResumePoint", "number_events", "parse_event_id"]

_END = b"\n\n"


@dataclass(frozen=True, slots=True)
class ResumePoint:
    """How a resumable stream is sent: its id (the request id the format gave it), the last event
    its client already has (``after``: -1 for a first attempt), how far into the original
    schedule this attempt starts (``offset_s``, seconds), and whether its events carry ``id:``
    lines (``ids``: the AI SDK's UI message stream has none, and its resume replays from the
    start; nor have OpenAI's background streams, whose cursor is the ``sequence_number``).
    ``until_s``: the moment of the original schedule the stream stops at (a cancelled background
    response: frames due later are not sent), None for none."""

    stream_id: str
    after: int = -1
    offset_s: float = 0.0
    ids: bool = True
    until_s: float | None = None


def parse_event_id(value: str) -> tuple[str, int] | None:
    """``<stream id>:<n>`` (what a ``Last-Event-ID`` header brings back) as its parts, or None when
    it is not one of ours."""
    stream_id, colon, number = value.strip().rpartition(":")
    # ASCII digits only: str.isdigit() also takes "²" (which int() refuses) and "٣" (which it reads).
    if not colon or not stream_id or not (number.isascii() and number.isdigit()) or len(number) > 12:
        return None
    return stream_id, int(number)


def number_events(frames: Iterator[Frame], point: ResumePoint) -> Iterator[Frame]:
    """``frames`` with ``id: <stream id>:<n>`` on each event (unless ``point.ids`` is false), from
    event ``point.after + 1`` on, due ``point.offset_s`` earlier (never before 0), up to
    ``point.until_s``."""
    prefix = f"id: {point.stream_id}:".encode() if point.ids else b""
    after = point.after
    offset = point.offset_s
    until = point.until_s
    n = 0
    for frame in frames:
        if until is not None and frame.due > until:
            return
        due = frame.due - offset if offset else frame.due
        if due < 0.0:
            due = 0.0
        if not point.ids and after < 0:
            # Nothing to number and nothing to leave out: the frames as they are, only earlier
            # (a format whose events are not SSE, the AI SDK's data stream, is never split).
            yield replace(frame, due=due) if due != frame.due else frame
            continue
        if frame.action != WRITE or not frame.data:
            if n > after or frame.action != WRITE:
                yield replace(frame, due=due) if due != frame.due else frame
            continue
        events = frame.data.split(_END)
        tail = events.pop()  # b"" after the last event's blank line
        kept: list[bytes] = []
        for event in events:
            if n > after:
                kept.append(b"%b%d\n%b\n\n" % (prefix, n, event) if prefix else event + _END)
            n += 1
        if not kept:
            continue
        # Kept events are a frame's last ones, so its content (its last event's) goes with them.
        yield replace(frame, due=due, data=b"".join(kept) + tail)
