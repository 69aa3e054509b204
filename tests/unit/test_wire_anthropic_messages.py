"""The Anthropic Messages format: pinned byte for byte against real captures (fixtures/wire/), read
back, validated, and accepted by the official ``anthropic`` SDK's streaming helpers (sync and async)
through an ``httpx2.MockTransport`` that answers with the encoder's bytes."""

from __future__ import annotations

import dataclasses
import json
import random
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import pytest

from fakellm.errors import RequestError
from fakellm.events import (
    BlockEnd,
    BlockStart,
    Event,
    Finish,
    Hold,
    Malformed,
    RoleStart,
    StreamEnd,
    StreamError,
    TextDelta,
    Usage,
)
from fakellm.faults import ErrorEvent, HttpError
from fakellm.tokens import count_message_tokens, last_user_text
from fakellm.tools import PlannedCall
from fakellm.wire import anthropic_messages as am
from fakellm.wire.anthropic_messages import AnthropicMessagesEncoder, EventReader, parse_messages_request
from fakellm.wire.sse import ServerSentEvent, SSEDecoder, encode_sse

CAPTURES = Path(__file__).resolve().parents[2] / "fixtures" / "wire"


def capture(name: str) -> bytes:
    return (CAPTURES / name).read_bytes()


def events_of(data: bytes) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    return decoder.feed(data) + decoder.close()


def stream(
    encoder: AnthropicMessagesEncoder, tokens: Iterable[str], finish: str, usage: Usage | None
) -> bytes:
    """What the pipeline feeds an encoder (pipeline.schedule): RoleStart, a text block with the
    tokens, Finish, maybe Usage, StreamEnd."""
    events: list[Event] = [
        RoleStart(),
        BlockStart("text", 0),
        *(TextDelta(t) for t in tokens),
        BlockEnd(0),
        Finish(finish),
    ]
    if usage is not None:
        events.append(usage)
    events.append(StreamEnd())
    return b"".join(encoder.encode(e) for e in events)


# --------------------------------------------------------------------------------------------------
# Bytes: the real captures


def test_basic_response_capture_byte_for_byte() -> None:
    """W1 §4.1 (anthropic-sdk-python basic_response.txt): the 2024 profile."""
    encoder = AnthropicMessagesEncoder(
        id="msg_4QpJur2dWWDjF6C758FbBw5vm12BaVipnK",
        model="claude-3-opus-latest",
        input_tokens=11,
        profile="2024",
    )
    data = stream(encoder, ["Hello", " there"], "stop", Usage(11, 6))
    assert data == capture("anthropic_basic_response.sse")


TEXT_TOKENS = [
    "Hello",
    "! I",
    "'m doing well, thank you for asking",
    ". How are you doing today?",
    " Is",
    " there anything I can help you with?",
]


def text_encoder(**kw: Any) -> AnthropicMessagesEncoder:
    return AnthropicMessagesEncoder(
        id="msg_01QC4g3HwBThD4BaNtBckFDJ", model="claude-sonnet-4-5-20250929", input_tokens=12, **kw
    )


def test_current_capture_byte_for_byte() -> None:
    """claude-sonnet-4-5 (vercel/ai anthropic-text.chunks.txt, wire2 §2.2 notes): the default profile."""
    data = stream(text_encoder(), TEXT_TOKENS, "stop", Usage(12, 30))
    assert data == capture("anthropic_text.sse")


def test_mid_2025_capture_byte_for_byte_without_its_tool_block() -> None:
    """wire2 §2.2 (tool_use_response.txt, claude-sonnet-4): equal once exactly the tool_use block
    (the index-1 start, deltas and stop, which text streams do not produce) is taken out."""
    encoder = AnthropicMessagesEncoder(
        id="msg_019Q1hrJbZG26Fb9BQhrkHEr",
        model="claude-sonnet-4-20250514",
        input_tokens=377,
        profile="mid-2025",
    )
    data = stream(
        encoder, ["I", "'ll check the current weather in Paris for you."], "tool_calls", Usage(377, 65)
    )
    frames = capture("anthropic_tool_use_response.sse").split(b"\n\n")
    kept = [f for f in frames if b'"index":1' not in f]
    assert len(kept) == len(frames) - 7
    assert data == b"\n\n".join(kept)


