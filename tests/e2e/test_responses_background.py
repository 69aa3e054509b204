"""Responses background mode through openai-python 3.x on a real server (shared/wire2.md §6.1):
``responses.create(background=True)`` then ``responses.retrieve`` polling; a background stream
dropped on its first attempt, resumed by the SDK's ``responses.stream(response_id=…,
starting_after=N)`` (which asks for the whole stream and filters on the client) and by the
server-side cursor (``retrieve(id, stream=True, starting_after=N)``); cancel; the 400s and 404s;
the journal."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import httpx2
import openai
import pytest

from fakellm import Server
from fakellm.tokens import tokenize

MakeServer = Callable[..., Server]

TEXT = "Background work takes a while: here are the results, one token at a time. Ça va? 😀"
TOKENS = tokenize(TEXT)
SEED = {"X-FakeLLM-Seed": "11"}


@pytest.fixture
def server(make_server: MakeServer) -> Server:
    # 20 ms between tokens: the stream lasts about half a second, long enough to poll it mid-way.
    return make_server(
        scenarios=[
            {"name": "default", "content": {"text": TEXT}, "timing": {"ttft_ms": 150, "itl_ms": 20}},
            {"name": "slow", "content": {"text": TEXT}, "timing": {"ttft_ms": 50, "itl_ms": 60}},
        ]
    )


@pytest.fixture
def client(server: Server) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0, timeout=10) as c:
        yield c


def _events(text: str) -> list[dict[str, Any]]:
    """The JSON of every event of a raw Responses SSE body."""
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]


def _final(server: Server, response_id: str, timeout_s: float = 5.0) -> None:
    """Wait until the background response's schedule is over (its stream, if any, settled)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = httpx.get(f"{server.base_url}/responses/{response_id}").json()["status"]
        if status not in ("queued", "in_progress"):
            return
        time.sleep(0.02)
    raise AssertionError(f"{response_id} still {status}")


def test_create_answers_at_once_queued_then_polls_to_the_full_text(
    server: Server, client: openai.OpenAI
) -> None:
    # A first token after 2 s: long enough for the first poll to find the response queued (the
    # SDK's first parse of a Response object can take a second).
    headers = {**SEED, "X-FakeLLM-TTFT-Ms": "2000"}
    created = client.responses.create(model="gpt-4o", input="Go", background=True, extra_headers=headers)
    # At once, not after the schedule (timed on the server, for the same reason).
    entry = server.journal.last
    assert entry is not None and entry.duration_ms is not None and entry.duration_ms < 500
    assert (created.status, created.background, created.output) == ("queued", True, [])
    seen: list[tuple[str, str]] = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        polled = client.responses.retrieve(created.id)  # openai-python's Response model
        seen.append((polled.status, polled.output_text))
        if polled.status not in ("queued", "in_progress"):
            break
        time.sleep(0.03)
    statuses = [s for s, _ in seen]
    assert statuses[0] == "queued"
    assert "in_progress" in statuses
    assert statuses[-1] == "completed"
    # The text only grows, each poll a prefix of the next, and ends as the whole text.
    texts = [t for _, t in seen]
    assert all(texts[i + 1].startswith(texts[i]) for i in range(len(texts) - 1))
    assert any(0 < len(t) < len(TEXT) for s, t in seen if s == "in_progress")
    assert texts[-1] == TEXT
    # The same as a stream that is not in the background, with the same seed.
    with client.responses.stream(model="gpt-4o", input="Go", extra_headers=SEED) as foreground:
        final = foreground.get_final_response()
    assert final.output_text == TEXT
    polled = client.responses.retrieve(created.id)
    assert polled.model_dump()["usage"] == final.model_dump()["usage"]
    assert polled.background is True and final.background is False


