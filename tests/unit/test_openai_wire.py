"""The OpenAI Chat Completions encoder, pinned byte for byte (wire.md §1.3), and request validation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fakellm.errors import RequestError
from fakellm.events import (
    BlockEnd,
    BlockStart,
    Finish,
    Hold,
    Malformed,
    RoleStart,
    StreamEnd,
    StreamError,
    TextDelta,
    Usage,
)
from fakellm.wire.openai import OpenAIChatEncoder, parse_chat_request
from fakellm.wire.sse import encode_sse

ID = "chatcmpl-D8Z5oo6uDh67AD85p73ksdT1KxhE0"
HEAD = (
    'data: {"id":"chatcmpl-D8Z5oo6uDh67AD85p73ksdT1KxhE0","object":"chat.completion.chunk",'
    '"created":1770933892,"model":"gpt-4.1-nano","service_tier":"default",'
    '"system_fingerprint":"fp_de604bd877","choices":'
)
USAGE_JSON = (
    '{"prompt_tokens":16,"completion_tokens":300,"total_tokens":316,'
    '"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},'
    '"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,'
    '"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}'
)


def encoder(*, include_usage: bool = False, model: str = "gpt-4.1-nano", **kw: Any) -> OpenAIChatEncoder:
    return OpenAIChatEncoder(
        id=ID,
        created=1770933892,
        model=model,
        system_fingerprint="fp_de604bd877",
        include_usage=include_usage,
        **kw,
    )


def chunk(choices: str, *, usage: bool) -> bytes:
    return (HEAD + choices + (',"usage":null}' if usage else "}") + "\n\n").encode()


def opened(enc: OpenAIChatEncoder, event: Any) -> bytes:
    """An event's bytes; the role chunk waits for the block after it (a text block here)."""
    data = enc.encode(event)
    return data + enc.encode(BlockStart("text", 0)) if isinstance(event, RoleStart) else data


@pytest.mark.parametrize("usage", [False, True], ids=["no-usage", "include-usage"])
@pytest.mark.parametrize(
    ("event", "choices"),
    [
        (
            RoleStart(),
            '[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},'
            '"logprobs":null,"finish_reason":null}]',
        ),
        (TextDelta("**"), '[{"index":0,"delta":{"content":"**"},"logprobs":null,"finish_reason":null}]'),
        (
            TextDelta(" Holiday"),
            '[{"index":0,"delta":{"content":" Holiday"},"logprobs":null,"finish_reason":null}]',
        ),
        (
            TextDelta('say "hi"\n\\'),
            '[{"index":0,"delta":{"content":"say \\"hi\\"\\n\\\\"},"logprobs":null,"finish_reason":null}]',
        ),
        (
            TextDelta("\u2014caf\u00e9 \U0001f600"),
            '[{"index":0,"delta":{"content":"\\u2014caf\\u00e9 \\ud83d\\ude00"},'
            '"logprobs":null,"finish_reason":null}]',
        ),
        (Finish("stop"), '[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]'),
        (Finish("length"), '[{"index":0,"delta":{},"logprobs":null,"finish_reason":"length"}]'),
    ],
    ids=["role", "token", "token-with-space", "escapes", "non-ascii", "finish-stop", "finish-length"],
)
def test_chunk_bytes(event: Any, choices: str, usage: bool) -> None:
    assert opened(encoder(include_usage=usage), event) == chunk(choices, usage=usage)


def test_usage_chunk_has_empty_choices_and_the_usage_object() -> None:
    data = encoder(include_usage=True).encode(Usage(prompt_tokens=16, completion_tokens=300))
    assert data == (HEAD + '[],"usage":' + USAGE_JSON + "}\n\n").encode()


def test_done_sentinel() -> None:
    assert encoder().encode(StreamEnd()) == b"data: [DONE]\n\n"


def test_error_event_has_all_four_keys() -> None:
    data = encoder().encode(StreamError("boom"))
    assert data == b'data: {"error":{"message":"boom","type":"server_error","param":null,"code":null}}\n\n'


def test_malformed_payload_is_sent_as_is() -> None:
    assert encoder().encode(Malformed('{"id":"chat')) == b'data: {"id":"chat\n\n'


def test_hold_encodes_to_nothing() -> None:
    assert encoder().encode(Hold()) == b""