# --------------------------------------------------------------------------------------------------
# Tool calls: tool_use blocks


def test_a_tool_call_is_framed_as_the_captured_stream() -> None:
    """wire2 §2.2 (tool_use_response.txt, claude-sonnet-4): text, then a tool_use block whose start
    has ``caller`` and ``input: {}``, an empty ``input_json_delta``, the input's fragments, its
    stop; ``stop_reason: tool_use``. Event by event, then byte for byte; the id, name and fragments
    taken from the capture."""
    data = capture("anthropic_tool_use_response.sse")
    captured = events_of(data)
    start = next(json.loads(e.data) for e in captured if '"tool_use"' in e.data)
    block = start["content_block"]
    fragments = [
        json.loads(e.data)["delta"]["partial_json"] for e in captured if "input_json_delta" in e.data
    ]
    assert fragments[0] == ""  # framing: the encoder sends it with the block's start
    encoder = AnthropicMessagesEncoder(
        id="msg_019Q1hrJbZG26Fb9BQhrkHEr",
        model="claude-sonnet-4-20250514",
        input_tokens=377,
        profile="mid-2025",
    )
    events: list[Event] = [
        RoleStart(),
        BlockStart("text", 0),
        TextDelta("I"),
        TextDelta("'ll check the current weather in Paris for you."),
        BlockEnd(0),
        BlockStart("tool_call", 1, id=block["id"], name=block["name"]),
        *(TextDelta(f) for f in fragments[1:]),
        BlockEnd(1),
        Finish("tool_calls"),
        Usage(377, 65),
        StreamEnd(),
    ]
    ours = b"".join(encoder.encode(e) for e in events)
    assert [(e.event, json.loads(e.data)) for e in events_of(ours)] == [
        (e.event, json.loads(e.data)) for e in captured
    ]
    assert ours == data


def tool_events(*calls: tuple[str, list[str]], text: list[str] | None = None) -> list[Event]:
    events: list[Event] = [RoleStart()]
    index = 0
    if text is not None:
        events += [BlockStart("text", 0), *(TextDelta(t) for t in text), BlockEnd(0)]
        index = 1
    for name, fragments in calls:
        call_id = f"toolu_01{name}"
        events += [BlockStart("tool_call", index, id=call_id, name=name), *map(TextDelta, fragments)]
        events.append(BlockEnd(index))
        index += 1
    return [*events, Finish("tool_calls"), StreamEnd()]


