"""Logprobs: the values (fakellm/logprobs.py), and each format's shape pinned against its capture
(Chat: fixtures/wire/openai-chat-logprobs.sse; Completions and Responses: their text captures with
the logprobs fields filled as the schema has them), and the request fields' validation."""

from __future__ import annotations

import itertools
import json
import math
import random
import re
from pathlib import Path
from typing import Any

import pytest

from fakellm.errors import RequestError
from fakellm.events import BlockEnd, BlockStart, Finish, RoleStart, StreamEnd, TextDelta, Usage
from fakellm.logprobs import MAX_TOP_LOGPROBS, LogprobSource, StreamLogprobs, token_bytes
from fakellm.tokens import tokens_for
from fakellm.wire.openai import CHAT, OpenAIChatEncoder
from fakellm.wire.openai_completions import COMPLETIONS, OpenAICompletionsEncoder
from fakellm.wire.openai_responses import RESPONSES, OpenAIResponsesEncoder
from fakellm.wire.sse import SSEDecoder, encode_sse

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "wire"
_LOGPROB = re.compile(rb'"logprob":-?[0-9.e+-]+')

TOKENS = ["Hello", " there", ",", " world", "!", " caf\u00e9", "\n\n", " 42", " \u2014", "\U0001f600"]


# --------------------------------------------------------------------------------------------------
# The values


@pytest.mark.parametrize("top", [0, 1, 5, MAX_TOP_LOGPROBS])
def test_the_sent_token_is_the_likeliest_and_the_rest_sorted(top: int) -> None:
    source = LogprobSource("chatcmpl-abc:0", top)
    for position, token in enumerate(TOKENS * 3):
        entry = source.at(position, token)
        assert entry.token == token
        assert entry.bytes == list(token.encode("utf-8"))
        assert entry.logprob <= 0.0
        assert len(entry.top) == top
        if not top:
            continue
        assert entry.top[0].token == token and entry.top[0].logprob == entry.logprob
        logprobs = [t.logprob for t in entry.top]
        assert all(a > b for a, b in itertools.pairwise(logprobs)), logprobs
        assert len({t.token for t in entry.top}) == top  # distinct tokens
        assert sum(math.exp(lp) for lp in logprobs) <= 1.0 + 1e-6  # a distribution's top k


def test_top_k_is_a_prefix_of_top_k_plus_one() -> None:
    widest = LogprobSource("key", MAX_TOP_LOGPROBS).at(3, " world")
    for top in range(MAX_TOP_LOGPROBS + 1):
        entry = LogprobSource("key", top).at(3, " world")
        assert entry.logprob == widest.logprob
        assert entry.top == widest.top[:top]


def test_deterministic_and_different_where_anything_differs() -> None:
    first = LogprobSource("key", 5).at(7, " world")
    assert LogprobSource("key", 5).at(7, " world") == first
    assert LogprobSource("key", 5).at(7, " World").logprob != first.logprob  # another token
    assert LogprobSource("key", 5).at(8, " world").logprob != first.logprob  # another position
    assert LogprobSource("other", 5).at(7, " world").logprob != first.logprob  # another stream


def test_plausible_values_mostly_confident() -> None:
    source = LogprobSource("key", 0)
    values = [source.at(i, f" w{i}").logprob for i in range(2000)]
    assert all(-1.7 < v <= 0.0 for v in values)  # p > 0.2
    assert sum(v > math.log(0.95) for v in values) > 900  # half of them sure
    assert len(set(values)) > 1990
    assert all(str(v) != "-0.0" for v in values)


def test_an_alternative_keeps_the_tokens_leading_space() -> None:
    entry = LogprobSource("key", 10).at(0, " hello")
    assert all(t.token.startswith(" ") or not t.token.strip().isalpha() for t in entry.top)


def test_stream_logprobs_count_positions_per_choice_and_key_each_choice() -> None:
    stream = StreamLogprobs("chatcmpl-x", 2)
    a0, a1 = stream.next("Hi"), stream.next("!")
    b0 = stream.next("Hi", choice=1)
    assert [a0, a1] == stream.of(["Hi", "!"])  # the non-streamed body agrees with the stream
    assert b0 == stream.of(["Hi"], choice=1)[0]
    assert b0.logprob != a0.logprob  # each choice its own


def test_token_bytes_of_a_lone_surrogate_do_not_raise() -> None:
    assert token_bytes("\ud800") == list(b"\\ud800")