def test_the_real_capture_sequence() -> None:
    """wire.md §1.3: role, tokens, finish with delta {}, usage with choices [], [DONE]; every chunk
    carries "usage":null except the usage chunk."""
    enc = encoder(include_usage=True)
    events = [
        RoleStart(),
        TextDelta("**"),
        TextDelta("Holiday"),
        Finish("stop"),
        Usage(16, 300),
        StreamEnd(),
    ]
    body = b"".join(enc.encode(e) for e in events)
    frames = body.split(b"\n\n")
    assert frames[-1] == b""
    frames = frames[:-1]
    assert frames[-1] == b"data: [DONE]"
    payloads = [json.loads(f.removeprefix(b"data: ")) for f in frames[:-1]]
    assert [list(p) for p in payloads] == [
        ["id", "object", "created", "model", "service_tier", "system_fingerprint", "choices", "usage"]
    ] * 5
    assert [p["usage"] is None for p in payloads] == [True, True, True, True, False]
    assert payloads[-1]["choices"] == []
    assert payloads[3]["choices"][0]["delta"] == {}
    assert b" " not in body.replace(b"data: ", b"")  # compact JSON: no spaces anywhere


def test_model_is_escaped_like_everything_else() -> None:
    enc = encoder(model='mödel"x')
    assert enc.encode(StreamEnd()) == b"data: [DONE]\n\n"
    assert b'"model":"m\\u00f6del\\"x"' in enc.encode(TextDelta("a"))


def test_ascii_only_false_writes_utf8() -> None:
    data = encoder(ascii_only=False).encode(TextDelta("café"))
    assert '"content":"café"'.encode() in data


def test_content_type() -> None:
    assert encoder().content_type.split(";")[0] == "text/event-stream"


def test_unknown_event_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        encoder().encode(object())  # type: ignore[arg-type]


def test_completion_object_key_order_and_values() -> None:
    body = encoder().completion("Hello there", "length", Usage(10, 2))
    assert json.dumps(body, separators=(",", ":")) == (
        '{"id":"chatcmpl-D8Z5oo6uDh67AD85p73ksdT1KxhE0","object":"chat.completion","created":1770933892,'
        '"model":"gpt-4.1-nano","choices":[{"index":0,"message":{"role":"assistant",'
        '"content":"Hello there","refusal":null,"annotations":[]},"logprobs":null,'
        '"finish_reason":"length"}],"usage":{"prompt_tokens":10,"completion_tokens":2,"total_tokens":12,'
        '"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":'
        '{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,'
        '"rejected_prediction_tokens":0}},"service_tier":"default","system_fingerprint":"fp_de604bd877"}'
    )


# --------------------------------------------------------------------------------------------------
# Request validation

MESSAGES = [{"role": "user", "content": "Hi"}]


def body(**kw: Any) -> bytes:
    data: dict[str, Any] = {"model": "gpt-4o", "messages": MESSAGES}
    data.update(kw)
    return json.dumps({k: v for k, v in data.items() if v is not ...}).encode()


def test_valid_request_fields() -> None:
    request = parse_chat_request(
        body(stream=True, max_tokens=50, max_completion_tokens=20, stream_options={"include_usage": True})
    )
    assert request.model == "gpt-4o"
    assert request.messages == MESSAGES
    assert request.stream is True
    assert request.max_tokens == 20  # the smaller of the two limits
    assert request.include_usage is True