def test_a_call_alone_opens_with_ping_after_its_start_and_parallel_calls_take_the_next_index() -> None:
    """The ping follows the first block's start (before its empty delta, as in vercel/ai's
    anthropic-tool-no-args capture); a second call is the next block."""
    encoder = text_encoder()
    data = b"".join(
        encoder.encode(e)
        for e in tool_events(("get_weather", ['{"city":', '"Paris"}']), ("get_time", ["{}"]))
    )
    seen = [(e.event, json.loads(e.data)) for e in events_of(data)]
    assert [name for name, _ in seen] == [
        "message_start",
        "content_block_start",
        "ping",
        *["content_block_delta"] * 3,
        "content_block_stop",
        "content_block_start",
        *["content_block_delta"] * 2,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert seen[1][1]["content_block"] == {
        "type": "tool_use",
        "id": "toolu_01get_weather",
        "name": "get_weather",
        "caller": {"type": "direct"},
        "input": {},
    }
    partials = [(b["index"], b["delta"]) for n, b in seen if n == "content_block_delta"]
    assert partials == [
        (0, {"type": "input_json_delta", "partial_json": ""}),
        (0, {"type": "input_json_delta", "partial_json": '{"city":'}),
        (0, {"type": "input_json_delta", "partial_json": '"Paris"}'}),
        (1, {"type": "input_json_delta", "partial_json": ""}),
        (1, {"type": "input_json_delta", "partial_json": "{}"}),
    ]
    assert seen[-2][1]["delta"]["stop_reason"] == "tool_use"
    assert seen[-2][1]["usage"]["output_tokens"] == 3  # the fragments, not the empty deltas


def test_the_2024_profile_has_no_caller() -> None:
    encoder = AnthropicMessagesEncoder(id="msg_01x", model="m", input_tokens=1, profile="2024")
    data = b"".join(encoder.encode(e) for e in tool_events(("f", ["{}"])))
    start = next(json.loads(e.data) for e in events_of(data) if e.event == "content_block_start")
    assert start["content_block"] == {"type": "tool_use", "id": "toolu_01f", "name": "f", "input": {}}
    call = PlannedCall("toolu_01f", "f", ("{}",))
    assert encoder.completion("", "tool_calls", Usage(1, 1), [call])["content"] == [
        {"type": "tool_use", "id": "toolu_01f", "name": "f", "input": {}}
    ]


def test_the_non_streamed_message_has_the_tool_use_blocks_with_input_parsed() -> None:
    calls = [
        PlannedCall("toolu_01a", "get_weather", ('{"city": ', '"Paris"}')),
        PlannedCall("toolu_01b", "get_time", ('{"tz": "Europe/Pa',)),  # invalid JSON on purpose
        PlannedCall("toolu_01c", "listed", ("[1]",)),  # JSON, but not an object
    ]
    body = text_encoder().completion("Let me check.", "tool_calls", Usage(10, 7), calls)
    assert body["stop_reason"] == "tool_use"
    assert body["content"] == [
        {"type": "text", "text": "Let me check."},
        {
            "type": "tool_use",
            "id": "toolu_01a",
            "name": "get_weather",
            "input": {"city": "Paris"},
            "caller": {"type": "direct"},
        },
        # What the real API never sends (input is always an object): the raw arguments.
        {
            "type": "tool_use",
            "id": "toolu_01b",
            "name": "get_time",
            "input": '{"tz": "Europe/Pa',
            "caller": {"type": "direct"},
        },
        {
            "type": "tool_use",
            "id": "toolu_01c",
            "name": "listed",
            "input": "[1]",
            "caller": {"type": "direct"},
        },
    ]
    alone = text_encoder().completion("", "tool_calls", Usage(10, 2), calls[:1])
    assert [block["type"] for block in alone["content"]] == ["tool_use"]
    no_arguments = text_encoder().completion("", "tool_calls", Usage(10, 1), [PlannedCall("t", "f", ("",))])
    assert no_arguments["content"][0]["input"] == {}  # as the stream helper gives it
    assert text_encoder().completion("", "stop", Usage(10, 0))["content"] == [{"type": "text", "text": ""}]


def test_tool_call_ids_are_toolu_in_the_captured_shape_and_seeded() -> None:
    drawn = am.MESSAGES.tool_call_id(random.Random(5))
    assert drawn is not None
    assert re.fullmatch(r"toolu_01[1-9A-HJ-NP-Za-km-z]{22}", drawn)
    assert len(drawn) == len("toolu_01NRLabsLyVHZPKxbKvkfSMn")
    assert am.MESSAGES.tool_call_id(random.Random(5)) == drawn


def test_message_delta_without_a_usage_event_counts_the_tokens_sent() -> None:
    data = stream(text_encoder(), ["a", "b", "c"], "length", None)
    delta, stop = events_of(data)[-2:]
    assert delta.event == "message_delta"
    assert json.loads(delta.data) == {
        "type": "message_delta",
        "delta": {"stop_reason": "max_tokens", "stop_sequence": None},
        "usage": {
            "input_tokens": 12,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": 3,
        },
    }
    assert stop == ServerSentEvent('{"type":"message_stop"}', "message_stop")


@pytest.mark.parametrize(
    "text",
    [
        "plain",
        'say "hi"\n\\',
        "caf\u00e9 \u00f7 \U0001f600",
        "line\rbreak\r\n",
        "\u2028sep\u2029",
        "\x00\x1f",
    ],
    ids=["plain", "escapes", "non-ascii", "cr", "unicode-separators", "controls"],
)
@pytest.mark.parametrize("ascii_only", [False, True], ids=["utf8", "ascii"])
def test_token_hot_path_equals_encode_sse(text: str, ascii_only: bool) -> None:
    encoder = text_encoder(ascii_only=ascii_only)
    payload = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}
    expected = encode_sse(
        json.dumps(payload, separators=(",", ":"), ensure_ascii=ascii_only), event="content_block_delta"
    )
    assert encoder.encode(TextDelta(text)) == expected


def test_non_ascii_is_raw_utf8() -> None:
    assert "÷".encode() in text_encoder().encode(TextDelta(" ÷ 5 "))


