"""How-to: resumable streams. Every event carries ``id: <stream id>:<n>``; a client whose connection
breaks reconnects with ``Last-Event-ID`` and gets the rest of the same stream, or asks
``GET /_fakellm/streams/{id}`` how far the generation got while it was away."""

import json
import time

import httpx
import pytest

BODY = {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "Count"}]}


def read_events(response, events):  # a minimal SSE reader: (id, data) per event, in order
    event_id, data = None, []
    for line in response.iter_lines():
        if line.startswith("id: "):
            event_id = line[4:]
        elif line.startswith("data: "):
            data.append(line[6:])
        elif not line and data:
            events.append((event_id, "\n".join(data)))
            event_id, data = None, []


def text_of(events):
    chunks = [json.loads(data) for _, data in events if data != "[DONE]"]
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


def chat_with_reconnect(client, headers):  # the code under test: resume after a broken stream
    events = []
    while True:
        try:
            with client.stream("POST", "/v1/chat/completions", json=BODY, headers=headers) as response:
                read_events(response, events)
            return text_of(events)
        except httpx.RemoteProtocolError:  # the connection broke mid-stream
            headers = {"Last-Event-ID": events[-1][0]}  # the last event we have


@pytest.mark.fakellm(text="one two three four five six")
def test_a_dropped_stream_resumes_after_the_last_event(fakellm):
    client = fakellm.httpx_client(base_url=fakellm.base_url.removesuffix("/v1"))
    # Resumable for this request; the first attempt breaks after three tokens.
    first = {"X-FakeLLM-Resumable": "1", "X-FakeLLM-Faults": "drop@3"}
    assert chat_with_reconnect(client, first) == "one two three four five six"
    dropped, resumed = fakellm.journal
    assert (dropped.outcome, resumed.outcome) == ("dropped", "completed")
    assert resumed.stream_id == dropped.stream_id and resumed.resumed_after == 3


@pytest.mark.fakellm(text="a long answer " * 20, itl_ms=20, resumable=True, faults="drop@2")
def test_ask_how_far_the_generation_got(fakellm):
    client = fakellm.httpx_client(base_url=fakellm.base_url.removesuffix("/v1"))
    # The connection breaks after two tokens, and this client does not come back.
    with (
        pytest.raises(httpx.RemoteProtocolError),
        client.stream("POST", "/v1/chat/completions", json=BODY) as response,
    ):
        for _ in response.iter_lines():
            pass
    stream_id = response.headers["x-request-id"]  # a stream's id is its request's
    # The generation goes on without a listener: ask how far it got (the job id pattern).
    job = client.get(f"/_fakellm/streams/{stream_id}").json()
    assert job["status"] == "in_progress" and ("a long answer " * 20).startswith(job["text"])
    while job["status"] == "in_progress":
        time.sleep(0.05)
        job = client.get(f"/_fakellm/streams/{stream_id}").json()
    assert (job["status"], job["finish_reason"], job["text"]) == ("completed", "stop", "a long answer " * 20)
