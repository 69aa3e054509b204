"""Responses background mode (``background: true``, shared/wire2.md §6.1): a response that goes
on whether anyone listens, polled with ``GET /v1/responses/{id}``, streamed again with
``GET /v1/responses/{id}?stream=true[&starting_after=N]``, stopped with ``POST …/cancel``.

Built on ``resume.py``: a background response is a :class:`~fakellm.resume.ResumeRecord`
(``background=True``) kept under its response id, not a task generating it. Where it stands at a
moment is what its schedule has made due by then (its frames planned again and read back,
:class:`~fakellm.wire.openai_responses.ResponseAccumulator`): ``queued`` before its first event,
``in_progress`` with the output so far, then the terminal object its stream ends with
(``completed``, ``incomplete``, ``failed`` after an error event). A cancel stops the schedule
where it is now (``ResumeStore.cancel``): the object is ``cancelled`` with the output so far, and
every stream of it, live or replayed, ends there.

Deliberate choices (what the API does not say, or no capture shows):

- A cancelled stream ends after its last event due before the cancel, with no event of its
  own: the Responses stream events (openai-python 3.57 ``ResponseStreamEvent``) have none for a
  cancellation (``response.cancelled`` is a webhook's type). The journal says ``cancelled``.
- A live stream (the POST's, a GET's) learns of a cancel before it takes its next frame: the
  one it was already waiting to write (due after the cancel) may still go out, none after it.
- A cancel after the schedule is over changes nothing and answers the final object; the guide
  only says that a second cancel answers the same object as the first.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any, cast
from urllib.parse import parse_qs

from .errors import RequestError
from .pipeline import StreamPlan
from .resume import ResumeRecord, ResumeStore, keep, plan_again
from .scenario import Scenario
from .stream import WRITE, Frame, StreamContext
from .wire.format import ChatRequest, WireFormat
from .wire.openai_responses import (
    RESPONSES,
    TERMINAL_STATUSES,
    OpenAIResponsesEncoder,
    ResponseAccumulator,
    is_background,
)
from .wire.sse import SSEDecoder

__all__ = [
    "StreamQuery",
    "cancel",
    "keep_background",
    "response_at",
    "stream_query",
    "streamed_id",
    "until_cancelled",
    "wanted",
]

_RESPONSE_PATH = re.compile(r"/v1/responses/([^/]+)")


def wanted(fmt: WireFormat, request: ChatRequest) -> bool:
    """Whether a request to ``fmt``'s route asks for a background response."""
    return fmt is RESPONSES and is_background(request)


async def keep_background(
    store: ResumeStore,
    plan: StreamPlan,
    scenario: Scenario,
    *,
    arrived: float,
    now: float,
    body_bytes: int,
) -> ResumeRecord:
    """Keep the record of a background response just planned, under its response id (what the
    client's ``GET`` and ``cancel`` name)."""
    record = keep(
        plan, scenario, path=RESPONSES.path, arrived=arrived, now=now, body_bytes=body_bytes, background=True
    )
    record.id = cast(OpenAIResponsesEncoder, plan.encoder).response_id
    await store.put(record)
    return record


def response_at(record: ResumeRecord, elapsed_s: float) -> dict[str, Any]:
    """The response object of ``record`` ``elapsed_s`` seconds after it arrived: its events due by
    then (by its cancellation, if it was cancelled) read back; ``queued`` before the first one."""
    cut = record.cancelled_after_s
    until = elapsed_s if cut is None else min(elapsed_s, cut)
    accumulator = ResponseAccumulator()
    # Planned without the cancellation: the queued object is read off the first event even when
    # nothing was due before the cancel.
    for frame in plan_again(replace(record, cancelled_after_s=None), RESPONSES).frames():
        due = frame.due <= until
        if not due and accumulator.response is not None:
            break
        if frame.action != WRITE or not frame.data:
            continue
        for event in SSEDecoder().feed(frame.data):  # a planned frame holds whole events
            try:
                payload = json.loads(event.data)
            except ValueError:
                continue  # a malformed event (a fault): it carries nothing
            if isinstance(payload, dict) and (due or payload.get("type") == "response.created"):
                accumulator.take(payload)
    result = accumulator.result(cancelled=cut is not None and not accumulator.terminal)
    if result is None:  # a stream with no lifecycle event: not one this encoder writes
        raise RuntimeError(f"background response {record.id} has no response.created event")
    return result


