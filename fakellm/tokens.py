"""A deterministic tokeniser that cuts text the way a BPE model's stream looks.

It is not tiktoken, and does not try to be: it gives tokens of the right *shape* (about 3-4
characters, words carrying their leading space, punctuation on its own, runs of newlines together),
so that a stream has a realistic number of chunks and realistic chunk boundaries. The same text
always gives the same tokens, so ``usage`` counts are reproducible.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["count_message_tokens", "tokenize"]

# A GPT-2 style pre-tokenisation: contractions, words with one leading space, numbers in runs of up
# to three digits, single punctuation characters with an optional leading space, and whitespace.
_PRETOKEN = re.compile(
    r"""'(?:s|t|re|ve|m|ll|d)\b| ?[^\W\d_]+| ?\d{1,3}| ?[^\s\w]|\n+| +(?!\S)| +""",
    re.UNICODE,
)
_MAX_WORD = 6  # words up to this length (space included) stay whole; longer ones are cut
_PIECE = 4


def tokenize(text: str) -> list[str]:
    """Cut ``text`` into tokens; ``"".join(tokenize(t)) == t`` always holds."""
    return list(_tokenize(text))


# Scenario texts and prompts repeat from request to request; cutting them is most of the CPU a
# request costs before its first byte (benchmarks/README.md), so the cuts are remembered.
@functools.lru_cache(maxsize=1024)
def _tokenize(text: str) -> tuple[str, ...]:
    tokens: list[str] = []
    pos = 0
    for m in _PRETOKEN.finditer(text):
        if m.start() != pos:  # anything the pattern skipped (e.g. "_", tabs) becomes its own token
            tokens.append(text[pos : m.start()])
        piece = m.group()
        pos = m.end()
        if len(piece) <= _MAX_WORD or not piece.strip().isalpha():
            tokens.append(piece)
            continue
        # Long words: a first piece of 4 characters (plus the leading space), then pieces of 3-4.
        head = _PIECE + (1 if piece[0] == " " else 0)
        tokens.append(piece[:head])
        rest = piece[head:]
        while rest:
            size = _PIECE if len(rest) != _PIECE + 1 else 3  # avoid a one-letter tail
            tokens.append(rest[:size])
            rest = rest[size:]
    if pos != len(text):
        tokens.append(text[pos:])
    return tuple(tokens)


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, ...]
        texts = (part.get("text") for part in content if isinstance(part, Mapping))
        return "".join(text for text in texts if isinstance(text, str))
    return ""


def count_message_tokens(messages: Iterable[Mapping[str, Any]]) -> int:
    """``prompt_tokens`` for a list of chat messages: OpenAI's 3 tokens per message plus 3 for the
    reply priming, plus the tokens of every message's content."""
    total = 3
    for message in messages:
        total += 3 + len(tokenize(_content_text(message.get("content"))))
        if message.get("name"):
            total += 1
    return total


def last_user_text(messages: Iterable[Mapping[str, Any]]) -> str:
    """The text of the last ``user`` message ('' if there is none)."""
    text = ""
    for message in messages:
        if message.get("role") == "user":
            text = _content_text(message.get("content"))
    return text