def test_default_error_event_is_overloaded_with_spaces() -> None:
    """W1 §4.2: the real mid-stream error, for the error_event fault's neutral default."""
    fault = ErrorEvent()
    data = text_encoder().encode(StreamError(fault.message, fault.type, fault.param, fault.code))
    assert data == (
        b'event: error\ndata: {"type": "error", "error": '
        b'{"type": "overloaded_error", "message": "Overloaded"}}\n\n'
    )


def test_neutral_default_message_is_the_faults_default() -> None:
    default = {f.name: f.default for f in dataclasses.fields(ErrorEvent)}["message"]
    assert default == am._NEUTRAL_ERROR_MESSAGE


@pytest.mark.parametrize(
    ("error", "payload"),
    [
        (StreamError("Slow down", "rate_limit_error"), {"type": "rate_limit_error", "message": "Slow down"}),
        (StreamError("boom"), {"type": "overloaded_error", "message": "boom"}),
        (StreamError("bad", "invalid_request_error"), {"type": "invalid_request_error", "message": "bad"}),
    ],
    ids=["anthropic-type-kept", "own-message-kept", "shared-type-kept"],
)
def test_error_event_types(error: StreamError, payload: dict[str, str]) -> None:
    (event,) = events_of(text_encoder().encode(error))
    assert event.event == "error"
    assert json.loads(event.data) == {"type": "error", "error": payload}


def test_error_then_end_sends_message_stop_only() -> None:
    encoder = text_encoder()
    encoder.encode(RoleStart())
    encoder.encode(StreamError("x"))
    assert encoder.encode(StreamEnd()) == b'event: message_stop\ndata: {"type":"message_stop"}\n\n'


def test_malformed_is_a_named_delta_and_hold_sends_nothing() -> None:
    encoder = text_encoder()
    assert encoder.encode(Malformed('{"type":"content_')) == (
        b'event: content_block_delta\ndata: {"type":"content_\n\n'
    )
    assert encoder.encode(Hold()) == b""
    with pytest.raises(TypeError):
        encoder.encode(object())  # type: ignore[arg-type]


def test_stop_sequence_option() -> None:
    encoder = text_encoder(stop_sequence="END")
    (delta, _) = events_of(stream(encoder, ["a"], "stop", Usage(12, 1)))[-2:]
    assert json.loads(delta.data)["delta"] == {"stop_reason": "stop_sequence", "stop_sequence": "END"}
    body = encoder.completion("a", "stop", Usage(12, 1))
    assert (body["stop_reason"], body["stop_sequence"]) == ("stop_sequence", "END")


@pytest.mark.parametrize(
    ("neutral", "stop"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("content_filter", "refusal"),
    ],
)
def test_finish_reason_mapping(neutral: str, stop: str) -> None:
    assert am.stop_reason(neutral) == stop
    assert am.finish_reason(stop) == neutral


def test_completion_body_is_the_message_with_content_and_final_usage() -> None:
    body = text_encoder().completion("Hello!", "stop", Usage(10, 5))
    assert list(body) == ["model", "id", "type", "role", "content", "stop_reason", "stop_sequence", "usage"]
    assert body["content"] == [{"type": "text", "text": "Hello!"}]
    assert body["stop_reason"] == "end_turn"
    assert body["usage"]["input_tokens"] == 10
    assert body["usage"]["output_tokens"] == 5


def test_new_ids_shapes_and_fixed_order() -> None:
    ids = am.new_ids(random.Random(7))
    assert re.fullmatch(r"msg_01[1-9A-HJ-NP-Za-km-z]{22}", ids.message_id)
    assert re.fullmatch(r"req_01[1-9A-HJ-NP-Za-km-z]{22}", ids.request_id)
    assert len(ids.message_id) == len("msg_019Q1hrJbZG26Fb9BQhrkHEr")
    assert len(ids.request_id) == len("req_011CSHoEeqs5C35K2UUqR7Fy")
    assert am.new_ids(random.Random(7)) == ids
    rng = random.Random(7)
    first = "msg_01" + "".join(rng.choices(am._BASE58, k=22))
    assert first == ids.message_id


# --------------------------------------------------------------------------------------------------
# Reading events back


def read_all(data: bytes) -> list[Event]:
    reader = EventReader()
    return [event for sse in events_of(data) for event in reader.read(sse)]


