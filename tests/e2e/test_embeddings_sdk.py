"""POST /v1/embeddings through the official openai SDK, on a real server: deterministic unit vectors."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import httpx
import openai
import pytest

from fakellm import Server, scenario_from_dict


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


@pytest.fixture
def client(make_server: Callable[..., Server]) -> openai.OpenAI:
    return openai.OpenAI(base_url=make_server(seed=5).url + "/v1", api_key="k", max_retries=0)


def test_one_unit_vector_per_input_with_usage(client: openai.OpenAI) -> None:
    # The SDK asks for base64 by default and decodes it: what it hands back are our float32s.
    answer = client.embeddings.create(model="text-embedding-3-small", input=["a cat sat", "dogs bark"])
    assert [d.index for d in answer.data] == [0, 1]
    assert all(len(d.embedding) == 1536 for d in answer.data)
    assert all(
        math.isclose(math.sqrt(cosine(d.embedding, d.embedding)), 1.0, rel_tol=1e-5) for d in answer.data
    )
    assert answer.usage.prompt_tokens == answer.usage.total_tokens > 0
    assert answer.model == "text-embedding-3-small"


def test_float_and_base64_agree_and_dimensions_are_honoured(client: openai.OpenAI) -> None:
    as_float = client.embeddings.create(
        model="m", input="hello world", encoding_format="float", dimensions=64
    )
    as_base64 = client.embeddings.create(model="m", input="hello world", dimensions=64)
    assert len(as_float.data[0].embedding) == 64
    assert as_float.data[0].embedding == as_base64.data[0].embedding
    assert len(client.embeddings.create(model="text-embedding-3-large", input="x").data[0].embedding) == 3072


def test_vectors_are_stable_across_servers_and_differ_by_seed(make_server: Callable[..., Server]) -> None:
    def vector(server: Server, **headers: str) -> list[float]:
        c = openai.OpenAI(base_url=server.url + "/v1", api_key="k", default_headers=headers)
        return c.embeddings.create(model="m", input="the same text").data[0].embedding

    one, two = make_server(seed=5), make_server(seed=5)
    assert vector(one) == vector(two)
    assert vector(one, **{"X-FakeLLM-Seed": "9"}) == vector(two, **{"X-FakeLLM-Seed": "9"})
    assert vector(one) != vector(one, **{"X-FakeLLM-Seed": "9"})


def test_texts_that_share_words_are_nearest(client: openai.OpenAI) -> None:
    docs = ["the cat sat on the mat", "stock markets fell sharply today", "a recipe for lemon cake"]
    vectors = [d.embedding for d in client.embeddings.create(model="m", input=docs).data]
    query = client.embeddings.create(model="m", input="where the cat sat").data[0].embedding
    scores = [cosine(query, v) for v in vectors]
    assert scores.index(max(scores)) == 0
    assert scores[0] > 0.3 > max(scores[1:])


def test_the_journal_names_the_format_and_the_seed(make_server: Callable[..., Server]) -> None:
    server = make_server(seed=5)
    openai.OpenAI(base_url=server.url + "/v1", api_key="k").embeddings.create(model="m", input="hi")
    entry = httpx.get(server.url + "/_fakellm/journal").json()[-1]
    assert (entry["format"], entry["status"], entry["outcome"], entry["seed"]) == (
        "openai.embeddings",
        200,
        "completed",
        5,
    )


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "m", "input": []}, "input"),
        ({"model": "m", "input": [1.5]}, "input"),
        ({"model": "m", "input": ["x"] * 2049}, "input"),
        ({"model": "m", "input": "x", "dimensions": 0}, "dimensions"),
        ({"model": "m", "input": "x", "encoding_format": "hex"}, "encoding_format"),
        ({"input": "x"}, "model"),
        ({"model": "m", "input": [[1, 2], [3, True]]}, "input"),
        ({"model": "m", "input": " ".join(f"w{i}" for i in range(20_001))}, "input"),
        ({"model": "m", "input": "word " * 9000}, "input"),
    ],
)
def test_bad_requests_are_400_in_openai_shape(
    client: openai.OpenAI, body: dict[str, object], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.post("/embeddings", body=body, cast_to=httpx.Response)
    assert caught.value.param == param
    assert client.embeddings.create(model="m", input="still serving").data


def test_a_scripted_429_is_retried_and_latency_delays_the_answer(make_server: Callable[..., Server]) -> None:
    server = make_server(seed=5)
    retried = openai.OpenAI(
        base_url=server.url + "/v1",
        api_key="k",
        max_retries=1,
        default_headers={"X-FakeLLM-Faults": "http_error 429 times=1 retry_after_ms=10"},
    )
    assert retried.embeddings.create(model="m", input="hi").data
    statuses = [e["status"] for e in httpx.get(server.url + "/_fakellm/journal").json()]
    assert statuses == [429, 200]

    slow = openai.OpenAI(
        base_url=server.url + "/v1", api_key="k", default_headers={"X-FakeLLM-Faults": "latency 300"}
    )
    started = time.perf_counter()
    slow.embeddings.create(model="m", input="hi")
    assert time.perf_counter() - started >= 0.28


def test_an_embedding_does_not_use_up_a_scripted_chat_answer(make_server: Callable[..., Server]) -> None:
    server = make_server(seed=5)
    server.state.script(
        [scenario_from_dict({"name": "only", "content": {"text": "scripted answer"}})], sequence=True
    )
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="k")
    client.embeddings.create(model="m", input="a question")
    chat = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "a question"}])
    assert chat.choices[0].message.content == "scripted answer"


def test_token_arrays_are_embedded(client: openai.OpenAI) -> None:
    answer = client.embeddings.create(model="m", input=[[1, 2, 3], [1, 2, 3]])
    assert answer.data[0].embedding == answer.data[1].embedding