@pytest.mark.parametrize(
    ("raw", "param", "code"),
    [
        (b"{not json", None, "invalid_json"),
        (b"", None, "invalid_json"),
        (b"\xff\xfe", None, "invalid_json"),
        (b"[]", None, "invalid_type"),
        (b'"text"', None, "invalid_type"),
        (body(model=...), "model", "missing_required_parameter"),
        (body(model=5), "model", "invalid_type"),
        (body(model=""), "model", "invalid_type"),
        (body(messages=...), "messages", "missing_required_parameter"),
        (body(messages=[]), "messages", "empty_array"),
        (body(messages="hi"), "messages", "invalid_type"),
        (body(messages=["hi"]), "messages[0]", "invalid_type"),
        (body(messages=[{"content": "x"}]), "messages[0].role", "invalid_value"),
        (body(messages=[{"role": "wizard", "content": "x"}]), "messages[0].role", "invalid_value"),
        (body(messages=[{"role": "user", "content": 5}]), "messages[0].content", "invalid_type"),
        (body(stream="yes"), "stream", "invalid_type"),
        (body(stream=1), "stream", "invalid_type"),
        (body(max_tokens=-1), "max_tokens", "integer_below_min_value"),
        (body(max_tokens=0), "max_tokens", "integer_below_min_value"),
        (body(max_tokens=1.5), "max_tokens", "invalid_type"),
        (body(max_tokens=True), "max_tokens", "invalid_type"),
        (body(max_completion_tokens="9"), "max_completion_tokens", "invalid_type"),
        (body(n=0), "n", "integer_below_min_value"),
        (body(n=-1), "n", "integer_below_min_value"),
        (body(n=129), "n", "integer_above_max_value"),
        (body(n="x"), "n", "invalid_type"),
        (body(n=1.5), "n", "invalid_type"),
        (body(n=True), "n", "invalid_type"),
        (body(stream=True, stream_options=[]), "stream_options", "invalid_type"),
        (body(stream_options={"include_usage": True}), "stream_options", "invalid_value"),
        (
            body(stream=True, stream_options={"include_usage": "yes"}),
            "stream_options.include_usage",
            "invalid_type",
        ),
    ],
)
def test_invalid_requests(raw: bytes, param: str | None, code: str) -> None:
    with pytest.raises(RequestError) as info:
        parse_chat_request(raw)
    error = info.value
    assert error.status == 400
    assert (error.param, error.code) == (param, code)
    assert error.body()["error"]["type"] == "invalid_request_error"
    assert error.message


@pytest.mark.parametrize("extra", [{"n": 1}, {"n": None}, {"stream": None}, {"temperature": 0.2}])
def test_accepted_variants(extra: dict[str, Any]) -> None:
    assert parse_chat_request(body(**extra)).stream is False


# ---------------------------------------------------------------------------------------------------
# One SSE writer: the precomputed frames are what wire/sse.py's encode_sse writes for the same JSON


@pytest.mark.parametrize("ascii_only", [True, False])
@pytest.mark.parametrize("usage", [False, True])
@pytest.mark.parametrize(
    "event",
    [
        TextDelta("Hello"),
        TextDelta('qu"ote\\ \n café 🎉'),
        TextDelta("\ud800"),
        RoleStart(),
        Finish("stop"),
        Usage(3, 4),
        StreamError("bad\nnews"),
        StreamEnd(),
    ],
    ids=repr,
)
def test_every_frame_equals_encode_sse_of_its_json(event: Any, usage: bool, ascii_only: bool) -> None:
    frame = opened(encoder(include_usage=usage, ascii_only=ascii_only), event)
    assert frame.startswith(b"data: ") and frame.endswith(b"\n\n") and frame.count(b"\n") == 2
    data = frame[len(b"data: ") : -2].decode("utf-8")
    if data != "[DONE]":
        json.loads(data)  # one line of valid JSON, whatever the text held
    assert frame == encode_sse(data)


def test_a_malformed_payload_with_line_ends_stays_one_event() -> None:
    # Every line of the payload gets its own data: field (written raw, the second line would be a
    # field named by its text, and the event would lose it).
    assert encoder().encode(Malformed("{\n")) == b"data: {\ndata: \n\n"


# -- tool calls ---------------------------------------------------------------------------------------

CAPTURE = Path(__file__).resolve().parents[2] / "fixtures" / "recorded" / "openai-tool-call.json"