def test_a_background_stream_opens_queued_and_numbers_every_event(server: Server) -> None:
    body = {"model": "gpt-4o", "input": "Go", "background": True, "stream": True}
    raw = httpx.post(f"{server.base_url}/responses", json=body, headers=SEED, timeout=10)
    events = _events(raw.text)
    kinds = [e["type"] for e in events]
    assert kinds[:4] == [
        "response.created",
        "response.queued",
        "response.in_progress",
        "response.output_item.added",
    ]
    assert [e["response"]["status"] for e in events[:3]] == ["queued", "queued", "in_progress"]
    assert all(e["response"]["background"] is True for e in events if "response" in e)
    assert kinds[-1] == "response.completed"
    # The cursor is the sequence number, the event's place in the stream; no SSE ids (§6.1).
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert "\nid:" not in raw.text and not raw.text.startswith("id:")


def _dropped_background_stream(client: openai.OpenAI, faults: str) -> tuple[str, int, list[int]]:
    """A background stream whose first attempt breaks (``faults``, on the create only): the id, the
    last sequence number the application had, and every sequence number it had."""
    response_id = ""
    seqs: list[int] = []
    stream = client.responses.create(
        model="gpt-4o",
        input="Go",
        background=True,
        stream=True,
        extra_headers={**SEED, "X-FakeLLM-Faults": faults},
    )
    # openai-python wraps the broken read (httpx2.RemoteProtocolError) in APIConnectionError.
    with pytest.raises(openai.APIConnectionError) as caught:
        for event in stream:
            if event.type == "response.created":
                response_id = event.response.id
            seqs.append(event.sequence_number)
    assert isinstance(caught.value.__cause__, httpx2.RemoteProtocolError)
    assert response_id and seqs
    return response_id, seqs[-1], seqs


def test_a_dropped_background_stream_resumes_through_the_sdk_helper(
    server: Server, client: openai.OpenAI
) -> None:
    response_id, cursor, before = _dropped_background_stream(client, "drop@5")
    resumed: list[int] = []
    text = ""
    with client.responses.stream(response_id=response_id, starting_after=cursor) as stream:
        for event in stream:
            resumed.append(event.sequence_number)
            if event.type == "response.output_text.delta":
                text += event.delta
        final = stream.get_final_response()
    assert final.output_text == TEXT
    assert resumed[0] == cursor + 1  # the helper filters: nothing the application had is repeated
    assert before + resumed == list(range(resumed[-1] + 1))  # and nothing is missing
    had = "".join(TOKENS[:5])
    assert had + text == TEXT
    # The helper sent no cursor: the server replayed from the first event (wire2.md §6.1, R14).
    get = [e for e in server.journal if e.method == "GET"][-1]
    assert (get.path, get.starting_after, get.background, get.outcome) == (
        f"/v1/responses/{response_id}",
        None,
        True,
        "completed",
    )
    assert get.text == TEXT


def test_the_server_side_cursor_sends_only_the_events_after_it(server: Server, client: openai.OpenAI) -> None:
    response_id, cursor, _ = _dropped_background_stream(client, "drop@3")
    seqs: list[int] = []
    text = ""
    for event in client.responses.retrieve(response_id, stream=True, starting_after=cursor):
        seqs.append(event.sequence_number)
        if event.type == "response.output_text.delta":
            text += event.delta
    assert seqs[0] == cursor + 1 and seqs == list(range(cursor + 1, seqs[-1] + 1))
    assert "".join(TOKENS[:3]) + text == TEXT
    get = [e for e in server.journal if e.method == "GET"][-1]
    assert (get.starting_after, get.outcome) == (cursor, "completed")
    # Raw, with a cursor past the end: an empty body.
    last = httpx.get(f"{server.base_url}/responses/{response_id}?stream=true&starting_after={seqs[-1]}")
    assert (last.status_code, last.text) == (200, "")