def test_the_source_refuses_an_impossible_top() -> None:
    with pytest.raises(ValueError, match=r"0\.\.20"):
        LogprobSource("key", 21)


# --------------------------------------------------------------------------------------------------
# Chat Completions: the capture (wire2.md §4.3)


def _frames(data: bytes) -> list[bytes]:
    return [f + b"\n\n" for f in data.split(b"\n\n") if f]


def test_chat_chunks_match_the_logprobs_capture() -> None:
    capture = _frames((FIXTURES / "openai-chat-logprobs.sse").read_bytes())
    enc = OpenAIChatEncoder(
        id="chatcmpl-ABfw5EzoqmfXjnnsXY7Yd8OC6tb3c",
        created=1727346173,
        model="gpt-4o-2024-08-06",
        system_fingerprint="fp_5050236cbd",
        logprobs=StreamLogprobs("chatcmpl-ABfw5EzoqmfXjnnsXY7Yd8OC6tb3c", 0),
    )
    enc.encode(RoleStart())
    ours = _frames(
        b"".join(
            enc.encode(e)
            for e in (BlockStart(), TextDelta("Foo"), TextDelta("!"), BlockEnd(), Finish("stop"))
        )
    )
    # The capture predates ``service_tier`` on every chunk (2026 captures have it: wire2.md §4.4).
    ours = [f.replace(b'"service_tier":"default",', b"") for f in ours]
    assert [_LOGPROB.sub(b'"logprob":X', f) for f in ours] == [
        _LOGPROB.sub(b'"logprob":X', f) for f in capture[:4]
    ]
    values = [json.loads(f[6:])["choices"][0]["logprobs"] for f in ours[1:3]]
    source = LogprobSource("chatcmpl-ABfw5EzoqmfXjnnsXY7Yd8OC6tb3c:0", 0)
    assert [v["content"][0]["logprob"] for v in values] == [
        source.at(0, "Foo").logprob,
        source.at(1, "!").logprob,
    ]


def test_chat_top_logprobs_entries_and_the_non_streamed_body() -> None:
    enc = OpenAIChatEncoder(
        id="c", created=1, model="m", system_fingerprint="fp", logprobs=StreamLogprobs("c", 3)
    )
    enc.encode(RoleStart())
    frames = _frames(b"".join(enc.encode(e) for e in (BlockStart(), TextDelta(" caf\u00e9"), TextDelta("!"))))
    (entry,) = json.loads(frames[1][6:])["choices"][0]["logprobs"]["content"]
    assert list(entry) == ["token", "logprob", "bytes", "top_logprobs"]
    assert entry["bytes"] == [32, 99, 97, 102, 195, 169]
    assert [list(t) for t in entry["top_logprobs"]] == [["token", "logprob", "bytes"]] * 3
    assert b"caf\\u00e9" in frames[1]  # escaped, as every chunk
    streamed = [entry, json.loads(frames[2][6:])["choices"][0]["logprobs"]["content"][0]]
    fresh = OpenAIChatEncoder(
        id="c", created=1, model="m", system_fingerprint="fp", logprobs=StreamLogprobs("c", 3)
    )
    body = fresh.completion(" caf\u00e9!", "stop", Usage(1, 2))
    assert body["choices"][0]["logprobs"] == {"content": streamed, "refusal": None}


def test_chat_without_logprobs_is_unchanged_and_tool_fragments_have_none() -> None:
    enc = OpenAIChatEncoder(
        id="c", created=1, model="m", system_fingerprint="fp", logprobs=StreamLogprobs("c", 0)
    )
    enc.encode(RoleStart())
    call = enc.encode(BlockStart("tool_call", 0, id="call_1", name="f"))
    fragment = enc.encode(TextDelta('{"a"'))
    assert b'"logprobs":{"content":[],"refusal":null}' in call
    assert json.loads(fragment[6:])["choices"][0]["logprobs"] is None
    plain = OpenAIChatEncoder(id="c", created=1, model="m", system_fingerprint="fp")
    assert plain.completion("Hi", "stop", Usage(1, 1))["choices"][0]["logprobs"] is None