async def cancel(store: ResumeStore, record: ResumeRecord, elapsed_s: float) -> dict[str, Any]:
    """Cancel a background response ``elapsed_s`` seconds after it arrived and answer its object:
    ``cancelled`` with the output so far, or the final object if its schedule is over; a second
    cancel answers what the first did."""
    if record.cancelled_after_s is None:
        now = response_at(record, elapsed_s)
        if now["status"] in TERMINAL_STATUSES:
            return now
        record = await store.cancel(record.id, elapsed_s) or record
    return response_at(record, elapsed_s)


def until_cancelled(
    frames: Iterator[Frame], store: ResumeStore, id: str, offset_s: float, ctx: StreamContext
) -> Iterator[Frame]:
    """The frames of a background response's stream that starts ``offset_s`` into its schedule,
    until a cancel: looked up as each frame is taken (the store may be shared), a cancel made
    during the stream stops it at the next frame due after it (the transport takes a frame
    before it waits for its time, so the one it waits for may still go out); one made before,
    ``plan_again`` has stopped already. A stream stopped so ends ``cancelled`` (``ctx.ending``)."""
    for frame in frames:
        cut = store.cancelled_after(id)
        if cut is not None and cut >= offset_s and frame.due + offset_s > cut:
            break
        yield frame
    if store.cancelled_after(id) is not None:
        ctx.ending = "cancelled"


def streamed_id(scope: Any) -> str | None:
    """The response id of a ``GET /v1/responses/{id}?stream=true`` (served as a stream by
    ``endpoint.serve_background_stream``), else None."""
    if scope.get("type") != "http" or scope.get("method") != "GET":
        return None
    found = _RESPONSE_PATH.fullmatch(scope.get("path", ""))
    if found is None:
        return None
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    if [v.lower() for v in query.get("stream", ())][-1:] != ["true"]:
        return None
    return found.group(1)


@dataclass(frozen=True, slots=True)
class StreamQuery:
    """A ``GET /v1/responses/{id}`` query: ``stream`` and ``starting_after`` (None: not given)."""

    stream: bool
    starting_after: int | None


def stream_query(query_string: bytes | str) -> StreamQuery:
    """The ``stream`` and ``starting_after`` of a ``GET /v1/responses/{id}``, checked as the API's
    compatible servers do (wire2.md §6.1): ``stream`` a boolean, ``starting_after`` an integer
    >= 0 and only with ``stream=true``; a :class:`RequestError` (400) naming the parameter."""
    text = query_string.decode("latin-1") if isinstance(query_string, bytes) else query_string
    query = parse_qs(text, keep_blank_values=True)
    stream = False
    if "stream" in query:
        value = query["stream"][-1].lower()
        if value not in ("true", "false"):
            raise RequestError(
                400,
                f"Invalid value for 'stream': expected a boolean, but got {query['stream'][-1]!r} instead.",
                param="stream",
                code="invalid_type",
            )
        stream = value == "true"
    after: int | None = None
    if "starting_after" in query:
        raw = query["starting_after"][-1]
        if not raw.isdigit() or len(raw) > 12:
            raise RequestError(
                400,
                f"Invalid value for 'starting_after': expected an integer >= 0, but got {raw!r} instead.",
                param="starting_after",
                code="invalid_value",
            )
        after = int(raw)
        if not stream:
            raise RequestError(
                400,
                "'starting_after' can only be given with 'stream=true'.",
                param="starting_after",
                code="invalid_value",
            )
    return StreamQuery(stream, after)
