"""The OpenAI Responses format module (``wire/openai_responses.py``): its bytes pinned against three
real captures, its reader on the same captures, request validation, and the official
openai SDK's helpers (3.x, through httpx2) reading what the encoder writes, sync and async.

Captures (``fixtures/wire/``, SSE framing re-added as the wire frames it, wire2.md §1.1):
``openai-responses-text.sse`` is wire2.md §1.2 (vercel/ai ``openai-reasoning-encrypted-content.1
.chunks.txt`` lines 95-110); ``openai-responses-error.sse`` is vercel/ai ``openai-error.1.chunks.txt``
(W1 §3.3); ``openai-responses-function-call.sse`` is the same conversation's second turn (lines
57-75: a function call alone, wire2.md §1.3). The only field compared after normalising is
``obfuscation``: random padding, compared by length (the length rule is the format's; the letters
cannot be reproduced).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import openai
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
    Verbatim,
)
from fakellm.faults import order_faults, parse_fault_spec
from fakellm.pipeline import compose, schedule
from fakellm.scenario import Timing
from fakellm.stream import StreamContext
from fakellm.tools import PlannedCall
from fakellm.wire.openai_responses import (
    RESPONSES,
    OpenAIResponsesEncoder,
    encoder_for,
    error_body,
    error_headers,
    finish_reason_of,
    finish_status,
    item_ids,
    new_ids,
    parse_responses_request,
    read_event,
)
from fakellm.wire.sse import ServerSentEvent, SSEDecoder, encode_sse

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "wire"
TEXT_CAPTURE = (FIXTURES / "openai-responses-text.sse").read_text()
ERROR_CAPTURE = (FIXTURES / "openai-responses-error.sse").read_text()
QUOTA = (
    "You exceeded your current quota, please check your plan and billing details. For more "
    "information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors."
)
_PAD = re.compile(r'"obfuscation":"([A-Za-z0-9]*)"')


def payloads(body: str | bytes) -> list[dict[str, Any]]:
    """Every event's JSON, checking on the way that each ``event:`` line names its JSON ``type``."""
    decoder = SSEDecoder()
    events = decoder.feed(body.encode() if isinstance(body, str) else body)
    out = []
    for sse in events:
        data = json.loads(sse.data)
        assert sse.event == data["type"]
        out.append(data)
    return out


def normalise_pads(body: str) -> str:
    return _PAD.sub(lambda m: '"obfuscation":"' + "x" * len(m.group(1)) + '"', body)


def capture_encoder(**kw: Any) -> tuple[OpenAIResponsesEncoder, list[str]]:
    """The encoder the text capture's stream would have had, and the capture's tokens."""
    events = payloads(TEXT_CAPTURE)
    response = events[0]["response"]
    # What the request set (the rest are the defaults): the AI SDK sent store false and the tools;
    # reasoning and top_p are what the model reported.
    request = {k: response[k] for k in ("reasoning", "store", "tools", "top_p")}
    encoder = OpenAIResponsesEncoder(
        response_id=response["id"],
        message_id=events[2]["item"]["id"],
        created_at=response["created_at"],
        model=response["model"],
        request=request,
        **{"obfuscation": random.Random(7), **kw},
    )
    tokens = [e["delta"] for e in events if e["type"] == "response.output_text.delta"]
    return encoder, tokens


def text_stream(tokens: list[str], *, reason: str = "stop", usage: Usage | None = None) -> list[Event]:
    return [
        RoleStart(),
        BlockStart("text", 0),
        *(TextDelta(t) for t in tokens),
        BlockEnd(0),
        Finish(reason),
        usage or Usage(299, 12),
        StreamEnd(),
    ]


def encode_all(encoder: OpenAIResponsesEncoder, events: list[Event]) -> bytes:
    return b"".join(encoder.encode(e) for e in events)


def encoder(**kw: Any) -> OpenAIResponsesEncoder:
    ids = new_ids(random.Random(5))
    args: dict[str, Any] = {
        "response_id": ids.response_id,
        "message_id": ids.message_id,
        "created_at": ids.created_at,
        "model": "gpt-4.1-nano",
        "obfuscation": random.Random(3),
    }
    return OpenAIResponsesEncoder(**{**args, **kw})


# --------------------------------------------------------------------------------------------------
# Bytes


def test_text_capture_byte_for_byte() -> None:
    enc, tokens = capture_encoder()
    body = encode_all(enc, text_stream(tokens)).decode()
    assert normalise_pads(body) == normalise_pads(TEXT_CAPTURE)
    pads = _PAD.findall(body)
    assert len(pads) == len(tokens) == 8
    for token, pad in zip(tokens, pads, strict=True):
        assert (len(token) + len(pad)) % 16 == 0  # wire2.md §1.2's measured rule
    assert len(set(pads)) > 1  # random, not one fixed string


def test_error_capture_byte_for_byte() -> None:
    """An error before any output: created, in_progress, the nested error, response.failed with
    ``output:[]`` and the requested service tier, and nothing after it."""
    enc = OpenAIResponsesEncoder(
        response_id="resp_05500b38c2cd9bfc00691c7c9d222481a3b595421266dab424",
        message_id="msg_unused",
        created_at=1763474589,
        model="gpt-5-nano-2025-08-07",
        request={"reasoning": {"effort": "medium"}},
    )
    error = StreamError(QUOTA, "insufficient_quota", None, "insufficient_quota")
    body = enc.encode(error) + enc.encode(StreamEnd()) + enc.encode(Hold())
    assert body.decode() == ERROR_CAPTURE


def test_without_obfuscation_the_field_is_absent() -> None:
    enc, tokens = capture_encoder(obfuscation=None)
    body = encode_all(enc, text_stream(tokens)).decode()
    assert body == _PAD.sub("", normalise_pads(TEXT_CAPTURE)).replace(',"logprobs":[],}', ',"logprobs":[]}')


