"""What flows through the pipeline, and the state one stream carries.

``Timed`` is an event with the moment it is due; ``Frame`` is encoded bytes with the moment they
are due. Times are seconds after the request arrived: faults move them as plain data, so every
transform is a pure function of its input and the stream's RNG, testable without a clock. Only the
transport (``transport.py``) turns due times into sleeps.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import Any

from .events import Event

__all__ = ["FaultFired", "Frame", "StreamContext", "Timed"]

# Frame actions, interpreted by the transport.
WRITE = 0
DROP_FIN = 1  # close the connection without the chunked terminator
DROP_RST = 2  # close it with a TCP reset
HOLD = 3  # send nothing more until the client goes away or the server stops


@dataclass(frozen=True, slots=True)
class Timed:
    due: float
    event: Event


@dataclass(frozen=True, slots=True)
class Frame:
    due: float
    data: bytes
    text: str | None = None  # the content text this frame completes, if any
    tokens: int = 0  # how many content tokens that text is
    action: int = WRITE
    closing: bool = False  # part of the end of the content: finish, usage, sentinel or error
    # Tool-call argument fragments this frame completes, (call, fragment): counted in ``tokens``,
    # not part of ``text`` (the content).
    arguments: tuple[tuple[int, str], ...] = ()
    # With several choices (``n``): the text this frame completes, per choice (choice, text), for
    # the journal's ``choices``; ``text`` still holds all of it, in the order sent.
    choice_texts: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True, slots=True)
class FaultFired:
    fault: str
    at_token: int
    at_byte: int
    at_ms: float
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "fault": self.fault,
            "at_token": self.at_token,
            "at_byte": self.at_byte,
            "at_ms": round(self.at_ms, 3),
            "detail": self.detail,
        }


@dataclass(slots=True)
class StreamContext:
    """Per-stream state shared by the stages: the seeded RNG, what has been sent so far (kept up to
    date by the transport, so a fault that fires knows the byte and token it fired at), the faults
    that fired, and how the stream means to end."""

    seed: int
    rng: random.Random
    tokens_sent: int = 0
    bytes_sent: int = 0
    elapsed_ms: float = 0.0
    fired: list[FaultFired] = field(default_factory=list)
    ending: str | None = None  # set by a fault that ends the stream early ("truncated", ...)
    stalled: bool = False

    @classmethod
    def seeded(cls, seed: int) -> StreamContext:
        return cls(seed=seed, rng=random.Random(seed))

    def fork(self, label: str) -> random.Random:
        """A separate RNG for one stage, derived from the stream seed: a fault's random choices do
        not shift the content's or the timing's, and each replays exactly."""
        digest = hashlib.blake2b(f"{self.seed}:{label}".encode(), digest_size=8).digest()
        return random.Random(int.from_bytes(digest, "big"))

    def fire(
        self, fault: str, *, at_token: int | None = None, due: float | None = None, detail: str = ""
    ) -> None:
        """Record that ``fault`` fired. Stages run lazily, one frame ahead of the transport, so
        ``bytes_sent`` is what had reached the socket when the fault took effect; ``due`` (seconds
        after the request) is when its effect is scheduled, which is more exact than the time of
        the last write."""
        self.fired.append(
            FaultFired(
                fault=fault,
                at_token=self.tokens_sent if at_token is None else at_token,
                at_byte=self.bytes_sent,
                at_ms=self.elapsed_ms if due is None else max(self.elapsed_ms, due * 1000.0),
                detail=detail,
            )
        )