def test_a_tool_call_is_framed_as_the_captured_stream() -> None:
    """wire.md §1.4 (the openai SDK's recorded stream, fixtures/recorded/openai-tool-call.json):
    the role chunk carries the call's head with content null; each fragment then carries only its
    index and arguments; the finish has an empty delta. Byte for byte, apart from service_tier
    (the 2024 capture predates it)."""
    doc = json.loads(CAPTURE.read_text())
    chunks = [e["chunk"] for e in doc["events"] if "chunk" in e]
    first = chunks[0]
    head = first["choices"][0]["delta"]["tool_calls"][0]
    fragments = [c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"] for c in chunks[1:-2]]
    enc = OpenAIChatEncoder(
        id=first["id"],
        created=first["created"],
        model=first["model"],
        system_fingerprint=first["system_fingerprint"],
        include_usage=True,
    )
    events = [
        RoleStart(),
        BlockStart("tool_call", 0, id=head["id"], name=head["function"]["name"]),
        *(TextDelta(f) for f in fragments),
        BlockEnd(0),
        Finish("tool_calls"),
    ]
    ours = [
        json.loads(frame.removeprefix(b"data: "))
        for frame in b"".join(enc.encode(e) for e in events).split(b"\n\n")
        if frame
    ]
    for chunk in ours:
        assert chunk.pop("service_tier") == "default"
    assert ours == [dict(c, usage=None) for c in chunks[:-1]]
    raw = [json.dumps(c, separators=(",", ":")) for c in ours]
    assert raw[0].count('"id"') == 2 and all('"id":"call_' not in r for r in raw[1:])


def test_a_tool_call_after_text_and_a_second_call_get_their_own_indexes() -> None:
    enc = encoder()
    events = [
        RoleStart(),
        BlockStart("text", 0),
        TextDelta("Let me check."),
        BlockEnd(0),
        BlockStart("tool_call", 1, id="call_a", name="get_weather"),
        TextDelta('{"city":'),
        TextDelta('"Paris"}'),
        BlockEnd(1),
        BlockStart("tool_call", 2, id="call_b", name="get_time"),
        TextDelta("{}"),
        BlockEnd(2),
        Finish("tool_calls"),
    ]
    deltas = [
        json.loads(f.removeprefix(b"data: "))["choices"][0]["delta"]
        for f in b"".join(enc.encode(e) for e in events).split(b"\n\n")
        if f
    ]
    assert deltas[0] == {"role": "assistant", "content": "", "refusal": None}
    assert deltas[1] == {"content": "Let me check."}
    assert deltas[2] == {
        "tool_calls": [
            {
                "index": 0,
                "id": "call_a",
                "type": "function",
                "function": {"name": "get_weather", "arguments": ""},
            }
        ]
    }
    assert deltas[3] == {"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}
    assert deltas[5]["tool_calls"][0]["index"] == 1 and deltas[5]["tool_calls"][0]["id"] == "call_b"
    assert deltas[6] == {"tool_calls": [{"index": 1, "function": {"arguments": "{}"}}]}
    assert deltas[7] == {}


def test_a_later_choice_has_the_same_chunks_as_choice_0_with_its_index() -> None:
    """wire2 §4.2 (n=3): each chunk one choice; each choice its own role chunk and finish chunk.
    Choice 0's bytes are what they are with one choice."""
    usage = True
    enc, alone = encoder(include_usage=usage), encoder(include_usage=usage)
    for number in (0, 1, 2):
        role = f'[{{"index":{number},"delta":{{"role":"assistant","content":"","refusal":null}},'
        role += '"logprobs":null,"finish_reason":null}]'
        token = f'[{{"index":{number},"delta":{{"content":"Hi"}},"logprobs":null,"finish_reason":null}}]'
        assert enc.encode(RoleStart(choice=number)) == b""
        assert enc.encode(BlockStart("text", 0, choice=number)) == chunk(role, usage=usage)
        assert enc.encode(TextDelta("Hi", number)) == chunk(token, usage=usage)
        if number == 0:
            assert alone.encode(RoleStart()) + alone.encode(BlockStart("text", 0)) == chunk(role, usage=usage)
    for number in (0, 1, 2):
        assert enc.encode(BlockEnd(0, number)) == b""
        finish = f'[{{"index":{number},"delta":{{}},"logprobs":null,"finish_reason":"stop"}}]'
        assert enc.encode(Finish("stop", number)) == chunk(finish, usage=usage)
    assert enc.encode(TextDelta("a", 0)) == alone.encode(TextDelta("a"))  # choice 0's template unchanged


def test_a_later_choice_never_carries_a_tool_call() -> None:
    enc = encoder()
    enc.encode(RoleStart(choice=1))
    with pytest.raises(TypeError):
        enc.encode(BlockStart("tool_call", 0, choice=1, id="call_x", name="f"))


def test_completion_choices_lists_every_choice() -> None:
    body = encoder().completion_choices([("a", "stop"), ("b c", "length")], Usage(3, 3))
    assert [(c["index"], c["message"]["content"], c["finish_reason"]) for c in body["choices"]] == [
        (0, "a", "stop"),
        (1, "b c", "length"),
    ]
    assert body["usage"]["completion_tokens"] == 3 and list(body) == list(
        encoder().completion("a", "stop", Usage(3, 1))
    )


@pytest.mark.parametrize("n", [1, 2, 128])
def test_n_within_bounds_is_kept(n: int) -> None:
    request = parse_chat_request(body(n=n))
    assert (request.n, request.choices) == (n, n)
