"""The legacy Completions encoder, byte for byte against a real capture (fixtures/wire/)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fakellm.errors import RequestError
from fakellm.events import Finish, RoleStart, StreamEnd, TextDelta, Usage
from fakellm.wire.openai_completions import OpenAICompletionsEncoder, parse_completions_request

CAPTURE = Path(__file__).parents[2] / "fixtures" / "wire" / "openai-completions-text.sse"


def _frames() -> list[bytes]:
    return [f + b"\n\n" for f in CAPTURE.read_bytes().split(b"\n\n") if f]


def _encoder() -> OpenAICompletionsEncoder:
    return OpenAICompletionsEncoder(
        id="cmpl-D8ZFN477TMm6AoQohx2jSTOJMh60M",
        created=1770934485,
        model="gpt-3.5-turbo-instruct:20230824-v2",
        include_usage=True,
    )


def test_text_usage_and_done_chunks_match_the_capture() -> None:
    frames = _frames()
    enc = _encoder()
    assert enc.encode(RoleStart()) == b""
    assert enc.encode(TextDelta("The")) == frames[0]
    assert enc.encode(TextDelta(" holiday")) == frames[1]
    assert enc.encode(Usage(14, 16)) == frames[3]
    assert enc.encode(StreamEnd()) == frames[4]


def test_finish_chunk_has_the_capture_shape_with_empty_text() -> None:
    expected = frames_last = _frames()[2]
    ours = _encoder().encode(Finish("length"))
    assert ours == expected.replace(b'"text":" to"', b'"text":""'), frames_last


def test_completion_object() -> None:
    body = _encoder().completion("Hi there", "stop", Usage(3, 2))
    assert body["object"] == "text_completion"
    assert body["choices"] == [{"text": "Hi there", "index": 0, "logprobs": None, "finish_reason": "stop"}]
    assert body["usage"] == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}


def test_prompt_becomes_one_user_message() -> None:
    request = parse_completions_request(json.dumps({"model": "m", "prompt": ["Say hi"]}).encode())
    assert request.messages == [{"role": "user", "content": "Say hi"}]


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"prompt": [1, 2, 3]}, "prompt"),
        ({"prompt": []}, "prompt"),
        ({"prompt": ["a", 5]}, "prompt"),
        ({"prompt": ["a"] * 129}, "prompt"),
        ({"prompt": ["a"] * 2, "n": 65}, "n"),
        ({"prompt": 5}, "prompt"),
        ({"echo": True}, "echo"),
        ({"logprobs": 6}, "logprobs"),
        ({"logprobs": -1}, "logprobs"),
        ({"logprobs": True}, "logprobs"),
        ({"logprobs": "2"}, "logprobs"),
        ({"best_of": 3}, "best_of"),
        ({"n": 0}, "n"),
        ({"n": 129}, "n"),
        ({"n": "x"}, "n"),
    ],
)
def test_refused_parameters_name_the_field(extra: dict[str, object], param: str) -> None:
    body = {"model": "m", "prompt": "hi", **extra}
    with pytest.raises(RequestError) as info:
        parse_completions_request(json.dumps(body).encode())
    assert info.value.status == 400
    assert info.value.body()["error"]["param"] == param


def test_each_choice_chunk_carries_its_index() -> None:
    enc, frames = _encoder(), _frames()
    assert enc.encode(TextDelta("The", 0)) == frames[0]
    assert enc.encode(TextDelta("The", 3)) == frames[0].replace(b'"index":0', b'"index":3')
    assert enc.encode(Finish("length", 2)) == frames[2].replace(
        b'"text":" to","index":0', b'"text":"","index":2'
    )


def test_a_list_of_prompts_is_one_conversation_each_prompt_major() -> None:
    request = parse_completions_request(
        json.dumps({"model": "m", "prompt": ["a", "b", "c"], "n": 2}).encode()
    )
    assert request.choices == 6
    assert [request.conversation(i)[0]["content"] for i in range(6)] == ["a", "a", "b", "b", "c", "c"]
    assert request.messages == [{"role": "user", "content": "a"}]


def test_completion_choices_lists_every_choice() -> None:
    body = _encoder().completion_choices([("x", "stop"), ("y", "length")], Usage(3, 2))
    assert body["choices"] == [
        {"text": "x", "index": 0, "logprobs": None, "finish_reason": "stop"},
        {"text": "y", "index": 1, "logprobs": None, "finish_reason": "length"},
    ]
