"""The chaos proxy over real sockets: a fakellm server as the upstream, clients on raw sockets (for
bytes), httpx and the openai SDK."""

from __future__ import annotations

import itertools
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from fakellm import ProxyServer, Server, parse_fault_spec
from fakellm.cli import build_parser, main, proxy_config
from tests.helpers import (
    RawResponse,
    chat_body,
    content_of,
    fakellm_process,
    raw_request,
    refuse_body_then_get,
    sdk_tokens_before_error,
    tokens_of,
)

from ..conftest import FAST_TEXT

KEY = "sk-test-0123456789abcdef-9z8y"


UPSTREAM_SCENARIOS = [
    {"name": "default", "content": {"text": FAST_TEXT}, "timing": {"itl_ms": 2}},
    # Selected by model name: the proxy keeps X-FakeLLM-* headers to itself.
    {"name": "slow-head", "content": {"text": "late"}, "timing": {"ttft_ms": 1500}},
    {
        "name": "drop-upstream",
        "content": {"text": FAST_TEXT},
        "faults": [{"type": "drop", "after_tokens": 3}],
    },
    {"name": "stall-upstream", "content": {"text": FAST_TEXT}, "faults": ["stall@2 forever"]},
    {"name": "slow-stream", "content": {"text": FAST_TEXT * 5}, "timing": {"itl_ms": 100}},
    {
        "name": "error-upstream",
        "content": {"text": FAST_TEXT},
        "faults": ["error_event@2 message=from_upstream"],
    },
]


@pytest.fixture
def upstream(make_server: Callable[..., Server]) -> Server:
    return make_server(seed=99, scenarios=UPSTREAM_SCENARIOS)


@pytest.fixture
def proxy(make_proxy: Callable[..., ProxyServer], upstream: Server) -> ProxyServer:
    return make_proxy(upstream.base_url)


def faulted(port: int, spec: str, **body: Any) -> RawResponse:
    return raw_request(port, chat_body(**body), headers={"X-FakeLLM-Faults": spec})


# -- passthrough -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "upstream_faults",
    ["", "sse crlf comments", "sse cr ids bom", "fragment 1-7 bytes delay_ms=0"],
    ids=["plain", "crlf-comments", "cr-ids-bom", "upstream-fragmented"],
)
def test_passthrough_with_no_fault_is_byte_identical(
    upstream_faults: str, make_server: Callable[..., Server], make_proxy: Callable[..., ProxyServer]
) -> None:
    upstream = make_server(seed=99, scenarios=UPSTREAM_SCENARIOS, faults=parse_fault_spec(upstream_faults))
    proxy = make_proxy(upstream.base_url)
    body = chat_body(stream_options={"include_usage": True})
    direct = raw_request(upstream.port, body)
    proxied = raw_request(proxy.port, body)
    assert proxied.status == 200
    assert proxied.terminated
    assert proxied.body == direct.body
    assert proxied.headers["x-request-id"] == direct.headers["x-request-id"]
    assert proxied.headers["content-type"] == direct.headers["content-type"]
    entry = proxy.journal.last
    assert entry is not None
    assert entry.outcome == "completed"
    assert entry.text == FAST_TEXT
    assert entry.tokens_sent == len(tokens_of(direct.body))


def test_non_streaming_answers_and_errors_pass_through(proxy: ProxyServer, upstream: Server) -> None:
    body = chat_body(stream=False)
    assert raw_request(proxy.port, body).body == raw_request(upstream.port, body).body
    missing = raw_request(proxy.port, method="GET", path="/v1/nope")
    assert missing.status == 404
    assert missing.body == raw_request(upstream.port, method="GET", path="/v1/nope").body
    models = raw_request(proxy.port, method="GET", path="/v1/models")
    assert models.body == raw_request(upstream.port, method="GET", path="/v1/models").body


# -- faults on the passthrough ------------------------------------------------------------------------


def test_drop_counts_upstream_events(proxy: ProxyServer, upstream: Server) -> None:
    direct = raw_request(upstream.port, chat_body())
    dropped = faulted(proxy.port, "drop@4")
    assert dropped.status == 200
    assert not dropped.terminated
    assert dropped.closed
    assert tokens_of(dropped.body) == tokens_of(direct.body)[:4]
    assert direct.body.startswith(dropped.body)
    entry = proxy.journal.last
    assert entry is not None
    assert entry.outcome == "dropped"
    assert [(f.fault, f.at_token) for f in entry.faults] == [("drop", 4)]


