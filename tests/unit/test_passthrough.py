"""wire/passthrough.py: cutting someone else's SSE into events that keep their bytes."""

from __future__ import annotations

import json
import random

import pytest

from fakellm.events import Malformed, StreamEnd, StreamError, TextDelta, Verbatim
from fakellm.wire import FORMATS, ServerSentEvent
from fakellm.wire.anthropic_messages import MESSAGES
from fakellm.wire.openai import CHAT
from fakellm.wire.openai_responses import RESPONSES
from fakellm.wire.passthrough import (
    Classifier,
    EventSplitter,
    PassthroughEncoder,
    RawFinish,
    RawStreamEnd,
    RawStreamError,
    RawTextDelta,
    RawUsage,
)

ROLE = b'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}\n\n'
TOKEN = b'data: {"choices":[{"index":0,"delta":{"content":"Hi \\u00e9"},"finish_reason":null}]}\n\n'
FINISH = b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
USAGE = b'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}\n\n'
DONE = b"data: [DONE]\n\n"


Block = tuple[bytes, ServerSentEvent | None]


def split(data: bytes, sizes: list[int] | None = None) -> tuple[list[Block], bytes]:
    splitter = EventSplitter()
    out: list[Block] = []
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
    assert blocks[-1][1] == ServerSentEvent("[DONE]")
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
    assert Classifier(CHAT)(*blocks[0]) == Verbatim(b": keep-alive\n\n")


def test_any_read_boundaries_give_the_same_bytes_and_events() -> None:
    stream = ROLE + b": ping\r\n\r\n" + TOKEN.replace(b"\n", b"\r\n") + FINISH + b"data: x\r\r" + USAGE + DONE
    whole, _ = split(stream)
    rng = random.Random(5)
    for _ in range(200):
        sizes = [rng.randint(1, 9) for _ in range(len(stream))]
        blocks, rest = split(stream, sizes)
        assert b"".join(raw for raw, _ in blocks) + rest == stream
        assert [sse for _, sse in blocks] == [sse for _, sse in whole]


def test_a_crlf_split_after_a_blank_line_keeps_every_byte() -> None:
    # The CR ends the block; its LF arrives in the next read and opens the next block.
    blocks, rest = split(b"data: a\r\n\r\ndata: b\r\n\r\n", [10])
    assert b"".join(raw for raw, _ in blocks) + rest == b"data: a\r\n\r\ndata: b\r\n\r\n"
    assert [sse.data for _, sse in blocks if sse is not None] == ["a", "b"]


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
    event = Classifier(CHAT)(*blocks[0])
    assert type(event) is kind
    if text is not None:
        assert isinstance(event, TextDelta)
        assert event.text == text


def test_a_token_that_also_finishes_counts_as_a_token() -> None:
    raw = b'data: {"choices":[{"index":0,"delta":{"content":"end"},"finish_reason":"stop"}]}\n\n'
    assert isinstance(Classifier(CHAT)(*split(raw)[0][0]), RawTextDelta)


def test_upstream_error_fields() -> None:
    raw = b'data: {"error":{"message":"boom","type":"overloaded","code":"x"}}\n\n'
    event = Classifier(CHAT)(*split(raw)[0][0])
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


def test_the_event_line_is_kept_in_the_bytes_and_the_name() -> None:
    raw = b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta"}\n\n'
    blocks, _ = split(raw)
    assert blocks == [
        (raw, ServerSentEvent('{"type":"response.output_text.delta"}', "response.output_text.delta"))
    ]


def sse(name: str, data: str) -> bytes:
    return f"event: {name}\ndata: {data}\n\n".encode()


