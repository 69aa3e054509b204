"""Stop sequences: where an answer ends when the request gives some (Chat and Completions ``stop``,
Anthropic ``stop_sequences``; the Responses API has none).

The answer ends just before the first stop sequence its text reaches: the sequence is not sent,
and the token holding its start is cut to the part before it, as real servers send it (vLLM and
OpenAI cut inside the token; a part left empty is not sent). "First" is the one generation reaches
first: the occurrence that *ends* first, as a server checking its text after each token finds it;
at the same end the one starting first, then the request's order. A sequence only counts when it
ends within ``max_tokens`` tokens: past them the answer ends with ``length`` before reaching it.

The text is searched once per sequence (``str.find``) and the tokens are walked once, only for a
request that has stops: the hot path of every other request is untouched.
"""

from __future__ import annotations

from collections.abc import Sequence

from .tokens import Pieces

__all__ = ["cut_at_stop"]


def cut_at_stop(
    tokens: Sequence[str], stops: Sequence[str], max_tokens: int | None = None
) -> tuple[Sequence[str], str | None]:
    """``tokens`` ended before the first of ``stops`` they reach (see the module notes), and the
    sequence matched; ``(tokens, None)`` unchanged when none is reached within ``max_tokens``."""
    if not stops or not tokens:
        return tokens, None
    reach = tokens if max_tokens is None or len(tokens) <= max_tokens else tokens[:max_tokens]
    text = reach.text if isinstance(reach, Pieces) else "".join(reach)
    best: tuple[int, int] | None = None  # (end, start) of the earliest-ending occurrence
    matched: str | None = None
    for stop in stops:
        if not stop:  # the formats refuse empty ones; an empty one would end every answer at once
            continue
        start = text.find(stop)
        if start >= 0 and (best is None or (start + len(stop), start) < best):
            best, matched = (start + len(stop), start), stop
    if best is None:
        return tokens, None
    cut = best[1]
    if isinstance(tokens, Pieces):  # pieces of the shorter text are the first pieces of the text
        return Pieces(text[:cut]), matched
    kept: list[str] = []
    length = 0
    for token in reach:
        if length + len(token) > cut:
            if cut > length:
                kept.append(token[: cut - length])
            break
        kept.append(token)
        length += len(token)
    return tuple(kept), matched
