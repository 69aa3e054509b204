"""Reasoning a scenario scripts: the thinking streamed before the answer, format-neutral.

The pipeline turns it into one ``reasoning`` block (``events.BlockStart``) before the answer's
blocks, whose tokens are reasoning text: they are paced by ``reasoning_itl_ms``, count for the
faults' positions (``drop@2`` can cut the thinking), in the usage's output tokens and against
``max_tokens``, as a reasoning model's do. Each format frames the block its own way (Anthropic's
``thinking`` block, Responses' ``reasoning`` item, an OpenAI-compatible server's
``reasoning_content`` or ``reasoning`` delta field on Chat); a format that has no way to stream it
is not sent it at all (``WireFormat.sends_reasoning``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["REASONING_FIELDS", "PlannedReasoning"]

REASONING_FIELDS: tuple[str, ...] = ("reasoning_content", "reasoning")
"""The Chat Completions delta fields OpenAI-compatible servers stream reasoning in: DeepSeek's and
vLLM's ``reasoning_content``, OpenRouter's and newer vLLM's ``reasoning``. OpenAI itself never
streams reasoning on Chat."""


@dataclass(frozen=True, slots=True)
class PlannedReasoning:
    """The reasoning as one stream sends it: its tokens (cut where ``max_tokens`` runs out), and
    ``field``, the Chat delta field it goes out in (None on the formats that have their own
    framing, and on Chat when the scenario sets no ``reasoning_field``)."""

    tokens: tuple[str, ...]
    field: str | None = None

    @property
    def text(self) -> str:
        return "".join(self.tokens)