def test_reader_on_the_current_capture() -> None:
    assert read_all(capture("anthropic_text.sse")) == [
        RoleStart(),
        *(TextDelta(t) for t in TEXT_TOKENS),
        Finish("stop"),
        Usage(12, 30),
        StreamEnd(),
    ]


def test_reader_on_the_tool_use_capture_takes_input_tokens_from_message_start() -> None:
    events = read_all(capture("anthropic_tool_use_response.sse"))
    # Each input_json_delta is a token of output with no text (as tool arguments are on Chat and
    # Responses), so that fault positions count a tool call's arguments.
    arguments = [e for e in events if e == TextDelta("")]
    assert len(arguments) == capture("anthropic_tool_use_response.sse").count(b'"input_json_delta"')
    assert arguments
    assert [e for e in events if e != TextDelta("")] == [
        RoleStart(),
        TextDelta("I"),
        TextDelta("'ll check the current weather in Paris for you."),
        Finish("tool_calls"),
        Usage(377, 65),
        StreamEnd(),
    ]


def test_reader_on_errors_malformed_and_others() -> None:
    reader = EventReader()
    error = encode_sse(
        '{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}', event="error"
    )
    (sse,) = events_of(error)
    assert reader.read(sse) == (StreamError("Overloaded", "overloaded_error"),)
    assert reader.read(ServerSentEvent('{"type":"content_', "content_block_delta")) == (
        Malformed('{"type":"content_'),
    )
    assert reader.read(
        ServerSentEvent(
            '{"type":"content_block_delta","delta":{"type":"input_json_delta"}}', "content_block_delta"
        )
    ) == (TextDelta(""),)
    for name, data in [
        ("ping", '{"type": "ping"}'),
        ("content_block_start", '{"type":"content_block_start","index":0,"content_block":{"type":"text"}}'),
        ("future_event", "not json"),
        (
            "message",
            '{"type":"error","error":{"type":"overloaded_error"}}',
        ),  # no name: ignored, as the SDK does
    ]:
        assert reader.read(ServerSentEvent(data, name)) == ()


def test_reader_tolerates_padding_inside_the_json() -> None:
    """wire2 §2.4: a real stream pads payloads with spaces before the closing brace."""
    reader = EventReader()
    padded = '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"I"}       }'
    assert reader.read(ServerSentEvent(padded, "content_block_delta")) == (TextDelta("I"),)


def test_reader_reads_back_what_the_encoder_wrote() -> None:
    profiles: tuple[am.Profile, ...] = ("current", "mid-2025", "2024")
    for profile in profiles:
        encoder = AnthropicMessagesEncoder(id="msg_01x", model="m", input_tokens=9, profile=profile)
        data = stream(encoder, ["a", "é"], "length", Usage(9, 2))
        assert read_all(data) == [
            RoleStart(),
            TextDelta("a"),
            TextDelta("é"),
            Finish("length"),
            Usage(9, 2),
            StreamEnd(),
        ]


# --------------------------------------------------------------------------------------------------
# Requests


def body(**fields: Any) -> bytes:
    base: dict[str, Any] = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "hi"}],
    }
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not ...}).encode()


def test_good_request_with_string_content() -> None:
    request = parse_messages_request(body(system="Be brief.", stream=True, stop_sequences=["END"]))
    assert request.model == "claude-sonnet-4-5"
    assert request.stream is True
    assert request.max_tokens == 64
    assert request.include_usage is True
    assert request.messages == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    assert last_user_text(request.messages) == "hi"


