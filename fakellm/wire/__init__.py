"""Wire formats: SSE framing (format-agnostic), the seam every format sits behind
(``format.py``), one module per format, and the table from route to format."""

from .ai_sdk_ui import DATA_STREAM, UI_STREAM, format_for_query
from .anthropic_messages import MESSAGES
from .format import Answer, ChatRequest, OpenedStream, StreamEncoder, WireFormat
from .openai import CHAT, OpenAIChatEncoder
from .openai_completions import COMPLETIONS
from .openai_responses import RESPONSES
from .sse import ServerSentEvent, SSEDecoder, encode_sse

__all__ = [
    "FORMATS",
    "Answer",
    "ChatRequest",
    "OpenAIChatEncoder",
    "OpenedStream",
    "SSEDecoder",
    "ServerSentEvent",
    "StreamEncoder",
    "WireFormat",
    "encode_sse",
    "format_for",
    "format_named",
]

FORMATS: dict[str, WireFormat] = {
    fmt.path: fmt for fmt in (CHAT, RESPONSES, MESSAGES, COMPLETIONS, UI_STREAM)
}
"""Every streamed route (``POST``) and the format it speaks (``/api/chat``: the UI message stream,
the data stream protocol with ``?protocol=data``, :func:`format_for`)."""


def format_for(path: str, query: bytes = b"") -> WireFormat | None:
    """The format ``POST path?query`` speaks: ``FORMATS``'s, the query choosing the AI SDK's
    protocol on ``/api/chat`` (``ai_sdk_ui.format_for_query``)."""
    if path == UI_STREAM.path:
        return format_for_query(query)
    return FORMATS.get(path)


_BY_NAME: dict[str, WireFormat] = {fmt.name: fmt for fmt in (*FORMATS.values(), DATA_STREAM)}


def format_named(name: str) -> WireFormat | None:
    """The format whose ``name`` (``openai.chat``, ``ai_sdk.data``...) this is, or None."""
    return _BY_NAME.get(name)