def test_chat_each_choice_its_own() -> None:
    enc = OpenAIChatEncoder(
        id="c", created=1, model="m", system_fingerprint="fp", logprobs=StreamLogprobs("c", 0)
    )
    out = b"".join(
        enc.encode(e)
        for e in (
            RoleStart(),
            BlockStart(),
            TextDelta("Hi"),
            RoleStart(choice=1),
            BlockStart(choice=1),
            TextDelta("Hi", 1),
        )
    )
    chunks = [json.loads(f[6:]) for f in _frames(out)]
    content = [c["choices"][0] for c in chunks if c["choices"][0]["delta"].get("content")]
    assert [c["index"] for c in content] == [0, 1]
    assert content[0]["logprobs"]["content"][0]["logprob"] != content[1]["logprobs"]["content"][0]["logprob"]
    body = enc.completion_choices([("Hi", "stop"), ("Hi", "stop")], Usage(1, 2))
    assert [c["logprobs"]["content"] for c in body["choices"]] == [
        content[0]["logprobs"]["content"],
        content[1]["logprobs"]["content"],
    ]


# --------------------------------------------------------------------------------------------------
# Legacy Completions: the text capture, its ``logprobs`` filled (wire2.md §3.1 item 5)


def test_completions_chunks_are_the_capture_with_parallel_arrays() -> None:
    capture = _frames((FIXTURES / "openai-completions-text.sse").read_bytes())
    stream = StreamLogprobs("cmpl-D8ZFN477TMm6AoQohx2jSTOJMh60M", 2)
    enc = OpenAICompletionsEncoder(
        id="cmpl-D8ZFN477TMm6AoQohx2jSTOJMh60M",
        created=1770934485,
        model="gpt-3.5-turbo-instruct:20230824-v2",
        include_usage=True,
        logprobs=stream,
        prompt_chars=[14],
    )
    source = LogprobSource("cmpl-D8ZFN477TMm6AoQohx2jSTOJMh60M:0", 2)
    for frame, token, offset, position in ((capture[0], "The", 14, 0), (capture[1], " holiday", 17, 1)):
        entry = source.at(position, token)
        arrays = {
            "tokens": [token],
            "token_logprobs": [entry.logprob],
            "top_logprobs": [{t.token: t.logprob for t in entry.top}],
            "text_offset": [offset],
        }
        expected = frame.replace(
            b'"logprobs":null', b'"logprobs":' + json.dumps(arrays, separators=(",", ":")).encode()
        )
        assert enc.encode(TextDelta(token)) == expected
    finish = enc.encode(Finish("length"))
    assert json.loads(finish[6:])["choices"][0]["logprobs"] == {
        "tokens": [],
        "token_logprobs": [],
        "top_logprobs": [],
        "text_offset": [],
    }
    # Not streamed: the text's own tokens (tokens_for cuts " holiday" in two), from position 0.
    fresh = OpenAICompletionsEncoder(
        id="x", created=1, model="m", logprobs=StreamLogprobs("k", 2), prompt_chars=[14]
    )
    logprobs = fresh.completion("The holiday", "stop", Usage(1, 2))["choices"][0]["logprobs"]
    assert logprobs["tokens"] == list(tokens_for("The holiday")) == ["The", " holi", "day"]
    assert logprobs["text_offset"] == [14, 17, 22]


def test_completions_logprobs_zero_still_lists_the_sent_token() -> None:
    request = COMPLETIONS.parse_request(b'{"model":"m","prompt":"Say hi","logprobs":0,"stream":true}', {})
    opened = COMPLETIONS.open_stream(request, random.Random(1), now=None, prompt_tokens=1, ascii_only=True)
    chunk = json.loads(opened.encoder.encode(TextDelta("Hi"))[6:])
    logprobs = chunk["choices"][0]["logprobs"]
    assert list(logprobs["top_logprobs"][0]) == ["Hi"]
    assert logprobs["text_offset"] == [len("Say hi")]


# --------------------------------------------------------------------------------------------------
# Responses: the text capture, every ``logprobs:[]`` filled as the schema has it


def _payloads(body: bytes | str) -> list[dict[str, Any]]:
    data = body.encode() if isinstance(body, str) else body
    return [json.loads(e.data) for e in SSEDecoder().feed(data)]