def test_an_injected_error_event_is_raised_by_the_openai_sdk(proxy: ProxyServer, upstream: Server) -> None:
    seen = sdk_tokens_before_error(
        proxy.base_url, "error_event@3 message=upstream_overloaded", match="upstream_overloaded", api_key=KEY
    )
    assert seen == tokens_of(raw_request(upstream.port, chat_body()).body)[:3]
    entry = proxy.journal.last
    assert entry is not None
    assert entry.outcome == "error_event"


def test_an_upstream_error_event_passes_through_and_ends_the_stream(
    proxy: ProxyServer, upstream: Server
) -> None:
    direct = raw_request(upstream.port, chat_body(model="error-upstream"))
    # A proxy fault placed after the upstream's error never fires: the stream has ended there.
    proxied = faulted(proxy.port, "drop@5", model="error-upstream")
    assert proxied.terminated
    assert proxied.body == direct.body
    entry = proxy.journal.last
    assert entry is not None
    assert entry.outcome == "error_event"
    assert entry.faults == []
    client = openai.OpenAI(base_url=proxy.base_url, api_key=KEY, max_retries=0)
    with pytest.raises(openai.APIError, match="from_upstream"):
        for _ in client.chat.completions.create(
            model="error-upstream", messages=[{"role": "user", "content": "Hello"}], stream=True
        ):
            pass


def test_fragmentation_reslices_the_same_bytes(proxy: ProxyServer, upstream: Server) -> None:
    direct = raw_request(upstream.port, chat_body())
    cut = faulted(proxy.port, "fragment 5-40 bytes delay_ms=0.5")
    assert cut.terminated
    assert cut.body == direct.body
    assert len(cut.chunks) > len(direct.chunks) * 5
    assert max(len(c) for c in cut.chunks) <= 40


def test_stall_holds_the_stream_then_goes_on(proxy: ProxyServer, upstream: Server) -> None:
    direct = raw_request(upstream.port, chat_body())
    stalled = faulted(proxy.port, "stall@3 600ms")
    assert stalled.terminated
    assert stalled.body == direct.body
    gaps = [b - a for a, b in itertools.pairwise(stalled.read_times)]
    assert max(gaps) >= 0.55
    entry = proxy.journal.last
    assert entry is not None
    assert entry.outcome == "stalled_then_completed"


def test_bandwidth_caps_the_passthrough(proxy: ProxyServer, upstream: Server) -> None:
    direct = raw_request(upstream.port, chat_body())
    rate = 6000
    started = time.monotonic()
    slow = faulted(proxy.port, f"bandwidth {rate}")
    elapsed = time.monotonic() - started
    assert slow.body == direct.body
    assert elapsed >= 0.8 * len(direct.body) / rate
    assert max(len(c) for c in slow.chunks) <= rate / 10


def test_latency_delays_a_non_streaming_answer(proxy: ProxyServer, upstream: Server) -> None:
    body = chat_body(stream=False)
    started = time.monotonic()
    late = raw_request(proxy.port, body, headers={"X-FakeLLM-Faults": "latency 400"})
    assert time.monotonic() - started >= 0.38
    assert late.body == raw_request(upstream.port, body).body


def test_http_error_is_answered_by_the_proxy_without_asking_the_upstream(
    proxy: ProxyServer, upstream: Server
) -> None:
    client = openai.OpenAI(base_url=proxy.base_url, api_key=KEY, max_retries=0)
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "Hello"}],
            extra_headers={"X-FakeLLM-Faults": "http_error 429 retry_after_s=2"},
        )
    assert info.value.response.headers["retry-after"] == "2"
    assert len(upstream.journal) == 0


def test_scenario_faults_apply_by_match(make_proxy: Callable[..., ProxyServer], upstream: Server) -> None:
    proxy = make_proxy(
        upstream.base_url,
        scenarios=[{"name": "cut-weather", "match": {"prompt": "weather"}, "faults": ["truncate@2"]}],
    )
    cut = raw_request(proxy.port, chat_body(messages=[{"role": "user", "content": "the weather?"}]))
    assert cut.terminated  # a clean end: truncate, not drop
    assert len(tokens_of(cut.body)) == 2
    assert b"[DONE]" not in cut.body
    whole = raw_request(proxy.port, chat_body())
    assert whole.body.endswith(b"data: [DONE]\n\n")


# -- headers -------------------------------------------------------------------------------------------