@pytest.mark.parametrize(
    ("path", "raw", "kind", "text"),
    [
        (
            "/v1/responses",
            sse("response.created", '{"type":"response.created","sequence_number":0,"response":{}}'),
            Verbatim,
            None,
        ),
        (
            "/v1/responses",
            sse(
                "response.output_text.delta",
                '{"type":"response.output_text.delta","sequence_number":4,"delta":"Hi"}',
            ),
            RawTextDelta,
            "Hi",
        ),
        (
            "/v1/responses",
            sse(
                "response.function_call_arguments.delta", '{"type":"response.function_call_arguments.delta"}'
            ),
            RawTextDelta,
            "",
        ),
        (
            "/v1/responses",
            sse("response.completed", '{"type":"response.completed","response":{"status":"completed"}}'),
            RawFinish,
            None,
        ),
        (
            "/v1/responses",
            sse("error", '{"type":"error","error":{"type":"server_error"}}'),
            RawStreamError,
            None,
        ),
        ("/v1/responses", sse("response.failed", '{"type":"response.failed"}'), RawStreamEnd, None),
        ("/v1/messages", sse("message_start", '{"type":"message_start","message":{}}'), Verbatim, None),
        ("/v1/messages", sse("ping", '{"type": "ping"}'), Verbatim, None),
        (
            "/v1/messages",
            sse(
                "content_block_delta",
                '{"type":"content_block_delta","delta":{"type":"text_delta","text":"Yo"}}',
            ),
            RawTextDelta,
            "Yo",
        ),
        (
            "/v1/messages",
            sse(
                "content_block_delta",
                '{"type":"content_block_delta","delta":{"type":"input_json_delta","partial_json":"{"}}',
            ),
            RawTextDelta,
            "",
        ),
        (
            "/v1/messages",
            sse("content_block_stop", '{"type":"content_block_stop","index":0}'),
            Verbatim,
            None,
        ),
        (
            "/v1/messages",
            sse("message_delta", '{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{}}'),
            RawFinish,
            None,
        ),
        ("/v1/messages", sse("message_stop", '{"type":"message_stop"}'), RawStreamEnd, None),
        (
            "/v1/messages",
            sse("error", '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'),
            RawStreamError,
            None,
        ),
        ("/v1/completions", b'data: {"choices":[{"text":"ok","index":0}]}\n\n', RawTextDelta, "ok"),
        ("/v1/completions", b"data: [DONE]\n\n", RawStreamEnd, None),
    ],
)
def test_each_format_finds_its_own_tokens_and_ends(
    path: str, raw: bytes, kind: type, text: str | None
) -> None:
    blocks, _ = split(raw)
    event = Classifier(FORMATS[path])(*blocks[0])
    assert type(event) is kind
    if text is not None:
        assert isinstance(event, TextDelta)
        assert event.text == text


def test_injected_events_follow_the_route_format_anthropic() -> None:
    encoder = PassthroughEncoder(fmt=MESSAGES)
    assert encoder.encode(
        StreamError("The server had an error while processing your request. Sorry about that!")
    ) == (
        b'event: error\ndata: {"type": "error", '
        b'"error": {"type": "overloaded_error", "message": "Overloaded"}}\n\n'
    )
    assert encoder.encode(Malformed("{")) == b"event: content_block_delta\ndata: {\n\n"


def test_injected_responses_events_continue_the_upstreams_sequence_and_object() -> None:
    encoder = PassthroughEncoder(fmt=RESPONSES)
    classify = Classifier(RESPONSES)
    upstream = [
        sse(
            "response.created",
            '{"type":"response.created","sequence_number":0,"response":{"id":"resp_up","object":"response",'
            '"status":"in_progress","model":"m","output":[]}}',
        ),
        sse(
            "response.output_item.added",
            '{"type":"response.output_item.added","sequence_number":1,"output_index":0,'
            '"item":{"id":"msg_up","type":"message","status":"in_progress","content":[],"role":"assistant"}}',
        ),
        sse(
            "response.output_text.delta",
            '{"type":"response.output_text.delta","sequence_number":7,"item_id":"msg_up","delta":"Hi"}',
        ),
    ]
    for raw in upstream:
        event = classify(*split(raw)[0][0])
        assert encoder.encode(event) == raw
    out = encoder.encode(StreamError("boom", "server_error"))
    events = [e for _, e in split(out)[0] if e is not None]
    assert [e.event for e in events] == ["error", "response.failed"]
    error, failed = (json.loads(e.data) for e in events)
    assert error == {
        "type": "error",
        "sequence_number": 8,
        "error": {"type": "server_error", "code": None, "message": "boom", "param": None},
    }
    assert failed["sequence_number"] == 9
    assert failed["response"]["id"] == "resp_up"
    assert failed["response"]["status"] == "failed"
    assert failed["response"]["error"] == {"code": "server_error", "message": "boom"}
    assert failed["response"]["output"][0]["id"] == "msg_up"
    assert failed["response"]["output"][0]["content"][0]["text"] == "Hi"
    assert encoder.encode(StreamEnd()) == b""
