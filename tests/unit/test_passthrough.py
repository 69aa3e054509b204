"""wire/passthrough.py: cutting someone else's SSE into events that keep their bytes."""

from __future__ import annotations

import random

import pytest

from fakellm.events import StreamError, TextDelta, Verbatim
from fakellm.wire.passthrough import (
    EventSplitter,
    PassthroughEncoder,
    RawFinish,
    RawStreamEnd,
    RawStreamError,
    RawTextDelta,
    RawUsage,
    classify,
)

ROLE = b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}\n\n'
TOKEN = b'data: {"choices":[{"index":0,"delta":{"content":"Hi \\u00e9"},"finish_reason":null}]}\n\n'
FINISH = b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
USAGE = b'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}\n\n'
DONE = b"data: [DONE]\n\n"


def split(data: bytes, sizes: list[int] | None = None) -> tuple[list[tuple[bytes, str | None]], bytes]:
    splitter = EventSplitter()
    out: list[tuple[bytes, str | None]] = []
    pos = 0
    for size in sizes or [len(data)]:
        out += splitter.feed(data[pos : pos + size])
        pos += size
    out += splitter.feed(data[pos:])
    return out, splitter.close()


def test_one_block_per_event_with_its_exact_bytes() -> None:
    stream = ROLE + TOKEN + FINISH + USAGE + DONE
    blocks, rest = split(stream)
    assert [raw for raw, _ in blocks] == [ROLE, TOKEN, FINISH, USAGE, DONE]
    assert blocks[-1][1] == "[DONE]"
    assert rest == b""


@pytest.mark.parametrize(
    ("stream", "expected"),
    [
        (b"data: a\r\n\r\ndata: b\r\n\r\n", [b"data: a\r\n\r\n", b"data: b\r\n\r\n"]),
        (b"data: a\r\rdata: b\r\r", [b"data: a\r\r", b"data: b\r\r"]),
        (b": keep-alive\n\ndata: a\n\n", [b": keep-alive\n\n", b"data: a\n\n"]),
        (b"data: a\ndata: b\n\n", [b"data: a\ndata: b\n\n"]),
        (b"\xef\xbb\xbfdata: a\n\n", [b"\xef\xbb\xbfdata: a\n\n"]),
    ],
    ids=["crlf", "cr", "comment", "multi-line", "bom"],
)
def test_line_endings_comments_and_bom(stream: bytes, expected: list[bytes]) -> None:
    blocks, rest = split(stream)
    assert [raw for raw, _ in blocks] == expected
    assert rest == b""


def test_a_comment_block_dispatches_nothing_but_keeps_its_bytes() -> None:
    blocks, _ = split(b": keep-alive\n\n")
    assert blocks == [(b": keep-alive\n\n", None)]
    assert classify(*blocks[0]) == Verbatim(b": keep-alive\n\n")


def test_any_read_boundaries_give_the_same_bytes_and_events() -> None:
    stream = ROLE + b": ping\r\n\r\n" + TOKEN.replace(b"\n", b"\r\n") + FINISH + b"data: x\r\r" + USAGE + DONE
    whole, _ = split(stream)
    rng = random.Random(5)
    for _ in range(200):
        sizes = [rng.randint(1, 9) for _ in range(len(stream))]
        blocks, rest = split(stream, sizes)
        assert b"".join(raw for raw, _ in blocks) + rest == stream
        assert [data for _, data in blocks] == [data for _, data in whole]


def test_a_crlf_split_after_a_blank_line_keeps_every_byte() -> None:
    # The CR ends the block; its LF arrives in the next read and opens the next block.
    blocks, rest = split(b"data: a\r\n\r\ndata: b\r\n\r\n", [10])
    assert b"".join(raw for raw, _ in blocks) + rest == b"data: a\r\n\r\ndata: b\r\n\r\n"
    assert [data for _, data in blocks] == ["a", "b"]


def test_an_unfinished_event_comes_back_from_close() -> None:
    blocks, rest = split(ROLE + b'data: {"choices":[{"ind')
    assert [raw for raw, _ in blocks] == [ROLE]
    assert rest == b'data: {"choices":[{"ind'


@pytest.mark.parametrize(
    ("raw", "kind", "text"),
    [
        (ROLE, Verbatim, None),
        (TOKEN, RawTextDelta, "Hi é"),
        (b'data: {"choices":[{"index":0,"delta":{"refusal":"No"}}]}\n\n', RawTextDelta, "No"),
        (
            b'data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,'
            b'"function":{"arguments":"{\\""}}]}}]}\n\n',
            RawTextDelta,
            "",
        ),
        (FINISH, RawFinish, None),
        (USAGE, RawUsage, None),
        (DONE, RawStreamEnd, None),
        (b'data: {"error":{"message":"boom","type":"server_error"}}\n\n', RawStreamError, None),
        (b"data: {not json}\n\n", Verbatim, None),
        (b'data: {"type":"ping"}\n\n', Verbatim, None),
    ],
    ids=["role", "content", "refusal", "tool-args", "finish", "usage", "done", "error", "bad-json", "other"],
)
def test_classify(raw: bytes, kind: type, text: str | None) -> None:
    blocks, _ = split(raw)
    event = classify(*blocks[0])
    assert type(event) is kind
    if text is not None:
        assert isinstance(event, TextDelta)
        assert event.text == text


def test_a_token_that_also_finishes_counts_as_a_token() -> None:
    raw = b'data: {"choices":[{"index":0,"delta":{"content":"end"},"finish_reason":"stop"}]}\n\n'
    assert isinstance(classify(raw, raw[6:-2].decode()), RawTextDelta)


def test_upstream_error_fields() -> None:
    raw = b'data: {"error":{"message":"boom","type":"overloaded","code":"x"}}\n\n'
    event = classify(raw, raw[6:-2].decode())
    assert isinstance(event, StreamError)
    assert (event.message, event.type, event.code) == ("boom", "overloaded", "x")


def test_the_encoder_writes_carried_bytes_back_and_encodes_injected_events_as_openai() -> None:
    encoder = PassthroughEncoder()
    assert encoder.encode(RawTextDelta("Hi", raw=b"data: anything\r\n\r\n")) == b"data: anything\r\n\r\n"
    assert encoder.encode(Verbatim(b": c\n\n")) == b": c\n\n"
    injected = encoder.encode(StreamError("boom"))
    assert injected == (
        b'data: {"error":{"message":"boom","type":"server_error","param":null,"code":null}}\n\n'
    )
