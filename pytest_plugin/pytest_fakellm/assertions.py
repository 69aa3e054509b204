"""Assertions on a :class:`StreamRecording`, compared with what fakellm really sent (the journal).

Each one fails with an ``AssertionError`` that says what differs and, where fakellm knows it, why
(the faults that fired on the stream). None of them is a bare ``assert x == y``.
"""

from __future__ import annotations

import difflib
import json
import re
import time
from dataclasses import dataclass
from typing import Any

from fakellm import JournalEntry

from .recording import StreamRecording

__all__ = [
    "assert_accumulated",
    "assert_error_event",
    "assert_stream_completed",
    "assert_tool_calls",
    "assert_ttft",
]

# How a stream can end with an error the client should surface.
_ERROR_OUTCOMES = ("error_event", "dropped", "reset", "http_error", "server_shutdown")
_ERROR_FAULTS = ("error_event", "drop", "http_error")
_HINTS = {
    "fragment": "a client that parses each read on its own loses or breaks the events cut across reads",
    "sse": "a client that only splits on '\\n' or expects 'data: ' exactly misreads valid SSE",
    "malformed": "{a_unit} was not valid JSON; a client must not drop the text around it",
    "truncate": "the body ended cleanly without {lacks}",
}


@dataclass(frozen=True, slots=True)
class _Wire:
    """How one wire format says what the messages talk about, in its own terms: Anthropic and
    Responses streams are named events, not chunks, and neither ends with [DONE]."""

    unit: str  # one item of the stream
    end: str  # what a completed stream ends with
    lacks: str  # what a truncated one ends without
    error: str  # what the error_event fault sends
    finish: str  # what carries the finish reason


_CHAT = _Wire(
    "chunk",
    "a finish chunk and [DONE]",
    "a finish chunk or [DONE]",
    'a data: {"error": ...} chunk',
    "finish_reason",
)
_WIRES = {
    "openai.chat": _CHAT,
    "openai.completions": _CHAT,
    "openai.responses": _Wire(
        "event",
        "response.completed",
        "response.completed",
        "event: error, then response.failed",
        "final status (response.completed, .incomplete or .failed)",
    ),
    "anthropic.messages": _Wire(
        "event",
        "message_delta and message_stop",
        "message_delta or message_stop",
        "event: error",
        "stop_reason (message_delta)",
    ),
}
# recording.format -> the journal's entry.format
_RECORDED = {
    "chat": "openai.chat",
    "completions": "openai.completions",
    "responses": "openai.responses",
    "anthropic": "anthropic.messages",
}


def _format(recording: StreamRecording, entry: JournalEntry | None) -> str | None:
    """The wire format of the stream: what the server served, else what the client's items were."""
    if entry is not None and entry.format is not None:
        return entry.format
    return _RECORDED.get(recording.format or "")


def _wire(fmt: str | None) -> _Wire:
    return _WIRES.get(fmt or "", _CHAT)


def _settle(entry: JournalEntry, wait_s: float = 2.0) -> None:
    """Let the server finish its bookkeeping: the client can see the last byte a moment before
    the server records how the stream ended."""
    deadline = time.monotonic() + wait_s
    while entry.outcome == "streaming" and time.monotonic() < deadline:
        time.sleep(0.01)


def _entry(recording: StreamRecording, what: str) -> JournalEntry:
    if recording.entry is None:
        raise AssertionError(
            f"fakellm: {what}: no streaming request reached fakellm before this recording's first item, so "
            "there is nothing to compare with. Record with fakellm.record() / fakellm.arecord() (not "
            "pytest_fakellm.record) and make the request through fakellm, or pass expected=."
        )
    _settle(recording.entry)
    return recording.entry


def _faults(entry: JournalEntry | None) -> str:
    if entry is None or not entry.faults:
        return "none"
    return ", ".join(
        f"{f.fault}{f' ({f.detail})' if f.detail else ''} at token {f.at_token}" for f in entry.faults
    )


