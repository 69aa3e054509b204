"""Two servers sharing one real Redis (``Server(state=redis_url)``, ``fakellm serve --state``), as
two workers behind a load balancer would (each in its own thread and event loop, nothing shared
but Redis): ``times: 1`` fires once across them, the journal is gathered from both, a script set
on one applies on the other, a resumed stream and a background response land on the other, and
Redis restarted mid-run is a clear 503 while it is away, then recovery with no journal entry lost.
docs/streaming-server.md, "Sharing state"."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from fakellm import Scenario, Server
from fakellm.content import FixedText
from tests.conftest import RedisServer

MakeServer = Callable[..., Server]

TEXT = "Two workers, one Redis: the stream goes on wherever the client lands, to the last token."
SCENARIOS: list[dict[str, Any]] = [
    {"name": "default", "content": {"text": TEXT}, "timing": {"ttft_ms": 0, "itl_ms": 0}},
    {
        "name": "once",
        "content": {"text": TEXT},
        "faults": [{"type": "http_error", "status": 503, "times": 1}],
    },
    {
        "name": "paced",
        "content": {"text": TEXT},
        "timing": {"ttft_ms": 20, "itl_ms": 5},
        "resumable": True,
    },
    {"name": "slow", "content": {"text": TEXT}, "timing": {"ttft_ms": 50, "itl_ms": 20}},
]
CHAT = {"model": "m", "messages": [{"role": "user", "content": "Hi"}], "stream": True}


@pytest.fixture
def pair(make_server: MakeServer, redis_url: str) -> tuple[Server, Server]:
    return (
        make_server(scenarios=SCENARIOS, state=redis_url),
        make_server(scenarios=SCENARIOS, state=redis_url),
    )


def chat(server: Server, headers: dict[str, str] | None = None, **body: Any) -> httpx.Response:
    return httpx.post(f"{server.url}/v1/chat/completions", json={**CHAT, **body}, headers=headers, timeout=10)


def text_of(response: httpx.Response) -> str:
    parts = []
    for line in response.text.splitlines():
        if line.startswith("data: {"):
            for choice in json.loads(line[6:])["choices"]:
                parts.append(choice["delta"].get("content") or "")
    return "".join(parts)


def journal_of(server: Server, count: int) -> list[dict[str, Any]]:
    """The shared journal once it holds ``count`` settled entries (another server writes its own
    a moment after its request is over: generous, for a loaded machine)."""
    deadline = time.monotonic() + 10
    while True:
        response = httpx.get(f"{server.url}/_fakellm/journal", timeout=10)
        assert response.status_code == 200, response.text
        entries = response.json()
        settled = [e for e in entries if e["outcome"] != "streaming"]
        if len(settled) >= count or time.monotonic() > deadline:
            return list(entries)
        time.sleep(0.05)


def test_times_1_fires_once_across_both_servers(pair: tuple[Server, Server]) -> None:
    a, b = pair
    statuses = [chat(server, {"X-FakeLLM-Scenario": "once"}).status_code for server in (a, b, a, b, b)]
    assert statuses == [503, 200, 200, 200, 200]
    # A header's times count across both too.
    faults = {"X-FakeLLM-Faults": "http_error 429 times=1"}
    assert [chat(server, faults).status_code for server in (b, a, b)] == [429, 200, 200]


def test_the_journal_gathers_both_servers_entries_in_arrival_order(pair: tuple[Server, Server]) -> None:
    a, b = pair
    for server, word in ((a, "one"), (b, "two"), (a, "three"), (b, "four")):
        assert chat(server, messages=[{"role": "user", "content": word}]).status_code == 200
    entries = journal_of(b, 4)
    assert [e["request"]["messages"][0]["content"] for e in entries] == ["one", "two", "three", "four"]
    assert [e["outcome"] for e in entries] == ["completed"] * 4 and {e["text"] for e in entries} == {TEXT}
    workers = [e["worker"] for e in entries]
    assert workers[0] == workers[2] != workers[1] == workers[3]
    assert journal_of(a, 4) == entries  # the same journal from either
    # Each server's own journal (the plugin's) still has its own entries only.
    assert len(a.journal) == len(b.journal) == 2
    assert len(httpx.get(f"{a.url}/_fakellm/journal?limit=3").json()) == 3
    assert httpx.delete(f"{b.url}/_fakellm/journal").status_code == 204
    assert httpx.get(f"{a.url}/_fakellm/journal").json() == []


def test_a_script_set_on_one_server_applies_on_the_other(pair: tuple[Server, Server]) -> None:
    a, b = pair
    a.state.script([Scenario(name="scripted", content=FixedText("Scripted on a."))])
    assert text_of(chat(b)) == "Scripted on a."
    assert "scripted" in [m["id"] for m in httpx.get(f"{b.url}/v1/models").json()["data"]]
    # A sequence: one answer per request, whichever server takes it, each taken once.
    b.state.script(
        [Scenario(name=f"s{i}", content=FixedText(f"Answer {i}.")) for i in (1, 2, 3)], sequence=True
    )
    assert [text_of(chat(server)) for server in (a, b, a, b)] == ["Answer 1.", "Answer 2.", "Answer 3.", TEXT]
    assert a.state.sequence == [] == b.state.sequence
    a.state.reset()  # a reset on one: the other answers with its own scenarios again, journal empty
    assert text_of(chat(b)) == TEXT
    assert [e["worker"] for e in journal_of(a, 1)] == [b.state.store.worker]  # type: ignore[attr-defined]


def test_a_dropped_stream_resumed_on_the_other_server_is_the_whole_text(pair: tuple[Server, Server]) -> None:
    a, b = pair
    headers = {"X-FakeLLM-Scenario": "paced", "X-FakeLLM-Faults": "drop@3"}
    raw, last_id = b"", None
    with httpx.stream(
        "POST", f"{a.url}/v1/chat/completions", json=CHAT, headers=headers, timeout=10
    ) as first:
        assert first.status_code == 200
        try:
            for part in first.iter_raw():
                raw += part
        except httpx.RemoteProtocolError:
            pass
    for line in raw.decode().splitlines():
        if line.startswith("id: "):
            last_id = line[4:]
    assert last_id is not None and b"[DONE]" not in raw
    rest = httpx.post(
        f"{b.url}/v1/chat/completions", json=CHAT, headers={"Last-Event-ID": last_id}, timeout=10
    )
    assert rest.status_code == 200 and rest.text.endswith("data: [DONE]\n\n")
    before = text_of(httpx.Response(200, content=raw))
    assert before and before + text_of(rest) == TEXT
    stream_id = last_id.split(":")[0]
    seen = httpx.get(f"{a.url}/_fakellm/streams/{stream_id}").json()
    assert seen["text"] == TEXT and seen["status"] == "completed" and len(seen["attempts"]) == 2


def test_a_background_response_polled_on_the_other_server(pair: tuple[Server, Server]) -> None:
    a, b = pair
    body = {"model": "m", "input": "Hi", "background": True}
    created = httpx.post(f"{a.url}/v1/responses", json=body, headers={"X-FakeLLM-Scenario": "slow"}).json()
    deadline = time.monotonic() + 20
    while True:
        polled = httpx.get(f"{b.url}/v1/responses/{created['id']}")
        assert polled.status_code == 200, polled.text
        if polled.json()["status"] == "completed" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    done = polled.json()
    assert done["status"] == "completed"
    assert done["output"][0]["content"][0]["text"] == TEXT


def test_redis_restarted_mid_run_is_a_503_then_recovery_with_no_entry_lost(
    pair: tuple[Server, Server], redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = pair
    assert chat(a).status_code == 200 and chat(b).status_code == 200
    assert len(journal_of(a, 2)) == 2
    redis_server.stop()
    messages = {"model": "m", "max_tokens": 9, "messages": [{"role": "user", "content": "Hi"}]}
    away = [chat(a), chat(b), httpx.post(f"{a.url}/v1/messages", json=messages)]
    for response in away[:2]:
        assert response.status_code == 503
        error = response.json()["error"]
        assert error["code"] == "state_store_unavailable" and redis_server.url in error["message"]
    assert away[2].status_code == 503 and away[2].json()["type"] == "error"  # Anthropic's shape
    assert "unavailable" in away[2].json()["error"]["message"]
    journal = httpx.get(f"{b.url}/_fakellm/journal")
    assert journal.status_code == 503 and "state store" in journal.json()["error"]["message"]
    assert any("state store" in r.getMessage() and "unavailable" in r.getMessage() for r in caplog.records)
    assert not a.state.internal_errors and not b.state.internal_errors  # not a bug: no traceback

    redis_server.restart_on_same_port()  # empty: started with no persistence
    assert chat(b).status_code == 200 and chat(a).status_code == 200
    entries = journal_of(a, 7)
    assert [e["status"] for e in entries] == [200, 200, 503, 503, 503, 200, 200]
    assert [e["outcome"] for e in entries].count("rejected") == 3
