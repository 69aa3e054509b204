"""Structured output: ``json: auto`` answers with a seeded document valid against the schema the
request asks for, read by the openai SDK's parse helpers (``chat.completions.parse``, the stream
helper with a ``response_format``, ``responses.parse``), which validate it with pydantic."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal

import httpx
import jsonschema
import openai
import pytest
from pydantic import BaseModel

from fakellm import Server
from tests.helpers import UNUSED_PLUGINS

MakeServer = Callable[..., Server]
MESSAGES: list[Any] = [{"role": "user", "content": "Plan a trip."}]


class Stop(BaseModel):
    city: str
    nights: int


class Trip(BaseModel):
    traveller: str
    kind: Literal["city", "beach", "hike"]
    stops: list[Stop]
    budget: float | None


@pytest.fixture
def server(make_server: MakeServer) -> Server:
    return make_server(
        seed=9,
        scenarios=[
            {"name": "auto", "content": {"json": "auto"}},
            {
                "name": "given",
                "content": {"json": {"traveller": "Ada", "kind": "hike", "stops": [], "budget": None}},
            },
        ],
    )


def client(server: Server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="sk", max_retries=0, timeout=10)


def test_chat_parse_gets_a_valid_model(server: Server) -> None:
    with client(server) as c:
        answer = c.chat.completions.parse(model="auto", messages=MESSAGES, response_format=Trip)
    trip = answer.choices[0].message.parsed
    assert isinstance(trip, Trip) and trip.kind in ("city", "beach", "hike")


def test_the_stream_helper_parses_the_streamed_document(server: Server) -> None:
    with (
        client(server) as c,
        c.chat.completions.stream(model="auto", messages=MESSAGES, response_format=Trip) as stream,
    ):
        final = stream.get_final_completion()
    assert isinstance(final.choices[0].message.parsed, Trip)


def test_responses_parse_gets_a_valid_model(server: Server) -> None:
    with client(server) as c:
        answer = c.responses.parse(model="auto", input="Plan a trip.", text_format=Trip)
    assert isinstance(answer.output_parsed, Trip)


def test_the_document_replays_under_a_seed_and_differs_across_seeds(server: Server) -> None:
    def document(seed: int) -> str:
        with client(server) as c:
            answer = c.chat.completions.parse(
                model="auto",
                messages=MESSAGES,
                response_format=Trip,
                extra_headers={"X-FakeLLM-Seed": str(seed)},
            )
        return answer.choices[0].message.content or ""

    assert document(1) == document(1)
    assert len({document(s) for s in range(5)}) > 1


@pytest.mark.parametrize("mode", [{"type": "json_object"}, None])
def test_json_object_mode_or_no_schema_gives_an_object(server: Server, mode: dict[str, str] | None) -> None:
    body: dict[str, Any] = {"model": "auto", "messages": MESSAGES}
    if mode is not None:
        body["response_format"] = mode
    answer = httpx.post(f"{server.base_url}/chat/completions", json=body, timeout=10).json()
    assert isinstance(json.loads(answer["choices"][0]["message"]["content"]), dict)


def test_a_raw_json_schema_is_honoured(server: Server) -> None:
    schema = {
        "type": "object",
        "properties": {"n": {"type": "integer", "minimum": 3, "maximum": 5}, "tag": {"enum": ["a", "b"]}},
        "required": ["n", "tag"],
        "additionalProperties": False,
    }
    body = {
        "model": "auto",
        "input": "x",
        "text": {"format": {"type": "json_schema", "name": "thing", "schema": schema, "strict": True}},
    }
    answer = httpx.post(f"{server.base_url}/responses", json=body, timeout=10).json()
    jsonschema.validate(json.loads(answer["output"][0]["content"][0]["text"]), schema)


def test_a_given_document_is_sent_as_is(server: Server) -> None:
    with client(server) as c:
        answer = c.chat.completions.parse(model="given", messages=MESSAGES, response_format=Trip)
    assert answer.choices[0].message.parsed == Trip(traveller="Ada", kind="hike", stops=[], budget=None)


@pytest.mark.parametrize(
    ("response_format", "param"),
    [
        ({"type": "xml"}, "response_format.type"),
        ({"type": "json_schema"}, "response_format.json_schema"),
        ({"type": "json_schema", "json_schema": {"schema": {}}}, "response_format.json_schema.name"),
        (
            {"type": "json_schema", "json_schema": {"name": "x", "schema": []}},
            "response_format.json_schema.schema",
        ),
        ("json", "response_format"),
    ],
)
def test_a_bad_response_format_is_a_400(server: Server, response_format: Any, param: str) -> None:
    body = {"model": "auto", "messages": MESSAGES, "response_format": response_format}
    answer = httpx.post(f"{server.base_url}/chat/completions", json=body, timeout=10)
    assert answer.status_code == 400 and answer.json()["error"]["param"] == param


def test_a_schema_fakellm_cannot_serve_is_a_clear_400(server: Server) -> None:
    schema = {"type": "string", "minLength": 5, "maxLength": 3}
    body = {
        "model": "auto",
        "messages": MESSAGES,
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
    }
    answer = httpx.post(f"{server.base_url}/chat/completions", json=body, timeout=10)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "unsupported_schema" and "minLength 5 > maxLength 3" in error["message"]
    assert httpx.get(f"{server.url}/_fakellm/health", timeout=10).status_code == 200


def test_a_bad_json_content_names_the_field(tmp_path: Any) -> None:
    from fakellm import load_scenario_files
    from fakellm.errors import ScenarioError

    path = tmp_path / "s.yaml"
    path.write_text("scenarios:\n  - name: s\n    content: {json: 3}\n")
    with pytest.raises(
        ScenarioError, match=r"s.yaml:3.*field 'content.json': must be 'auto' or a JSON object"
    ):
        load_scenario_files([path])


def test_the_plugin_script_takes_json(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from pydantic import BaseModel

        class Answer(BaseModel):
            score: int
            verdict: str

        def test_parse(fakellm):
            fakellm.script(json="auto")
            answer = fakellm.openai_client().chat.completions.parse(
                model="m", messages=[{"role": "user", "content": "Rate it."}], response_format=Answer
            )
            assert isinstance(answer.choices[0].message.parsed, Answer)
        """
    )
    assert pytester.runpytest_subprocess("-p", "no:randomly", *UNUSED_PLUGINS).ret == 0