def test_a_replay_keeps_the_original_schedule(server: Server, client: openai.OpenAI) -> None:
    started = time.monotonic()  # before the POST arrives: its schedule starts after this
    created = client.responses.create(
        model="gpt-4o", input="Go", background=True, stream=True, extra_headers=SEED
    )
    response_id = next(iter(created)).response.id  # type: ignore[union-attr]
    created.close()  # gone: the generation goes on without a listener
    # Timed on the raw bytes: the SDK's first parse of a whole Response object can take a second.
    arrivals: list[float] = []
    with httpx.stream("GET", f"{server.base_url}/responses/{response_id}?stream=true") as replay:
        for line in replay.iter_lines():
            if line.startswith("data: "):
                arrivals.append(time.monotonic() - started)
    # The stream's tokens take about 20 ms each: the replay ends when the original would, not
    # at once, not a whole stream later (the events already due went out at once).
    schedule = 0.15 + 0.02 * (len(TOKENS) - 1)
    assert schedule < arrivals[-1] < schedule + 1.5
    # Once the schedule is over, a replay is sent at once.
    _final(server, response_id)
    started = time.monotonic()
    replayed = httpx.get(f"{server.base_url}/responses/{response_id}?stream=true")
    assert time.monotonic() - started < 0.5
    assert _events(replayed.text)[-1]["type"] == "response.completed"


def test_cancel_stops_where_it_is_and_is_idempotent(server: Server, client: openai.OpenAI) -> None:
    headers = {**SEED, "X-FakeLLM-Scenario": "slow"}
    created = client.responses.create(model="gpt-4o", input="Go", background=True, extra_headers=headers)
    time.sleep(0.4)  # a few tokens in (50 ms, then 60 ms each)
    cancelled = client.responses.cancel(created.id)
    assert cancelled.status == "cancelled"
    assert 0 < len(cancelled.output_text) < len(TEXT) and TEXT.startswith(cancelled.output_text)
    assert cancelled.output[0].status == "incomplete"  # type: ignore[union-attr]
    time.sleep(0.3)  # the schedule would have gone on meanwhile
    assert client.responses.cancel(created.id) == cancelled
    assert client.responses.retrieve(created.id) == cancelled
    # Streamed again: it ends where it was cancelled (the stream events have none for a cancel).
    time.sleep(1.5)  # past the end of the original schedule
    raw = httpx.get(f"{server.base_url}/responses/{created.id}?stream=true")
    assert raw.status_code == 400  # created without stream: true
    assert raw.json()["error"]["param"] == "stream"


def test_a_cancelled_stream_ends_at_the_cancel_live_and_replayed(
    server: Server, client: openai.OpenAI
) -> None:
    headers = {**SEED, "X-FakeLLM-Scenario": "slow"}
    stream = client.responses.create(
        model="gpt-4o", input="Go", background=True, stream=True, extra_headers=headers
    )
    response_id = ""
    text = ""
    kinds: list[str] = []
    canceller: threading.Thread | None = None
    for event in stream:  # the live stream: a cancel from elsewhere ends it at its next write
        kinds.append(event.type)
        if event.type == "response.created":
            response_id = event.response.id
        if event.type == "response.output_text.delta":
            text += event.delta
            if canceller is None and len(text) > 3:
                canceller = threading.Thread(target=client.responses.cancel, args=(response_id,))
                canceller.start()
    assert canceller is not None
    canceller.join()
    cancelled = client.responses.retrieve(response_id)
    assert cancelled.status == "cancelled"
    assert kinds[-1] == "response.output_text.delta"  # no terminal event
    assert TEXT.startswith(text) and len(text) < len(TEXT)
    # A live stream learns of the cancel at its next write: the one event it was waiting to write
    # may still go out, no more.
    sent = tokenize(text)
    assert cancelled.output_text in ("".join(sent), "".join(sent[:-1]))
    post = next(e for e in server.journal if e.method == "POST" and e.stream)
    assert post.outcome == "cancelled"
    # Replayed: the same events up to the cancellation, and then the end.
    replayed = _events(httpx.get(f"{server.base_url}/responses/{response_id}?stream=true").text)
    deltas = "".join(e["delta"] for e in replayed if e["type"] == "response.output_text.delta")
    assert deltas == cancelled.output_text
    assert replayed[-1]["type"] == "response.output_text.delta"
    get = [e for e in server.journal if e.method == "GET"][-1]
    assert get.outcome == "cancelled"


def test_cancel_after_the_end_answers_the_final_object(server: Server, client: openai.OpenAI) -> None:
    created = client.responses.create(model="gpt-4o", input="Go", background=True, extra_headers=SEED)
    _final(server, created.id)
    done = client.responses.cancel(created.id)
    assert (done.status, done.output_text) == ("completed", TEXT)