@pytest.mark.parametrize("ascii_only", [True, False], ids=["ascii", "utf8"])
@pytest.mark.parametrize("obfuscate", [True, False], ids=["pad", "no-pad"])
@pytest.mark.parametrize(
    "token",
    ["The", "", " final", 'say "hi"\n\\', "\r\n", "caf\u00e9 \U0001f600", "\u2028x", "a" * 16, "b" * 17],
)
def test_the_precomputed_delta_equals_encode_sse(token: str, ascii_only: bool, obfuscate: bool) -> None:
    enc = encoder(ascii_only=ascii_only, obfuscation=random.Random(1) if obfuscate else None)
    enc.encode(RoleStart())
    enc.encode(BlockStart())
    data = enc.encode(TextDelta(token))
    event = json.loads(SSEDecoder().feed(data)[0].data)
    fields: dict[str, Any] = {
        "type": "response.output_text.delta",
        "sequence_number": 4,
        "item_id": enc.message_id,
        "output_index": 0,
        "content_index": 0,
        "delta": token,
        "logprobs": [],
    }
    if obfuscate:
        fields["obfuscation"] = event["obfuscation"]
        assert (len(token) + len(event["obfuscation"])) % 16 == 0
        assert re.fullmatch("[A-Za-z0-9]*", event["obfuscation"])
    dumped = json.dumps(fields, separators=(",", ":"), ensure_ascii=ascii_only)
    assert data == encode_sse(dumped, event="response.output_text.delta")


def test_sequence_numbers_and_indices_on_every_event() -> None:
    body = encode_all(encoder(), text_stream(["a", "b", "c"]))
    events = payloads(body)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    for e in events[2:-1]:
        assert e["output_index"] == 0
    for e in events[3:-2]:
        assert e["content_index"] == 0
    completed = events[-1]["response"]
    assert completed["output"] == [events[-2]["item"]]
    assert completed["output"][0]["content"][0]["text"] == "abc"
    assert completed["usage"] == {
        "input_tokens": 299,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 12,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 311,
    }
    assert b"[DONE]" not in body


@pytest.mark.parametrize(
    ("reason", "details"), [("length", "max_output_tokens"), ("content_filter", "content_filter")]
)
def test_a_cut_answer_ends_incomplete(reason: str, details: str) -> None:
    events = payloads(encode_all(encoder(), text_stream(["a"], reason=reason)))
    assert events[-2]["item"]["status"] == "incomplete"
    last = events[-1]
    assert last["type"] == "response.incomplete"
    assert last["response"]["status"] == "incomplete"
    assert last["response"]["incomplete_details"] == {"reason": details}
    assert last["response"]["output"][0]["status"] == "incomplete"


def test_tool_calls_finish_completes() -> None:
    events = payloads(encode_all(encoder(), text_stream(["a"], reason="tool_calls")))
    assert events[-1]["type"] == "response.completed"


# --------------------------------------------------------------------------------------------------
# Function calls (wire2.md §1.3)

CALL_CAPTURE = (FIXTURES / "openai-responses-function-call.sse").read_text()