def test_headers_are_forwarded_and_keys_redacted(
    proxy: ProxyServer, upstream: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response = raw_request(
        proxy.port,
        chat_body(),
        headers={
            "Authorization": f"Bearer {KEY}",
            "X-Custom": "abc",
            "TE": "trailers",
            "X-FakeLLM-Faults": "fragment 50-80 bytes delay_ms=0",
            "X-FakeLLM-Test-Id": "t::x",
        },
    )
    assert max(len(c) for c in response.chunks) <= 80  # the fault ran in the proxy...
    seen = upstream.journal.last
    assert seen is not None
    deadline = time.monotonic() + 5
    while seen.outcome == "streaming" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert seen.outcome == "completed"
    assert seen.faults == []  # ...not in the upstream: X-FakeLLM-* is not forwarded
    assert seen.headers["authorization"] == "Bearer ***9z8y"  # the key reached the upstream
    assert seen.headers["x-custom"] == "abc"
    assert "te" not in seen.headers
    assert not any(name.startswith("x-fakellm-") for name in seen.headers)
    mine = proxy.journal.last
    assert mine is not None
    assert mine.headers["authorization"] == "Bearer ***9z8y"
    journal = httpx.get(f"{proxy.url}/_fakellm/journal").text
    assert KEY not in journal
    assert "9z8y" in journal
    assert KEY not in caplog.text


def test_a_request_cannot_redirect_the_proxy(proxy: ProxyServer, upstream: Server) -> None:
    # An absolute-form target (RFC 9112 §3.2.2) is served like its path: it goes to the fixed
    # upstream, whatever host it names.
    response = raw_request(
        proxy.port,
        chat_body(),
        path="http://example.invalid:9/v1/chat/completions",
    )
    assert response.status == 200 and response.terminated
    assert content_of(response.body) == FAST_TEXT
    assert len(upstream.journal) == 1
    assert upstream.journal[0].path == "/v1/chat/completions"
    # A forged Host header changes nothing either: the request goes to the fixed upstream.
    with httpx.Client() as client:
        answer = client.post(
            f"{proxy.base_url}/chat/completions",
            json=chat_body(stream=False),
            headers={"Host": "example.invalid"},
        )
    assert answer.status_code == 200
    assert len(upstream.journal) == 2


@pytest.mark.parametrize("path", ["/v1/chat/completions#frag", "/v1/models?a=1#b", "http://h/v1/x#"])
def test_a_fragment_in_the_target_is_a_400_not_forwarded(
    proxy: ProxyServer, upstream: Server, path: str
) -> None:
    response = raw_request(proxy.port, chat_body(), path=path)
    assert response.status == 400
    assert json.loads(response.body)["error"]["code"] == "invalid_request_target"
    assert len(upstream.journal) == 0
    assert not proxy.state.internal_errors


@pytest.mark.parametrize(("method", "path"), [("POST", "/_fakellm/journal"), ("POST", "/nope")])
def test_an_unread_body_does_not_break_keep_alive(proxy: ProxyServer, method: str, path: str) -> None:
    """The proxy reads a refused body too, so that the connection serves the next request."""
    health = refuse_body_then_get(proxy.port, method, path, then="/_fakellm/health")
    assert json.loads(health)["status"] == "ok"


# -- upstream failures ---------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_an_unreachable_upstream_is_a_502_in_openais_shape(make_proxy: Callable[..., ProxyServer]) -> None:
    proxy = make_proxy(f"http://127.0.0.1:{_closed_port()}/v1")
    response = raw_request(proxy.port, chat_body())
    assert response.status == 502
    error = json.loads(response.body)["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == "upstream_unreachable"
    client = openai.OpenAI(base_url=proxy.base_url, api_key=KEY, max_retries=0)
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 502
    assert httpx.get(f"{proxy.url}/_fakellm/health").json()["status"] == "ok"  # still serving
    entry = proxy.journal.last
    assert entry is not None
    assert entry.outcome == "upstream_error"


def test_an_upstream_that_does_not_answer_in_time_is_a_504(
    make_proxy: Callable[..., ProxyServer], upstream: Server
) -> None:
    proxy = make_proxy(upstream.base_url, read_timeout_s=0.3)
    response = raw_request(proxy.port, chat_body(model="slow-head", stream=False))
    assert response.status == 504
    assert json.loads(response.body)["error"]["code"] == "upstream_timeout"


def test_an_upstream_drop_mid_stream_is_the_same_abrupt_end(proxy: ProxyServer, upstream: Server) -> None:
    direct = raw_request(upstream.port, chat_body(model="drop-upstream"))
    assert not direct.terminated
    proxied = raw_request(proxy.port, chat_body(model="drop-upstream"))
    assert proxied.status == 200
    assert not proxied.terminated
    assert proxied.closed
    assert proxied.body == direct.body
    entry = proxy.journal.last
    assert entry is not None
    assert entry.outcome == "dropped"
    assert entry.error is not None and entry.error["code"] == "upstream_dropped"
    again = raw_request(proxy.port, chat_body())  # the proxy keeps serving
    assert again.terminated
    assert content_of(again.body) == FAST_TEXT


def test_shutdown_ends_a_stream_waiting_on_a_silent_upstream(
    make_proxy: Callable[..., ProxyServer], upstream: Server
) -> None:
    proxy = make_proxy(upstream.base_url)
    result: list[RawResponse] = []
    client = threading.Thread(
        target=lambda: result.append(raw_request(proxy.port, chat_body(model="stall-upstream")))
    )
    client.start()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        entry = proxy.journal.last
        if entry is not None and entry.tokens_sent >= 2:
            break
        time.sleep(0.02)
    started = time.monotonic()
    proxy.stop()
    assert time.monotonic() - started < 5
    client.join(5)
    assert result and not result[0].terminated
    entry = proxy.journal.last
    assert entry is not None
    assert entry.outcome == "server_shutdown"


def open_stream(port: int, headers: dict[str, str] | None = None, **body: Any) -> socket.socket:
    """Send a streaming request and return the socket, the answer unread."""
    payload = json.dumps(chat_body(**body)).encode()
    head = [
        "POST /v1/chat/completions HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(payload)}",
        *(f"{k}: {v}" for k, v in (headers or {}).items()),
    ]
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
    return sock


def wait_until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def stream_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "fakellm-proxy-stream"]


def test_a_client_that_leaves_closes_the_upstream_stream(proxy: ProxyServer, upstream: Server) -> None:
    sock = open_stream(proxy.port, model="slow-stream")
    assert sock.recv(65536).startswith(b"HTTP/1.1 200")
    sock.close()
    wait_until(lambda: proxy.journal.last is not None and proxy.journal.last.outcome != "streaming")
    assert proxy.journal.last is not None
    assert proxy.journal.last.outcome == "client_disconnected"
    wait_until(lambda: upstream.journal.last is not None and upstream.journal.last.outcome != "streaming")
    assert upstream.journal.last is not None
    assert upstream.journal.last.outcome == "client_disconnected"  # not read to its end
    wait_until(lambda: not stream_threads())


def test_an_endless_fault_is_composed_lazily(proxy: ProxyServer) -> None:
    sock = open_stream(proxy.port, headers={"X-FakeLLM-Faults": "stall@2 forever keepalive_ms=50"})
    received = sock.recv(65536)
    cpu = time.process_time()
    deadline = time.monotonic() + 0.6
    while time.monotonic() < deadline:
        received += sock.recv(65536)
    cpu = time.process_time() - cpu
    sock.close()
    assert received.count(b": keep-alive\n\n") >= 5
    assert cpu < 0.3  # composed as the transport needs it: not an endless run, eagerly
    started = time.monotonic()
    assert httpx.get(f"{proxy.url}/_fakellm/health").json()["status"] == "ok"
    assert time.monotonic() - started < 1
    wait_until(lambda: not stream_threads())


# -- the command --------------------------------------------------------------------------------------


def test_the_proxy_command(upstream: Server) -> None:
    with fakellm_process("proxy", "--upstream", upstream.base_url, "--port", "0") as proxy:
        line = proxy.first_line
        match = re.fullmatch(r"fakellm proxy listening on (http://127\.0\.0\.1:(\d+)/v1) -> (\S+)\n", line)
        assert match, line
        assert match.group(3) == upstream.base_url
        response = raw_request(int(match.group(2)), chat_body(), headers={"X-FakeLLM-Faults": "drop@2"})
        assert len(tokens_of(response.body)) == 2
        assert not response.terminated
    assert proxy.process.returncode == 0, proxy.err
    assert proxy.out.endswith("fakellm proxy stopped\n")


@pytest.mark.parametrize(
    ("upstream", "message"),
    [("ftp://example.com/v1", "http:// or https://"), ("http://example.com/v1?x=1", "no query")],
)
def test_the_proxy_command_refuses_a_bad_upstream(
    upstream: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["proxy", "--upstream", upstream, "--port", "0"]) == 2
    assert message in capsys.readouterr().err


def test_the_proxy_flags() -> None:
    args = build_parser().parse_args(
        [
            *("proxy", "--upstream", "http://u:1/v1", "--port", "0", "--scenarios", "a.yaml"),
            *("--faults", "drop@3", "--seed", "5", "--record", "out", "--host", "0.0.0.0"),
        ]
    )
    config = proxy_config(args)
    assert config.upstream == "http://u:1/v1"
    assert config.record_dir == Path("out")
    assert (config.server.host, config.server.port, config.server.seed) == ("0.0.0.0", 0, 5)
    assert config.server.scenario_paths == ("a.yaml",)
    assert config.server.faults == tuple(parse_fault_spec("drop@3"))


def test_the_proxy_seed_is_checked_like_serves(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["proxy", "--upstream", "http://u:1/v1", "--seed", "-1"])
    assert "seed must be >= 0" in capsys.readouterr().err
