"""The stream invariant: whatever byte-level faults a stream carries (docs/faults.md's frame stage
without ``drop``, which cuts it: ``sse``, ``latency``, ``stall`` with an end, ``fragment``,
``bandwidth``), a spec-correct SSE parser recovers exactly the events of the same stream unfaulted
(same seed). Compared are each event's type and data: ``sse ids`` / ``retry_ms`` add ``id`` and
``retry`` fields on purpose.

Two parsers: :class:`fakellm.SSEDecoder`, and lines split as httpx-sse splits them with the spec's
field rules on top. Planned streams
are run without sockets; a few examples go through a real server.
"""

from __future__ import annotations

import codecs
import dataclasses
import re
from collections.abc import Iterable, Iterator, Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakellm import (
    Bandwidth,
    Buffer,
    Fault,
    Fragment,
    Latency,
    Scenario,
    Server,
    Sse,
    Stall,
    Timing,
    parse_fault_spec,
)
from fakellm.content import FixedText
from fakellm.pipeline import plan_stream
from fakellm.stream import WRITE
from fakellm.wire.openai import parse_chat_request
from tests.helpers import chat_body, raw_request

from .strategies import budget, sse_events

Event = tuple[str, str]


class SSELineDecoder:
    """Lines as httpx-sse (>= 0.4.2, florimondmanca/httpx-sse#37) splits them: on CR, LF and CRLF
    only (httpx's own ``iter_lines`` uses ``str.splitlines``, which also splits on U+0085, U+2028 and
    U+2029: text that raw-UTF-8 streams carry unescaped), with a CRLF split across reads held over."""

    def __init__(self) -> None:
        self.buffer = ""
        self.trailing_cr = False

    def decode(self, text: str) -> list[str]:
        if self.trailing_cr:
            text = "\r" + text
            self.trailing_cr = False
        if text.endswith("\r"):
            self.trailing_cr = True
            text = text[:-1]
        if not text:
            return []
        lines = _LINE_ENDS.split(text)
        lines[0] = self.buffer + lines[0]
        self.buffer = lines.pop()
        return lines

    def flush(self) -> list[str]:
        """At EOF: a CR held over ends the line before it."""
        if not self.trailing_cr:
            return []
        line, self.buffer, self.trailing_cr = self.buffer, "", False
        return [line]


_LINE_ENDS = re.compile(r"\r\n|\r|\n")


def httpx_sse_style_events(chunks: Iterable[bytes]) -> list[Event]:
    """Events from lines split as httpx-sse splits them, read with the spec's rules: a leading BOM
    stripped, comments skipped, dispatch on a blank line with data."""
    text = codecs.getincrementaldecoder("utf-8")(errors="replace")
    lines = SSELineDecoder()
    events: list[Event] = []
    data: list[str] = []
    kind = ""
    first = True

    def take(line: str) -> None:
        nonlocal kind, data
        if not line:
            if data:
                events.append((kind or "message", "\n".join(data)))
            data, kind = [], ""
            return
        if line.startswith(":"):
            return
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        elif name == "event":
            kind = value

    for chunk in chunks:
        decoded = text.decode(chunk)
        if first and decoded:
            decoded = decoded.removeprefix("\ufeff")
            first = False
        for line in lines.decode(decoded):
            take(line)
    for line in lines.decode(text.decode(b"", final=True)) + lines.flush():
        take(line)
    return events


# --------------------------------------------------------------------------------------------------
# Byte-level faults


def byte_faults(*, fast: bool = False) -> st.SearchStrategy[list[Fault]]:
    """Lists of byte-level faults; ``fast``: only settings a real socket serves in milliseconds."""
    ms = st.floats(0, 20 if fast else 5000, allow_nan=False)
    fragment_bytes = st.integers(32 if fast else 1, 300)
    one = st.one_of(
        st.builds(
            Sse,
            line_endings=st.sampled_from(["lf", "crlf", "cr"]),
            comments=st.booleans(),
            bom=st.booleans(),
            retry_ms=st.none() | st.integers(0, 10**6),
            ids=st.booleans(),
        ),
        st.builds(Latency, ms=ms),
        st.builds(
            Stall,
            after_tokens=st.none() | st.integers(0, 30),
            duration_ms=ms,
            keepalive_ms=st.none() | st.floats(1, 50, allow_nan=False),
        ),
        st.tuples(fragment_bytes, fragment_bytes, st.booleans(), st.booleans()).map(
            lambda t: Fragment(
                min_bytes=None if t[3] and t[2] else min(t[0], t[1]),
                max_bytes=None if t[3] and t[2] else max(t[0], t[1]),
                coalesce=t[2],
                delay_ms=0.0 if fast else 1.0,
            )
        ),
        st.builds(Bandwidth, bytes_per_s=st.floats(50_000, 10**7) if fast else st.floats(1, 10**7)),
        st.builds(Buffer, size_bytes=st.none() | st.integers(1, 5000)),
    )
    # With two sse faults, one with a BOM, the other's lines come before the BOM: pinned by
    # test_a_bom_with_another_sse_fault_keeps_every_event, kept out of this property until fixed.
    return st.lists(one, min_size=1, max_size=4).filter(_no_bom_stacked)