def call_capture_encoder(**kw: Any) -> tuple[OpenAIResponsesEncoder, dict[str, Any], list[str]]:
    """The encoder the function-call capture's stream would have had (its ids, its echo), the
    call's item as the capture's ``output_item.added`` has it, and the argument fragments."""
    events = payloads(CALL_CAPTURE)
    response, item = events[0]["response"], events[2]["item"]
    request = {k: response[k] for k in ("reasoning", "store", "tools", "top_p")}
    encoder = OpenAIResponsesEncoder(
        response_id=response["id"],
        message_id="msg_unused",
        created_at=response["created_at"],
        model=response["model"],
        request=request,
        item_id=lambda kind: item["id"],
        **{"obfuscation": random.Random(7), **kw},
    )
    fragments = [e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta"]
    return encoder, item, fragments


def call_stream(
    item: dict[str, Any], fragments: list[str], *, index: int = 0, reason: str = "tool_calls"
) -> list[Event]:
    return [
        RoleStart(),
        BlockStart("tool_call", index, id=item["call_id"], name=item["name"]),
        *(TextDelta(f) for f in fragments),
        BlockEnd(index),
        Finish(reason),
        Usage(221, 26),
        StreamEnd(),
    ]


def test_a_tool_call_is_framed_as_the_captured_stream() -> None:
    """The capture's second turn (a call alone, nothing before it), event by event and byte for
    byte: the ``function_call`` item added with its ``fc_`` id, ``call_id`` and name; each fragment
    a ``function_call_arguments.delta`` on the item id, padded by the text deltas' rule; the
    arguments' ``.done`` (no name, as captured); the item done; ``completed`` with the call in
    ``output[]``."""
    enc, item, fragments = call_capture_encoder()
    body = encode_all(enc, call_stream(item, fragments)).decode()
    ours, theirs = normalise_pads(body).split("\n\n"), normalise_pads(CALL_CAPTURE).split("\n\n")
    for mine, captured in zip(ours, theirs, strict=True):
        assert mine == captured
    pads = _PAD.findall(body)
    assert len(pads) == len(fragments) == 13
    for fragment, pad in zip(fragments, pads, strict=True):
        assert (len(fragment) + len(pad)) % 16 == 0


def test_the_non_streamed_call_is_what_completed_carries() -> None:
    enc, item, fragments = call_capture_encoder()
    call = PlannedCall(item["call_id"], item["name"], tuple(fragments))
    completed = payloads(CALL_CAPTURE)[-1]["response"]
    assert enc.completion("", "tool_calls", Usage(221, 26), [call]) == completed


def two_calls_after_text() -> list[Event]:
    return [
        RoleStart(),
        BlockStart("text", 0),
        TextDelta("Let me"),
        TextDelta(" check."),
        BlockEnd(0),
        BlockStart("tool_call", 1, id="call_a", name="get_weather"),
        TextDelta('{"city":'),
        TextDelta('"Paris"}'),
        BlockEnd(1),
        BlockStart("tool_call", 2, id="call_b", name="get_time"),
        TextDelta("{}"),
        BlockEnd(2),
        Finish("tool_calls"),
        Usage(5, 6),
        StreamEnd(),
    ]


def test_text_then_two_calls_each_its_own_item() -> None:
    """The message closes (``completed``) before the first call opens; every item has its own
    ``output_index``, every delta names its item; the numbering runs on; ``completed`` lists
    every item in order."""
    enc = encoder()
    events = payloads(encode_all(enc, two_calls_after_text()))
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert [(e["type"].removeprefix("response."), e.get("output_index")) for e in events[2:]] == [
        ("output_item.added", 0),
        ("content_part.added", 0),
        ("output_text.delta", 0),
        ("output_text.delta", 0),
        ("output_text.done", 0),
        ("content_part.done", 0),
        ("output_item.done", 0),
        ("output_item.added", 1),
        ("function_call_arguments.delta", 1),
        ("function_call_arguments.delta", 1),
        ("function_call_arguments.done", 1),
        ("output_item.done", 1),
        ("output_item.added", 2),
        ("function_call_arguments.delta", 2),
        ("function_call_arguments.done", 2),
        ("output_item.done", 2),
        ("completed", None),
    ]
    done = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    assert done[0]["type"] == "message" and done[0]["status"] == "completed"
    first, second = done[1], done[2]
    assert (first["call_id"], first["name"], first["arguments"]) == (
        "call_a",
        "get_weather",
        '{"city":"Paris"}',
    )
    assert (second["call_id"], second["arguments"], second["status"]) == ("call_b", "{}", "completed")
    assert first["id"].startswith("fc_") and first["id"] != second["id"]
    for e in events:
        if e["type"] == "response.function_call_arguments.delta":
            assert e["item_id"] == (first if e["output_index"] == 1 else second)["id"]
            assert "logprobs" not in e and "content_index" not in e
    assert events[-1]["response"]["output"] == done
    assert finish_reason_of(events[-1]["response"]) == "tool_calls"


def test_the_non_streamed_object_has_the_same_items_and_ids() -> None:
    streamed = payloads(encode_all(encoder(), two_calls_after_text()))[-1]["response"]
    calls = [
        PlannedCall("call_a", "get_weather", ('{"city":', '"Paris"}')),
        PlannedCall("call_b", "get_time", ("{}",)),
    ]
    assert encoder().completion("Let me check.", "tool_calls", Usage(5, 6), calls) == streamed


def test_a_call_the_finish_cuts_is_incomplete() -> None:
    enc, item, fragments = call_capture_encoder()
    events = payloads(encode_all(enc, call_stream(item, fragments[:4], reason="length")))
    assert events[-2]["item"]["status"] == "incomplete"
    assert events[-2]["item"]["arguments"] == '{"a":19'
    last = events[-1]
    assert last["type"] == "response.incomplete"
    assert last["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    assert last["response"]["output"] == [events[-2]["item"]]
    body = call_capture_encoder()[0].completion("", "length", Usage(1, 4), [PlannedCall("c", "f", ("{",))])
    assert body["status"] == "incomplete" and body["output"][0]["status"] == "incomplete"


def test_an_error_in_the_arguments_fails_with_the_partial_call() -> None:
    enc = encoder()
    body = encode_all(
        enc,
        [
            RoleStart(),
            BlockStart("tool_call", 0, id="call_a", name="f"),
            TextDelta('{"a"'),
            StreamError("boom"),
        ],
    )
    events = payloads(body)
    assert [e["type"] for e in events[-2:]] == ["error", "response.failed"]
    (call,) = events[-1]["response"]["output"]
    assert (call["type"], call["status"], call["arguments"]) == ("function_call", "incomplete", '{"a"')


@pytest.mark.parametrize("ascii_only", [True, False], ids=["ascii", "utf8"])
@pytest.mark.parametrize("obfuscate", [True, False], ids=["pad", "no-pad"])
@pytest.mark.parametrize("fragment", ['{"', "", 'caf\u00e9"}', "%d%b", "a" * 17])
def test_the_precomputed_argument_delta_equals_encode_sse(
    fragment: str, ascii_only: bool, obfuscate: bool
) -> None:
    enc = encoder(ascii_only=ascii_only, obfuscation=random.Random(1) if obfuscate else None)
    enc.encode(RoleStart())
    added = payloads(enc.encode(BlockStart("tool_call", 3, id="call_%s", name="f")))[0]
    data = enc.encode(TextDelta(fragment))
    event = json.loads(SSEDecoder().feed(data)[0].data)
    fields: dict[str, Any] = {
        "type": "response.function_call_arguments.delta",
        "sequence_number": 3,
        "item_id": added["item"]["id"],
        "output_index": 3,
        "delta": fragment,
    }
    if obfuscate:
        fields["obfuscation"] = event["obfuscation"]
        assert (len(fragment) + len(event["obfuscation"])) % 16 == 0
    dumped = json.dumps(fields, separators=(",", ":"), ensure_ascii=ascii_only)
    assert data == encode_sse(dumped, event="response.function_call_arguments.delta")


def test_item_ids_share_the_response_prefix_and_replay() -> None:
    ids = new_ids(random.Random(42))
    new = item_ids(ids.response_id, ids.created_at)
    first, second = new("fc_"), new("fc_")
    assert re.fullmatch(r"fc_[0-9a-f]{50}", first) and first != second
    assert first[3:29] == ids.response_id[5:31]  # the shared prefix and created_at, as captured
    assert item_ids(ids.response_id, ids.created_at)("fc_") == first
    assert RESPONSES.tool_call_id(random.Random(1)) == RESPONSES.tool_call_id(random.Random(1))
    assert re.fullmatch(r"call_[A-Za-z0-9]{24}", RESPONSES.tool_call_id(random.Random(1)) or "")


def test_reader_on_the_function_call_capture() -> None:
    *deltas, finish, usage, end = read_all(CALL_CAPTURE)
    assert deltas == [TextDelta("")] * 13  # argument fragments are tokens with no text
    assert (finish, usage, end) == (Finish("tool_calls"), Usage(221, 26), StreamEnd())


@pytest.mark.parametrize("then", [[], [StreamEnd()], [Hold()]], ids=["close", "done", "hold"])
def test_a_mid_stream_error_is_error_then_failed(then: list[Event]) -> None:
    enc = encoder()
    body = encode_all(enc, [RoleStart(), TextDelta("Hel"), TextDelta("lo"), StreamError("boom"), *then])
    events = payloads(body)
    assert [e["type"] for e in events[-2:]] == ["error", "response.failed"]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[-2]["error"] == {"type": "server_error", "code": None, "message": "boom", "param": None}
    failed = events[-1]["response"]
    assert failed["status"] == "failed"
    assert failed["error"] == {"code": "server_error", "message": "boom"}
    assert failed["usage"] is None
    assert failed["output"][0]["status"] == "incomplete"
    assert failed["output"][0]["content"][0]["text"] == "Hello"
    # Nothing after the terminal event, whatever comes.
    assert enc.encode(Finish("stop")) == enc.encode(StreamEnd()) == b""


def test_malformed_names_the_event_and_uses_up_a_number() -> None:
    enc = encoder()
    enc.encode(RoleStart())
    enc.encode(BlockStart())
    assert enc.encode(Malformed('{"type":"response.output')) == (
        b'event: response.output_text.delta\ndata: {"type":"response.output\n\n'
    )
    assert json.loads(SSEDecoder().feed(enc.encode(TextDelta("x")))[0].data)["sequence_number"] == 5


def test_events_out_of_order_still_make_a_sequence_the_sdk_accepts() -> None:
    """A token with no RoleStart first opens the response and the message; StreamEnd with no
    Finish closes the message; a second RoleStart sends nothing."""
    enc = encoder()
    body = enc.encode(TextDelta("a")) + enc.encode(RoleStart()) + enc.encode(StreamEnd())
    kinds = [e["type"] for e in payloads(body)]
    assert kinds[:5] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
    ]
    assert kinds[-1] == "response.completed" and len(kinds) == 9


def test_verbatim_is_sent_as_is_and_unknown_events_are_refused() -> None:
    enc = encoder()
    assert enc.encode(Verbatim(b": keep-alive\n\n")) == b": keep-alive\n\n"
    with pytest.raises(TypeError):
        enc.encode(object())  # type: ignore[arg-type]


def test_the_response_echoes_the_request() -> None:
    request = parse_responses_request(
        json.dumps(
            {
                "model": "gpt-4o",
                "input": "hi",
                "instructions": "Be brief.",
                "max_output_tokens": 64,
                "temperature": 0.2,
                "text": {"verbosity": "low"},
                "metadata": {"k": "v"},
                "service_tier": "flex",
            }
        ).encode()
    )
    enc = encoder_for(request, new_ids(random.Random(1)), obfuscation_rng=random.Random(2))
    events = payloads(encode_all(enc, text_stream(["a"])))
    created, completed = events[0]["response"], events[-1]["response"]
    assert created["instructions"] == "Be brief." and created["max_output_tokens"] == 64
    assert created["temperature"] == 0.2 and created["metadata"] == {"k": "v"}
    assert created["text"] == {"format": {"type": "text"}, "verbosity": "low"}
    assert created["service_tier"] == completed["service_tier"] == "flex"
    assert created["model"] == "gpt-4o"
    assert list(created) == list(completed)


def test_service_tier_auto_resolves_to_default_at_the_end() -> None:
    events = payloads(encode_all(encoder(), text_stream(["a"])))
    assert events[0]["response"]["service_tier"] == "auto"
    assert events[-1]["response"]["service_tier"] == "default"


def test_include_obfuscation_false_drops_the_pads() -> None:
    body = {"model": "m", "input": "hi", "stream": True, "stream_options": {"include_obfuscation": False}}
    enc = encoder_for(
        parse_responses_request(json.dumps(body).encode()),
        new_ids(random.Random(1)),
        obfuscation_rng=random.Random(2),
    )
    assert b"obfuscation" not in encode_all(enc, text_stream(["a", "b"]))


def test_the_non_streamed_object_is_what_completed_carries() -> None:
    enc, tokens = capture_encoder()
    completed = payloads(TEXT_CAPTURE)[-1]["response"]
    assert enc.completion("".join(tokens), "stop", Usage(299, 12)) == completed


def test_non_streamed_incomplete() -> None:
    body = encoder().completion("abc", "length", Usage(1, 2))
    assert body["status"] == "incomplete"
    assert body["incomplete_details"] == {"reason": "max_output_tokens"}
    assert body["output"][0]["status"] == "incomplete"


def test_finish_mapping_both_ways() -> None:
    for reason in ("stop", "length", "content_filter"):
        status, incomplete = finish_status(reason)
        details = {"reason": incomplete} if incomplete else None
        assert finish_reason_of({"status": status, "incomplete_details": details, "output": []}) == reason
    assert finish_status("tool_calls") == ("completed", None)
    assert finish_reason_of({"status": "completed", "output": [{"type": "function_call"}]}) == "tool_calls"
    with pytest.raises(ValueError, match="not a finish reason"):
        finish_status("eos")


def test_ids_have_the_captures_shape_and_replay() -> None:
    ids = new_ids(random.Random(42))
    assert ids == new_ids(random.Random(42))
    assert ids != new_ids(random.Random(43))
    for value, prefix in ((ids.response_id, "resp_"), (ids.message_id, "msg_")):
        assert re.fullmatch(prefix + "[0-9a-f]{50}", value)
        digits = value.removeprefix(prefix)
        assert int(digits[18:26], 16) == ids.created_at  # as in the captures
        assert digits[30:32] == "81"
    assert ids.response_id[5:23] == ids.message_id[4:22]  # the shared prefix
    assert 1_735_689_600 <= ids.created_at < 1_767_225_600  # 2025
    now = new_ids(random.Random(42), now=1_800_000_000.7)
    assert now.created_at == 1_800_000_000
    # `now` changes the time only: the random digits are drawn the same.
    assert now.response_id[-24:] == ids.response_id[-24:]


def test_http_error_body_and_headers() -> None:
    assert error_body(429, "Slow down.") == {
        "error": {"message": "Slow down.", "type": "requests", "param": None, "code": None}
    }
    assert error_body(400, "Bad.", param="input")["error"]["type"] == "invalid_request_error"
    assert error_body(529, "Busy.")["error"]["type"] == "server_error"
    assert error_body(504, "Late.")["error"]["type"] == "timeout"
    assert error_body(500, "x", type="custom", code="c")["error"] == {
        "message": "x",
        "type": "custom",
        "param": None,
        "code": "c",
    }
    assert error_headers("req_1")["x-request-id"] == "req_1"


# --------------------------------------------------------------------------------------------------
# Reading events back


def read_all(body: str | bytes) -> list[Event]:
    decoder = SSEDecoder()
    events = decoder.feed(body.encode() if isinstance(body, str) else body)
    return [event for sse in events for event in read_event(sse)]


def test_reader_on_the_text_capture() -> None:
    events = read_all(TEXT_CAPTURE)
    *deltas, finish, usage, end = events
    assert "".join(d.text for d in deltas if isinstance(d, TextDelta)) == "The final result is **570**."
    assert all(type(d) is TextDelta for d in deltas) and len(deltas) == 8
    assert (finish, usage, end) == (Finish("stop"), Usage(299, 12), StreamEnd())


def test_reader_on_the_error_capture() -> None:
    assert read_all(ERROR_CAPTURE) == [
        StreamError(QUOTA, "insufficient_quota", None, "insufficient_quota"),
        StreamEnd(),
    ]


def test_reader_on_function_call_arguments() -> None:
    """wire2.md §1.3 (verbatim lines): an argument fragment is a token with no text."""
    line = (
        '{"type":"response.function_call_arguments.delta","sequence_number":41,"item_id":'
        '"fc_01830d662ab3856501693c32151234819091cfca267e98cc5f","output_index":1,"delta":"a",'
        '"obfuscation":"HKZ10wAgZXjkicL"}'
    )
    added = (
        '{"type":"response.output_item.added","sequence_number":39,"output_index":1,"item":{"id":'
        '"fc_01830d662ab3856501693c32151234819091cfca267e98cc5f","type":"function_call","status":'
        '"in_progress","arguments":"","call_id":"call_AB6AaRZ1FYZB2RwS6A5vbdqn","name":"calculator"}}'
    )
    assert read_event(ServerSentEvent(line, "response.function_call_arguments.delta")) == (TextDelta(""),)
    assert read_event(ServerSentEvent(added, "response.output_item.added")) == ()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("[DONE]", (StreamEnd(),)),
        ('{"type":"error","code":"c","message":"flat","param":null,"sequence_number":3}', None),
        ("not json", ()),
        ("[1,2]", ()),
        ('{"type":"response.refusal.delta","delta":"No."}', (TextDelta("No."),)),
        (
            '{"type":"response.incomplete","response":{"status":"incomplete",'
            '"incomplete_details":{"reason":"max_output_tokens"},"usage":null}}',
            (Finish("length"), StreamEnd()),
        ),
    ],
    ids=["done", "flat-error", "not-json", "not-object", "refusal", "incomplete"],
)
def test_reader_edge_cases(data: str, expected: tuple[Event, ...] | None) -> None:
    got = read_event(ServerSentEvent(data))
    if expected is None:  # the spec's flat error form is read too
        assert got == (StreamError("flat", "c", None, "c"),)
    else:
        assert got == expected


