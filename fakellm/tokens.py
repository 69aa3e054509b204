"""A deterministic tokeniser that cuts text the way a BPE model's stream looks.

It is not tiktoken, and does not try to be: it gives tokens of the right *shape* (about 3-4
characters, words carrying their leading space, punctuation on its own, runs of newlines together),
so that a stream has a realistic number of chunks and realistic chunk boundaries. The same text
always gives the same tokens, so ``usage`` counts are reproducible.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, overload

__all__ = ["EXACT_LIMIT", "Pieces", "count_message_tokens", "joined", "tokenize", "tokens_for"]

# A GPT-2 style pre-tokenisation: contractions, words with one leading space, numbers in runs of up
# to three digits, single punctuation characters with an optional leading space, and whitespace.
_PRETOKEN = re.compile(
    r"""'(?:s|t|re|ve|m|ll|d)\b| ?[^\W\d_]+| ?\d{1,3}| ?[^\s\w]|\n+| +(?!\S)| +""",
    re.UNICODE,
)
_MAX_WORD = 6  # words up to this length (space included) stay whole; longer ones are cut
_PIECE = 4


def tokenize(text: str) -> list[str]:
    """Cut ``text`` into tokens; ``"".join(tokenize(t)) == t`` always holds. Linear in the length
    of the text, but about 80 ns a character: the server cuts texts through :func:`tokens_for`."""
    cached = _cache.get(text)
    return list(cached if cached is not None else _tokenize(text))


# Past this many characters a text (a prompt, an echoed prompt, a long scenario text) is cut into
# plain pieces of _PIECE characters instead: cutting it by the pattern would hold the event loop,
# and every stream on it, for more than a couple of milliseconds (docs/streaming-server.md, Limits).
EXACT_LIMIT = 16 * 1024


class Pieces(Sequence[str]):
    """The tokens of a text longer than :data:`EXACT_LIMIT`: pieces of 4 characters, made one at a
    time as the stream goes, so that neither their number nor the first one costs anything."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __len__(self) -> int:
        return -(-len(self.text) // _PIECE)

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step == 1:  # what plan_stream asks for (max_tokens): stays lazy
                return Pieces(self.text[start * _PIECE : max(start, stop) * _PIECE])
            return [self[i] for i in range(start, stop, step)]
        size = len(self)
        if index < 0:
            index += size
        if not 0 <= index < size:
            raise IndexError("token index out of range")
        return self.text[index * _PIECE : (index + 1) * _PIECE]

    def __iter__(self) -> Iterator[str]:
        text = self.text
        return (text[i : i + _PIECE] for i in range(0, len(text), _PIECE))


def tokens_for(text: str) -> Sequence[str]:
    """The tokens the server streams for ``text``: :func:`tokenize`'s below :data:`EXACT_LIMIT`
    characters (remembered, within a budget), :class:`Pieces` above it."""
    if len(text) > EXACT_LIMIT:
        return Pieces(text)
    cached = _cache.get(text)
    if cached is None:
        cached = _tokenize(text)
        _cache.put(text, cached)
    return cached


def joined(tokens: Sequence[str]) -> str:
    """The text of ``tokens`` (without joining a million pieces when it is kept whole)."""
    return tokens.text if isinstance(tokens, Pieces) else "".join(tokens)


class _TokenCache:
    """Scenario texts and prompts repeat from request to request; cutting them is most of the CPU a
    request costs before its first byte (benchmarks/README.md), so the cuts are remembered. Bounded
    in characters, not only in entries: a cut costs about 15 bytes a character."""

    def __init__(self, max_chars: int, max_entries: int) -> None:
        self._items: OrderedDict[str, tuple[str, ...]] = OrderedDict()
        self._chars = 0
        self.max_chars = max_chars
        self.max_entries = max_entries
        self._lock = threading.Lock()  # the plugin may serve from more than one thread

    def get(self, text: str) -> tuple[str, ...] | None:
        with self._lock:
            tokens = self._items.get(text)
            if tokens is not None:
                self._items.move_to_end(text)
            return tokens

    def put(self, text: str, tokens: tuple[str, ...]) -> None:
        cost = len(text) + _ENTRY_COST
        if cost > self.max_chars:
            return
        with self._lock:
            if text in self._items:
                return
            self._items[text] = tokens
            self._chars += cost
            while self._chars > self.max_chars or len(self._items) > self.max_entries:
                old, _ = self._items.popitem(last=False)
                self._chars -= len(old) + _ENTRY_COST

    @property
    def chars(self) -> int:
        return self._chars

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._chars = 0


_ENTRY_COST = 64  # an entry's own overhead, in characters' worth, so that tiny texts count too
_cache = _TokenCache(max_chars=1024 * 1024, max_entries=4096)


def _tokenize(text: str) -> tuple[str, ...]:
    tokens: list[str] = []
    append = tokens.append
    pos = 0
    for m in _PRETOKEN.finditer(text):
        if m.start() != pos:  # anything the pattern skipped (e.g. "_", tabs) becomes its own token
            append(text[pos : m.start()])
        piece = m.group()
        pos = m.end()
        if len(piece) <= _MAX_WORD or not piece.strip().isalpha():
            append(piece)
            continue
        # Long words: a first piece of 4 characters (plus the leading space), then pieces of 3-4,
        # never a one-letter tail. Cut by index: slicing off the rest each time is quadratic.
        i = _PIECE + (1 if piece[0] == " " else 0)
        append(piece[:i])
        end = len(piece)
        while i < end:
            size = 3 if end - i == _PIECE + 1 else _PIECE
            append(piece[i : i + size])
            i += size
    if pos != len(text):
        append(text[pos:])
    return tuple(tokens)


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, ...]
        texts = (part.get("text") for part in content if isinstance(part, Mapping))
        return "".join(text for text in texts if isinstance(text, str))
    return ""


# A request of many long messages is counted exactly up to this many characters of content in all,
# and past it at 4 characters a token: counting must not hold the loop either.
_PROMPT_EXACT_CHARS = 2 * EXACT_LIMIT


def count_message_tokens(messages: Iterable[Mapping[str, Any]]) -> int:
    """``prompt_tokens`` for a list of chat messages: OpenAI's 3 tokens per message plus 3 for the
    reply priming, plus the tokens of every message's content."""
    total = 3
    exact = _PROMPT_EXACT_CHARS  # what is left of the request's budget for cutting by the pattern
    for message in messages:
        text = _content_text(message.get("content"))
        if len(text) <= exact:
            total += 3 + len(tokens_for(text))
            exact -= len(text)
        else:
            total += 3 + len(Pieces(text))
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