# What the server did, by outcome: one phrase each, so that a message never calls a truncation an
# error or a drop a completion.
# {end}, {lacks} and {error} are the format's (_Wire).
_DID = {
    "streaming": "had not finished the stream when this was checked",
    "completed": "completed the stream ({end})",
    "stalled_then_completed": "stalled, then completed the stream ({end})",
    "truncated": "ended the body cleanly without {lacks} (a truncation, not an error)",
    "error_event": "ended the stream with an error event ({error})",
    "dropped": "dropped the connection (no end of body)",
    "reset": "reset the connection (TCP RST)",
    "client_disconnected": "saw the client disconnect before the end of the stream",
    "server_shutdown": "was shut down during the stream",
    "server_error": "hit an internal error during the stream (a bug: see the teardown report)",
    "http_error": "answered with an HTTP error before any stream byte",
    "upstream_error": "could not get an answer from its upstream",
    "rejected": "rejected the request",
}


def _server(entry: JournalEntry) -> str:
    wire = _wire(entry.format)
    did = _DID.get(entry.outcome, f"ended with outcome {entry.outcome!r}")
    did = did.format(end=wire.end, lacks=wire.lacks, error=wire.error)
    if entry.outcome in ("http_error", "rejected", "upstream_error"):
        did += f" ({entry.status})"
    fmt = f", format {entry.format!r}" if entry.format is not None else ""
    return (
        f"server: {did}, after {entry.tokens_sent} tokens ({len(entry.text)} characters); "
        f"stream #{entry.index} (scenario {entry.scenario!r}, seed {entry.seed}{fmt}), outcome "
        f"{entry.outcome!r}, faults fired: {_faults(entry)}"
    )


def _client_text(recording: StreamRecording, width: int = 60) -> str:
    """The text the client accumulated, for the messages that do not show a text difference: its
    end, where a fault at a token position cuts it."""
    text = recording.text
    shown = f"…{text[-width:]!r}" if len(text) > width else repr(text)
    return f"  client text: {shown}"


def _scripted(recording: StreamRecording) -> list[str]:
    """The ``scripted:`` line, when the recorder knows what was scripted for the stream."""
    if recording.scripted_faults is None:
        return []
    faults = ", ".join(recording.scripted_faults) or "none"
    return [f"  scripted: faults {faults}"]


def _around(text: str, pos: int, width: int = 30) -> str:
    start = max(0, pos - width)
    end = min(len(text), pos + width)
    head = "…" if start > 0 else ""
    tail = "…" if end < len(text) else "<end>"
    return f"{head}{text[start:end]!r}{tail}"


def _first_difference(a: str, b: str) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def _line_col(text: str, pos: int) -> str:
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return f"line {line}, column {col}"


def text_difference(expected: str, got: str, *, expected_label: str = "server sent") -> str:
    """Where two texts first differ, with both shown around that point."""
    pos = _first_difference(expected, got)
    width = max(len(expected_label), len("client got")) + 1
    lines = [
        f"first difference at character {pos} ({_line_col(expected, pos)}):",
        f"  {expected_label + ':':<{width}} {_around(expected, pos)}",
        f"  {'client got:':<{width}} {_around(got, pos)}",
    ]
    # Only the texts are compared here: how each side ended is said by the client:/server: lines.
    if pos == len(got) < len(expected):
        lines.append(f"  the client's text lacks the last {len(expected) - pos} characters of the server's")
    elif pos == len(expected) < len(got):
        lines.append(f"  the client's text has {len(got) - pos} characters more than the server's")
    return "\n".join(lines)


def _hints(entry: JournalEntry | None) -> list[str]:
    if entry is None:
        return []
    wire = _wire(entry.format)
    lines: list[str] = []
    for fired in entry.faults:
        hint = _HINTS.get(fired.fault)
        if not hint:
            continue
        an = "an" if wire.unit[0] in "aeiou" else "a"
        hint = hint.format(a_unit=f"{an} {wire.unit}", lacks=wire.lacks)
        line = f"  the stream had '{fired.fault}': {hint}"
        if line not in lines:
            lines.append(line)
    return lines