def test_reader_reads_back_what_the_encoder_writes() -> None:
    events = [*text_stream(["Hel", "lo", "\n"])]
    framing = (RoleStart, BlockStart, BlockEnd)  # the reader reports no framing
    assert read_all(encode_all(encoder(), events)) == [e for e in events if not isinstance(e, framing)]
    failing: list[Event] = [RoleStart(), TextDelta("a"), StreamError("boom", "server_error", None, "x")]
    assert read_all(encode_all(encoder(), failing)) == [TextDelta("a"), failing[-1], StreamEnd()]


# --------------------------------------------------------------------------------------------------
# Request parsing


def parse(body: Any) -> Any:
    return parse_responses_request(json.dumps(body).encode())


def test_a_string_input_is_one_user_message() -> None:
    request = parse({"model": "gpt-4o", "input": "Say hi."})
    assert (request.model, request.stream, request.max_tokens, request.include_usage) == (
        "gpt-4o",
        False,
        None,
        True,
    )
    assert request.messages == [{"role": "user", "content": "Say hi."}]


def test_items_and_instructions_become_a_chat_conversation() -> None:
    request = parse(
        {
            "model": "gpt-4o",
            "instructions": "Be brief.",
            "stream": True,
            "max_output_tokens": 16,
            "input": [
                {"role": "user", "content": "Hi"},
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "Hello!", "annotations": []}],
                },
                {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "call_1", "output": "42"},
                {
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "And "},
                        {"type": "input_image", "image_url": "data:,"},
                        {"type": "input_text", "text": "now?"},
                    ],
                },
            ],
        }
    )
    assert request.stream is True and request.max_tokens == 16
    assert request.messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "Hello!"}],
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "content": "42", "tool_call_id": "call_1"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "And "},
                {"type": "input_image", "image_url": "data:,"},
                {"type": "text", "text": "now?"},
            ],
        },
    ]


