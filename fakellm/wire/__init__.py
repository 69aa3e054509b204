"""Wire formats: SSE framing (format-agnostic), the seam every format sits behind
(``format.py``), one module per format, and the table from route to format."""

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
]

FORMATS: dict[str, WireFormat] = {fmt.path: fmt for fmt in (CHAT, RESPONSES, MESSAGES, COMPLETIONS)}
"""Every streamed route (``POST``) and the format it speaks."""


def format_for(path: str) -> WireFormat | None:
    return FORMATS.get(path)