def assert_accumulated(recording: StreamRecording, expected: str | None = None) -> None:
    """The client accumulated exactly the text the server sent (the journal's, when ``expected`` is
    None): no token lost, duplicated or corrupted, whatever the faults did to the bytes."""
    __tracebackhide__ = True
    entry: JournalEntry | None = None
    if expected is None:
        entry = _entry(recording, "assert_accumulated")
        expected = entry.text
        label = "server sent"
    else:
        entry = recording.entry
        label = "expected"
    if recording.text == expected:
        return
    lines = [
        "fakellm: the client's accumulated text is not what the server sent."
        if label == "server sent"
        else "fakellm: the client's accumulated text is not the expected text.",
        text_difference(expected, recording.text, expected_label=label),
        *_scripted(recording),
    ]
    if entry is not None:
        lines.append(f"  {_server(entry)}")
    lines.append(f"  client: {recording.summary()}")
    lines += _hints(entry)
    raise AssertionError("\n".join(lines))


def assert_ttft(recording: StreamRecording, max_ms: float | None = None, min_ms: float | None = None) -> None:
    """The first item carrying text arrived within [``min_ms``, ``max_ms``] of the recording's start."""
    __tracebackhide__ = True
    if max_ms is None and min_ms is None:
        raise TypeError("assert_ttft needs max_ms=, min_ms= or both")
    ttft = recording.ttft_ms
    server = ""
    if recording.entry is not None and recording.entry.first_token_ms is not None:
        first = recording.entry.first_token_ms
        server = f" (the server sent its first token {first:.1f} ms after the request arrived)"
    if ttft is None:
        raise AssertionError(f"fakellm: no text arrived, so there is no TTFT: {recording.summary()}")
    if max_ms is not None and ttft > max_ms:
        raise AssertionError(f"fakellm: TTFT {ttft:.1f} ms is over max_ms={max_ms:g}{server}")
    if min_ms is not None and ttft < min_ms:
        raise AssertionError(f"fakellm: TTFT {ttft:.1f} ms is under min_ms={min_ms:g}{server}")