def test_the_conversation_works_with_the_prompt_reader_and_token_count() -> None:
    from fakellm.tokens import count_message_tokens, last_user_text

    request = parse(
        {
            "model": "m",
            "instructions": "x",
            "input": [{"role": "user", "content": [{"type": "input_text", "text": "q?"}]}],
        }
    )
    assert last_user_text(request.messages) == "q?"
    assert count_message_tokens(request.messages) == count_message_tokens(
        [{"role": "system", "content": "x"}, {"role": "user", "content": "q?"}]
    )


@pytest.mark.parametrize(
    ("body", "param", "code", "message"),
    [
        ({"input": "x"}, "model", "missing_required_parameter", "Missing required parameter: 'model'."),
        ({"model": 3, "input": "x"}, "model", "invalid_type", "Invalid type for 'model'"),
        (
            {"model": "m", "input": {"role": "user"}},
            "input",
            "invalid_type",
            "Invalid type for 'input': expected one of a string or an array of input items, but got "
            "object instead.",
        ),
        ({"model": "m", "input": ["hi"]}, "input[0]", "invalid_type", "Invalid type for 'input[0]'"),
        (
            {"model": "m", "input": [{"content": "hi"}]},
            "input[0].role",
            "missing_required_parameter",
            "Missing required parameter: 'input[0].role'.",
        ),
        (
            {"model": "m", "input": [{"role": "robot", "content": "hi"}]},
            "input[0].role",
            "invalid_value",
            "Invalid value: 'robot'. Supported values are: 'assistant', 'system', 'developer', and 'user'.",
        ),
        (
            {"model": "m", "input": [{"role": "user"}]},
            "input[0].content",
            "missing_required_parameter",
            "Missing required parameter: 'input[0].content'.",
        ),
        ({"model": "m", "input": [{"role": "user", "content": 5}]}, "input[0].content", "invalid_type", ""),
        (
            {"model": "m", "input": [{"role": "user", "content": [{"text": "a"}]}]},
            "input[0].content[0].type",
            "missing_required_parameter",
            "",
        ),
        (
            {"model": "m", "input": [{"role": "user", "content": [{"type": "input_text", "text": 1}]}]},
            "input[0].content[0].text",
            "invalid_type",
            "",
        ),
        (
            {
                "model": "m",
                "input": [{"role": "assistant", "content": [{"type": "input_text", "text": "a"}]}],
            },
            "input[0].content[0]",
            "invalid_value",
            "Invalid value: 'input_text'. Supported values are: 'output_text' and 'refusal'.",
        ),
        (
            {"model": "m", "input": [{"role": "user", "content": [{"type": "output_text", "text": "a"}]}]},
            "input[0].content[0]",
            "invalid_value",
            "Invalid value: 'output_text'.",
        ),
        ({"model": "m", "input": [{"type": 7}]}, "input[0].type", "invalid_type", ""),
        ({"model": "m", "input": "x", "stream": "yes"}, "stream", "invalid_type", ""),
        ({"model": "m", "input": "x", "instructions": ["a"]}, "instructions", "invalid_type", ""),
        ({"model": "m", "input": "x", "max_output_tokens": "9"}, "max_output_tokens", "invalid_type", ""),
        (
            {"model": "m", "input": "x", "max_output_tokens": 15},
            "max_output_tokens",
            "integer_below_min_value",
            "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got 15 "
            "instead.",
        ),
        ({"model": "m", "input": "x", "temperature": "hot"}, "temperature", "invalid_type", "a number"),
        ({"model": "m", "input": "x", "tools": {}}, "tools", "invalid_type", ""),
        ({"model": "m", "input": "x", "stream_options": []}, "stream_options", "invalid_type", ""),
        (
            {"model": "m", "input": "x", "stream_options": {"include_obfuscation": "no"}},
            "stream_options.include_obfuscation",
            "invalid_type",
            "",
        ),
        ({"model": "m", "input": "x", "background": "yes"}, "background", "invalid_type", "a boolean"),
        ({"model": "m", "input": "x", "background": 1}, "background", "invalid_type", "a boolean"),
        ({"model": "m", "input": "x", "background": None, "stream": 1}, "stream", "invalid_type", ""),
    ],
)
def test_bad_requests(body: Any, param: str, code: str, message: str) -> None:
    with pytest.raises(RequestError) as caught:
        parse(body)
    error = caught.value
    assert (error.status, error.param, error.code, error.type) == (400, param, code, "invalid_request_error")
    assert message in error.message


