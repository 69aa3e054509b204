"""Resumable streams on a real server, through real clients (issue 13, docs/streaming-server.md
'Resumable streams'): ``resumable: true`` or ``X-FakeLLM-Resumable: 1`` puts ``id: <stream
id>:<n>`` on every event; a reconnect to the same route with ``Last-Event-ID`` continues from event
n + 1 on the original schedule, with no duplicate and no gap (checked byte for byte against the
same stream unbroken); ``GET /_fakellm/streams/{id}`` tells how far the generation got."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import anthropic
import httpx
import openai
import pytest

from fakellm import Server, ServerConfig, scenario_from_dict
from fakellm.tokens import tokenize

MakeServer = Callable[..., Server]

TEXT = (
    "Reconnecting is the client's job, resuming the server's: every event carries its id, and the "
    "stream goes on where it stopped, café ünïcode 😀 included, to the very last token."
)
TOKENS = tokenize(TEXT)
MESSAGES: list[Any] = [{"role": "user", "content": "Hi"}]
BODIES: dict[str, dict[str, Any]] = {
    "/v1/chat/completions": {"model": "m", "messages": MESSAGES, "stream": True},
    "/v1/responses": {"model": "m", "input": "Hi", "stream": True},
    "/v1/messages": {"model": "m", "max_tokens": 1000, "messages": MESSAGES, "stream": True},
    "/v1/completions": {"model": "m", "prompt": "Hi", "stream": True},
    "/api/chat": {
        "id": "chat-1",
        "messages": [{"id": "u1", "role": "user", "parts": [{"type": "text", "text": "Hi"}]}],
    },
}
Event = tuple[str | None, bytes]  # (its id, its whole block as sent, id line included)


@pytest.fixture
def server(make_server: MakeServer) -> Server:
    return make_server(
        scenarios=[
            {
                "name": "default",
                "content": {"text": TEXT},
                "timing": {"ttft_ms": 20, "itl_ms": 5},
                "resumable": True,
            },
            {"name": "plain", "content": {"text": TEXT}, "timing": {"ttft_ms": 0, "itl_ms": 0}},
            {"name": "paced", "content": {"text": TEXT}, "timing": {"ttft_ms": 100, "itl_ms": 25}},
        ]
    )


def attempt(
    server: Server, path: str, headers: dict[str, str] | None = None, *, body: dict[str, Any] | None = None
) -> tuple[list[Event], bool, httpx.Headers]:
    """One request: the events it got (split at their blank lines, as sent), whether the connection
    broke before the end, and the response headers."""
    raw = b""
    broke = False
    with httpx.stream(
        "POST",
        f"{server.url}{path}",
        json=BODIES[path] if body is None else body,
        headers=headers,
        timeout=10,
    ) as response:
        assert response.status_code == 200, response.read()
        try:
            for part in response.iter_raw():
                raw += part
        except (httpx.RemoteProtocolError, httpx.ReadError):  # a FIN, or a reset
            broke = True
        head = response.headers
    blocks = raw.split(b"\n\n")
    assert blocks.pop() == b"", "every event ends with a blank line"
    events: list[Event] = []
    for block in blocks:
        block += b"\n\n"
        first = block.split(b"\n", 1)[0]
        events.append((first[4:].decode() if first.startswith(b"id: ") else None, block))
    return events, broke, head


def request_id(head: httpx.Headers) -> str:
    """The request id the format sent (Anthropic's ``request-id``), which is the stream's id."""
    return str(head.get("x-request-id") or head["request-id"])


def journal(server: Server) -> list[dict[str, Any]]:
    return list(httpx.get(f"{server.url}/_fakellm/journal").json())


def status(server: Server, stream_id: str) -> httpx.Response:
    return httpx.get(f"{server.url}/_fakellm/streams/{stream_id}")


# -- Last-Event-ID on every SSE format -----------------------------------------------------------
@pytest.mark.parametrize("path", list(BODIES))
def test_a_dropped_stream_resumed_with_last_event_id_is_the_whole_stream(server: Server, path: str) -> None:
    seed = {"X-FakeLLM-Seed": "7"}
    first, broke, head = attempt(server, path, {**seed, "X-FakeLLM-Faults": "drop@20"})
    assert broke
    last = first[-1][0]
    assert last is not None
    stream_id, _, n = last.rpartition(":")
    assert stream_id == request_id(head)
    assert [e[0] for e in first] == [f"{stream_id}:{i}" for i in range(len(first))]

    rest, broke, _ = attempt(server, path, {"Last-Event-ID": last})
    assert not broke
    # The same stream unbroken (the same seed: the same ids and bytes), after the resume.
    whole, _, _ = attempt(server, path, seed)
    assert first + rest == whole
    assert [e[0] for e in whole] == [f"{stream_id}:{i}" for i in range(len(whole))]

    entries = journal(server)[-3:]
    assert [e["outcome"] for e in entries] == ["dropped", "completed", "completed"]
    assert [e["stream_id"] for e in entries] == [stream_id] * 3
    assert [e["resumed_after"] for e in entries] == [None, int(n), None]
    assert entries[0]["text"] + entries[1]["text"] == TEXT == entries[2]["text"]


def test_responses_event_ids_are_its_sequence_numbers(server: Server) -> None:
    events, _, _ = attempt(server, "/v1/responses")
    for event_id, block in events:
        data = json.loads(block.split(b"data: ", 1)[1])
        assert event_id is not None and event_id.endswith(f":{data['sequence_number']}")


def test_the_header_turns_it_on_and_off(server: Server) -> None:
    plain, _, _ = attempt(
        server, "/v1/chat/completions", {"X-FakeLLM-Scenario": "plain", "X-FakeLLM-Seed": "3"}
    )
    assert all(event_id is None for event_id, _ in plain)
    asked, _, _ = attempt(
        server,
        "/v1/chat/completions",
        {"X-FakeLLM-Scenario": "plain", "X-FakeLLM-Resumable": "1", "X-FakeLLM-Seed": "3"},
    )
    assert all(event_id is not None for event_id, _ in asked)
    off, _, _ = attempt(server, "/v1/chat/completions", {"X-FakeLLM-Resumable": "0"})
    assert all(event_id is None for event_id, _ in off)
    # Only the id lines differ: the events themselves are the same bytes.
    strip = [block.split(b"\n", 1)[1] for _, block in asked]
    assert strip == [block for _, block in plain]
    assert [e["stream_id"] is not None for e in journal(server)] == [False, True, False]


def test_each_attempt_can_break_and_be_resumed_again(server: Server) -> None:
    events, broke, _ = attempt(server, "/v1/chat/completions", {"X-FakeLLM-Faults": "drop@5"})
    for faults in ("drop@7", "drop@7 rst", ""):  # a resume's own faults act on that attempt only
        assert broke
        last = events[-1][0]
        assert last is not None
        more, broke, _ = attempt(
            server, "/v1/chat/completions", {"Last-Event-ID": last, "X-FakeLLM-Faults": faults}
        )
        events += more
    assert not broke
    ids = [int(event_id.rpartition(":")[2]) for event_id, _ in events if event_id is not None]
    assert ids == list(range(len(events)))
    entries = journal(server)
    assert [e["outcome"] for e in entries] == ["dropped", "dropped", "reset", "completed"]
    assert [e["resumed_after"] for e in entries] == [None, 5, 12, 19]
    assert "".join(e["text"] for e in entries) == TEXT


def test_a_resume_goes_on_on_the_original_schedule(server: Server) -> None:
    # 100 ms to the first token, then 25 ms a token: the stream ends ~1.3 s after it started,
    # whenever its client comes back. Events due already go at once; the rest when they fall due.
    started = time.monotonic()
    first, broke, _ = attempt(
        server,
        "/v1/chat/completions",
        {"X-FakeLLM-Scenario": "paced", "X-FakeLLM-Resumable": "1", "X-FakeLLM-Faults": "drop@3"},
    )
    assert broke
    time.sleep(0.5)  # about 15 tokens fall due while nobody listens
    back = time.monotonic()
    arrivals: list[float] = []
    last = first[-1][0]
    assert last is not None
    with httpx.stream(
        "POST",
        f"{server.url}/v1/chat/completions",
        json=BODIES["/v1/chat/completions"],
        headers={"Last-Event-ID": last},
    ) as response:
        for _ in response.iter_raw():
            arrivals.append(time.monotonic())
    end = 0.1 + 0.025 * (len(TOKENS) - 1)
    assert arrivals[0] - back < 0.25, "what fell due meanwhile comes at once"
    assert end - 0.1 < arrivals[-1] - started < end + 0.4, "the rest on the original schedule"
    entry = journal(server)[-1]
    assert entry["outcome"] == "completed"
    assert journal(server)[0]["text"] + entry["text"] == TEXT


def test_a_resume_after_the_schedule_is_over_sends_the_rest_at_once(server: Server) -> None:
    first, _, _ = attempt(server, "/v1/messages", {"X-FakeLLM-Faults": "drop@2"})
    time.sleep(0.6)  # the whole schedule (~0.25 s) is over
    last = first[-1][0]
    assert last is not None
    back = time.monotonic()
    _, broke, _ = attempt(server, "/v1/messages", {"Last-Event-ID": last})
    assert not broke and time.monotonic() - back < 0.3
    assert journal(server)[0]["text"] + journal(server)[1]["text"] == TEXT


# -- the official SDKs' streaming helpers take a resumable stream ---------------------------------
def test_openai_stream_helpers_accept_resumable_and_resumed_streams(server: Server) -> None:
    with openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0) as client:
        with client.chat.completions.stream(model="m", messages=MESSAGES) as stream:
            assert stream.get_final_completion().choices[0].message.content == TEXT
        with client.responses.stream(model="m", input="Hi") as responses:
            assert responses.get_final_response().output_text == TEXT
    stream_id = journal(server)[0]["stream_id"]
    with (
        openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0) as client,
        client.chat.completions.stream(
            model="m", messages=MESSAGES, extra_headers={"Last-Event-ID": f"{stream_id}:4"}
        ) as stream,
    ):
        # Events 0-4 are the role's and the first four tokens'.
        assert stream.get_final_completion().choices[0].message.content == "".join(TOKENS[4:])


def test_anthropic_stream_helper_accepts_a_resumable_stream(server: Server) -> None:
    with (
        anthropic.Anthropic(base_url=server.url, api_key="k", max_retries=0) as client,
        client.messages.stream(model="m", max_tokens=1000, messages=MESSAGES) as stream,
    ):
        assert stream.get_final_text() == TEXT


# -- GET /_fakellm/streams/{id}: the job id pattern -----------------------------------------------
def test_the_stream_route_tells_how_far_the_generation_got(server: Server) -> None:
    headers = {"X-FakeLLM-Scenario": "paced", "X-FakeLLM-Resumable": "1", "X-FakeLLM-Faults": "drop@1"}
    _, _, head = attempt(server, "/v1/chat/completions", headers)
    stream_id = request_id(head)
    time.sleep(0.3)
    now = status(server, stream_id).json()
    assert now["status"] == "in_progress"
    assert now["id"] == stream_id and now["format"] == "openai.chat" and now["scenario"] == "paced"
    assert 2 <= now["tokens"] < len(TOKENS) and TEXT.startswith(now["text"]) and now["text"]
    assert now["last_event_id"] == f"{stream_id}:{now['events'] - 1}"
    assert now["attempts"] == [0] and now["finish_reason"] is None
    time.sleep(1.0)
    done = status(server, stream_id).json()
    assert done["status"] == "completed" and done["text"] == TEXT and done["finish_reason"] == "stop"
    assert done["tokens"] == len(TOKENS)


def test_the_stream_route_has_tool_calls_and_failures(make_server: MakeServer) -> None:
    server = make_server(
        scenarios=[
            {
                "name": "default",
                "resumable": True,
                "tool_calls": [{"id": "call_A", "name": "get_weather", "arguments": {"city": "Paris"}}],
            },
            {
                "name": "broken",
                "resumable": True,
                "content": {"text": TEXT},
                "faults": [{"error_event": {"after_tokens": 3}}],
            },
        ]
    )
    _, _, head = attempt(server, "/v1/chat/completions")
    calls = status(server, request_id(head)).json()
    assert calls["status"] == "completed" and calls["finish_reason"] == "tool_calls"
    assert calls["tool_calls"] == [{"id": "call_A", "name": "get_weather", "arguments": '{"city":"Paris"}'}]
    _, _, head = attempt(server, "/v1/chat/completions", {"X-FakeLLM-Scenario": "broken"})
    failed = status(server, request_id(head)).json()
    assert failed["status"] == "failed" and failed["text"] == "".join(TOKENS[:3])


def test_streams_are_forgotten_after_their_time_to_live(make_server: MakeServer) -> None:
    config = ServerConfig(
        port=0,
        scenarios=(scenario_from_dict({"name": "default", "content": {"text": TEXT}, "resumable": True}),),
        resume_ttl_s=0.3,
        resume_max=2,
    )
    server = make_server(config=config)
    heads = [request_id(attempt(server, "/v1/chat/completions")[2]) for _ in range(3)]
    assert status(server, heads[0]).status_code == 404, "the oldest past --resume-max"
    assert status(server, heads[2]).status_code == 200
    time.sleep(0.4)
    gone = status(server, heads[2])
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "stream_not_found"
    answer = httpx.post(
        f"{server.base_url}/chat/completions",
        json=BODIES["/v1/chat/completions"],
        headers={"Last-Event-ID": f"{heads[2]}:3"},
    )
    assert (
        answer.status_code == 404
        and "forgotten (kept 0.3 s, the newest 2" in answer.json()["error"]["message"]
    )


# -- bad input: clear errors in the format's shape, and the server keeps serving ---------------------
@pytest.mark.parametrize(
    ("path", "headers", "code", "status_code"),
    [
        ("/v1/chat/completions", {"Last-Event-ID": "not-ours"}, "invalid_last_event_id", 400),
        ("/v1/chat/completions", {"Last-Event-ID": "req_unknown:3"}, "stream_not_found", 404),
        ("/v1/chat/completions", {"X-FakeLLM-Resumable": "yes please"}, None, 400),
        ("/v1/messages", {"Last-Event-ID": "req_unknown:3"}, None, 404),
        ("/api/chat?protocol=data", {"X-FakeLLM-Resumable": "1"}, None, 400),
    ],
)
def test_bad_resumes_are_clear_errors(
    server: Server, path: str, headers: dict[str, str], code: str | None, status_code: int
) -> None:
    body = BODIES[path.partition("?")[0]]
    answer = httpx.post(f"{server.url}{path}", json=body, headers=headers)
    assert answer.status_code == status_code
    text = json.dumps(answer.json())
    assert "Last-Event-ID" in text or "X-FakeLLM-Resumable" in text
    if code is not None:
        assert answer.json()["error"]["code"] == code
    if path == "/v1/messages":
        assert answer.json()["type"] == "error"  # Anthropic's shape
    assert attempt(server, "/v1/chat/completions")[0], "still serving"


def test_a_resume_on_another_route_is_refused(server: Server) -> None:
    _, _, head = attempt(server, "/v1/chat/completions")
    answer = httpx.post(
        f"{server.url}/v1/responses",
        json=BODIES["/v1/responses"],
        headers={"Last-Event-ID": f"{request_id(head)}:2"},
    )
    assert answer.status_code == 400 and "/v1/chat/completions" in answer.json()["error"]["message"]
    assert status(server, "nope").status_code == 404


def test_a_scenario_resumable_on_a_format_without_sse_is_served_plain(server: Server) -> None:
    answer = httpx.post(f"{server.url}/api/chat?protocol=data", json=BODIES["/api/chat"])
    assert answer.status_code == 200 and b"id: " not in answer.content
    assert journal(server)[-1]["stream_id"] is None


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/v1/chat/completions"), ("GET", "/v1/chat/completions/stream")]
)
def test_a_last_event_id_with_latin_1_digits_is_a_400(server: Server, method: str, path: str) -> None:
    # A header may carry any Latin-1 byte: b"\xb2" is "²", a digit to str.isdigit() that int()
    # refuses (it was a 500).
    headers = [(b"Last-Event-ID", b"req_x:\xb2")]
    body = BODIES[path] if method == "POST" else None
    answer = httpx.request(method, f"{server.url}{path}", json=body, headers=headers)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_last_event_id"