def _chain(error: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in out:
        out.append(current)
        current = current.__cause__ or current.__context__
    return out


def assert_error_event(
    recording: StreamRecording,
    *,
    exception: type[BaseException] | tuple[type[BaseException], ...] | None = None,
    match: str | None = None,
) -> None:
    """The server ended the stream with an error (an error event, a drop or reset, or an HTTP error),
    and the client surfaced it, as an exception or as an error value, after delivering exactly the
    text sent before it: not swallowed, not a ``JSONDecodeError``, not a hang. ``exception`` and
    ``match`` (a regex searched in ``str(error)``) narrow down what counts as surfacing it."""
    __tracebackhide__ = True
    entry = _entry(recording, "assert_error_event")
    fired = [f for f in entry.faults if f.fault in _ERROR_FAULTS]
    if not fired and entry.outcome not in _ERROR_OUTCOMES and entry.status < 400:
        raise AssertionError(
            "fakellm: the server did not end this stream with an error, so the client had none to "
            "surface.\n"
            + "".join(f"{line}\n" for line in _scripted(recording))
            + f"  {_server(entry)}\n  client: {recording.summary()}\n  {_no_error_advice(recording, entry)}"
        )
    what = f"{fired[0].fault} at token {fired[0].at_token}" if fired else f"outcome {entry.outcome!r}"
    if recording.timed_out:
        raise AssertionError(
            f"fakellm: the client hung: after the server's {what} it delivered nothing more and did not "
            f"raise for {recording.timeout_s:g} s.\n  client: {recording.summary()}\n  {_server(entry)}\n"
            f"{_client_text(recording)}"
        )
    failure = recording.failure
    if failure is None:
        raise AssertionError(
            f"fakellm: the client swallowed the server's {what}: its stream ended normally.\n"
            f"  client: {recording.summary()}\n  {_server(entry)}\n{_client_text(recording)}"
        )
    if isinstance(failure, BaseException):
        decode = next((e for e in _chain(failure) if isinstance(e, json.JSONDecodeError)), None)
        if decode is not None:
            raise AssertionError(
                f"fakellm: the client surfaced the server's {what} as a JSONDecodeError ({decode}): it "
                f"parsed something that is not a {_wire(entry.format).unit} as one, instead of reporting "
                "the error.\n"
                f"  client: {recording.summary()}\n  {_server(entry)}"
            )
        if exception is not None and not isinstance(failure, exception):
            raise AssertionError(
                f"fakellm: the client raised {type(failure).__name__}: {failure}, not {_names(exception)}.\n"
                f"  {_server(entry)}\n{_client_text(recording)}" + _unwrapped_hint(failure, exception)
            )
    elif exception is not None:
        raise AssertionError(
            f"fakellm: the client yielded the error value {failure!r:.200} instead of raising "
            f"{_names(exception)}.\n  {_server(entry)}"
        )
    if match is not None and re.search(match, _message(failure)) is None:
        raise AssertionError(
            f"fakellm: the client's error {_message(failure)!r:.300} does not match {match!r}.\n"
            f"  {_server(entry)}"
        )
    if recording.text != entry.text:
        raise AssertionError(
            f"fakellm: the client surfaced the server's {what}, but its text before the error is not what "
            "the server sent before it.\n"
            f"{text_difference(entry.text, recording.text)}\n"
            f"  client: {recording.summary()}\n  {_server(entry)}"
        )


_ERROR_EXAMPLE = "error_event@5, drop@5 or http_error 500"


def _no_error_advice(recording: StreamRecording, entry: JournalEntry) -> str:
    """What to script, in terms of what was scripted (or, when the recorder does not know, of what
    fired): never "script one" to a test that scripted a fault."""
    scripted = recording.scripted_faults
    names = [spec.split("@")[0].split(" ")[0] for spec in scripted] if scripted is not None else None
    if names is None:
        names = list(dict.fromkeys(f.fault for f in entry.faults))
    errors = [n for n in names if n in _ERROR_FAULTS]
    if errors and scripted is not None:
        return (
            f"The scripted {', '.join(errors)} did not fire on this stream (its probability or times= "
            "left this request out, or an earlier fault ended the stream first)."
        )
    if names:
        return (
            f"{', '.join(names)} {'does' if len(names) == 1 else 'do'} not end a stream with an error; "
            f"to test error handling, script a fault that does: {_ERROR_EXAMPLE}."
        )
    what = "No fault was scripted" if scripted is not None else "No fault fired on this stream"
    return (
        f"{what}: script one that ends the stream with an error, e.g. "
        "fakellm.script(text=..., faults='error_event@5') (or drop@5, http_error 500)."
    )


def _unwrapped_hint(
    failure: BaseException, exception: type[BaseException] | tuple[type[BaseException], ...]
) -> str:
    """anthropic up to 2.16 lets httpx2's transport errors through unwrapped once a stream has started (a
    drop mid-stream is ``httpx2.RemoteProtocolError``, not ``APIConnectionError``): say so, rather
    than leave the test's author to find out from the SDK's source."""
    wanted = exception if isinstance(exception, tuple) else (exception,)
    package = type(failure).__module__.split(".")[0]
    if package not in ("httpx", "httpx2") or not any(e.__name__ == "APIConnectionError" for e in wanted):
        return ""
    return (
        f"\n  the SDK let the transport's {type(failure).__name__} through unwrapped (anthropic does once a "
        f"stream has started): expect ({_names(exception)}, {package}.TransportError)"
    )


def _names(exception: type[BaseException] | tuple[type[BaseException], ...]) -> str:
    if isinstance(exception, tuple):
        return " or ".join(e.__name__ for e in exception)
    return exception.__name__


def _message(failure: Any) -> str:
    if isinstance(failure, BaseException):
        return f"{type(failure).__name__}: {failure}"
    return repr(failure)


def assert_stream_completed(recording: StreamRecording) -> None:
    """The stream ended normally on both sides: the client's iteration finished with no error
    and, when fakellm served it, the server completed it (not truncated, dropped or errored)."""
    __tracebackhide__ = True
    if recording.timed_out or recording.failure is not None:
        entry = recording.entry
        raise AssertionError(
            f"fakellm: the stream did not complete: {recording.summary()}"
            + (f"\n  {_server(entry)}" if entry is not None else "")
            + f"\n{_client_text(recording)}"
        )
    entry = recording.entry
    if entry is not None:
        _settle(entry)
        if entry.outcome not in ("completed", "stalled_then_completed"):
            raise AssertionError(
                f"fakellm: the client finished without an error, but the server did not complete the "
                f"stream (outcome {entry.outcome!r}): the client could not tell.\n"
                f"  client: {recording.summary()}\n  {_server(entry)}\n{_client_text(recording)}"
            )
    if recording.kind in ("chunks", "sse") and recording.finish_reason is None:
        raise AssertionError(
            f"fakellm: the stream ended without a {_wire(_format(recording, entry)).finish}: "
            f"{recording.summary()}" + (f"\n  {_server(entry)}" if entry is not None else "")
        )


def _call_lines(calls: list[dict[str, Any]]) -> list[str]:
    return [json.dumps(c, ensure_ascii=False, sort_keys=True) for c in calls] or ["(no tool call)"]


def assert_tool_calls(recording: StreamRecording, expected: list[dict[str, Any]] | None = None) -> None:
    """The client accumulated exactly the tool calls the server sent (the journal's: id, name and
    every arguments fragment that reached the wire), whatever the faults did to the bytes; and,
    with ``expected`` (``[{"name": ..., "arguments": {...} or "raw", "id": ...}]``, ``arguments``
    and ``id`` optional), that they are those calls (mapping arguments compare as parsed JSON)."""
    __tracebackhide__ = True
    got = [c.as_dict() for c in recording.tool_calls]
    entry = recording.entry
    if entry is not None or expected is None:
        entry = _entry(recording, "assert_tool_calls")
        sent = [dict(c) for c in entry.tool_calls]
        if got != sent:
            diff = difflib.unified_diff(
                _call_lines(sent), _call_lines(got), "server sent", "client accumulated", lineterm=""
            )
            lines = [
                "fakellm: the client's accumulated tool calls are not what the server sent.",
                *(f"  {line}" for line in diff),
                *_scripted(recording),
                f"  {_server(entry)}",
                f"  client: {recording.summary()}",
                *_hints(entry),
            ]
            raise AssertionError("\n".join(lines))
    if expected is None:
        return
    problems = []
    if len(expected) != len(got):
        problems.append(f"expected {len(expected)} tool call(s), the client has {len(got)}")
    for i, (want, call) in enumerate(zip(expected, recording.tool_calls, strict=False)):
        if "name" in want and want["name"] != call.name:
            problems.append(f"call {i}: name {call.name!r}, expected {want['name']!r}")
        if "id" in want and want["id"] != call.id:
            problems.append(f"call {i}: id {call.id!r}, expected {want['id']!r}")
        if "arguments" in want:
            arguments = want["arguments"]
            if isinstance(arguments, str):
                if arguments != call.arguments:
                    problems.append(f"call {i}: arguments {call.arguments!r}, expected {arguments!r}")
            elif call.parsed != arguments:
                problems.append(
                    f"call {i}: arguments {call.arguments!r} parse to {call.parsed!r}, expected {arguments!r}"
                )
    if problems:
        lines = ["fakellm: the client's tool calls are not the expected ones.", *(f"  {p}" for p in problems)]
        lines += [f"  client: {line}" for line in _call_lines(got)]
        raise AssertionError("\n".join(lines))
