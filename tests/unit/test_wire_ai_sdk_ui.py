"""The AI SDK chat route's formats (wire/ai_sdk_ui.py): the UI message stream pinned to the SDK's
own stream (shared/wire2.md §5.2), tool and reasoning parts, errors, the data stream protocol's
lines (§5.5), useChat bodies into the neutral conversation, bad bodies, the reader."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from fakellm.errors import RequestError
from fakellm.event_ids import ResumePoint, number_events
from fakellm.events import (
    BlockEnd,
    BlockStart,
    Event,
    Finish,
    Malformed,
    RoleStart,
    StreamEnd,
    StreamError,
    TextDelta,
    Usage,
)
from fakellm.pipeline import last_tool_name, last_tool_result, plan_stream, turn_index
from fakellm.scenario import scenario_from_dict
from fakellm.stream import Frame
from fakellm.wire import FORMATS, format_for
from fakellm.wire.ai_sdk_ui import (
    DATA_STREAM,
    UI_STREAM,
    ChatStreams,
    DataStreamEncoder,
    UIStreamEncoder,
    parse_chat_request,
    read_ui_event,
    resume_chat_id,
)
from fakellm.wire.sse import SSEDecoder

# wire2.md §5.2: the stream `pipeUIMessageStreamToResponse` writes for "Hello, world!" (the SDK's
# inline snapshot, stream-text.test.ts), byte for byte.
SDK_STREAM = (
    b'data: {"type":"start"}\n\n'
    b'data: {"type":"start-step"}\n\n'
    b'data: {"type":"text-start","id":"1"}\n\n'
    b'data: {"type":"text-delta","id":"1","delta":"Hello"}\n\n'
    b'data: {"type":"text-delta","id":"1","delta":", "}\n\n'
    b'data: {"type":"text-delta","id":"1","delta":"world!"}\n\n'
    b'data: {"type":"text-end","id":"1"}\n\n'
    b'data: {"type":"finish-step"}\n\n'
    b'data: {"type":"finish","finishReason":"stop"}\n\n'
    b"data: [DONE]\n\n"
)


def _encode(encoder: UIStreamEncoder | DataStreamEncoder, events: list[Event]) -> bytes:
    return b"".join(encoder.encode(event) for event in events)


def _parts(data: bytes) -> list[Any]:
    decoder = SSEDecoder()
    return [e.data if e.data == "[DONE]" else json.loads(e.data) for e in decoder.feed(data)]


def _body(messages: list[dict[str, Any]], **extra: Any) -> bytes:
    return json.dumps({"id": "chat1", "messages": messages, "trigger": "submit-message", **extra}).encode()


USER = {"id": "u1", "role": "user", "parts": [{"type": "text", "text": "hi"}]}


def test_the_text_stream_is_the_sdks_own_byte_for_byte() -> None:
    events: list[Event] = [
        RoleStart(),
        BlockStart("text", 1),
        TextDelta("Hello"),
        TextDelta(", "),
        TextDelta("world!"),
        BlockEnd(1),
        Finish("stop"),
        Usage(3, 3),
        StreamEnd(),
    ]
    assert _encode(UIStreamEncoder(message_id=None), events) == SDK_STREAM


def test_start_carries_the_message_id() -> None:
    data = UIStreamEncoder(message_id="msg-abc").encode(RoleStart())
    assert data == b'data: {"type":"start","messageId":"msg-abc"}\n\ndata: {"type":"start-step"}\n\n'


def test_a_tool_call_streams_its_input_then_the_parsed_input() -> None:
    events: list[Event] = [
        RoleStart(),
        BlockStart("tool_call", 0, id="call_1", name="get_weather"),
        TextDelta('{"city":'),
        TextDelta('"Paris"}'),
        BlockEnd(0),
        Finish("tool_calls"),
        StreamEnd(),
    ]
    parts = _parts(_encode(UIStreamEncoder(message_id="m"), events))
    assert parts[2:] == [
        {"type": "tool-input-start", "toolCallId": "call_1", "toolName": "get_weather"},
        {"type": "tool-input-delta", "toolCallId": "call_1", "inputTextDelta": '{"city":'},
        {"type": "tool-input-delta", "toolCallId": "call_1", "inputTextDelta": '"Paris"}'},
        {
            "type": "tool-input-available",
            "toolCallId": "call_1",
            "toolName": "get_weather",
            "input": {"city": "Paris"},
        },
        {"type": "finish-step"},
        {"type": "finish", "finishReason": "tool-calls"},
        "[DONE]",
    ]


def test_arguments_that_are_no_json_are_a_tool_input_error() -> None:
    encoder = UIStreamEncoder(message_id="m")
    encoder.encode(BlockStart("tool_call", 0, id="c", name="f"))
    encoder.encode(TextDelta('{"city": "Par'))
    (part,) = _parts(encoder.encode(BlockEnd(0)))
    assert part["type"] == "tool-input-error" and part["input"] == '{"city": "Par' and part["errorText"]


def test_reasoning_parts_then_text_each_with_its_block_id() -> None:
    events: list[Event] = [
        RoleStart(),
        BlockStart("reasoning", 0),
        TextDelta("Hmm."),
        BlockEnd(0),
        BlockStart("text", 1),
        TextDelta("Yes."),
        BlockEnd(1),
    ]
    parts = _parts(_encode(UIStreamEncoder(message_id="m"), events))
    assert parts[2:] == [
        {"type": "reasoning-start", "id": "0"},
        {"type": "reasoning-delta", "id": "0", "delta": "Hmm."},
        {"type": "reasoning-end", "id": "0"},
        {"type": "text-start", "id": "1"},
        {"type": "text-delta", "id": "1", "delta": "Yes."},
        {"type": "text-end", "id": "1"},
    ]


@pytest.mark.parametrize(
    ("reason", "sent"),
    [
        ("stop", "stop"),
        ("length", "length"),
        ("tool_calls", "tool-calls"),
        ("content_filter", "content-filter"),
    ],
)
def test_finish_reasons_are_the_sdks(reason: str, sent: str) -> None:
    data = UIStreamEncoder(message_id="m").encode(Finish(reason))
    assert (
        data
        == b'data: {"type":"finish-step"}\n\ndata: {"type":"finish","finishReason":"%s"}\n\n' % sent.encode()
    )


def test_an_error_event_is_an_error_part_and_malformed_is_not_json() -> None:
    encoder = UIStreamEncoder(message_id="m")
    assert encoder.encode(StreamError("boom")) == b'data: {"type":"error","errorText":"boom"}\n\n'
    assert encoder.encode(Malformed('{"type":"text-')) == b'data: {"type":"text-\n\n'


def test_text_is_raw_utf8_as_json_stringify_writes_it() -> None:
    encoder = UIStreamEncoder(message_id="m")
    encoder.encode(BlockStart("text", 0))
    assert (
        encoder.encode(TextDelta("héllo \u2028"))
        == 'data: {"type":"text-delta","id":"0","delta":"héllo \u2028"}\n\n'.encode()
    )


def test_the_data_stream_protocol_lines() -> None:
    events: list[Event] = [
        RoleStart(),
        BlockStart("reasoning", 0),
        TextDelta("Hm"),
        BlockEnd(0),
        BlockStart("text", 1),
        TextDelta("example"),
        BlockEnd(1),
        BlockStart("tool_call", 2, id="call-123", name="my-tool"),
        TextDelta('{"some":"argument"}'),
        BlockEnd(2),
        Finish("tool_calls"),
        Usage(10, 3),
        StreamEnd(),
    ]
    data = _encode(DataStreamEncoder(message_id="step_123", prompt_tokens=10), events)
    assert data.decode().splitlines() == [
        'f:{"messageId":"step_123"}',
        'g:"Hm"',
        '0:"example"',
        'b:{"toolCallId":"call-123","toolName":"my-tool"}',
        'c:{"toolCallId":"call-123","argsTextDelta":"{\\"some\\":\\"argument\\"}"}',
        '9:{"toolCallId":"call-123","toolName":"my-tool","args":{"some":"argument"}}',
        'e:{"finishReason":"tool-calls","usage":{"promptTokens":10,"completionTokens":3},"isContinued":false}',
        'd:{"finishReason":"tool-calls","usage":{"promptTokens":10,"completionTokens":3}}',
    ]
    assert DataStreamEncoder(message_id="m", prompt_tokens=0).encode(StreamError("boom")) == b'3:"boom"\n'


def test_the_route_and_its_protocols() -> None:
    assert FORMATS["/api/chat"] is UI_STREAM
    assert format_for("/api/chat") is UI_STREAM
    assert format_for("/api/chat", b"protocol=data") is DATA_STREAM
    assert format_for("/api/chat", b"protocol=data-v1") is DATA_STREAM
    refusing = format_for("/api/chat", b"protocol=v9")
    assert refusing is not None
    with pytest.raises(RequestError, match="'v9' is not a protocol") as raised:
        refusing.parse_request(_body([USER]), {})
    assert raised.value.status == 400
    assert format_for("/v1/chat/completions", b"protocol=data") is FORMATS["/v1/chat/completions"]


@pytest.mark.parametrize(
    ("path", "chat_id"),
    [
        ("/api/chat/abc/stream", "abc"),
        ("/api/chat//stream", None),
        ("/api/chat/a/b/stream", None),
        ("/api/chat", None),
    ],
)
def test_the_resume_path(path: str, chat_id: str | None) -> None:
    assert resume_chat_id(path) == chat_id


def test_a_use_chat_body_is_the_neutral_conversation() -> None:
    request = parse_chat_request(
        _body(
            [
                {"id": "s", "role": "system", "parts": [{"type": "text", "text": "Be brief."}]},
                {
                    "id": "u",
                    "role": "user",
                    "parts": [{"type": "text", "text": "Weather"}, {"type": "text", "text": "?"}],
                },
            ],
            model="gpt-4o",
            maxOutputTokens=5,
        )
    )
    assert request.messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather?"},
    ]
    assert request.model == "gpt-4o" and request.stream and request.max_tokens == 5
    assert request.resume_key == "chat1"


def test_an_assistant_message_is_one_message_per_step_and_its_tool_results() -> None:
    assistant = {
        "id": "a1",
        "role": "assistant",
        "parts": [
            {"type": "step-start"},
            {"type": "text", "text": "Checking."},
            {
                "type": "tool-get_weather",
                "toolCallId": "call_1",
                "state": "output-available",
                "input": {"city": "Paris"},
                "output": {"weather": "sunny"},
            },
            {"type": "step-start"},
            {
                "type": "dynamic-tool",
                "toolName": "lookup",
                "toolCallId": "call_2",
                "state": "output-error",
                "input": {},
                "errorText": "no such city",
            },
        ],
    }
    request = parse_chat_request(_body([USER, assistant]))
    assert request.messages[1:] == [
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"weather":"sunny"}'},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"id": "call_2", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_2", "content": "no such city"},
    ]
    # Turns and {tool_result} read it as they read Chat's conversation.
    assert last_tool_name(request.messages) == "lookup"
    assert last_tool_result(request.messages) == "no such city"


def test_turns_follow_the_steps_of_a_continued_message() -> None:
    scenario = scenario_from_dict(
        {
            "name": "agent",
            "turns": [
                {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
                {"content": {"text": "It is {tool_result}."}},
            ],
        }
    )
    call = {
        "type": "tool-get_weather",
        "toolCallId": "c1",
        "state": "output-available",
        "input": {},
        "output": "sunny",
    }
    continued = {"id": "a1", "role": "assistant", "parts": [{"type": "step-start"}, call]}
    request = parse_chat_request(_body([USER, continued]))
    assert turn_index(scenario, request.messages) == 1
    plan = plan_stream(request, scenario, format=UI_STREAM, header_seed=1)
    assert plan.text == "It is sunny."


def test_a_continued_message_keeps_its_id() -> None:
    continued = {"id": "a1", "role": "assistant", "parts": [{"type": "text", "text": "so far"}]}
    scenario = scenario_from_dict({"name": "x", "content": {"text": "ok"}})
    plan = plan_stream(
        parse_chat_request(_body([USER, continued])), scenario, format=UI_STREAM, header_seed=1
    )
    assert b'"messageId":"a1"' in b"".join(f.data for f in plan.frames())
    fresh = plan_stream(parse_chat_request(_body([USER])), scenario, format=UI_STREAM, header_seed=1)
    assert b'"messageId":"msg-' in b"".join(f.data for f in fresh.frames())


def test_an_ai_sdk_4_message_with_content_is_read() -> None:
    request = parse_chat_request(json.dumps({"messages": [{"role": "user", "content": "hello"}]}).encode())
    assert request.messages == [{"role": "user", "content": "hello"}] and request.resume_key is None


@pytest.mark.parametrize(
    ("body", "names"),
    [
        (b"{", "not valid JSON"),
        (b"[]", "must be a JSON object"),
        (b"{}", "messages: required"),
        (b'{"messages": {}}', "messages: must be a list"),
        (b'{"messages": []}', "at least one message"),
        (b'{"messages": [1]}', "messages.0: must be an object"),
        (b'{"messages": [{"role": "tool", "parts": []}]}', "messages.0.role"),
        (b'{"messages": [{"role": "user"}]}', "messages.0.parts"),
        (b'{"messages": [{"role": "user", "parts": "hi"}]}', "messages.0.parts: must be a list"),
        (b'{"messages": [{"role": "user", "parts": [{"text": "hi"}]}]}', "messages.0.parts.0.type"),
        (
            b'{"messages": [{"role": "user", "parts": [{"type": "text", "text": 1}]}]}',
            "messages.0.parts.0.text",
        ),
        (b'{"messages": [{"role": "assistant", "parts": [{"type": "tool-x"}]}]}', "toolCallId"),
        (b'{"messages": [{"role": "assistant", "parts": [{"type": "dynamic-tool"}]}]}', "toolName"),
        (b'{"id": 3, "messages": []}', "id: the chat's id"),
        (b'{"trigger": "send", "messages": []}', "trigger: must be one of"),
        (b'{"model": "", "messages": []}', "model: must be"),
        (b'{"maxOutputTokens": 0, "messages": []}', "maxOutputTokens"),
    ],
)
def test_bad_bodies_are_400s_that_say_what_is_wrong(body: bytes, names: str) -> None:
    with pytest.raises(RequestError) as raised:
        parse_chat_request(body)
    assert raised.value.status == 400 and names in raised.value.message
    answer = UI_STREAM.error(raised.value, "req_1")
    assert answer.status == 400 and names in answer.body["error"]["message"]


def test_the_reader_reads_the_encoders_stream_back() -> None:
    decoder = SSEDecoder()
    read = UI_STREAM.reader()
    events = [
        e
        for sse in decoder.feed(SDK_STREAM + b'data: {"type":"error","errorText":"x"}\n\ndata: {oops\n\n')
        for e in read(sse)
    ]
    assert events == [
        RoleStart(),
        TextDelta("Hello"),
        TextDelta(", "),
        TextDelta("world!"),
        Finish("stop"),
        StreamEnd(),
        StreamError("x"),
        Malformed("{oops"),
    ]
    with pytest.raises(NotImplementedError, match="not SSE"):
        DATA_STREAM.reader()
    assert read_ui_event(next(iter(SSEDecoder().feed(b'data: {"type":"tool-input-delta"}\n\n')))) == (
        TextDelta(""),
    )


def test_a_replay_without_ids_is_the_same_frames_earlier() -> None:
    frames = [Frame(0.1, b'0:"a"\n'), Frame(0.5, b'0:"b"\n')]
    out = list(number_events(iter(frames), ResumePoint("s", offset_s=0.3, ids=False)))
    assert [(f.due, f.data) for f in out] == [(0.0, b'0:"a"\n'), (pytest.approx(0.2), b'0:"b"\n')]
    sse = [Frame(0.1, b"data: 1\n\ndata: 2\n\n")]
    (kept,) = number_events(iter(sse), ResumePoint("s", after=0, ids=False))
    assert kept.data == b"data: 2\n\n"


def test_chat_streams_keep_the_newest_chats() -> None:
    chats = ChatStreams(max_entries=2)
    for n in range(3):
        chats.put(f"c{n}", f"s{n}", UI_STREAM)
    chats.put("c1", "s9", UI_STREAM)
    assert chats.get("c0") is None and chats.get("c1") == ("s9", UI_STREAM) and len(chats) == 2


def test_ids_are_drawn_in_a_fixed_order() -> None:
    request = parse_chat_request(_body([USER]))
    first = UI_STREAM.open_stream(request, random.Random(7), now=None, prompt_tokens=1, ascii_only=False)
    again = UI_STREAM.open_stream(request, random.Random(7), now=None, prompt_tokens=1, ascii_only=False)
    assert first.request_id == again.request_id
    assert (UI_STREAM.tool_call_id(random.Random(1)) or "").startswith("call_")
