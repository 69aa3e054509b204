"""Wire formats: SSE framing (format-agnostic) and the provider encoders built on it."""

from .openai import OpenAIChatEncoder
from .sse import ServerSentEvent, SSEDecoder, encode_sse

__all__ = ["OpenAIChatEncoder", "SSEDecoder", "ServerSentEvent", "encode_sse"]
