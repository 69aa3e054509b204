"""First contact over real sockets: ``GET /`` says what the server is, a 404 lists the routes (and
the closest one), ``/v1/models`` lists the ids clients send, and any model id is a model."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import openai
import pytest

import fakellm
from fakellm import ProxyServer, Server
from fakellm.app import LIKELY_MODELS
from tests.helpers import chat_body, raw_request

SERVER_ROUTES = [
    "POST /v1/chat/completions",
    "POST /v1/responses",
    "POST /v1/messages",
    "POST /v1/completions",
    "GET /v1/chat/completions/stream",
    "GET /v1/responses/{response_id}",
    "POST /v1/responses/{response_id}/cancel",
    "POST /v1/messages/count_tokens",
    "POST /v1/embeddings",
    "GET /v1/models",
    "GET /v1/models/{model_id}",
    "GET /",
    "GET|DELETE /_fakellm/journal",
    "GET /_fakellm/health",
    "GET /metrics",
    "GET /_fakellm/playground",
    "GET /_fakellm/playground/{name}",
    "POST /api/chat",
    "GET /api/chat/{chat_id}/stream",
    "GET /_fakellm/streams/{stream_id}",
    "GET /_fakellm/scenarios",
]


def test_the_root_says_what_this_server_is(server: Server) -> None:
    response = httpx.get(f"{server.url}/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    about = response.json()
    assert about["name"] == "fakellm"
    assert about["version"] == fakellm.__version__
    assert about["base_url"] == server.base_url
    listed = [f"{'|'.join(r['methods'])} {r['path']}" for r in about["routes"]]
    assert listed == SERVER_ROUTES
    assert all(r["description"] for r in about["routes"])
    assert {"readme", "routes", "faults", "pytest", "proxy", "cli"} <= set(about["docs"])


def test_the_proxy_root_names_its_upstream(make_proxy: Callable[..., ProxyServer], server: Server) -> None:
    about = httpx.get(f"{make_proxy(server.base_url).url}/").json()
    assert about["name"] == "fakellm-proxy" and about["upstream"] == server.base_url
    assert {r["path"] for r in about["routes"]} >= {"/v1/{rest}", "/", "/_fakellm/journal"}


@pytest.mark.parametrize(
    ("method", "path", "closest"),
    [
        ("POST", "/chat/completions", "POST /v1/chat/completions"),  # base_url without /v1
        ("POST", "/v1/chat/completion", "POST /v1/chat/completions"),
        ("POST", "/v1/v1/chat/completions", "POST /v1/chat/completions"),  # /v1 twice
        ("GET", "/v1/model", "GET /v1/models"),
        ("GET", "/_fakellm/journals", "GET|DELETE /_fakellm/journal"),
        ("GET", "/something/else/entirely/x", None),
    ],
)
def test_a_404_lists_the_routes_and_the_closest(
    server: Server, method: str, path: str, closest: str | None
) -> None:
    response = raw_request(server.port, chat_body() if method == "POST" else None, method=method, path=path)
    assert response.status == 404
    error = json.loads(response.body)["error"]
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", None, "unknown_url")
    message = error["message"]
    assert message.startswith(f"Unknown request URL: {method} {path}.")
    if closest is None:
        assert "Did you mean" not in message
    else:
        assert f"Did you mean {closest}?" in message
    assert message.endswith(f"This fakellm server serves: {', '.join(SERVER_ROUTES)}.")
    assert "platform.openai.com" not in message


def test_the_sdk_shows_the_route_hint(server: Server) -> None:
    client = openai.OpenAI(base_url=server.url, api_key="x", max_retries=0)  # forgot the /v1
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])
    assert "Did you mean POST /v1/chat/completions?" in str(info.value)


def test_models_list_scenarios_then_the_ids_clients_send(make_server: Callable[..., Server]) -> None:
    # A default (as the embedded one): it answers any model. Fast, to keep the suite fast.
    server = make_server(scenarios=[{"name": "default", "content": {"text": "Hi"}, "timing": {"ttft_ms": 0}}])
    client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
    ids = [m.id for m in client.models.list()]
    assert ids == ["default", *LIKELY_MODELS]
    for likely in ("gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-5", "o3", "o4-mini", "claude-sonnet-4-5"):
        assert likely in ids
    for model in ("gpt-4o", "claude-sonnet-4-5", "my-own-finetune:v2", "org/model-7b"):
        retrieved = client.models.retrieve(model)
        assert (retrieved.id, retrieved.object) == (model, "model")
        # ... and the server does serve it.
        reply = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Hi"}])
        assert reply.choices[0].message.content


def test_a_scenario_named_like_a_model_is_listed_once(make_server: Callable[..., Server]) -> None:
    server = make_server(scenarios=[{"name": "gpt-4o", "content": {"text": "mine"}}])
    ids = [m["id"] for m in httpx.get(f"{server.base_url}/models").json()["data"]]
    assert ids.count("gpt-4o") == 1
    assert ids[:2] == ["default", "gpt-4o"]


@pytest.mark.parametrize(
    ("method", "path", "takes"),
    [("GET", "/v1/chat/completions", "POST"), ("POST", "/_fakellm/journal", "DELETE, GET")],
)
def test_a_405_names_the_methods_the_route_takes(server: Server, method: str, path: str, takes: str) -> None:
    response = raw_request(server.port, chat_body() if method == "POST" else None, method=method, path=path)
    assert response.status == 405
    error = json.loads(response.body)["error"]
    assert error["message"] == f"Method {method} is not allowed for {path}: it takes {takes}."
    assert error["code"] == "method_not_allowed"
