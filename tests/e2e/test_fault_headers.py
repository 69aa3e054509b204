"""Per-request control without a scenario file: ``X-FakeLLM-Faults`` (the compact spec),
``X-FakeLLM-TTFT-Ms`` and ``X-FakeLLM-ITL-Ms``; a bad value is a 400 that says what is wrong and
where; CORS preflight lets a browser send all three."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest

from fakellm import Server, parse_fault_spec
from fakellm.tokens import tokenize
from tests.helpers import RawResponse, chat_body, content_of, raw_request

MakeServer = Callable[..., Server]

TEXT = "one two three four five six seven eight"


@pytest.fixture
def server(make_server: MakeServer) -> Server:
    return make_server(
        seed=3,
        scenarios=[
            {"name": "default", "content": {"text": TEXT}},
            {
                "name": "faulty",
                "content": {"text": TEXT},
                "faults": [{"type": "truncate", "after_tokens": 6}],
            },
        ],
    )


def post(server: Server, headers: dict[str, str] | None = None, **body: object) -> RawResponse:
    return raw_request(server.port, chat_body(**body), headers=headers or {})


def settled_outcome(server: Server) -> str:
    deadline = time.monotonic() + 3
    while len(server.state.streams) and time.monotonic() < deadline:
        time.sleep(0.005)
    entry = server.journal.last
    assert entry is not None
    return entry.outcome


def test_faults_header_applies_to_that_request_only(server: Server) -> None:
    dropped = post(server, {"X-FakeLLM-Faults": "drop@2"})
    assert not dropped.terminated and content_of(dropped.body) == "one two"
    assert settled_outcome(server) == "dropped"
    clean = post(server)
    assert clean.terminated and content_of(clean.body) == TEXT
    assert settled_outcome(server) == "completed"


def test_header_faults_add_to_the_scenario_faults(server: Server) -> None:
    headers = {"X-FakeLLM-Scenario": "faulty"}
    assert content_of(post(server, headers).body) == "one two three four five six"
    both = post(server, {**headers, "X-FakeLLM-Faults": "error_event@2"})
    assert b'data: {"error"' in both.body  # the earlier position wins
    assert settled_outcome(server) == "error_event"


def test_several_faults_in_one_header(server: Server) -> None:
    response = post(server, {"X-FakeLLM-Faults": "fragment 1-7 bytes delay_ms=0; sse crlf; truncate@3"})
    assert response.terminated
    assert all(len(c) <= 7 for c in response.chunks)
    assert b"\r\n\r\n" in response.body and b"[DONE]" not in response.body
    assert content_of(response.body) == "one two three"


def test_times_in_a_header_counts_requests_with_that_header(server: Server) -> None:
    headers = {"X-FakeLLM-Faults": "http_error 503 times=2"}
    assert [post(server, headers).status for _ in range(4)] == [503, 503, 200, 200]
    # A different spec is counted on its own.
    assert post(server, {"X-FakeLLM-Faults": "http_error 503 times=1"}).status == 503


def test_probability_in_a_header_fires_on_some_requests(server: Server) -> None:
    headers = {"X-FakeLLM-Faults": "http_error 500 probability=0.5"}
    statuses = [post(server, headers, stream=False).status for _ in range(40)]
    assert 8 <= statuses.count(500) <= 32
    assert set(statuses) == {200, 500}


def first_token_delay(response: RawResponse) -> float:
    seen = b""
    for read, at in zip(response.reads, response.read_times, strict=True):
        seen += read
        if b'"content":"one"' in seen:
            return at - response.started
    raise AssertionError("no first token")


def test_ttft_header(server: Server) -> None:
    slow = post(server, {"X-FakeLLM-TTFT-Ms": "400"})
    assert 0.38 <= first_token_delay(slow) < 2.0
    assert slow.headers["openai-processing-ms"] == "400"
    assert content_of(slow.body) == TEXT
    assert first_token_delay(post(server)) < 0.25  # the next request is back to the scenario's timing


def test_itl_header(server: Server) -> None:
    response = post(server, {"X-FakeLLM-ITL-Ms": "60"})
    gaps = len(tokenize(TEXT)) - 1
    took = response.read_times[-1] - first_token_delay(response) - response.started
    assert 0.9 * gaps * 0.06 <= took < gaps * 0.06 + 2.0
    quick = post(server)
    assert quick.read_times[-1] - quick.started < 0.3


def test_timing_headers_also_delay_a_non_streaming_answer(server: Server) -> None:
    started = time.monotonic()
    response = post(server, {"X-FakeLLM-TTFT-Ms": "200", "X-FakeLLM-ITL-Ms": "30"}, stream=False)
    assert response.status == 200
    assert time.monotonic() - started >= 0.2 + 0.9 * 7 * 0.03


@pytest.mark.parametrize(
    ("spec", "what", "column"),
    [
        ("dorp@5", "unknown fault 'dorp' (did you mean 'drop'?)", 1),
        ("drop@5 fn", "drop mode: must be one of fin, rst, got 'fn'", 8),
        ("error_event@20; fragment 7-1 bytes", "fragment max_bytes: must be >= min_bytes (7), got 1", 26),
        ("http_error@3", "http_error: takes no position", 12),
        ("stall@3 keepalive_ms=soon", "stall keepalive_ms: must be a number of ms", 9),
    ],
)
def test_bad_faults_header_is_a_400_that_says_what_and_where(
    server: Server, spec: str, what: str, column: int
) -> None:
    response = post(server, {"X-FakeLLM-Faults": spec})
    assert response.status == 400
    error = json.loads(response.body)["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == "X-FakeLLM-Faults"
    assert error["code"] == "invalid_fault_spec"
    assert error["message"].startswith(f"Bad X-FakeLLM-Faults header: {what}")
    assert f"at character {column} of {spec!r}" in error["message"]
    entry = server.journal.last
    assert entry is not None and (entry.status, entry.outcome) == (400, "rejected")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("X-FakeLLM-TTFT-Ms", "soon", "X-FakeLLM-TTFT-Ms must be a number of milliseconds, got 'soon'."),
        ("X-FakeLLM-TTFT-Ms", "-5", "X-FakeLLM-TTFT-Ms must be >= 0, got '-5'."),
        ("X-FakeLLM-ITL-Ms", "nan", "X-FakeLLM-ITL-Ms must be >= 0, got 'nan'."),
        ("X-FakeLLM-ITL-Ms", "inf", "X-FakeLLM-ITL-Ms must be >= 0, got 'inf'."),
    ],
)
def test_bad_timing_header_is_a_400(server: Server, name: str, value: str, message: str) -> None:
    response = post(server, {name: value})
    assert response.status == 400
    error = json.loads(response.body)["error"]
    assert (error["message"], error["param"]) == (message, name)


FAKELLM_HEADERS = ("x-fakellm-faults", "x-fakellm-ttft-ms", "x-fakellm-itl-ms")


def test_cors_preflight_allows_the_fault_and_timing_headers(server: Server) -> None:
    asked = "content-type, authorization, x-fakellm-faults, x-fakellm-ttft-ms, x-fakellm-itl-ms"
    response = raw_request(
        server.port,
        method="OPTIONS",
        headers={
            "Origin": "http://localhost:5173",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": asked,
        },
    )
    assert response.status in (200, 204)
    assert response.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed = {h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")}
    assert set(FAKELLM_HEADERS) <= allowed


def test_cors_preflight_without_a_header_list_still_names_them(server: Server) -> None:
    response = raw_request(
        server.port,
        method="OPTIONS",
        headers={"Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST"},
    )
    allowed = {h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")}
    assert set(FAKELLM_HEADERS) <= allowed


def test_a_browser_can_read_the_retry_headers_of_a_scripted_429(server: Server) -> None:
    response = post(
        server,
        {"Origin": "http://localhost:5173", "X-FakeLLM-Faults": "http_error 429 retry_after_s=2 ratelimit"},
    )
    assert response.status == 429
    assert response.headers["access-control-allow-origin"] == "http://localhost:5173"
    exposed = {h.strip() for h in response.headers["access-control-expose-headers"].split(",")}
    assert {"retry-after", "x-ratelimit-reset-requests", "x-request-id"} <= exposed


# Values that used to pass validation and then break the stream: a 500 with an empty body, a 200
# cut off by an internal OverflowError, or a 200 with an empty body after a RecursionError.
DIGITS = "9" * 5000


@pytest.mark.parametrize(
    ("name", "value", "param", "message"),
    [
        ("X-FakeLLM-Faults", "drop@" + DIGITS, "X-FakeLLM-Faults", "drop after_tokens: must be <= 1000000"),
        ("X-FakeLLM-Faults", "bandwidth 1e-300", "X-FakeLLM-Faults", "bandwidth bytes_per_s: must be >= 1"),
        ("X-FakeLLM-Faults", "latency 1e306", "X-FakeLLM-Faults", "latency ms: must be <= 86400000 (24 h)"),
        ("X-FakeLLM-Faults", "stall@1 keepalive_ms=1e-300", "X-FakeLLM-Faults", "stall keepalive_ms"),
        ("X-FakeLLM-Faults", "slow_tokens@1 1e300", "X-FakeLLM-Faults", "slow_tokens factor: must be <="),
        ("X-FakeLLM-Faults", "fragment 1-" + DIGITS, "X-FakeLLM-Faults", "fragment max_bytes: must be an"),
        ("X-FakeLLM-Faults", "drop times=" + DIGITS, "X-FakeLLM-Faults", "drop times: must be an integer"),
        (
            "X-FakeLLM-Faults",
            "fragment 1-7 bytes;" * 500,  # 9.5 KB, under the header limit
            "X-FakeLLM-Faults",
            "at most 32 faults in one spec, got 500",
        ),
        ("X-FakeLLM-TTFT-Ms", "1e306", "X-FakeLLM-TTFT-Ms", "X-FakeLLM-TTFT-Ms must be <= 86400000 (24 h)"),
        ("X-FakeLLM-ITL-Ms", "86400001", "X-FakeLLM-ITL-Ms", "X-FakeLLM-ITL-Ms must be <= 86400000 (24 h)"),
        ("X-FakeLLM-Seed", DIGITS, "X-FakeLLM-Seed", "X-FakeLLM-Seed must be <= 9223372036854775807"),
        ("X-FakeLLM-Seed", str(2**63), "X-FakeLLM-Seed", "X-FakeLLM-Seed must be <= 9223372036854775807"),
        ("X-FakeLLM-Seed", "1_000", "X-FakeLLM-Seed", "X-FakeLLM-Seed must be an integer"),
    ],
)
def test_out_of_range_header_values_are_a_400_and_the_server_goes_on(
    server: Server, name: str, value: str, param: str, message: str
) -> None:
    response = post(server, {name: value})
    assert response.status == 400, (response.status, response.body[:200])
    error = json.loads(response.body)["error"]
    assert error["param"] == param
    assert message in error["message"], error["message"]
    assert len(error["message"]) < 800 or name == "X-FakeLLM-Faults"  # (the spec is quoted whole)
    clean = post(server)
    assert clean.status == 200 and clean.terminated and content_of(clean.body) == TEXT
    assert not server.state.internal_errors


def test_the_most_faults_every_source_allows_still_stream(make_server: MakeServer) -> None:
    """32 each from the scenario, --faults and the header: the stages nest, one per fault, and
    that depth must stay well inside Python's recursion limit (500 did not)."""
    spec = "; ".join(["fragment 1-7 bytes delay_ms=0", "sse crlf", "latency 0", "stall@1 0"] * 8)
    server = make_server(
        seed=5,
        faults=parse_fault_spec(spec),
        scenarios=[{"name": "default", "content": {"text": TEXT}, "faults": parse_fault_spec(spec)}],
    )
    response = post(server, {"X-FakeLLM-Faults": spec})
    assert response.status == 200 and response.terminated
    assert content_of(response.body.replace(b"\r\n", b"\n")) == TEXT
    assert settled_outcome(server) == "stalled_then_completed"
    assert not server.state.internal_errors
