"""The chaos proxy and record/replay in every streamed format: a real fakellm upstream serving
Responses, Anthropic Messages and legacy completions, the proxy in front, and the official SDKs'
streaming helpers reading through it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import httpx2
import openai
import pytest

from fakellm import ProxyServer, Server, load_recording
from fakellm.wire import SSEDecoder
from tests.helpers import wait_for_file

TEXT = "Proxied in every format, token by token, with nothing lost on the way."
MESSAGES: list[Any] = [{"role": "user", "content": "Say hello."}]

BODIES: dict[str, dict[str, Any]] = {
    "/v1/chat/completions": {"model": "gpt-4o", "messages": MESSAGES, "stream": True},
    "/v1/responses": {"model": "gpt-4o", "input": "Say hello.", "stream": True},
    "/v1/messages": {"model": "claude-x", "max_tokens": 200, "messages": MESSAGES, "stream": True},
    "/v1/completions": {"model": "gpt-3.5-turbo-instruct", "prompt": "Say hello.", "stream": True},
}
FORMAT_NAMES = {
    "/v1/chat/completions": "openai.chat",
    "/v1/responses": "openai.responses",
    "/v1/messages": "anthropic.messages",
    "/v1/completions": "openai.completions",
}
# The event that carries a token in each format.
TOKEN_EVENTS = {
    "/v1/responses": "response.output_text.delta",
    "/v1/messages": "content_block_delta",
}


@pytest.fixture
def upstream(make_server: Callable[..., Server]) -> Server:
    return make_server(
        seed=7,
        scenarios=[{"name": "default", "content": {"text": TEXT}, "timing": {"itl_ms": 1}}],
    )


@pytest.fixture
def proxy(make_proxy: Callable[..., ProxyServer], upstream: Server) -> ProxyServer:
    return make_proxy(upstream.base_url)


def post(base: str, path: str, faults: str | None = None, **body: Any) -> httpx.Response:
    headers = {"X-FakeLLM-Faults": faults} if faults else {}
    return httpx.post(f"{base}{path}", json={**BODIES[path], **body}, headers=headers, timeout=10)


def events(body: bytes) -> list[tuple[str, str]]:
    return [(e.event, e.data) for e in SSEDecoder().feed(body)]


def openai_client(server: Server, faults: str | None = None, **kwargs: Any) -> openai.OpenAI:
    headers = {"X-FakeLLM-Faults": faults} if faults else {}
    options: dict[str, Any] = {"max_retries": 0, **kwargs}
    return openai.OpenAI(
        base_url=server.base_url, api_key="sk", timeout=10, default_headers=headers, **options
    )


def anthropic_client(server: Server, faults: str | None = None, **kwargs: Any) -> anthropic.Anthropic:
    headers = {"X-FakeLLM-Faults": faults} if faults else {}
    options: dict[str, Any] = {"max_retries": 0, **kwargs}
    return anthropic.Anthropic(
        base_url=server.url, api_key="k", timeout=10, default_headers=headers, **options
    )


# -- byte for byte -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", list(BODIES))
def test_with_no_fault_the_proxy_is_byte_identical_and_journals_the_format(
    path: str, proxy: ProxyServer, upstream: Server
) -> None:
    direct = post(upstream.base_url.removesuffix("/v1"), path)
    through = post(proxy.url, path)
    assert through.status_code == direct.status_code == 200
    assert through.content == direct.content  # the seeded upstream sends the same bytes twice
    if path in TOKEN_EVENTS:
        assert b"event: " + TOKEN_EVENTS[path].encode() in through.content
    entry = proxy.journal.last
    assert entry is not None and entry.format == FORMAT_NAMES[path] and entry.outcome == "completed"


# -- faults at token positions, in the format's own shape --------------------------------------------


def test_responses_truncate_at_3_sends_three_deltas_then_ends(proxy: ProxyServer) -> None:
    got = events(post(proxy.url, "/v1/responses", "truncate@3").content)
    names = [name for name, _ in got]
    assert names.count("response.output_text.delta") == 3
    assert names[-1] == "response.output_text.delta"  # nothing after: no .done, no completed


def test_responses_error_event_continues_the_upstreams_sequence(proxy: ProxyServer) -> None:
    got = events(post(proxy.url, "/v1/responses", "error_event@3").content)
    names = [name for name, _ in got]
    assert names.count("response.output_text.delta") == 3
    assert names[-2:] == ["error", "response.failed"]
    numbers = [json.loads(data)["sequence_number"] for _, data in got]
    assert numbers == list(range(len(got)))  # 0, 1, 2... with no gap and no repeat
    failed = json.loads(got[-1][1])["response"]
    created = json.loads(got[0][1])["response"]
    assert failed["id"] == created["id"] and failed["status"] == "failed"
    assert failed["output"][0]["content"][0]["text"] == "".join(
        json.loads(data)["delta"] for name, data in got if name == "response.output_text.delta"
    )


def test_responses_sdk_helper_sees_three_tokens_then_the_error(proxy: ProxyServer) -> None:
    deltas: list[str] = []
    with (
        openai_client(proxy, "error_event@3") as client,
        pytest.raises(openai.APIError) as raised,
        client.responses.stream(model="gpt-4o", input="Hi") as stream,
    ):
        for event in stream:
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
    assert len(deltas) == 3
    assert "server had an error" in str(raised.value)


def test_responses_sdk_drop_at_3(proxy: ProxyServer) -> None:
    deltas: list[str] = []
    with openai_client(proxy, "drop@3") as client, pytest.raises(openai.APIConnectionError):
        for event in client.responses.create(model="gpt-4o", input="Hi", stream=True):
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
    assert len(deltas) == 3
    entry = proxy.journal.last
    assert entry is not None and entry.outcome == "dropped" and entry.format == "openai.responses"


def test_responses_sdk_helper_through_a_clean_proxy(proxy: ProxyServer) -> None:
    with openai_client(proxy) as client, client.responses.stream(model="gpt-4o", input="Hi") as stream:
        final = stream.get_final_response()
    assert final.output_text == TEXT


def test_anthropic_error_event_is_anthropics_own(proxy: ProxyServer) -> None:
    got = events(post(proxy.url, "/v1/messages", "error_event@3").content)
    names = [name for name, _ in got]
    assert names.count("content_block_delta") == 3
    assert got[-1][0] == "error"
    assert json.loads(got[-1][1]) == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
    }


def test_anthropic_sdk_helper_sees_three_tokens_then_overloaded(proxy: ProxyServer) -> None:
    texts: list[str] = []
    with (
        anthropic_client(proxy, "error_event@3") as client,
        pytest.raises(anthropic.APIStatusError) as raised,
        client.messages.stream(model="c", max_tokens=100, messages=MESSAGES) as stream,
    ):
        for text in stream.text_stream:
            texts.append(text)
    assert len(texts) == 3
    assert "overloaded_error" in str(raised.value)


def test_anthropic_sdk_truncate_at_3_keeps_three_tokens(proxy: ProxyServer) -> None:
    with anthropic_client(proxy, "truncate@3") as client:
        streamed = list(client.messages.create(model="c", max_tokens=100, messages=MESSAGES, stream=True))
    deltas = [e for e in streamed if e.type == "content_block_delta"]
    assert len(deltas) == 3
    assert streamed[-1].type == "content_block_delta"  # no message_delta, no message_stop


def test_anthropic_sdk_drop_at_3(proxy: ProxyServer) -> None:
    texts: list[str] = []
    with (
        anthropic_client(proxy, "drop@3") as client,
        pytest.raises((httpx2.RemoteProtocolError, anthropic.APIError)),
    ):
        # anthropic 2.x lets the transport's error through mid-stream (not APIConnectionError)
        for event in client.messages.create(model="c", max_tokens=100, messages=MESSAGES, stream=True):
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                texts.append(event.delta.text)
    assert len(texts) == 3


def test_anthropic_sdk_final_message_through_a_clean_proxy(proxy: ProxyServer) -> None:
    with (
        anthropic_client(proxy) as client,
        client.messages.stream(model="c", max_tokens=100, messages=MESSAGES) as stream,
    ):
        final = stream.get_final_message()
    assert final.content[0].type == "text" and final.content[0].text == TEXT


def test_a_429_from_the_proxy_is_anthropic_shaped_and_the_sdk_retries(
    proxy: ProxyServer, upstream: Server
) -> None:
    answer = post(proxy.url, "/v1/messages", "http_error 429")
    assert answer.status_code == 429
    body = answer.json()
    assert body["type"] == "error" and body["error"]["type"] == "rate_limit_error"
    with anthropic_client(proxy, "http_error 429 times=1 retry_after_ms=10", max_retries=1) as client:
        message = client.messages.create(model="c", max_tokens=100, messages=MESSAGES)
    assert message.content[0].type == "text" and message.content[0].text == TEXT
    assert [e.status for e in proxy.journal][-2:] == [429, 200]


def test_an_unreachable_upstream_is_a_502_in_the_routes_format(
    make_proxy: Callable[..., ProxyServer],
) -> None:
    proxy = make_proxy("http://127.0.0.1:9/v1")  # the discard port: nothing listens
    answer = post(proxy.url, "/v1/messages")
    assert answer.status_code == 502
    assert answer.json()["type"] == "error"
    assert proxy.journal.last is not None and proxy.journal.last.outcome == "upstream_error"


def test_responses_malformed_keeps_the_sequence_and_the_stream_goes_on(proxy: ProxyServer) -> None:
    raw = post(proxy.url, "/v1/responses", "malformed@2").content
    blocks = raw.split(b"\n\n")
    assert any(b.startswith(b'event: response.output_text.delta\ndata: {"id":"chatcmpl-') for b in blocks)
    assert events(raw)[-1][0] == "response.completed"


# -- record, then replay ------------------------------------------------------------------------------


@pytest.fixture
def recorded(
    tmp_path: Path, make_proxy: Callable[..., ProxyServer], upstream: Server
) -> Iterator[tuple[Path, dict[str, bytes]]]:
    """A Responses and a Messages stream recorded through the proxy: the folder, and the bytes
    each client received."""
    proxy = make_proxy(upstream.base_url, record_dir=tmp_path)
    received: dict[str, bytes] = {}
    for name, path in (("responses", "/v1/responses"), ("messages", "/v1/messages")):
        answer = httpx.post(
            f"{proxy.url}{path}",
            json=BODIES[path],
            headers={"X-FakeLLM-Test-Id": name},
            timeout=10,
        )
        received[path] = answer.content
        wait_for_file(tmp_path / f"{name}.json")
    yield tmp_path, received


def test_a_recording_keeps_each_events_name_and_bytes(recorded: tuple[Path, dict[str, bytes]]) -> None:
    folder, received = recorded
    for name, path in (("responses", "/v1/responses"), ("messages", "/v1/messages")):
        recording = load_recording(folder / f"{name}.json")
        assert b"".join(e.raw for e in recording.events) == received[path]
        doc = json.loads((folder / f"{name}.json").read_text())
        assert doc["request"]["path"] == path
        named = [e for e in doc["events"] if "event" in e]
        # Readable JSON, not raw text (Anthropic's ping, with spaces in its JSON, stays a string).
        assert named and all("chunk" in e or "data" in e for e in named)
        assert sum("chunk" in e for e in named) >= len(named) - 1
    doc = json.loads((folder / "messages.json").read_text())
    assert {e["event"] for e in doc["events"]} >= {"message_start", "content_block_delta", "message_stop"}


def test_replays_are_byte_identical_and_the_sdk_helpers_accept_them(
    recorded: tuple[Path, dict[str, bytes]], make_server: Callable[..., Server]
) -> None:
    folder, received = recorded
    replay = make_server(scenario_paths=[folder])
    for path in ("/v1/responses", "/v1/messages"):
        answer = post(replay.url, path)
        assert answer.content == received[path], path
        assert answer.headers["x-fakellm-scenario"] == (
            "responses" if path == "/v1/responses" else "messages"
        )
        assert replay.journal.last is not None and replay.journal.last.format == FORMAT_NAMES[path]
    with (
        openai_client(replay) as client,
        client.responses.stream(model="gpt-4o", input="Say hello.") as stream,
    ):
        assert stream.get_final_response().output_text == TEXT
    with (
        anthropic_client(replay) as aclient,
        aclient.messages.stream(model="claude-x", max_tokens=200, messages=MESSAGES) as astream,
    ):
        final = astream.get_final_message()
    assert final.content[0].type == "text" and final.content[0].text == TEXT


def test_faults_on_a_replay_follow_its_format(
    recorded: tuple[Path, dict[str, bytes]], make_server: Callable[..., Server]
) -> None:
    folder, _ = recorded
    replay = make_server(scenario_paths=[folder])
    got = events(post(replay.url, "/v1/responses", "error_event@2").content)
    assert [n for n, _ in got].count("response.output_text.delta") == 2
    assert [n for n, _ in got][-2:] == ["error", "response.failed"]
    numbers = [json.loads(data)["sequence_number"] for _, data in got]
    assert numbers == list(range(len(got)))
    # twice: each replay numbers its own injected events
    again = events(post(replay.url, "/v1/responses", "error_event@2").content)
    assert again == got
    anthropic_events = events(post(replay.url, "/v1/messages", "error_event@2").content)
    assert anthropic_events[-1][0] == "error"


def test_a_non_streamed_request_gets_the_formats_own_body(
    recorded: tuple[Path, dict[str, bytes]], make_server: Callable[..., Server]
) -> None:
    folder, _ = recorded
    replay = make_server(scenario_paths=[folder])
    with openai_client(replay) as client:
        assert client.responses.create(model="gpt-4o", input="Say hello.").output_text == TEXT
    with anthropic_client(replay) as aclient:
        message = aclient.messages.create(model="claude-x", max_tokens=200, messages=MESSAGES)
    assert message.content[0].type == "text" and message.content[0].text == TEXT


def test_a_recording_answers_its_own_route_only(
    recorded: tuple[Path, dict[str, bytes]], make_server: Callable[..., Server]
) -> None:
    folder, _ = recorded
    replay = make_server(scenario_paths=[folder])
    # Same model and prompt on the Chat route: the recordings do not match it, the default answers.
    chat = post(replay.url, "/v1/chat/completions", model="claude-x")
    assert chat.status_code == 200 and chat.headers["x-fakellm-scenario"] == "default"
    # Asked for by name on another route: a clear 400 in that route's format.
    wrong = httpx.post(
        f"{replay.url}/v1/messages",
        json=BODIES["/v1/messages"],
        headers={"X-FakeLLM-Scenario": "responses"},
        timeout=10,
    )
    assert wrong.status_code == 400
    body = wrong.json()
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    assert "openai.responses" in body["error"]["message"]


def test_old_chat_recordings_still_replay_identically(make_server: Callable[..., Server]) -> None:
    folder = Path(__file__).resolve().parents[2] / "fixtures" / "recorded"
    for path in sorted(folder.glob("*.json")):
        recording = load_recording(path)
        doc = json.loads(path.read_text())
        # Written back, every recording is the same document: the event field is only added
        # where an event line is.
        assert recording.as_json()["events"] == doc["events"], path.name
