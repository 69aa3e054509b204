"""Per-token log probabilities: what a model says about how sure it was of each token it sent.

A stream that asks for them (Chat ``logprobs: true`` + ``top_logprobs: k``, legacy Completions
``logprobs: k``, Responses ``include: ["message.output_text.logprobs"]`` + ``top_logprobs: k``)
gets, for token *i*, its :class:`TokenLogprob`: the token, its logprob, its UTF-8 bytes, and the
``k`` most likely tokens at that position, the sent token first (a model samples its likeliest
token often enough that this is what a test expects), the others sorted by descending logprob.
Each format writes them in its own shape (``wire/openai.py``, ``wire/openai_completions.py``,
``wire/openai_responses.py``).

Deliberate choices:

- **A hash, not the stream's RNG.** Every value comes from ``blake2b(key, position, token)``,
  where ``key`` names the stream and the choice (the format's completion or response id, itself
  drawn from the stream's seed, and the choice's index). Drawing from ``ctx.rng`` would move every
  later draw (the tool calls' ids, the other choices' seeds), so that the same seed would give a
  different body with and without logprobs; drawing per token would also make a token's value
  depend on how many tokens came before it in another choice. Hashed, the bodies of a seed are
  byte-identical whether logprobs are asked for or not, the same seed gives the same values
  (``X-FakeLLM-Seed`` replays them), a different token at the same position gives a different
  value, and a value needs no state: the non-streamed body computes the same ones as the stream.
- **Plausible, not modelled.** The sent token's probability is mostly high (``p`` in 0.2 .. 1,
  half above 0.95: real answers are confident on most tokens); the alternatives share what is left
  (``1 - p``) by stick breaking, each below ``p``, so the ``k`` probabilities never sum past 1 and
  the sent token is always the likeliest. Alternatives are common English tokens, with the sent
  token's leading space when it has one. ``top_logprobs`` of ``k`` is a prefix of that of ``k+1``.
- Values are rounded to 8 significant digits (the API's look: ``-0.0025094282``), never above 0.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "MAX_TOP_LOGPROBS",
    "LogprobSource",
    "StreamLogprobs",
    "TokenLogprob",
    "TopLogprob",
    "token_bytes",
]

MAX_TOP_LOGPROBS = 20
"""The most alternatives a position can list (OpenAI's bound on Chat and Responses ``top_logprobs``)."""

# Alternatives are drawn from these (with the sent token's leading space, when it has one): more
# than MAX_TOP_LOGPROBS, so that every position can list 20 distinct tokens other than its own.
_WORDS = (
    "the", "a", "to", "of", "and", "in", "is", "it", "that", "for", "you", "was", "on", "with",
    "as", "I", "be", "at", "this", "have", "from", "or", "by", "not", "but", "what", "all", "are",
    "we", "can", "an", "they", "one", "there", "so", "if", "more", "when", "which", "their", "will",
    "about", "up", "out", "then", "them", "these", "some", "her", "would", "like", "him", "into",
    "time", "has", "two", "way", "could", "no", "may", "first", "been", "now", "than",
)  # fmt: skip
_MARKS = (".", ",", "!", "?", ":", ";", "-", "'", "\n", ")", "(", '"')
_VOCABULARY = (_WORDS + _MARKS, tuple(" " + w for w in _WORDS) + _MARKS)  # without, with the space


def token_bytes(token: str) -> list[int]:
    """The UTF-8 bytes of ``token`` as ints, the API's ``bytes`` field (a lone surrogate, which
    UTF-8 cannot encode, as its escape's bytes)."""
    return list(token.encode("utf-8", "backslashreplace"))


@dataclass(frozen=True, slots=True)
class TopLogprob:
    """One of the likeliest tokens at a position."""

    token: str
    logprob: float

    def json(self) -> dict[str, object]:
        return {"token": self.token, "logprob": self.logprob, "bytes": token_bytes(self.token)}


@dataclass(frozen=True, slots=True)
class TokenLogprob:
    """The sent token at a position, its logprob, and the ``top`` likeliest tokens there (the sent
    token first, then by descending logprob)."""

    token: str
    logprob: float
    top: tuple[TopLogprob, ...]

    @property
    def bytes(self) -> list[int]:
        return token_bytes(self.token)

    def json(self) -> dict[str, object]:
        """Chat's ``ChatCompletionTokenLogprob`` (and Responses' ``Logprob``): ``token, logprob,
        bytes, top_logprobs`` in the wire's order (wire2.md §4.3)."""
        return {
            "token": self.token,
            "logprob": self.logprob,
            "bytes": self.bytes,
            "top_logprobs": [t.json() for t in self.top],
        }


def _round(logprob: float) -> float:
    value = float(f"{logprob:.8g}")
    return min(value, 0.0) if value else 0.0  # never above 0, and never "-0.0"


def _alternatives(token: str, digest: bytes, count: int) -> list[str]:
    vocabulary = _VOCABULARY[token.startswith(" ")]
    chosen: list[str] = []
    taken = {token}
    for i in range(count):
        at = digest[8 + i] % len(vocabulary)
        while vocabulary[at] in taken:  # the next free word: every position lists distinct tokens
            at = (at + 1) % len(vocabulary)
        taken.add(vocabulary[at])
        chosen.append(vocabulary[at])
    return chosen


class LogprobSource:
    """The logprobs of one choice of one stream: :meth:`at` gives token ``position``'s, from a hash
    of ``key`` (the stream and choice), the position and the token (see the module notes).
    ``top``: how many of the likeliest tokens each position lists (0 .. 20)."""

    __slots__ = ("_key", "top")

    def __init__(self, key: str, top: int) -> None:
        if not 0 <= top <= MAX_TOP_LOGPROBS:
            raise ValueError(f"top must be within 0..{MAX_TOP_LOGPROBS}, got {top}")
        self._key = key.encode("utf-8", "backslashreplace") + b"\x00"
        self.top = top

    def at(self, position: int, token: str) -> TokenLogprob:
        digest = hashlib.blake2b(
            self._key + b"%d\x00" % position + token.encode("utf-8", "backslashreplace"), digest_size=64
        ).digest()
        u = int.from_bytes(digest[:4], "big") / 2**32
        p = 1.0 - 0.8 * u**4  # mostly sure: half the tokens above p = 0.95
        logprob = _round(math.log(p))
        if not self.top:
            return TokenLogprob(token, logprob, ())
        # The rest of the mass (1 - p) shared by stick breaking, always for the 19 alternatives a
        # position can list, then sorted and cut to ``top - 1``: so top k is a prefix of top k+1.
        rest = 1.0 - p
        shares: list[float] = []
        for i in range(MAX_TOP_LOGPROBS - 1):
            piece = rest * (0.2 + 0.6 * digest[8 + MAX_TOP_LOGPROBS + i] / 255)
            shares.append(piece)
            rest -= piece
        shares.sort(reverse=True)
        if shares[0] >= p * 0.95:  # each below the sent token's probability
            scale = p * 0.95 / shares[0]
            shares = [s * scale for s in shares]
        shares = shares[: self.top - 1]
        words = _alternatives(token, digest, len(shares))
        top = [TopLogprob(token, logprob)]
        top += [TopLogprob(w, _round(math.log(max(s, 1e-300)))) for w, s in zip(words, shares, strict=True)]
        return TokenLogprob(token, logprob, tuple(top))


class StreamLogprobs:
    """The logprobs of every choice of one stream: choice ``c``'s from a :class:`LogprobSource`
    keyed ``{key}:{c}`` (``key``: the stream's completion or response id), so that each choice has
    its own. :meth:`next` is the choice's next token as the stream sends it (an encoder counts the
    positions); :meth:`of` a whole choice's tokens from position 0 (the non-streamed body)."""

    __slots__ = ("_key", "_positions", "_sources", "top")

    def __init__(self, key: str, top: int) -> None:
        self._key = key
        self.top = top
        self._sources: dict[int, LogprobSource] = {}
        self._positions: dict[int, int] = {}

    def source(self, choice: int = 0) -> LogprobSource:
        source = self._sources.get(choice)
        if source is None:
            source = self._sources[choice] = LogprobSource(f"{self._key}:{choice}", self.top)
        return source

    def next(self, token: str, choice: int = 0) -> TokenLogprob:
        position = self._positions.get(choice, 0)
        self._positions[choice] = position + 1
        return self.source(choice).at(position, token)

    def of(self, tokens: Iterable[str], choice: int = 0) -> list[TokenLogprob]:
        source = self.source(choice)
        return [source.at(i, token) for i, token in enumerate(tokens)]