def test_responses_events_are_the_capture_with_logprobs_everywhere_the_text_is() -> None:
    capture = _payloads((FIXTURES / "openai-responses-text.sse").read_text())
    response = capture[0]["response"]
    message_id = capture[2]["item"]["id"]
    enc = OpenAIResponsesEncoder(
        response_id=response["id"],
        message_id=message_id,
        created_at=response["created_at"],
        model=response["model"],
        request={k: response[k] for k in ("reasoning", "store", "tools", "top_p")},
        logprobs=StreamLogprobs(response["id"], 2),
    )
    tokens = [e["delta"] for e in capture if e["type"] == "response.output_text.delta"]
    events = [
        RoleStart(),
        BlockStart(),
        *(TextDelta(t) for t in tokens),
        BlockEnd(),
        Finish("stop"),
        Usage(299, 12),
        StreamEnd(),
    ]
    ours = _payloads(b"".join(enc.encode(e) for e in events))
    source = LogprobSource(f"{response['id']}:0", 2)
    entries = [source.at(i, t).json() for i, t in enumerate(tokens)]
    expected = json.loads(json.dumps(capture))
    deltas = [e for e in expected if e["type"] == "response.output_text.delta"]
    for delta, entry in zip(deltas, entries, strict=True):
        delta["logprobs"] = [entry]
    by_type = {e["type"]: e for e in expected}
    by_type["response.output_text.done"]["logprobs"] = entries
    by_type["response.content_part.done"]["part"]["logprobs"] = entries
    by_type["response.output_item.done"]["item"]["content"][0]["logprobs"] = entries
    by_type["response.completed"]["response"]["output"][0]["content"][0]["logprobs"] = entries
    for event in (*ours, *expected):
        event.pop("obfuscation", None)
    text = "".join(tokens)
    body = enc.completion(text, "stop", Usage(299, 12))
    assert body["output"][0]["content"][0]["logprobs"] == [
        source.at(i, t).json() for i, t in enumerate(tokens_for(text))
    ]


def test_responses_the_precomputed_delta_equals_encode_sse() -> None:
    enc = OpenAIResponsesEncoder(
        response_id="resp_1",
        message_id="msg_1",
        created_at=1,
        model="m",
        logprobs=StreamLogprobs("resp_1", 1),
    )
    enc.encode(RoleStart())
    enc.encode(BlockStart())
    seq = enc._seq
    data = enc.encode(TextDelta('say "hi"'))
    entry = LogprobSource("resp_1:0", 1).at(0, 'say "hi"').json()
    payload = {
        "type": "response.output_text.delta",
        "sequence_number": seq,
        "item_id": "msg_1",
        "output_index": 0,
        "content_index": 0,
        "delta": 'say "hi"',
        "logprobs": [entry],
    }
    assert data == encode_sse(json.dumps(payload, separators=(",", ":")), event="response.output_text.delta")


# --------------------------------------------------------------------------------------------------
# Requests


def _chat(extra: dict[str, Any]) -> bytes:
    return json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}], **extra}).encode()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"top_logprobs": 2}, "The 'top_logprobs' parameter is only allowed when 'logprobs' is enabled."),
        ({"logprobs": False, "top_logprobs": 2}, "only allowed when 'logprobs' is enabled"),
        ({"logprobs": True, "top_logprobs": 21}, "Expected a value <= 20, but got 21"),
        ({"logprobs": True, "top_logprobs": -1}, "Expected a value >= 0, but got -1"),
        ({"logprobs": True, "top_logprobs": "2"}, "expected an integer, but got string"),
        ({"logprobs": True, "top_logprobs": True}, "expected an integer, but got boolean"),
        ({"logprobs": 1}, "Invalid type for 'logprobs': expected a boolean, but got number"),
    ],
)
def test_chat_bad_logprobs_are_400s_naming_the_field(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(RequestError) as info:
        CHAT.parse_request(_chat(extra), {})
    assert info.value.status == 400
    error = info.value.body()["error"]
    assert message in error["message"]
    assert error["param"] == ("logprobs" if "boolean, but got number" in message else "top_logprobs")


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"include": "message.output_text.logprobs"}, "include"),
        ({"include": ["message.output_text.logprobs"], "top_logprobs": 21}, "top_logprobs"),
        ({"top_logprobs": -1}, "top_logprobs"),
        ({"top_logprobs": 1.5}, "top_logprobs"),
    ],
)
def test_responses_bad_logprobs_are_400s_naming_the_field(extra: dict[str, Any], param: str) -> None:
    with pytest.raises(RequestError) as info:
        RESPONSES.parse_request(json.dumps({"model": "m", "input": "hi", **extra}).encode(), {})
    assert info.value.status == 400
    assert info.value.body()["error"]["param"] == param
