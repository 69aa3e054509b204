"""Every answer carries an x-request-id, as OpenAI's do: the SDKs expose it on errors too."""

from __future__ import annotations

import openai
import pytest

from fakellm import Server
from tests.helpers import chat_body, raw_request


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/v1/chat/completions", b"{bad", 400),
        ("GET", "/v1/nope", None, 404),
        ("GET", "/v1/models", None, 200),
        ("OPTIONS", "/v1/chat/completions", None, 204),
    ],
)
def test_every_answer_has_a_request_id(
    server: Server, method: str, path: str, body: bytes | None, status: int
) -> None:
    response = raw_request(server.port, body, method=method, path=path)
    assert response.status == status
    assert response.headers["x-request-id"].startswith("req_")


def test_a_stream_keeps_its_own_seeded_request_id(server: Server) -> None:
    first = raw_request(server.port, chat_body(), headers={"X-FakeLLM-Seed": "7"})
    again = raw_request(server.port, chat_body(), headers={"X-FakeLLM-Seed": "7"})
    assert first.headers["x-request-id"] == again.headers["x-request-id"]
    assert server.journal.last is not None
    assert server.journal.last.request_id == again.headers["x-request-id"]


def test_the_sdk_reports_the_request_id_of_an_error(server: Server) -> None:
    client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model="gpt-4o", messages=[])
    assert raised.value.request_id is not None
    assert raised.value.request_id.startswith("req_")
