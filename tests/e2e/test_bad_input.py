"""Bad input: each case gets the right 4xx with OpenAI's error shape (all four keys, ``null`` where
empty), no case produces a 500 or a traceback, and the server keeps serving afterwards."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from fakellm import Server
from tests.helpers import RawResponse, chat_body, content_of, raw_request, refuse_body_then_get

from ..conftest import FAST_TEXT

ERROR_KEYS = ["message", "type", "param", "code"]


@dataclass(frozen=True)
class Bad:
    id: str
    body: dict[str, Any] | bytes | None
    status: int
    param: str | None
    code: str | None
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "POST"
    path: str = "/v1/chat/completions"


def user(content: Any) -> list[dict[str, Any]]:
    return [{"role": "user", "content": content}]


CASES = [
    # The body
    Bad("malformed-json", b'{"model": "gpt-4o", "messages": [', 400, None, "invalid_json"),
    Bad("empty-body", b"", 400, None, "invalid_json"),
    Bad("not-utf8", b"\xff\xfe\xfa", 400, None, "invalid_json"),
    Bad("deeply-nested", b"[" * 100_000 + b"]" * 100_000, 400, None, "invalid_json"),
    Bad("body-is-an-array", b"[1, 2]", 400, None, "invalid_type"),
    Bad("body-is-a-string", b'"hello"', 400, None, "invalid_type"),
    Bad("body-is-null", b"null", 400, None, "invalid_type"),
    Bad("missing-model", {"messages": user("hi")}, 400, "model", "missing_required_parameter"),
    Bad("model-not-a-string", chat_body(model=4), 400, "model", "invalid_type"),
    Bad("missing-messages", {"model": "gpt-4o"}, 400, "messages", "missing_required_parameter"),
    Bad("empty-messages", chat_body(messages=[]), 400, "messages", "empty_array"),
    Bad("messages-not-a-list", chat_body(messages={"role": "user"}), 400, "messages", "invalid_type"),
    Bad("message-not-an-object", chat_body(messages=["hi"]), 400, "messages[0]", "invalid_type"),
    Bad(
        "message-without-role",
        chat_body(messages=[{"content": "hi"}]),
        400,
        "messages[0].role",
        "invalid_value",
    ),
    Bad(
        "bad-message-role",
        chat_body(messages=[{"role": "wizard", "content": "hi"}]),
        400,
        "messages[0].role",
        "invalid_value",
    ),
    Bad("content-a-number", chat_body(messages=user(5)), 400, "messages[0].content", "invalid_type"),
    Bad(
        "content-part-not-an-object",
        chat_body(messages=user([1])),
        400,
        "messages[0].content[0]",
        "invalid_type",
    ),
    Bad(
        "content-part-without-type",
        chat_body(messages=user([{"text": "hi"}])),
        400,
        "messages[0].content[0].type",
        "missing_required_parameter",
    ),
    Bad(
        "text-part-not-a-string",
        chat_body(messages=user([{"type": "text", "text": 5}])),
        400,
        "messages[0].content[0].text",
        "invalid_type",
    ),
    Bad("stream-yes", chat_body(stream="yes"), 400, "stream", "invalid_type"),
    Bad("stream-1", chat_body(stream=1), 400, "stream", "invalid_type"),
    Bad("max-tokens-negative", chat_body(max_tokens=-1), 400, "max_tokens", "integer_below_min_value"),
    Bad("max-tokens-zero", chat_body(max_tokens=0), 400, "max_tokens", "integer_below_min_value"),
    Bad("max-tokens-string", chat_body(max_tokens="10"), 400, "max_tokens", "invalid_type"),
    Bad("max-tokens-float", chat_body(max_tokens=2.5), 400, "max_tokens", "invalid_type"),
    Bad(
        "max-tokens-nan",
        b'{"model":"m","messages":[{"role":"user","content":"a"}],"max_tokens":NaN}',
        400,
        "max_tokens",
        "invalid_type",
    ),
    Bad(
        "max-completion-tokens-negative",
        chat_body(max_completion_tokens=-5),
        400,
        "max_completion_tokens",
        "integer_below_min_value",
    ),
    Bad("n-zero", chat_body(n=0), 400, "n", "integer_below_min_value"),
    Bad("n-above-128", chat_body(n=129), 400, "n", "integer_above_max_value"),
    Bad("n-a-string", chat_body(n="x"), 400, "n", "invalid_type"),
    Bad(
        "stream-options-not-an-object", chat_body(stream_options=True), 400, "stream_options", "invalid_type"
    ),
    Bad(
        "stream-options-without-stream",
        chat_body(stream=False, stream_options={"include_usage": True}),
        400,
        "stream_options",
        "invalid_value",
    ),
    # The fakellm headers
    Bad("seed-not-a-number", chat_body(), 400, "X-FakeLLM-Seed", None, {"X-FakeLLM-Seed": "abc"}),
    Bad("seed-negative", chat_body(), 400, "X-FakeLLM-Seed", None, {"X-FakeLLM-Seed": "-1"}),
    Bad("seed-float", chat_body(), 400, "X-FakeLLM-Seed", None, {"X-FakeLLM-Seed": "1.5"}),
    Bad("seed-empty", chat_body(), 400, "X-FakeLLM-Seed", None, {"X-FakeLLM-Seed": ""}),
    Bad("ttft-not-a-number", chat_body(), 400, "X-FakeLLM-TTFT-Ms", None, {"X-FakeLLM-TTFT-Ms": "fast"}),
    Bad("ttft-negative", chat_body(), 400, "X-FakeLLM-TTFT-Ms", None, {"X-FakeLLM-TTFT-Ms": "-5"}),
    Bad("ttft-nan", chat_body(), 400, "X-FakeLLM-TTFT-Ms", None, {"X-FakeLLM-TTFT-Ms": "nan"}),
    Bad("ttft-inf", chat_body(), 400, "X-FakeLLM-TTFT-Ms", None, {"X-FakeLLM-TTFT-Ms": "inf"}),
    Bad("itl-not-a-number", chat_body(), 400, "X-FakeLLM-ITL-Ms", None, {"X-FakeLLM-ITL-Ms": "20ms"}),
    Bad(
        "faults-spec",
        chat_body(),
        400,
        "X-FakeLLM-Faults",
        "invalid_fault_spec",
        {"X-FakeLLM-Faults": "no_such_fault@3"},
    ),
    Bad(
        "unknown-scenario",
        chat_body(),
        404,
        "X-FakeLLM-Scenario",
        "scenario_not_found",
        {"X-FakeLLM-Scenario": "nope"},
    ),
    # Routes and methods
    Bad("unknown-route", None, 404, None, "unknown_url", method="GET", path="/v1/nope"),
    Bad("v1-root", None, 404, None, "unknown_url", method="GET", path="/v1"),
    Bad(
        "completions-without-prompt",
        chat_body(),
        400,
        "prompt",
        "missing_required_parameter",
        path="/v1/completions",
    ),
    *(
        Bad(
            f"completions-n-{n}",
            {"model": "m", "prompt": "hi", "n": n},
            400,
            "n",
            code,
            path="/v1/completions",
        )
        for n, code in (
            (0, "integer_below_min_value"),
            (129, "integer_above_max_value"),
            ("x", "invalid_type"),
        )
    ),
    Bad(
        "completions-empty-prompt-list",
        {"model": "m", "prompt": []},
        400,
        "prompt",
        "empty_array",
        path="/v1/completions",
    ),
    Bad("embeddings-without-input", b'{"model": "m"}', 400, "input", None, path="/v1/embeddings"),
    Bad("unknown-fakellm-route", None, 404, None, "unknown_url", method="GET", path="/_fakellm/nope"),
    Bad("get-chat", None, 405, None, "method_not_allowed", method="GET"),
    Bad("delete-chat", None, 405, None, "method_not_allowed", method="DELETE"),
    Bad("post-models", chat_body(), 405, None, "method_not_allowed", path="/v1/models"),
    Bad("put-model", b"{}", 405, None, "method_not_allowed", method="PUT", path="/v1/models/default"),
    Bad("post-journal", b"{}", 405, None, "method_not_allowed", path="/_fakellm/journal"),
]


def check_error(response: RawResponse, status: int, param: str | None, code: str | None) -> dict[str, Any]:
    assert response.status == status, response.body
    assert response.headers["content-type"] == "application/json"
    body = json.loads(response.body)
    assert list(body) == ["error"]
    error: dict[str, Any] = body["error"]
    assert list(error) == ERROR_KEYS  # all four, always: null where empty, never missing
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["type"], str) and error["type"]
    assert (error["param"], error["code"]) == (param, code)
    assert "Traceback" not in error["message"]
    return error


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input(server: Server, case: Bad) -> None:
    response = raw_request(server.port, case.body, method=case.method, path=case.path, headers=case.headers)
    error = check_error(response, case.status, case.param, case.code)
    if case.status == 400:
        assert error["type"] == "invalid_request_error"
    assert server.state.internal_errors == []
    # The server keeps serving.
    good = raw_request(server.port, chat_body())
    assert good.status == 200 and good.terminated
    assert content_of(good.body) == FAST_TEXT


def test_too_large_body_is_413(server: Server) -> None:
    # Announce 17 MiB and send a little: the server answers from the head, as real servers do
    # (sending it all would race the server closing the connection).
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {17 * 1024 * 1024}\r\n\r\n".encode()
            + b'{"model": "m", "messages": ['
        )
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert list(json.loads(body)["error"]) == ERROR_KEYS
    assert json.loads(body)["error"]["code"] == "request_too_large"
    assert raw_request(server.port, chat_body()).status == 200


def test_bad_requests_on_one_keep_alive_connection_then_a_stream(server: Server) -> None:
    """Every case, one after the other on the same connection: none of them breaks it."""
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for case in CASES:
            content = case.body if isinstance(case.body, bytes) else None
            response = client.request(
                case.method,
                case.path,
                content=content,
                json=case.body if isinstance(case.body, dict) else None,
                headers=case.headers,
            )
            assert response.status_code == case.status, case.id
            assert list(response.json()["error"]) == ERROR_KEYS
        with client.stream("POST", "/v1/chat/completions", json=chat_body()) as stream:
            assert stream.status_code == 200
            body = b"".join(stream.iter_bytes())
    assert content_of(body) == FAST_TEXT
    assert server.state.internal_errors == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/models"),
        ("POST", "/v1/nope"),
        ("PUT", "/v1/models/default"),
        ("POST", "/_fakellm/journal"),
    ],
)
def test_an_unread_body_does_not_break_keep_alive(server: Server, method: str, path: str) -> None:
    """The body of a request that is refused by route or method arrives after its head: the
    connection must still serve the next request (clients pool connections)."""
    models = refuse_body_then_get(server.port, method, path, then="/v1/models")
    assert json.loads(models)["object"] == "list"


def test_rejections_are_journaled(server: Server) -> None:
    raw_request(server.port, chat_body(messages=[]))
    entry = server.journal.last
    assert entry is not None
    assert (entry.status, entry.outcome) == (400, "rejected")
    assert entry.error is not None and entry.error["param"] == "messages"


def test_accepted_extras_are_ignored(server: Server) -> None:
    """What fakellm does not act on is accepted, as a real server would: no false 400s."""
    body = chat_body(
        temperature=0.3,
        top_p=1,
        user="u-1",
        tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}],
        tool_choice="auto",
        response_format={"type": "text"},
        messages=[
            {"role": "developer", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Hi"},
                    {"type": "image_url", "image_url": {"url": "data:,"}},
                ],
            },
            {"role": "assistant", "content": None, "tool_calls": []},
            {"role": "tool", "content": "42", "tool_call_id": "c1"},
            {"role": "user", "content": "again", "name": "bob"},
        ],
        n=1,
        stream=True,
        stream_options={"include_usage": True},
        max_tokens=None,
    )
    response = raw_request(server.port, body)
    assert response.status == 200 and response.terminated
    assert content_of(response.body) == FAST_TEXT
