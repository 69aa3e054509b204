"""Server-sent events: the encoder, and a spec-correct incremental decoder.

Spec: https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
(our notes: shared/wire.md §5.1). The encoder writes what providers write: ``field: value`` lines
ending in LF, a blank line after each event. The decoder follows the spec to the letter (one
leading BOM stripped, CR / LF / CRLF line ends including a CRLF split across reads, one space
stripped after the colon, dispatch only with a non-empty data buffer, the pending event discarded
at EOF). It knows nothing about any provider's JSON.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

__all__ = ["SSEDecoder", "ServerSentEvent", "encode_sse"]


def encode_sse(data: str, *, event: str | None = None, id: str | None = None) -> bytes:
    """One event as bytes. ``data`` may hold line ends (LF, CRLF or CR: all three end a line on the
    wire); each line becomes its own ``data:`` line."""
    lines = []
    if event is not None:
        lines.append(f"event: {event}\n")
    if id is not None:
        lines.append(f"id: {id}\n")
    for line in data.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        lines.append(f"data: {line}\n")
    lines.append("\n")
    # A lone surrogate (valid in JSON text, "\ud800") cannot be UTF-8: backslashreplace writes it as
    # the escape JSON itself uses, so a JSON payload stays valid JSON; other text is unchanged.
    return "".join(lines).encode("utf-8", "backslashreplace")


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    data: str
    event: str = "message"
    id: str = ""
    retry: int | None = None


class SSEDecoder:
    """Feed bytes as they arrive; get back the events they complete. Call :meth:`close` at EOF
    (it returns nothing: a pending event is discarded, as the spec says)."""

    def __init__(self) -> None:
        # The spec's "UTF-8 decode": invalid bytes become U+FFFD, they never stop the stream.
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._started = False
        self._pending_cr = False
        self._line = ""
        self._data: list[str] = []
        self._event = ""
        self._last_id = ""
        self.last_event_id = ""
        self.retry: int | None = None
        self.comments: list[str] = []

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        text = self._utf8.decode(chunk)
        if not self._started and text:
            self._started = True
            if text.startswith("\ufeff"):
                text = text[1:]
        events: list[ServerSentEvent] = []
        i = 0
        n = len(text)
        while i < n:
            ch = text[i]
            if self._pending_cr:
                self._pending_cr = False
                if ch == "\n":  # the LF of a CRLF whose CR came earlier (maybe in another read)
                    i += 1
                    continue
            j = i
            while j < n and text[j] not in "\r\n":
                j += 1
            self._line += text[i:j]
            if j == n:
                break
            if text[j] == "\r":
                self._pending_cr = True
            self._process_line(self._line, events)
            self._line = ""
            i = j + 1
        return events

    def close(self) -> list[ServerSentEvent]:
        self._utf8.decode(b"", final=True)
        # A line ended by a lone CR at EOF is complete; if it was blank, it dispatches.
        return []

    def _process_line(self, line: str, events: list[ServerSentEvent]) -> None:
        if line == "":
            self._dispatch(events)
            return
        if line.startswith(":"):
            self.comments.append(line[1:])
            return
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\x00" not in value:
            self._last_id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self.retry = int(value)

    def _dispatch(self, events: list[ServerSentEvent]) -> None:
        self.last_event_id = self._last_id
        if not self._data:
            self._event = ""
            return
        events.append(
            ServerSentEvent(
                data="\n".join(self._data),
                event=self._event or "message",
                id=self._last_id,
                retry=self.retry,
            )
        )
        self._data = []
        self._event = ""