def test_good_request_with_blocks() -> None:
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "What is "}, {"type": "text", "text": "2+2?"}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "4"}]},
        {"role": "user", "content": [{"type": "image", "source": {"type": "base64", "data": ""}}]},
    ]
    system = [
        {"type": "text", "text": "One."},
        {"type": "text", "text": "Two.", "cache_control": {"type": "ephemeral"}},
    ]
    request = parse_messages_request(body(messages=messages, system=system, max_tokens=0, stream=None))
    assert request.messages[0] == {"role": "system", "content": "One.\nTwo."}
    assert request.messages[1:] == messages
    assert request.stream is False
    assert request.max_tokens == 0
    assert count_message_tokens(request.messages) > count_message_tokens([])


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{", "Invalid JSON body: "),
        (b"[1]", "Input should be a valid dictionary"),
        (body(model=...), "model: Field required"),
        (body(model=3), "model: Input should be a non-empty string"),
        (body(max_tokens=...), "max_tokens: Field required"),
        (body(max_tokens="9"), "max_tokens: Input should be a valid integer"),
        (body(max_tokens=True), "max_tokens: Input should be a valid integer"),
        (body(max_tokens=-1), "max_tokens: Input should be greater than or equal to 0"),
        (body(messages=...), "messages: Field required"),
        (body(messages={}), "messages: Input should be a valid list"),
        (body(messages=[]), "messages: at least one message is required"),
        (body(messages=["hi"]), "messages.0: Input should be a valid dictionary"),
        (
            body(messages=[{"role": "system", "content": "x"}]),
            'messages: Unexpected role "system". The Messages API accepts a top-level `system` parameter, '
            'not "system" as an input message role.',
        ),
        (body(messages=[{"content": "x"}]), "messages.0.role: Field required"),
        (
            body(messages=[{"role": "tool", "content": "x"}]),
            "messages.0.role: Input should be 'user' or 'assistant'",
        ),
        (body(messages=[{"role": "user"}]), "messages.0.content: Field required"),
        (
            body(messages=[{"role": "user", "content": 5}]),
            "messages.0.content: Input should be a valid string or a list of content blocks",
        ),
        (
            body(messages=[{"role": "user", "content": ["x"]}]),
            "messages.0.content.0: Input should be a valid dictionary",
        ),
        (body(messages=[{"role": "user", "content": [{}]}]), "messages.0.content.0.type: Field required"),
        (
            body(messages=[{"role": "user", "content": [{"type": 1}]}]),
            "messages.0.content.0.type: Input should be a valid string",
        ),
        (
            body(messages=[{"role": "user", "content": [{"type": "text"}]}]),
            "messages.0.content.0.text: Field required",
        ),
        (
            body(messages=[{"role": "user", "content": [{"type": "text", "text": 1}]}]),
            "messages.0.content.0.text: Input should be a valid string",
        ),
        (body(system=1), "system: Input should be a valid string or a list of text blocks"),
        (body(system=[{"type": "image"}]), "system.0.type: Input should be 'text'"),
        (body(stream="yes"), "stream: Input should be a valid boolean"),
        (body(stop_sequences="END"), "stop_sequences: Input should be a valid list"),
        (body(stop_sequences=[1]), "stop_sequences.0: Input should be a valid string"),
    ],
)
def test_bad_requests(raw: bytes, message: str) -> None:
    with pytest.raises(RequestError) as info:
        parse_messages_request(raw)
    assert info.value.status == 400
    assert info.value.type == "invalid_request_error"
    assert info.value.message.startswith(message)
    if not message.endswith(": "):
        assert info.value.message == message
    status, error, headers = am.error_for(info.value, "req_01abc")
    assert (status, error) == (
        400,
        {
            "type": "error",
            "error": {"type": "invalid_request_error", "message": info.value.message},
            "request_id": "req_01abc",
        },
    )
    assert headers["request-id"] == "req_01abc"


def test_deeply_nested_json_is_a_400() -> None:
    with pytest.raises(RequestError) as info:
        parse_messages_request(b"[" * 100_000)
    assert info.value.status == 400


# --------------------------------------------------------------------------------------------------
# HTTP errors, auth, count_tokens


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (413, "request_too_large"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (529, "overloaded_error"),
        (503, "api_error"),
        (418, "invalid_request_error"),
    ],
)
def test_error_body_types(status: int, kind: str) -> None:
    error = am.error_body(status, request_id="req_01x")
    assert list(error) == ["type", "error", "request_id"]
    assert error["error"]["type"] == kind
    assert error["error"]["message"]
    assert am.error_body(status, "m", type="x") == {"type": "error", "error": {"type": "x", "message": "m"}}


def test_http_error_fault_in_anthropic_shape() -> None:
    """The http_error fault carries OpenAI's types: the status decides Anthropic's; the retry headers
    stay, OpenAI's x-ratelimit-* set goes."""
    error = HttpError(status=429, retry_after_s=1, ratelimit=True, should_retry=True).error()
    status, error_json, headers = am.error_for(error, "req_01r")
    assert status == 429
    assert error_json["error"]["type"] == "rate_limit_error"
    assert headers == {
        "content-type": "application/json",
        "request-id": "req_01r",
        "retry-after": "1",
        "x-should-retry": "true",
    }
    assert am.error_for(HttpError(status=529).error(), "r")[1]["error"]["type"] == "overloaded_error"


