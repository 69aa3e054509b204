"""Every fault on a real server, checked on the bytes a raw socket receives (tests/helpers.py
``raw_request`` keeps each recv(), decodes the chunked body, and reports the terminator, EOF and
resets). Also the journal's record of what fired where and how each stream ended, and that a
deliberate drop logs no traceback.

Timing bounds are generous (two shared cores) but each would fail if the fault did nothing.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from fakellm import Server, SSEDecoder
from fakellm.journal import JournalEntry
from fakellm.tokens import tokenize
from tests.helpers import RawResponse, chat_body, content_of, raw_request, sse_data

MakeServer = Callable[..., Server]

TEXT = "Héllo wörld, ça va? Crème brûlée 😀 naïve façade 🎉 fin."
UTF8 = "Ça brûle 😀🎉 naïf €"  # short, so that byte-by-byte fragmentation stays fast
SLOW = "one two three four five six seven eight nine ten"
TOKENS = tokenize(TEXT)


@pytest.fixture
def chaos(make_server: MakeServer) -> Server:
    return make_server(
        seed=7,
        scenarios=[
            {"name": "default", "content": {"text": TEXT}, "timing": {"ttft_ms": 0, "itl_ms": 2}},
            {"name": "utf8", "content": {"text": UTF8}, "ascii_only": False},
            {"name": "slow", "content": {"text": SLOW}, "timing": {"ttft_ms": 0, "itl_ms": 20}},
        ],
    )


def send(
    server: Server,
    faults: str | None = None,
    *,
    scenario: str | None = None,
    seed: int | None = None,
    timeout: float = 10.0,
    **body: Any,
) -> RawResponse:
    headers = {}
    if faults is not None:
        headers["X-FakeLLM-Faults"] = faults
    if scenario is not None:
        headers["X-FakeLLM-Scenario"] = scenario
    if seed is not None:
        headers["X-FakeLLM-Seed"] = str(seed)
    return raw_request(server.port, chat_body(**body), headers=headers, timeout=timeout)


def wait_for(condition: Callable[[], bool], timeout: float = 3.0) -> float:
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError("timed out waiting")
        time.sleep(0.005)
    return time.monotonic() - start


def settled(server: Server) -> JournalEntry:
    """The last journal entry once its stream has finished (the transport writes it last)."""
    wait_for(lambda: len(server.state.streams) == 0)
    entry = server.journal.last
    assert entry is not None
    return entry


def chunk_jsons(body: bytes) -> list[Any]:
    return [json.loads(d) for d in sse_data(body) if d != "[DONE]"]


def test_plain_stream_is_complete(chaos: Server) -> None:
    response = send(chaos)
    assert response.terminated and response.body.endswith(b"data: [DONE]\n\n")
    assert content_of(response.body) == TEXT
    entry = settled(chaos)
    assert (entry.outcome, entry.faults) == ("completed", [])


# --------------------------------------------------------------------------------------------------
# drop, reset


def test_drop_has_no_terminator_and_the_connection_closes(chaos: Server) -> None:
    response = send(chaos, "drop@4")
    assert response.status == 200
    assert response.closed and not response.terminated and response.error is None
    assert content_of(response.body) == "".join(TOKENS[:4])
    assert b"[DONE]" not in response.body and b'"finish_reason":"stop"' not in response.body
    entry = settled(chaos)
    assert entry.outcome == "dropped"
    (fired,) = entry.faults
    assert (fired.fault, fired.at_token, fired.detail) == ("drop", 4, "fin")
    assert fired.at_byte == len(response.body) == entry.bytes_sent


def test_drop_after_ms(chaos: Server) -> None:
    response = send(chaos, "drop@60ms", scenario="slow")  # tokens at 0, 20, 40, 60 ms ...
    assert response.closed and not response.terminated
    assert content_of(response.body) == "".join(tokenize(SLOW)[:3])
    entry = settled(chaos)
    assert entry.faults[0].at_ms >= 60


@pytest.mark.parametrize("spec", ["drop@3 rst", "drop@0 rst", "drop rst"])
def test_rst_gives_connection_reset(chaos: Server, spec: str) -> None:
    response = send(chaos, spec)
    assert isinstance(response.error, ConnectionResetError)
    assert not response.terminated and not response.closed
    assert settled(chaos).outcome == "reset"


def test_drops_log_no_traceback(make_server: MakeServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: hypercorn.error, fakellm, asyncio, ...
    server = make_server(scenarios=[{"name": "default", "content": {"text": TEXT}}])
    for spec in ("drop@2", "drop@2 rst", "drop@0ms", "error_event@2 hold"):
        send(server, spec, timeout=0.5)
        settled(server)
    server.stop()
    # The capture works: hypercorn's own startup line from the server thread is here.
    assert any(r.name == "hypercorn.error" and "Running on" in r.getMessage() for r in caplog.records)
    problems = [
        r
        for r in caplog.records
        if r.levelno >= logging.WARNING or r.exc_info or "Traceback" in r.getMessage()
    ]
    assert problems == [], [f"{r.name}: {r.getMessage()}" for r in problems]
    assert server.state.internal_errors == []


# --------------------------------------------------------------------------------------------------
# truncate, error_event, malformed


def test_truncate_ends_cleanly_without_finish_or_done(chaos: Server) -> None:
    response = send(chaos, "truncate@5")
    assert response.terminated and response.closed is False
    assert b"[DONE]" not in response.body
    assert all(c["choices"][0]["finish_reason"] is None for c in chunk_jsons(response.body))
    assert content_of(response.body) == "".join(TOKENS[:5])
    assert response.body.endswith(b"}\n\n")  # whole events only
    entry = settled(chaos)
    assert entry.outcome == "truncated" and entry.faults[0].at_token == 5


@pytest.mark.parametrize(("then", "tail"), [("close", b""), ("done", b"data: [DONE]\n\n")])
def test_error_event_then_close_or_done(chaos: Server, then: str, tail: bytes) -> None:
    spec = f'error_event@3 {then} message="Overloaded, try later" type=overloaded_error code=busy'
    response = send(chaos, spec)
    assert response.terminated
    error_event = (
        b'data: {"error":{"message":"Overloaded, try later","type":"overloaded_error",'
        b'"param":null,"code":"busy"}}\n\n'
    )
    assert response.body.endswith(error_event + tail)
    assert content_of(response.body.removesuffix(error_event + tail)) == "".join(TOKENS[:3])
    entry = settled(chaos)
    assert entry.outcome == "error_event"
    assert (entry.faults[0].at_token, entry.faults[0].at_byte) == (3, response.body.index(b'data: {"error"'))


def test_error_event_then_hold_keeps_the_connection_open(chaos: Server) -> None:
    started = time.monotonic()
    response = send(chaos, "error_event@3 hold", timeout=0.6)
    assert isinstance(response.error, TimeoutError)  # the client gave up; the server sent nothing more
    assert time.monotonic() - started >= 0.5
    assert not response.terminated and not response.closed
    assert response.body.endswith(b"}}\n\n") and b'"error"' in response.body
    entry = settled(chaos)  # ... and the stream ended when the client left
    assert entry.outcome == "error_event"


def test_malformed_sends_one_event_that_is_not_json(chaos: Server) -> None:
    response = send(chaos, "malformed@2")
    assert response.terminated and response.body.endswith(b"data: [DONE]\n\n")
    datas = sse_data(response.body)
    bad = [d for d in datas if d != "[DONE]" and not _is_json(d)]
    assert bad == ['{"id":"chatcmpl-']
    assert datas.index(bad[0]) == 3  # role, two tokens, then the bad one
    assert settled(chaos).outcome == "completed"


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------------------------------
# fragment, coalesce


class Dechunker:
    """An incremental chunked-body decoder: how much payload each read completed."""

    def __init__(self) -> None:
        self.buf = b""
        self.left = 0  # payload bytes still due in the current chunk
        self.in_data = False
        self.done = False

    def feed(self, data: bytes) -> bytes:
        self.buf += data
        out = bytearray()
        while not self.done:
            if self.in_data:
                take = self.buf[: self.left]
                out += take
                self.buf = self.buf[len(take) :]
                self.left -= len(take)
                if self.left or len(self.buf) < 2:
                    break
                self.buf = self.buf[2:]  # the CRLF after the chunk data
                self.in_data = False
            else:
                end = self.buf.find(b"\r\n")
                if end < 0:
                    break
                self.left = int(self.buf[:end].split(b";")[0], 16)
                self.buf = self.buf[end + 2 :]
                self.in_data = self.left > 0
                self.done = self.left == 0
        return bytes(out)


def read_boundaries(response: RawResponse) -> list[int]:
    """Offsets in the payload where a recv() ended (what an SSE client sees as its reads)."""
    decoder = Dechunker()
    offsets = []
    total = 0
    for read in response.reads:
        total += len(decoder.feed(read))
        offsets.append(total)
    return offsets[:-1]


def test_fragment_splits_inside_lines_and_utf8_characters(chaos: Server) -> None:
    plain = send(chaos, scenario="utf8", seed=5)
    assert "û".encode() in plain.body and "😀".encode() in plain.body  # raw UTF-8 (ascii_only: false)
    response = send(chaos, "fragment 1-4 bytes delay_ms=1", scenario="utf8", seed=5)
    assert response.terminated
    body = response.body
    assert body == plain.body  # the same bytes for the same seed, only cut differently
    events = len(sse_data(body))
    assert len(response.reads) > events
    assert len(response.chunks) > events  # every write is its own HTTP chunk
    cuts = read_boundaries(response)
    assert any(body[c - 1 : c] != b"\n" for c in cuts), "no read ended mid-line"
    assert any(0x80 <= body[c] <= 0xBF for c in cuts), "no read ended inside a UTF-8 character"
    # ... and a spec-correct decoder fed read by read gets exactly the plain stream's events.
    decoder = SSEDecoder()
    dechunker = Dechunker()
    fed = [e.data for read in response.reads for e in decoder.feed(dechunker.feed(read))]
    assert fed == sse_data(plain.body)


def test_fragment_changes_nothing_but_the_cuts(chaos: Server) -> None:
    plain = send(chaos, seed=11)
    cut = send(chaos, "fragment 5-40 bytes delay_ms=0", seed=11)
    assert cut.body == plain.body
    assert len(cut.chunks) > len(plain.chunks)
    assert all(len(c) <= 40 for c in cut.chunks)


def test_coalesce_puts_several_events_in_one_write(chaos: Server) -> None:
    plain = send(chaos, scenario="slow", seed=3)
    response = send(chaos, "fragment coalesce", scenario="slow", seed=3)
    assert response.body == plain.body
    assert len(response.chunks) < len(plain.chunks)
    per_write = [chunk.count(b"\n\n") for chunk in response.chunks]
    assert max(per_write) >= 2 and all(1 <= n <= 4 for n in per_write)
    assert all(chunk.endswith(b"\n\n") for chunk in response.chunks)  # whole events, joined


# --------------------------------------------------------------------------------------------------
# sse framing variants


@pytest.mark.parametrize(
    ("spec", "marker"),
    [
        ("sse crlf", b"\r\n\r\n"),
        ("sse cr", b"}\r\r"),
        ("sse comments", b"\n: fakellm comment"),
        ("sse bom", b"\xef\xbb\xbfdata: "),
        ("sse retry_ms=2500", b"retry: 2500\n"),
        ("sse ids", b"id: 3\n"),
        ("sse cr comments bom ids retry_ms=10", b"\xef\xbb\xbfretry: 10\r"),
    ],
)
def test_sse_variants_parse_to_the_same_events(chaos: Server, spec: str, marker: bytes) -> None:
    plain = send(chaos, seed=2)
    response = send(chaos, spec, seed=2)
    assert response.terminated
    assert marker in response.body and marker not in plain.body
    if "cr" in spec.split():
        assert b"\n" not in response.body
    decoder = SSEDecoder()
    events = [(e.event, e.data) for chunk in response.chunks for e in decoder.feed(chunk)]
    assert events == [("message", d) for d in sse_data(plain.body)]


# --------------------------------------------------------------------------------------------------
# stall


def test_stall_with_keepalive_comments(chaos: Server) -> None:
    response = send(chaos, "stall@3 500ms keepalive_ms=100", scenario="slow")
    assert response.terminated and response.body.endswith(b"data: [DONE]\n\n")
    assert content_of(response.body) == SLOW
    # The comments sit between token 3 and token 4.
    third = response.body.index(b'"content":" three"')
    fourth = response.body.index(b'"content":" four"')
    assert response.body[third:fourth].count(b": keep-alive\n\n") == 4  # at 100, 200, 300, 400 ms
    gap = _arrival(response, b'"content":" four"') - _arrival(response, b'"content":" three"')
    assert 0.45 <= gap < 2.0
    entry = settled(chaos)
    assert entry.outcome == "stalled_then_completed"
    assert (entry.faults[0].fault, entry.faults[0].at_token) == ("stall", 3)


def _arrival(response: RawResponse, marker: bytes) -> float:
    seen = b""
    for read, at in zip(response.reads, response.read_times, strict=True):
        seen += read
        if marker in seen:
            return at
    raise AssertionError(f"{marker!r} never arrived")


def _open_stream(server: Server, faults: str) -> socket.socket:
    payload = json.dumps(chat_body()).encode()
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    sock.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"X-FakeLLM-Faults: {faults}\r\nContent-Length: {len(payload)}\r\n\r\n".encode()
        + payload
    )
    return sock


def _read_until(sock: socket.socket, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        more = sock.recv(65536)
        if not more:
            raise AssertionError(f"closed before {marker!r}: {data!r}")
        data += more
    return data


@pytest.mark.parametrize("spec", ["stall@2 forever", "stall@2 forever keepalive_ms=20", "stall@2 60s"])
def test_stall_ends_promptly_when_the_client_disconnects(chaos: Server, spec: str) -> None:
    sock = _open_stream(chaos, spec)
    _read_until(sock, b'"content":" w')  # the second token
    time.sleep(0.1)
    assert len(chaos.state.streams) == 1
    sock.close()
    assert wait_for(lambda: len(chaos.state.streams) == 0, timeout=2.0) < 2.0
    entry = chaos.journal.last
    assert entry is not None and entry.outcome == "client_disconnected"
    assert entry.faults[0].fault == "stall" and entry.tokens_sent == 2


def test_stall_ends_promptly_when_the_server_shuts_down(make_server: MakeServer) -> None:
    server = make_server(scenarios=[{"name": "default", "content": {"text": TEXT}}])
    sock = _open_stream(server, "stall@2 forever keepalive_ms=50")
    _read_until(sock, b": keep-alive")
    assert len(server.state.streams) == 1
    started = time.monotonic()
    stopper = threading.Thread(target=server.stop)
    stopper.start()
    stopper.join(10)
    # Well under hypercorn's 3 s grace period, which a stall that ignored shutdown would use up.
    assert time.monotonic() - started < 1.5
    assert len(server.state.streams) == 0
    sock.settimeout(5)
    rest = b""
    while data := sock.recv(65536):
        rest += data
    sock.close()
    assert not rest.endswith(b"0\r\n\r\n")
    entry = server.journal.last
    assert entry is not None and entry.outcome == "server_shutdown"


# --------------------------------------------------------------------------------------------------
# bandwidth, slow_tokens, latency


def test_bandwidth_caps_bytes_per_second(chaos: Server) -> None:
    size = len(send(chaos, seed=1).body)
    rate = 4 * size  # the whole body should take about 250 ms
    response = send(chaos, f"bandwidth {rate}", seed=1)
    assert len(response.body) == size and response.terminated
    took = response.read_times[-1] - response.started
    assert 0.2 <= took < 3.0
    assert max(len(c) for c in response.chunks) <= rate / 10


def test_slow_tokens_slows_from_token_n(chaos: Server) -> None:
    response = send(chaos, "slow_tokens@5 x5", scenario="slow")  # 20 ms gaps, then 100 ms
    words = tokenize(SLOW)
    times = [_arrival(response, b'"content":' + json.dumps(w).encode()) for w in words]
    assert times[4] - times[0] < 0.3  # 4 gaps of 20 ms
    assert times[-1] - times[4] >= 0.9 * 5 * 0.1  # 5 gaps of 100 ms
    assert content_of(response.body) == SLOW
    assert settled(chaos).faults[0].at_token == 5


def test_latency_delays_the_whole_body(chaos: Server) -> None:
    fast = send(chaos)
    assert fast.read_times[0] - fast.started < 0.25
    slow = send(chaos, "latency 400ms")
    assert 0.38 <= slow.read_times[0] - slow.started < 2.0
    assert content_of(slow.body) == TEXT


# --------------------------------------------------------------------------------------------------
# http_error


@pytest.mark.parametrize(
    ("status", "type_", "code"),
    [
        (400, "invalid_request_error", None),
        (401, "invalid_request_error", "invalid_api_key"),
        (404, "invalid_request_error", None),
        (429, "requests", "rate_limit_exceeded"),
        (500, "server_error", None),
        (503, "server_error", None),
    ],
)
def test_http_error_has_an_openai_body_and_no_rate_limit_headers(
    chaos: Server, status: int, type_: str, code: str | None
) -> None:
    response = send(chaos, f"http_error {status}")
    assert response.status == status
    assert response.headers["content-type"] == "application/json"
    error = json.loads(response.body)["error"]
    assert list(error) == ["message", "type", "param", "code"]
    assert (error["type"], error["code"], error["param"]) == (type_, code, None)
    assert error["message"]
    assert not [h for h in response.headers if h.startswith(("retry-after", "x-ratelimit", "x-should-retry"))]
    assert response.headers["x-request-id"].startswith("req_")
    entry = settled(chaos)
    assert (entry.status, entry.outcome, entry.faults[0].fault) == (status, "http_error", "http_error")


def test_http_error_settings(chaos: Server) -> None:
    response = send(chaos, 'http_error 429 message="Slow down" type=tokens code=rate_limit_exceeded')
    assert json.loads(response.body) == {
        "error": {"message": "Slow down", "type": "tokens", "param": None, "code": "rate_limit_exceeded"}
    }


@pytest.mark.parametrize(
    ("spec", "headers"),
    [
        ("http_error 429 retry_after_s=2", {"retry-after": "2"}),
        ("http_error 429 retry_after_ms=1500", {"retry-after-ms": "1500"}),
        ("http_error 503 should_retry=false", {"x-should-retry": "false"}),
        (
            "http_error 429 retry_after_s=6 ratelimit",
            {
                "retry-after": "6",
                "x-ratelimit-limit-requests": "3500",
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-requests": "6s",
                "x-ratelimit-limit-tokens": "90000",
                "x-ratelimit-remaining-tokens": "0",
                "x-ratelimit-reset-tokens": "36m0s",
            },
        ),
        (
            "http_error 429 retry_after_ms=17 ratelimit",
            {
                "retry-after-ms": "17",
                "x-ratelimit-reset-requests": "17ms",
                "x-ratelimit-reset-tokens": "6.12s",
            },
        ),
    ],
)
def test_http_error_retry_headers_only_when_asked(chaos: Server, spec: str, headers: dict[str, str]) -> None:
    response = send(chaos, spec)
    for name, value in headers.items():
        assert response.headers[name] == value
    expected = set(headers) | (RATELIMIT_HEADERS if "ratelimit" in spec else set())
    sent = {h for h in response.headers if h.startswith(("retry-after", "x-ratelimit", "x-should-retry"))}
    assert sent == expected


RATELIMIT_HEADERS = {
    f"x-ratelimit-{kind}-{what}"
    for kind in ("limit", "remaining", "reset")
    for what in ("requests", "tokens")
}


# --------------------------------------------------------------------------------------------------
# The journal: what fired where, and how each stream ended


@pytest.mark.parametrize(
    ("spec", "outcome", "fault", "at_token"),
    [
        (None, "completed", None, None),
        ("error_event@4", "error_event", "error_event", 4),
        ("drop@4", "dropped", "drop", 4),
        ("drop@4 rst", "reset", "drop", 4),
        ("stall@4 50ms", "stalled_then_completed", "stall", 4),
        ("truncate@4", "truncated", "truncate", 4),
        ("malformed@4", "completed", "malformed", 4),
        ("error_event@99", "error_event", "error_event", len(TOKENS)),
        ("truncate@2; drop@6", "truncated", "truncate", 2),
    ],
)
def test_journal_records_faults_and_how_the_stream_ended(
    chaos: Server, spec: str | None, outcome: str, fault: str | None, at_token: int | None
) -> None:
    response = send(chaos, spec)
    entry = settled(chaos)
    assert entry.outcome == outcome
    if fault is None:
        assert entry.faults == []
        return
    assert [f.fault for f in entry.faults] == [fault]
    fired = entry.faults[0]
    assert fired.at_token == at_token
    before = response.body.split(b"data: ")
    # at_byte: exactly the bytes of the role chunk and the first at_token tokens.
    assert fired.at_byte == sum(len(b"data: " + part) for part in before[1 : 2 + at_token])
    as_json = chaos.state.journal.as_json()[-1]
    assert as_json["outcome"] == outcome and as_json["faults"][0]["fault"] == fault


def test_journal_counts_fired_faults_in_order(chaos: Server) -> None:
    send(chaos, "sse crlf; fragment 20-60 bytes delay_ms=0; stall@3 10ms; error_event@5")
    entry = settled(chaos)
    assert [f.fault for f in entry.faults] == ["sse", "fragment", "stall", "error_event"]
    assert [f.at_token for f in entry.faults] == [0, 0, 3, 5]
    assert entry.outcome == "error_event"


def test_journal_over_http_lists_fired_faults(chaos: Server) -> None:
    send(chaos, "drop@2")
    settled(chaos)
    response = raw_request(chaos.port, method="GET", path="/_fakellm/journal")
    last = json.loads(response.body)[-1]
    assert last["outcome"] == "dropped"
    assert last["faults"] == [
        {
            "fault": "drop",
            "at_token": 2,
            "at_byte": last["bytes_sent"],
            "at_ms": last["faults"][0]["at_ms"],
            "detail": "fin",
        }
    ]