@pytest.mark.parametrize(
    ("raw", "start"),
    [
        (b"{", "We could not parse the JSON body of your request."),
        (b"[" * 100_000, "We could not parse the JSON body of your request"),
        (b"[]", "Invalid type for 'request body': expected an object, but got array instead."),
    ],
    ids=["truncated", "deep", "array"],
)
def test_bad_json(raw: bytes, start: str) -> None:
    with pytest.raises(RequestError) as caught:
        parse_responses_request(raw)
    assert caught.value.status == 400 and caught.value.message.startswith(start)


def test_nulls_mean_not_given_and_unknown_fields_are_ignored() -> None:
    request = parse({"model": "m", "input": None, "stream": None, "instructions": None, "whatever": 1})
    assert request.messages == [] and request.stream is False


# --------------------------------------------------------------------------------------------------
# The official SDK reads what the encoder writes (openai 3.x sends through httpx2: MockTransport)

TOKENS = ["Hel", "lo", ",", " world", "!"]
RESPONSE_IDS = new_ids(random.Random(11))


def stream_frames(events: list[Event] | None = None, **kw: Any) -> list[bytes]:
    enc = OpenAIResponsesEncoder(
        response_id=RESPONSE_IDS.response_id,
        message_id=RESPONSE_IDS.message_id,
        created_at=RESPONSE_IDS.created_at,
        model="gpt-4.1-nano",
        obfuscation=random.Random(2),
        **kw,
    )
    frames = [
        enc.encode(e) for e in (events if events is not None else text_stream(TOKENS, usage=Usage(9, 5)))
    ]
    return [f for f in frames if f]