@pytest.mark.parametrize(
    ("headers", "ok"),
    [
        ({"x-api-key": "k", "anthropic-version": "2023-06-01"}, True),
        ({"Authorization": "Bearer k", "anthropic-version": "2026-10-21"}, True),
        ({"X-Api-Key": "k"}, True),
        ({"anthropic-version": "2023-06-01"}, False),
        ({"x-api-key": ""}, False),
        ({}, False),
    ],
)
def test_auth_error(headers: dict[str, str], ok: bool) -> None:
    result = am.auth_error(headers)
    if ok:
        assert result is None
    else:
        assert result == {
            "type": "error",
            "error": {"type": "authentication_error", "message": "x-api-key header is required"},
        }


def test_count_tokens_body() -> None:
    assert am.count_tokens_body(14) == {"input_tokens": 14}


# --------------------------------------------------------------------------------------------------
# The official SDK, through a transport that answers with our bytes

Handler = Callable[[httpx2.Request], httpx2.Response]
TOKENS = ["Hello", ", wor", "ld", " ÷ 2"]
REQUEST_ID = "req_011CSHoEeqs5C35K2UUqR7Fy"


class Server:
    """A scripted answer per request, built from the module under test; keeps the requests."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        parsed = parse_messages_request(request.content)  # what the SDK really sends parses
        assert am.auth_error(dict(request.headers)) is None
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        encoder = AnthropicMessagesEncoder(
            id="msg_01Ab3", model=parsed.model, input_tokens=count_message_tokens(parsed.messages)
        )
        usage = Usage(count_message_tokens(parsed.messages), len(TOKENS))
        if answer == "ok" and not parsed.stream:
            return httpx2.Response(
                200,
                headers=am.error_headers(REQUEST_ID),
                json=encoder.completion("".join(TOKENS), "stop", usage),
            )
        if answer == "ok":
            return httpx2.Response(
                200, headers=am.stream_headers(REQUEST_ID), content=stream(encoder, TOKENS, "stop", usage)
            )
        if answer == "midstream":
            events: list[Event] = [
                RoleStart(),
                BlockStart(),
                TextDelta("Hel"),
                StreamError(ErrorEvent().message),
            ]
            data = b"".join(encoder.encode(e) for e in events)
            return httpx2.Response(200, headers=am.stream_headers(REQUEST_ID), content=data)
        status = int(answer)
        error = HttpError(status=status, retry_after_s=0.01 if status == 429 else None).error()
        status, error_json, headers = am.error_for(error, REQUEST_ID)
        return httpx2.Response(status, headers=headers, json=error_json)


def sync_client(server: Server, retries: int = 0) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        api_key="sk-ant-test",
        base_url="http://fakellm.test",
        max_retries=retries,
        http_client=httpx2.Client(transport=httpx2.MockTransport(server)),
    )


def async_client(server: Server, retries: int = 0) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        api_key="sk-ant-test",
        base_url="http://fakellm.test",
        max_retries=retries,
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(server)),
    )


ARGS: dict[str, Any] = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 64,
    "system": "Be brief.",
    "messages": [{"role": "user", "content": "Say hello"}],
}


def check_final(message: Any) -> None:
    assert message.id == "msg_01Ab3"
    assert message.model == "claude-sonnet-4-5"
    assert message.role == "assistant"
    assert [block.text for block in message.content] == ["".join(TOKENS)]
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens == len(TOKENS)
    assert message.usage.input_tokens == count_message_tokens(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello"}]
    )


def test_sdk_stream_helper_sync() -> None:
    server = Server("ok")
    with sync_client(server).messages.stream(**ARGS) as helper:
        assert list(helper.text_stream) == TOKENS
        check_final(helper.get_final_message())
    assert server.requests[0].url.path == "/v1/messages"


@pytest.mark.asyncio
async def test_sdk_stream_helper_async() -> None:
    async with async_client(Server("ok")).messages.stream(**ARGS) as helper:
        assert [text async for text in helper.text_stream] == TOKENS
        check_final(await helper.get_final_message())


EVENT_TYPES = [
    "message_start",
    "content_block_start",
    *["content_block_delta"] * len(TOKENS),
    "content_block_stop",
    "message_delta",
    "message_stop",
]


def test_sdk_create_stream_sync() -> None:
    events = list(sync_client(Server("ok")).messages.create(stream=True, **ARGS))
    assert [e.type for e in events] == EVENT_TYPES  # ping is skipped by the SDK
    assert [e.delta.text for e in events if e.type == "content_block_delta"] == TOKENS
    assert events[-2].usage.output_tokens == len(TOKENS)


@pytest.mark.asyncio
async def test_sdk_create_stream_async() -> None:
    events = [e async for e in await async_client(Server("ok")).messages.create(stream=True, **ARGS)]
    assert [e.type for e in events] == EVENT_TYPES


def test_sdk_create_not_streamed() -> None:
    check_final(sync_client(Server("ok")).messages.create(**ARGS))


@pytest.mark.asyncio
async def test_sdk_create_not_streamed_async() -> None:
    check_final(await async_client(Server("ok")).messages.create(**ARGS))


def test_sdk_mid_stream_error_sync() -> None:
    """W1 §4.2: a 200 stream's error event is a plain APIStatusError with status 200, after the text."""
    seen: list[str] = []
    with (
        pytest.raises(anthropic.APIStatusError) as info,
        sync_client(Server("midstream")).messages.stream(**ARGS) as s,
    ):
        seen.extend(s.text_stream)
    assert seen == ["Hel"]
    assert info.value.status_code == 200
    assert "overloaded_error" in str(info.value)
    assert "Overloaded" in str(info.value)


