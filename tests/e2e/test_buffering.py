"""A buffering proxy on cue (``buffer``) and the ``X-Accel-Buffering`` header (``accel_buffering``,
``--accel-buffering``), over real sockets.

The raw client keeps every read with its arrival time: behind ``buffer all`` nothing arrives until
the stream's schedule is over, behind ``buffer 4096`` nothing before 4096 bytes are held, and in both
the body is byte for byte the unbuffered one. The transport never writes a frame before it is due
(deadlines are absolute, from the request's arrival), so "not before" bounds are tight and "not
much later" bounds are generous.
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Callable

import httpx
import openai
import pytest

from fakellm import JournalEntry, ProxyServer, Server, ServerConfig, parse_fault_spec, scenario_from_dict
from fakellm.wire import FORMATS

from ..helpers import (
    FakellmProcess,
    RawResponse,
    chat_body,
    content_of,
    fakellm_process,
    raw_request,
    sse_data,
)
from .test_metrics import scrape, total

TTFT_MS = 40.0
ITL_MS = 4.0
# 84 tokens, one a word, of ~270 bytes each as Chat Completions chunks: about 23 kB, five buffers
# of 4096; the stream's schedule ends at 0.37 s.
TEXT = " ".join(["one", "two", "six", "ten", "red", "big"] * 14)
SEED = {"X-FakeLLM-Seed": "7"}


def last_due(tokens: int) -> float:
    """When the last token (and the end of the stream) is due, in seconds after the request."""
    return (TTFT_MS + (tokens - 1) * ITL_MS) / 1000.0


@pytest.fixture(scope="module")
def server() -> Server:
    scenarios = [
        {"name": "default", "content": {"text": TEXT}, "timing": {"ttft_ms": TTFT_MS, "itl_ms": ITL_MS}},
        {"name": "quick", "content": {"text": "Hello."}},
        {
            "name": "behind-nginx",
            "content": {"text": "Hello."},
            "faults": ["accel_buffering omit", "buffer 4k"],
        },
    ]
    with Server(scenarios=scenarios) as running:
        yield running


def stream(server: Server, faults: str = "", **headers: str) -> RawResponse:
    sent = {**SEED, **headers}
    if faults:
        sent["X-FakeLLM-Faults"] = faults
    return raw_request(server.port, chat_body(), headers=sent)


def arrivals(response: RawResponse) -> list[tuple[float, int]]:
    """(seconds after the request was sent, body bytes received so far) for every read."""
    out = []
    received = 0
    for data, at in zip(response.reads, response.read_times, strict=True):
        received += len(data)
        out.append((at - response.started, received))
    return out


def tokens(response: RawResponse) -> int:
    return sum(1 for data in sse_data(response.body) if '"content":"' in data and '"content":""' not in data)


# --------------------------------------------------------------------------------------------------
# buffer all, buffer N


def test_buffer_all_sends_nothing_until_the_end_then_everything(server: Server) -> None:
    plain = stream(server)
    held = stream(server, "buffer all")
    assert plain.terminated and held.terminated
    assert held.body == plain.body  # not a byte lost, doubled or moved
    assert content_of(held.body) == TEXT
    n = tokens(plain)
    end = last_due(n)
    first_plain = arrivals(plain)[0][0]
    first_held = arrivals(held)[0][0]
    assert first_plain < end / 2  # streamed: the first event came early
    assert first_held >= end - 0.002  # held: nothing before the schedule's end
    assert len(held.chunks) == 1  # one write, one HTTP chunk
    entry = server.journal.last
    assert entry.outcome == "completed" and entry.text == TEXT and entry.tokens_sent == n
    # The journal times what was written: the first token went out with the last.
    assert entry.first_byte_ms is not None and entry.first_token_ms is not None
    assert entry.first_byte_ms >= end * 1000 - 2 and entry.first_token_ms == entry.first_byte_ms
    assert [(f.fault, f.detail) for f in entry.faults] == [("buffer", "all")]


def test_buffer_4096_sends_whole_buffers_only_once_they_are_full(server: Server) -> None:
    plain = stream(server)
    held = stream(server, "buffer 4096")
    assert held.body == plain.body and held.terminated
    # Each write is one HTTP chunk: every one but the last is a whole number of buffers.
    assert len(held.chunks) >= 5
    assert all(len(chunk) % 4096 == 0 for chunk in held.chunks[:-1])
    # The event that brings the held bytes to 4096 is due at TTFT + (k - 1) gaps: nothing comes
    # before it (the plain stream's chunks are its events, the role chunk first).
    sizes = [len(chunk) for chunk in plain.chunks]
    k = next(i for i in range(len(sizes)) if sum(sizes[: i + 1]) >= 4096)
    due = (TTFT_MS + (k - 1) * ITL_MS) / 1000.0
    first_at, first_bytes = arrivals(held)[0]
    assert first_at >= due - 0.002
    assert first_bytes >= 4096
    assert arrivals(plain)[0][0] < due  # streamed, the first bytes came long before
    # Later bursts keep arriving before the end: the stream is late, not held to its end.
    assert arrivals(held)[0][0] < last_due(tokens(plain)) - 0.1
    entry = server.journal.last
    assert entry.text == TEXT and entry.outcome == "completed"


def test_buffered_streams_still_parse_through_the_openai_sdk(server: Server) -> None:
    client = openai.OpenAI(base_url=server.base_url, api_key="sk-x", max_retries=0)
    for spec in ("buffer all", "buffer 4096", "buffer 1k; fragment 200-900 bytes delay_ms=0"):
        with client.chat.completions.stream(
            model="gpt-4o",
            messages=[{"role": "user", "content": "Hi"}],
            extra_headers={"X-FakeLLM-Faults": spec},
        ) as events:
            final = events.get_final_completion()
        assert final.choices[0].message.content == TEXT, spec
        assert final.choices[0].finish_reason == "stop"


def test_a_drop_behind_the_buffer_lets_out_what_was_held(server: Server) -> None:
    plain = stream(server)
    dropped = stream(server, "drop@20; buffer all")
    assert not dropped.terminated and dropped.closed
    assert len(dropped.reads) <= 3 and tokens(dropped) == 20  # one burst, every token before the drop
    assert plain.body.startswith(dropped.body)
    # Held until the drop: the 20th token was due at TTFT + 19 gaps, the drop at the 21st's moment.
    assert arrivals(dropped)[0][0] >= (TTFT_MS + 20 * ITL_MS) / 1000.0 - 0.002
    assert server.journal.last.outcome == "dropped"
    reset = stream(server, "drop@20 rst; buffer all")
    assert isinstance(reset.error, ConnectionResetError) or tokens(reset) == 20
    assert server.journal.last.outcome == "reset"


def test_behind_buffer_all_keepalive_comments_never_reach_the_client(server: Server) -> None:
    # The proxy's trap: comments that keep a read timeout from firing are held like the rest.
    held = raw_request(
        server.port,
        chat_body(),
        headers={**SEED, "X-FakeLLM-Faults": "stall@3 forever keepalive_ms=20; buffer all"},
        timeout=0.6,
    )
    assert held.reads == [] and isinstance(held.error, TimeoutError)
    entry = _settled(server, "client_disconnected")
    assert entry.tokens_sent == 0 and entry.bytes_sent == 0


def test_a_client_that_leaves_a_held_stream_frees_it(server: Server) -> None:
    body = json.dumps(chat_body()).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"X-FakeLLM-Faults: buffer all\r\n"
            b"Content-Length: %d\r\n\r\n%b" % (len(body), body)
        )
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")  # the head
        time.sleep(0.2)  # half the stream's schedule: streamed, dozens of events would be here
        sock.setblocking(False)
        with pytest.raises(BlockingIOError):
            sock.recv(65536)
    entry = _settled(server, "client_disconnected")
    assert entry.bytes_sent == 0 and entry.first_byte_ms is None
    assert stream(server).terminated  # and the server goes on serving


def _settled(server: Server, outcome: str) -> JournalEntry:
    deadline = time.monotonic() + 5
    while server.journal.last.outcome != outcome:
        assert time.monotonic() < deadline, server.journal.last.outcome
        time.sleep(0.02)
    return server.journal.last


def test_the_metrics_time_the_first_token_as_written(make_server: Callable[..., Server]) -> None:
    server = make_server(
        scenarios=[{"name": "default", "content": {"text": TEXT}, "timing": {"ttft_ms": 0, "itl_ms": 4}}]
    )
    assert raw_request(server.port, chat_body(), headers={"X-FakeLLM-Faults": "buffer all"}).terminated
    samples, _, _ = scrape(server.base_url.removesuffix("/v1"))
    # Unbuffered, the first token would be written at once; the last is due at 0.332 s.
    assert total(samples, "fakellm_ttft_seconds_bucket", le="0.2") == 0
    assert total(samples, "fakellm_ttft_seconds_count") == 1
    assert total(samples, "fakellm_faults_total", fault="buffer") == 1


# --------------------------------------------------------------------------------------------------
# Bad specs


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("buffer -3", "buffer size_bytes: must be >= 1, got -3 at character 8 of 'buffer -3'"),
        ("buffer lots", "buffer size_bytes: must be an integer (of bytes, or 4k, 1m), got 'lots'"),
        ("buffer 0", "buffer size_bytes: must be >= 1, got 0"),
        ("buffer 99m", "buffer size_bytes: must be <= 16777216"),
        ("accel_buffering off", "accel_buffering value: must be one of omit, yes, no, got 'off'"),
    ],
)
def test_a_bad_buffer_spec_is_a_clear_400(server: Server, spec: str, reason: str) -> None:
    response = httpx.post(
        f"{server.base_url}/chat/completions", json=chat_body(), headers={"X-FakeLLM-Faults": spec}
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"].startswith(f"Bad X-FakeLLM-Faults header: {reason}")
    assert (error["type"], error["param"], error["code"]) == (
        "invalid_request_error",
        "X-FakeLLM-Faults",
        "invalid_fault_spec",
    )
    assert stream(server).terminated


# --------------------------------------------------------------------------------------------------
# X-Accel-Buffering


@pytest.mark.parametrize("path", sorted(FORMATS))
def test_every_stream_says_x_accel_buffering_no_unless_told_otherwise(server: Server, path: str) -> None:
    body = _body_for(path)
    quick = {"X-FakeLLM-Scenario": "quick"}
    default = raw_request(server.port, body, path=path, headers=quick)
    assert default.status == 200 and default.headers["x-accel-buffering"] == "no"
    omitted = raw_request(
        server.port, body, path=path, headers={**quick, "X-FakeLLM-Faults": "accel_buffering"}
    )
    assert omitted.status == 200 and "x-accel-buffering" not in omitted.headers
    assert omitted.body and omitted.terminated
    asked = raw_request(
        server.port, body, path=path, headers={**quick, "X-FakeLLM-Faults": "accel_buffering yes"}
    )
    assert asked.headers["x-accel-buffering"] == "yes"
    assert [(f.fault, f.detail) for f in server.journal.last.faults] == [("accel_buffering", "yes")]


def _body_for(path: str) -> dict[str, object]:
    if path == "/v1/responses":
        return {"model": "gpt-4o", "input": "Hi", "stream": True}
    if path == "/v1/messages":
        return {
            "model": "claude",
            "max_tokens": 50,
            "stream": True,
            "messages": [{"role": "user", "content": "Hi"}],
        }
    if path == "/v1/completions":
        return {"model": "gpt-3.5-turbo-instruct", "prompt": "Hi", "stream": True}
    if path == "/api/chat":
        return {
            "id": "c",
            "messages": [{"id": "u", "role": "user", "parts": [{"type": "text", "text": "Hi"}]}],
        }
    return chat_body()


def test_a_scenario_omits_the_header_and_buffers(server: Server) -> None:
    response = stream(server, **{"X-FakeLLM-Scenario": "behind-nginx"})
    assert "x-accel-buffering" not in response.headers
    assert len(response.chunks) == 1 and content_of(response.body) == "Hello."
    # A request's header has the last word.
    again = stream(server, "accel_buffering no", **{"X-FakeLLM-Scenario": "behind-nginx"})
    assert again.headers["x-accel-buffering"] == "no"


def test_a_non_streamed_answer_never_carries_it(server: Server) -> None:
    response = httpx.post(
        f"{server.base_url}/chat/completions",
        json=chat_body(stream=False),
        headers={"X-FakeLLM-Faults": "accel_buffering yes"},
    )
    assert response.status_code == 200 and "x-accel-buffering" not in response.headers
    assert server.journal.last.faults == []


def test_the_server_wide_setting(make_server: Callable[..., Server]) -> None:
    quick = scenario_from_dict({"name": "default", "content": {"text": "Hi."}})
    server = make_server(config=ServerConfig(port=0, scenarios=(quick,), accel_buffering="omit"))
    assert "x-accel-buffering" not in raw_request(server.port, chat_body()).headers
    assert server.journal.last.faults == []  # the server's own header, no fault
    told = raw_request(server.port, chat_body(), headers={"X-FakeLLM-Faults": "accel_buffering no"})
    assert told.headers["x-accel-buffering"] == "no"
    with pytest.raises(ValueError, match="accel_buffering must be one of no, yes, omit, got 'off'"):
        ServerConfig(accel_buffering="off")


def test_fakellm_serve_accel_buffering_omit() -> None:
    running: FakellmProcess
    with fakellm_process("serve", "--port", "0", "--accel-buffering", "omit") as running:
        match = re.search(r"http://127\.0\.0\.1:(\d+)/v1", running.first_line)
        assert match, running.first_line
        response = raw_request(int(match.group(1)), chat_body(), headers={"X-FakeLLM-TTFT-Ms": "0"})
        assert response.status == 200 and response.terminated
        assert "x-accel-buffering" not in response.headers
    assert running.process.returncode == 0, running.err


# --------------------------------------------------------------------------------------------------
# The proxy: frame faults act on the upstream's stream too


def test_the_proxy_buffers_the_upstream_stream(
    server: Server, make_proxy: Callable[..., ProxyServer]
) -> None:
    proxy = make_proxy(server.base_url)
    plain = raw_request(proxy.port, chat_body(), headers=SEED)
    held = raw_request(proxy.port, chat_body(), headers={**SEED, "X-FakeLLM-Faults": "buffer all"})
    # The seed header is the proxy's: the upstream draws its own ids, so the texts are compared.
    assert held.terminated and content_of(held.body) == content_of(plain.body) == TEXT
    assert len(held.chunks) == 1 and len(sse_data(held.body)) == len(sse_data(plain.body))
    end = last_due(tokens(plain))
    assert arrivals(held)[0][0] >= end - 0.002  # the upstream's last event came no earlier
    # Streamed, the first token comes long before the held burst (by a margin a loaded machine keeps).
    assert len(plain.chunks) > 1 and arrivals(plain)[0][0] < arrivals(held)[0][0] - end / 4
    entry = proxy.journal.last
    assert entry.text == TEXT and entry.outcome == "completed"
    assert entry.first_token_ms is not None and entry.first_token_ms >= end * 1000 - 2
    chunked = raw_request(proxy.port, chat_body(), headers={**SEED, "X-FakeLLM-Faults": "buffer 4096"})
    assert content_of(chunked.body) == TEXT
    assert all(len(chunk) % 4096 == 0 for chunk in chunked.chunks[:-1]) and len(chunked.chunks) >= 5


def test_the_proxy_forwards_the_upstream_header_unless_told(
    server: Server, make_proxy: Callable[..., ProxyServer]
) -> None:
    proxy = make_proxy(server.base_url)
    assert raw_request(proxy.port, chat_body()).headers["x-accel-buffering"] == "no"  # the upstream's
    omitted = raw_request(proxy.port, chat_body(), headers={"X-FakeLLM-Faults": "accel_buffering"})
    assert "x-accel-buffering" not in omitted.headers and omitted.terminated
    everywhere = make_proxy(server.base_url, faults=parse_fault_spec("accel_buffering yes"))
    assert raw_request(everywhere.port, chat_body()).headers["x-accel-buffering"] == "yes"