def test_background_with_store_false_is_kept_for_a_while(server: Server, client: openai.OpenAI) -> None:
    # The guide: "Background requests can use store=false, but response data is temporarily stored".
    created = client.responses.create(
        model="gpt-4o", input="Go", background=True, store=False, extra_headers=SEED
    )
    _final(server, created.id)
    assert client.responses.retrieve(created.id).output_text == TEXT


def test_an_error_event_ends_a_background_response_failed(server: Server, client: openai.OpenAI) -> None:
    headers = {**SEED, "X-FakeLLM-Faults": "error_event@4"}
    created = client.responses.create(model="gpt-4o", input="Go", background=True, extra_headers=headers)
    _final(server, created.id)
    failed = client.responses.retrieve(created.id)
    assert failed.status == "failed" and failed.error is not None
    assert failed.output_text == "".join(TOKENS[:4])


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("starting_after=3", "starting_after"),
        ("stream=false&starting_after=3", "starting_after"),
        ("stream=true&starting_after=-1", "starting_after"),
        ("stream=true&starting_after=2.5", "starting_after"),
        ("stream=true&starting_after=x", "starting_after"),
        ("stream=maybe", "stream"),
    ],
)
def test_bad_queries(server: Server, client: openai.OpenAI, query: str, param: str) -> None:
    created = client.responses.create(
        model="gpt-4o", input="Go", background=True, stream=True, extra_headers=SEED
    )
    response_id = next(iter(created)).response.id  # type: ignore[union-attr]
    created.close()
    answer = httpx.get(f"{server.base_url}/responses/{response_id}?{query}")
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", param)


def test_the_sdk_sees_the_400_as_bad_request(server: Server, client: openai.OpenAI) -> None:
    created = client.responses.create(model="gpt-4o", input="Go", background=True, extra_headers=SEED)
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.retrieve(created.id, starting_after=2)  # without stream=True
    assert caught.value.param == "starting_after"  # type: ignore[attr-defined]


def test_what_cannot_be_streamed_or_cancelled(server: Server, client: openai.OpenAI) -> None:
    foreground = client.responses.create(
        model="gpt-4o", input="Go", extra_headers=SEED
    )  # stored, not background
    # A stream GET of a response not made in the background: the API's 404 (wire2.md §6.1).
    with pytest.raises(openai.NotFoundError):
        list(client.responses.retrieve(foreground.id, stream=True))
    with pytest.raises(openai.BadRequestError) as bad:
        client.responses.cancel(foreground.id)
    assert "background" in bad.value.message
    with pytest.raises(openai.NotFoundError):
        client.responses.cancel("resp_unknown")
    with pytest.raises(openai.NotFoundError):
        list(client.responses.retrieve("resp_unknown", stream=True))
    assert client.responses.retrieve(foreground.id).status == "completed"  # still served as stored


@pytest.mark.parametrize("value", ["yes", 1, 0, None, [], {}])
def test_bad_background_values(server: Server, value: Any) -> None:
    body: dict[str, Any] = {"model": "gpt-4o", "input": "Go", "background": value}
    answer = httpx.post(f"{server.base_url}/responses", json=body)
    if value is None:  # null is "not given", as for every setting
        assert answer.status_code == 200 and answer.json()["background"] is False
        return
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert (error["type"], error["param"], error["code"]) == (
        "invalid_request_error",
        "background",
        "invalid_type",
    )
    assert server.journal.last is not None and server.journal.last.outcome == "rejected"


def test_the_journal_says_background(server: Server, client: openai.OpenAI) -> None:
    created = client.responses.create(model="gpt-4o", input="Go", background=True, extra_headers=SEED)
    entry = server.journal.last
    assert entry is not None
    assert (entry.method, entry.outcome, entry.background, entry.stream) == ("POST", "queued", True, False)
    assert entry.as_dict()["background"] is True
    _final(server, created.id)
    client.responses.create(model="gpt-4o", input="Go", extra_headers=SEED)
    assert server.journal.last is not None and server.journal.last.background is False