@pytest.mark.asyncio
async def test_sdk_mid_stream_error_async() -> None:
    client = async_client(Server("midstream"))
    with pytest.raises(anthropic.APIStatusError) as info:
        async with client.messages.stream(**ARGS) as s:
            async for _ in s.text_stream:
                pass
    assert info.value.status_code == 200
    assert "Overloaded" in str(info.value)


@pytest.mark.parametrize(
    ("status", "exc", "kind"),
    [
        (400, anthropic.BadRequestError, "invalid_request_error"),
        (429, anthropic.RateLimitError, "rate_limit_error"),
        (529, anthropic.OverloadedError, "overloaded_error"),
    ],
)
def test_sdk_http_errors(status: int, exc: type[anthropic.APIStatusError], kind: str) -> None:
    with pytest.raises(exc) as info:
        sync_client(Server(str(status))).messages.create(**ARGS)
    assert info.value.status_code == status
    assert info.value.request_id == REQUEST_ID
    assert isinstance(info.value.body, dict)
    assert info.value.body["error"]["type"] == kind
    assert info.value.message.endswith(repr(info.value.body)) or kind in info.value.message


def test_sdk_retries_a_429_with_retry_after() -> None:
    server = Server("429", "ok")
    with sync_client(server, retries=2).messages.stream(**ARGS) as helper:
        check_final(helper.get_final_message())
    assert len(server.requests) == 2
    assert [r.headers["x-stainless-retry-count"] for r in server.requests] == ["0", "1"]


@pytest.mark.asyncio
async def test_sdk_retries_a_429_async() -> None:
    server = Server("429", "ok")
    check_final(await async_client(server, retries=2).messages.create(**ARGS))
    assert len(server.requests) == 2


def test_sdk_sends_bearer_auth_and_any_version() -> None:
    """wire2 §2.1: the 2.x SDK sends Authorization: Bearer and a new anthropic-version."""
    server = Server("ok")
    sync_client(server).messages.create(**ARGS)
    headers = server.requests[0].headers
    assert headers["authorization"] == "Bearer sk-ant-test"
    assert "x-api-key" not in headers
    assert headers["anthropic-version"]


def test_sdk_raises_authentication_error_on_the_401_body() -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        error = am.auth_error({})
        assert error is not None
        return httpx2.Response(401, headers=am.error_headers(REQUEST_ID), json=error)

    client = anthropic.Anthropic(
        api_key="k",
        base_url="http://fakellm.test",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
    )
    with pytest.raises(anthropic.AuthenticationError, match="x-api-key header is required"):
        client.messages.create(**ARGS)
