"""Token sources: where the text of a reply comes from.

A token source is anything with ``text(request, rng) -> str``. Every random choice comes from the
stream's RNG, so the same seed gives the same text. Faker is seeded from that RNG too.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Any, Protocol

from faker import Faker

from .tokens import last_user_text

__all__ = ["FAKER_MAXIMUMS", "EchoText", "FakerText", "FixedText", "TokenSource"]


class TokenSource(Protocol):
    def text(self, request: dict[str, Any], rng: random.Random) -> str: ...


@dataclass(frozen=True, slots=True)
class FixedText:
    value: str

    def text(self, request: dict[str, Any], rng: random.Random) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class EchoText:
    """Repeat the last user message (handy for checking what a client sent)."""

    prefix: str = ""

    def text(self, request: dict[str, Any], rng: random.Random) -> str:
        return self.prefix + last_user_text(request.get("messages") or [])


# Building a Faker loads its locale providers (milliseconds); one instance is shared and reseeded
# for every use, under a lock because the plugin may serve from more than one thread.
_faker_lock = threading.Lock()
_faker: Faker | None = None


def _shared_faker() -> Faker:
    global _faker
    if _faker is None:
        _faker = Faker("en_US")
    return _faker


_CODE_SNIPPETS = (
    ("python", "def {name}({arg}):\n    return [{arg} * 2 for {arg} in range({n})]\n"),
    ("javascript", "const {name} = ({arg}) => {{\n  return {arg}.map((x) => x * {n});\n}};\n"),
    ("bash", 'for {arg} in $(seq 1 {n}); do\n  echo "{name} ${arg}"\ndone\n'),
)


FAKER_MAXIMUMS = {"paragraphs": 32, "sentences": 16}
"""Faker text is made on the event loop when a request arrives, in one piece: at these maximums
(about 20 KB of text, 5000 tokens) that takes a few milliseconds. A longer answer is a ``text:``."""


@dataclass(frozen=True, slots=True)
class FakerText:
    """Faker-generated prose. With ``markdown`` it reads like a chat model's answer: a heading-ish
    opening, paragraphs, a bullet list and, some of the time, a fenced code block."""

    paragraphs: int = 3
    sentences: int = 3
    markdown: bool = False
    code_probability: float = 0.5

    def __post_init__(self) -> None:
        # Scenario files are checked with file and line (scenario.py); this guards the other ways in.
        for key, maximum in FAKER_MAXIMUMS.items():
            if not 1 <= getattr(self, key) <= maximum:
                raise ValueError(
                    f"FakerText {key} must be between 1 and {maximum}, got {getattr(self, key)!r}"
                )

    def text(self, request: dict[str, Any], rng: random.Random) -> str:
        with _faker_lock:
            fake = _shared_faker()
            fake.seed_instance(rng.getrandbits(64))
            paras = [
                fake.paragraph(nb_sentences=self.sentences, variable_nb_sentences=True)
                for _ in range(self.paragraphs)
            ]
            if not self.markdown:
                return "\n\n".join(paras)
            title = fake.sentence(nb_words=5).rstrip(".")
            bullets = [fake.sentence(nb_words=8) for _ in range(rng.randint(3, 5))]
            word = fake.word()
            arg = fake.word()[:1] or "x"
            code = None
            if rng.random() < self.code_probability:
                lang, template = _CODE_SNIPPETS[rng.randrange(len(_CODE_SNIPPETS))]
                name = f"{word}_{fake.word()}"
                code = f"```{lang}\n{template.format(name=name, arg=arg, n=rng.randint(2, 9))}```"
        parts = [f"**{title}**", paras[0], "\n".join(f"- {b}" for b in bullets)]
        if code is not None:
            parts.append(code)
        parts.extend(paras[1:])
        return "\n\n".join(parts)