def _sync_body(frames: list[bytes]) -> Iterator[bytes]:
    yield from frames


async def _async_body(frames: list[bytes]) -> AsyncIterator[bytes]:
    for frame in frames:
        yield frame


Answer = Callable[[httpx2.Request, bool], httpx2.Response]


def sse_answer(frames: list[bytes]) -> Answer:
    def answer(request: httpx2.Request, is_async: bool) -> httpx2.Response:
        body = _async_body(frames) if is_async else _sync_body(frames)
        headers = {"content-type": "text/event-stream; charset=utf-8", "x-request-id": "req_stream"}
        return httpx2.Response(200, headers=headers, content=body)

    return answer


def json_answer(status: int, body: Any, headers: dict[str, str] | None = None) -> Answer:
    def answer(request: httpx2.Request, is_async: bool) -> httpx2.Response:
        return httpx2.Response(status, headers=headers or {}, content=json.dumps(body).encode())

    return answer


class Upstream:
    """Answers requests in turn (the last answer repeats) and keeps the requests."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.requests: list[httpx2.Request] = []

    def _next(self, request: httpx2.Request, is_async: bool) -> httpx2.Response:
        self.requests.append(request)
        answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
        return answer(request, is_async)

    def client(self, retries: int = 0) -> openai.OpenAI:
        transport = httpx2.MockTransport(lambda r: self._next(r, False))
        return openai.OpenAI(
            api_key="sk-test",
            base_url="http://fake.test/v1",
            max_retries=retries,
            http_client=httpx2.Client(transport=transport),
        )

    def async_client(self, retries: int = 0) -> openai.AsyncOpenAI:
        transport = httpx2.MockTransport(lambda r: self._next(r, True))
        return openai.AsyncOpenAI(
            api_key="sk-test",
            base_url="http://fake.test/v1",
            max_retries=retries,
            http_client=httpx2.AsyncClient(transport=transport),
        )


def _check_final(final: Any) -> None:
    assert final.output_text == "Hello, world!"
    assert final.id == RESPONSE_IDS.response_id and final.status == "completed"
    assert final.output[0].id == RESPONSE_IDS.message_id
    assert final.usage.input_tokens == 9 and final.usage.output_tokens == 5 and final.usage.total_tokens == 14


def _check_raw_events(events: list[Any]) -> None:
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert [e.delta for e in events if e.type == "response.output_text.delta"] == TOKENS
    assert events[-1].type == "response.completed"
    _check_final(events[-1].response)


def test_sdk_sync_create_stream() -> None:
    upstream = Upstream(sse_answer(stream_frames()))
    with upstream.client() as client:
        events = list(client.responses.create(model="gpt-4.1-nano", input="Hi", stream=True))
    _check_raw_events(events)
    assert json.loads(upstream.requests[0].content)["stream"] is True
    assert upstream.requests[0].url.path == "/v1/responses"


def test_sdk_sync_stream_helper() -> None:
    upstream = Upstream(sse_answer(stream_frames()))
    with upstream.client() as client, client.responses.stream(model="gpt-4.1-nano", input="Hi") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert deltas == TOKENS
    _check_final(final)


@pytest.mark.asyncio
async def test_sdk_async_create_stream() -> None:
    upstream = Upstream(sse_answer(stream_frames()))
    async with upstream.async_client() as client:
        stream = await client.responses.create(model="gpt-4.1-nano", input="Hi", stream=True)
        events = [event async for event in stream]
    _check_raw_events(events)


@pytest.mark.asyncio
async def test_sdk_async_stream_helper() -> None:
    upstream = Upstream(sse_answer(stream_frames()))
    async with (
        upstream.async_client() as client,
        client.responses.stream(model="gpt-4.1-nano", input="Hi") as stream,
    ):
        deltas = [e.delta async for e in stream if e.type == "response.output_text.delta"]
        final = await stream.get_final_response()
    assert deltas == TOKENS
    _check_final(final)


def test_sdk_non_streamed_create() -> None:
    enc = OpenAIResponsesEncoder(
        response_id=RESPONSE_IDS.response_id,
        message_id=RESPONSE_IDS.message_id,
        created_at=RESPONSE_IDS.created_at,
        model="gpt-4.1-nano",
    )
    upstream = Upstream(json_answer(200, enc.completion("Hello, world!", "stop", Usage(9, 5))))
    with upstream.client() as client:
        _check_final(client.responses.create(model="gpt-4.1-nano", input="Hi"))


MID_STREAM_ERROR: list[Event] = [
    RoleStart(),
    TextDelta("Hel"),
    StreamError("boom", "server_error", None, "server_error"),
]


def test_sdk_sync_mid_stream_error_raises_api_error() -> None:
    upstream = Upstream(sse_answer(stream_frames(MID_STREAM_ERROR)))
    with upstream.client() as client:
        seen: list[str] = []
        with pytest.raises(openai.APIError, match="boom") as caught:
            for event in client.responses.create(model="m", input="Hi", stream=True):
                seen.append(event.type)
        assert seen[-1] == "response.output_text.delta"
        assert caught.value.body == {
            "type": "server_error",
            "code": "server_error",
            "message": "boom",
            "param": None,
        }
        with (
            pytest.raises(openai.APIError, match="boom"),
            client.responses.stream(model="m", input="Hi") as stream,
        ):
            stream.until_done()


@pytest.mark.asyncio
async def test_sdk_async_mid_stream_error_raises_api_error() -> None:
    upstream = Upstream(sse_answer(stream_frames(MID_STREAM_ERROR)))
    async with upstream.async_client() as client:
        with pytest.raises(openai.APIError, match="boom"):
            async for _ in await client.responses.create(model="m", input="Hi", stream=True):
                pass
        with pytest.raises(openai.APIError, match="boom"):
            async with client.responses.stream(model="m", input="Hi") as stream:
                await stream.until_done()


def test_sdk_a_cut_stream_has_no_final_response() -> None:
    """What a truncate or drop fault leaves: the helper says it saw no ``response.completed``."""
    cut: list[Event] = [RoleStart(), TextDelta("Hel")]
    frames = stream_frames(cut)
    upstream = Upstream(sse_answer(frames))
    with upstream.client() as client, client.responses.stream(model="m", input="Hi") as stream:
        stream.until_done()
        with pytest.raises(RuntimeError, match=r"response\.completed"):
            stream.get_final_response()


@pytest.mark.parametrize(
    ("status", "error_class"),
    [(400, openai.BadRequestError), (429, openai.RateLimitError), (529, openai.InternalServerError)],
)
def test_sdk_error_bodies(status: int, error_class: type[openai.APIStatusError]) -> None:
    body = error_body(status, f"Scripted {status}.", code="c" if status == 429 else None)
    upstream = Upstream(json_answer(status, body, error_headers("req_err")))
    with upstream.client() as client, pytest.raises(error_class) as caught:
        client.responses.create(model="m", input="Hi", stream=True)
    error = caught.value
    assert error.status_code == status and error.request_id == "req_err"
    assert error.body == body["error"]
    assert f"Scripted {status}." in error.message
    assert error.type == body["error"]["type"]


@pytest.mark.asyncio
async def test_sdk_async_error_body() -> None:
    upstream = Upstream(json_answer(529, error_body(529, "Busy."), error_headers("req_e")))
    async with upstream.async_client() as client:
        with pytest.raises(openai.InternalServerError, match=r"Busy\."):
            await client.responses.create(model="m", input="Hi", stream=True)


def _rate_limited() -> Answer:
    headers = {**error_headers("req_429"), "retry-after": "0.01"}
    return json_answer(429, error_body(429, "Slow down.", code="rate_limit_exceeded"), headers)


def test_sdk_retries_a_429_with_retry_after() -> None:
    upstream = Upstream(_rate_limited(), sse_answer(stream_frames()))
    with upstream.client(retries=2) as client, client.responses.stream(model="m", input="Hi") as stream:
        final = stream.get_final_response()
    _check_final(final)
    assert [r.headers.get("x-stainless-retry-count") for r in upstream.requests] == ["0", "1"]


@pytest.mark.asyncio
async def test_sdk_async_retries_a_429_with_retry_after() -> None:
    upstream = Upstream(_rate_limited(), sse_answer(stream_frames()))
    async with (
        upstream.async_client(retries=2) as client,
        client.responses.stream(model="m", input="Hi") as stream,
    ):
        final = await stream.get_final_response()
    _check_final(final)
    assert len(upstream.requests) == 2


# --------------------------------------------------------------------------------------------------
# Through the pipeline's stages (schedule → event faults → this encoder → frame faults), as the
# route will compose it: faults count content tokens, and the SDK sees each fault as it should.


def composed(spec: str) -> list[bytes]:
    ctx = StreamContext.seeded(99)
    enc = OpenAIResponsesEncoder(
        response_id=RESPONSE_IDS.response_id,
        message_id=RESPONSE_IDS.message_id,
        created_at=RESPONSE_IDS.created_at,
        model="gpt-4.1-nano",
        obfuscation=ctx.fork("obfuscation"),
    )
    timed = schedule(
        TOKENS, Timing(ttft_ms=0, itl_ms=0), ctx.fork("timing"), finish_reason="stop", usage=Usage(9, 5)
    )
    frames = compose(timed, enc, order_faults(parse_fault_spec(spec)), ctx)
    return [frame.data for frame in frames if frame.data]


def test_composed_error_event_counts_content_tokens() -> None:
    upstream = Upstream(sse_answer(composed("error_event@2")))
    with upstream.client() as client:
        deltas: list[str] = []
        with pytest.raises(openai.APIError):
            for event in client.responses.create(model="m", input="Hi", stream=True):
                if event.type == "response.output_text.delta":
                    deltas.append(event.delta)
    assert deltas == TOKENS[:2]


def test_composed_truncate_leaves_no_final_response() -> None:
    events = payloads(b"".join(composed("truncate@3")))
    assert [e["type"] for e in events][-1] == "response.output_text.delta"
    assert [e["delta"] for e in events if e["type"] == "response.output_text.delta"] == TOKENS[:3]


def test_composed_fragmented_bytes_still_make_the_final_response() -> None:
    frames = composed("fragment 1-7 bytes")
    assert max(len(f) for f in frames) <= 7
    upstream = Upstream(sse_answer(frames))
    with upstream.client() as client, client.responses.stream(model="m", input="Hi") as stream:
        _check_final(stream.get_final_response())


def test_composed_malformed_breaks_the_sdk_parse() -> None:
    upstream = Upstream(sse_answer(composed("malformed@1")))
    with upstream.client() as client, pytest.raises(json.JSONDecodeError):
        list(client.responses.create(model="m", input="Hi", stream=True))