def _no_bom_stacked(faults: list[Fault]) -> bool:
    sse = [f for f in faults if isinstance(f, Sse)]
    return len(sse) < 2 or not any(f.bom for f in sse)


_text = st.text(st.characters(exclude_categories=["Cs"]), min_size=0, max_size=60)
REQUEST = parse_chat_request(
    b'{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"stream":true,'
    b'"stream_options":{"include_usage":true}}'
)


def _chunks(text: str, seed: int, ascii_only: bool, faults: Sequence[Fault]) -> Iterator[bytes]:
    scenario = Scenario(
        name="s",
        content=FixedText(text),
        timing=Timing(ttft_ms=5, itl_ms=2, jitter_ms=1),
        ascii_only=ascii_only,
    )
    plan = plan_stream(REQUEST, scenario, server_seed=seed, extra_faults=faults)
    for frame in plan.frames():
        assert frame.action == WRITE, frame  # none of these faults ends or holds a stream
        yield frame.data


@budget(1.0)
@given(text=_text, seed=st.integers(0, 2**32), ascii_only=st.booleans(), faults=byte_faults())
def test_byte_faults_keep_every_event(text: str, seed: int, ascii_only: bool, faults: list[Fault]) -> None:
    clean = list(_chunks(text, seed, ascii_only, []))
    expected = sse_events(clean)
    assert expected[-1] == ("message", "[DONE]")
    faulted = list(_chunks(text, seed, ascii_only, faults))
    assert sse_events(faulted) == expected
    assert httpx_sse_style_events(faulted) == expected
    # The same bytes in any cut: a spec-correct parser does not care where the reads end.
    whole = b"".join(faulted)
    assert sse_events([whole[i : i + 1] for i in range(len(whole))]) == expected


# --------------------------------------------------------------------------------------------------
# Over a real socket


def spec_of(fault: Fault) -> str:
    """The compact spec of ``fault``: every setting that is not its default, as key=value."""
    words = [fault.name]
    for field in dataclasses.fields(fault):
        value = getattr(fault, field.name)
        if value == field.default:
            continue
        if isinstance(value, bool):
            words.append(f"{field.name}={'true' if value else 'false'}")
        elif value is None:
            words.append(f"{field.name}=null")
        elif isinstance(value, float):
            words.append(f"{field.name}={value!r}")
        else:
            words.append(f"{field.name}={value}")
    return " ".join(words)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    text = "Hello there, wörld 😀: a few more words, to cut."
    scenarios = [
        {"name": "default", "content": {"text": text}, "timing": {"itl_ms": 0.2}, "ascii_only": False}
    ]
    server = Server(scenarios=scenarios).start()
    yield server
    server.stop()


@budget(0.1)
@given(seed=st.integers(0, 2**32), faults=byte_faults(fast=True))
def test_byte_faults_keep_every_event_over_a_socket(server: Server, seed: int, faults: list[Fault]) -> None:
    body = chat_body(stream_options={"include_usage": True})
    clean = raw_request(server.port, body, headers={"X-FakeLLM-Seed": str(seed)})
    spec = "; ".join(spec_of(f) for f in faults)
    faulted = raw_request(server.port, body, headers={"X-FakeLLM-Seed": str(seed), "X-FakeLLM-Faults": spec})
    assert (clean.status, faulted.status) == (200, 200), faulted.body[:300]
    assert clean.terminated and faulted.terminated, spec
    expected = sse_events(clean.chunks)
    assert expected[-1] == ("message", "[DONE]")
    assert sse_events(faulted.chunks) == expected, spec
    assert httpx_sse_style_events(faulted.chunks) == expected, spec


@pytest.mark.parametrize(
    "spec", ["sse bom; sse comments", "sse bom; sse ids", "sse bom; sse retry_ms=5", "sse bom; sse bom"]
)
def test_a_bom_with_another_sse_fault_keeps_every_event(spec: str) -> None:
    expected = sse_events(_chunks("Hi", 0, True, []))
    assert sse_events(_chunks("Hi", 0, True, parse_fault_spec(spec))) == expected
