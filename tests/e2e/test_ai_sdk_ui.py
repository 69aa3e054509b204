"""POST /api/chat and GET /api/chat/{id}/stream on a real server: the AI SDK's own chat client
(``tests/node/ui_chat.mjs``: ``AbstractChat`` + ``DefaultChatTransport``, what ``useChat`` runs),
and the bytes through httpx: headers, faults (error event, drop, fragment), bad bodies, the data
stream protocol, the resume's 204 and its replay on the original schedule.

The Node cases run in one process (each Node start costs about a second); locally they skip
without ``tests/node/node_modules``, under ``CI`` they fail instead (as test_node_clients.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from fakellm.server import Server
from fakellm.wire.sse import SSEDecoder

# One Node process plays every case (the module fixture ``chats``): the module's tests are one xdist
# group, so that it runs once, on one worker.
pytestmark = pytest.mark.xdist_group("ai-sdk-ui")

NODE_DIR = Path(__file__).parent.parent / "node"
SCRIPT = NODE_DIR / "ui_chat.mjs"

TEXT = "Hello, world! How are you?"
SLOW_TEXT = "One two three four five six seven eight nine ten."
SCENARIOS: list[dict[str, Any]] = [
    {"name": "ui-text", "content": {"text": TEXT}, "timing": {"ttft_ms": 20, "itl_ms": 5}},
    # 10+ tokens 80 ms apart: a drop at token 3 leaves most of the schedule to run.
    {"name": "ui-slow", "content": {"text": SLOW_TEXT}, "timing": {"ttft_ms": 50, "itl_ms": 80}},
    # The Node resume's: its client must see the drop and come back while the schedule runs (~3 s),
    # even on a loaded machine.
    {"name": "ui-resume", "content": {"text": SLOW_TEXT}, "timing": {"ttft_ms": 50, "itl_ms": 250}},
    {
        "name": "ui-reasoning",
        "reasoning": "Let me think.",
        "content": {"text": "Done."},
        "timing": {"ttft_ms": 20, "itl_ms": 5},
    },
    {
        "name": "ui-agent",
        "timing": {"ttft_ms": 20, "itl_ms": 5},
        "turns": [
            {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
            {"content": {"text": "It is {tool_result} in Paris."}},
        ],
    },
]
CASES = [
    "text",
    "reasoning",
    "tool",
    "error",
    "malformed",
    "http_error",
    "resume",
    "resume_none",
    "data_protocol",
]


def _ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false")


@pytest.fixture(scope="module")
def chats() -> Callable[[str], dict[str, Any]]:
    missing = None
    if shutil.which("node") is None:
        missing = "node is not installed"
    elif not (NODE_DIR / "node_modules").is_dir():
        missing = "tests/node/node_modules is missing: run `npm ci --prefix tests/node`"
    if missing:
        if _ci():
            pytest.fail(f"CI must run the Node client tests: {missing}")
        pytest.skip(missing)
    server = Server(scenarios=SCENARIOS).start()
    try:
        out = subprocess.run(
            ["node", str(SCRIPT), server.url, *CASES], capture_output=True, text=True, timeout=60, check=False
        )
    finally:
        server.stop()
    by_case = {
        r["case"]: r for r in (json.loads(line) for line in out.stdout.splitlines() if line.startswith("{"))
    }
    assert out.returncode == 0 and len(by_case) == len(CASES), out.stderr[-3000:]
    return by_case.__getitem__


def _assistant(result: dict[str, Any]) -> dict[str, Any]:
    (message,) = [m for m in result["messages"] if m["role"] == "assistant"]
    return message


def _texts(message: dict[str, Any], kind: str = "text") -> list[str]:
    return [p["text"] for p in message["parts"] if p["type"] == kind]


def test_use_chat_streams_the_text(chats: Callable[[str], dict[str, Any]]) -> None:
    r = chats("text")
    assert r["status"] == "ready" and r["error"] is None
    message = _assistant(r)
    assert message["id"].startswith("msg-")
    assert message["parts"] == [{"type": "step-start"}, {"type": "text", "text": TEXT, "state": "done"}]


def test_use_chat_shows_the_reasoning_then_the_text(chats: Callable[[str], dict[str, Any]]) -> None:
    message = _assistant(chats("reasoning"))
    assert [p["type"] for p in message["parts"]] == ["step-start", "reasoning", "text"]
    assert _texts(message, "reasoning") == ["Let me think."] and _texts(message) == ["Done."]


def test_a_tool_call_reaches_the_client_and_its_output_the_next_turn(
    chats: Callable[[str], dict[str, Any]],
) -> None:
    r = chats("tool")
    assert r["status"] == "ready" and r["error"] is None
    (call,) = r["calls"]
    assert call["toolName"] == "get_weather" and call["input"] == {"city": "Paris"}
    assert call["toolCallId"].startswith("call_")
    # The client sent its tool's output back by itself, and the second turn quoted it.
    assert r["requests"] == ["POST /api/chat 200", "POST /api/chat 200"]
    message = _assistant(r)
    tool = next(p for p in message["parts"] if p["type"] == "tool-get_weather")
    assert tool["state"] == "output-available" and tool["output"] == {"weather": "sunny"}
    assert [p["type"] for p in message["parts"]] == ["step-start", "tool-get_weather", "step-start", "text"]
    assert _texts(message) == ['It is {"weather":"sunny"} in Paris.']


def test_an_error_part_is_the_chats_error(chats: Callable[[str], dict[str, Any]]) -> None:
    r = chats("error")
    assert r["status"] == "error"
    assert r["error"] == "Error: The server had an error while processing your request. Sorry about that!"
    assert _texts(_assistant(r)) == ["Hello,"]  # the text before the error is kept


def test_a_malformed_part_is_the_chats_parse_error(chats: Callable[[str], dict[str, Any]]) -> None:
    r = chats("malformed")
    assert r["status"] == "error" and r["error"].startswith("AI_JSONParseError: ")
    assert _texts(_assistant(r)) == ["Hello,"]


def test_an_http_error_is_the_chats_error_with_no_answer(chats: Callable[[str], dict[str, Any]]) -> None:
    r = chats("http_error")
    assert (
        r["status"] == "error" and r["error"].startswith("AI_APICallError: ") and "rate_limit" in r["error"]
    )
    assert [m["role"] for m in r["messages"]] == ["user"]


def test_resume_stream_after_a_drop_rebuilds_the_whole_message(
    chats: Callable[[str], dict[str, Any]],
) -> None:
    r = chats("resume")
    dropped = r["dropped"]
    assert dropped["status"] == "error" and dropped["error"] == "TypeError: terminated"
    assert _texts(_assistant(dropped)) == ["One two three"]
    assert r["status"] == "ready" and r["error"] is None
    assert r["requests"][0] == "POST /api/chat 200"
    assert r["requests"][1].startswith("GET /api/chat/chat-resume-") and r["requests"][1].endswith(
        "/stream 200"
    )
    # A full replay: the client started the message again on the replay's start, no duplicate.
    message = _assistant(r)
    assert message["id"] == _assistant(dropped)["id"]
    assert message["parts"] == [{"type": "step-start"}, {"type": "text", "text": SLOW_TEXT, "state": "done"}]


def test_resume_stream_with_nothing_running_does_nothing(chats: Callable[[str], dict[str, Any]]) -> None:
    r = chats("resume_none")
    assert r["status"] == "ready" and r["error"] is None and r["messages"] == []
    assert r["requests"][0].endswith("/stream 204")


def test_the_ai_sdk_4_data_protocol_is_silently_nothing_to_a_new_client(
    chats: Callable[[str], dict[str, Any]],
) -> None:
    # What happens when a backend still sends toDataStreamResponse() to useChat 5+ (wire2 U10).
    r = chats("data_protocol")
    assert r["status"] == "ready" and r["error"] is None
    assert [m["role"] for m in r["messages"]] == ["user"]
    assert r["requests"] == ["POST /api/chat?protocol=data 200"]


# --------------------------------------------------------------------------------------------------
# The bytes, through httpx


def _body(chat_id: str = "c1", text: str = "hi") -> dict[str, Any]:
    message = {"id": "u1", "role": "user", "parts": [{"type": "text", "text": text}]}
    return {"id": chat_id, "messages": [message], "trigger": "submit-message"}


def _parts(data: bytes) -> list[Any]:
    return [e.data if e.data == "[DONE]" else json.loads(e.data) for e in SSEDecoder().feed(data)]


@pytest.fixture
def ui_server(make_server: Callable[..., Server]) -> Server:
    return make_server(scenarios=SCENARIOS, seed=7)


def _post(server: Server, headers: dict[str, str] | None = None, **body: Any) -> httpx.Response:
    return httpx.post(f"{server.url}/api/chat", json={**_body(), **body}, headers=headers or {}, timeout=10)


def test_the_stream_has_the_sdks_headers_and_parts(ui_server: Server) -> None:
    r = _post(ui_server, {"X-FakeLLM-Scenario": "ui-text"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/event-stream"
    assert r.headers["x-vercel-ai-ui-message-stream"] == "v1"
    assert r.headers["cache-control"] == "no-cache" and r.headers["x-accel-buffering"] == "no"
    parts = _parts(r.content)
    assert [p if p == "[DONE]" else p["type"] for p in parts] == [
        "start",
        "start-step",
        "text-start",
        *["text-delta"] * 8,
        "text-end",
        "finish-step",
        "finish",
        "[DONE]",
    ]
    assert "".join(p["delta"] for p in parts if p != "[DONE]" and p["type"] == "text-delta") == TEXT
    entry = httpx.get(f"{ui_server.url}/_fakellm/journal").json()[-1]
    assert entry["format"] == "ai_sdk.ui" and entry["outcome"] == "completed" and entry["path"] == "/api/chat"


def test_a_seed_replays_the_same_bytes(ui_server: Server) -> None:
    first = _post(ui_server, {"X-FakeLLM-Scenario": "ui-text", "X-FakeLLM-Seed": "3"}).content
    assert _post(ui_server, {"X-FakeLLM-Scenario": "ui-text", "X-FakeLLM-Seed": "3"}).content == first


def test_an_error_event_ends_the_stream_with_an_error_part(ui_server: Server) -> None:
    r = _post(ui_server, {"X-FakeLLM-Scenario": "ui-text", "X-FakeLLM-Faults": "error_event@2 message=boom"})
    parts = _parts(r.content)
    assert parts[-1] == {"type": "error", "errorText": "boom"}
    assert [p["delta"] for p in parts if p["type"] == "text-delta"] == ["Hello", ","]


def test_a_drop_cuts_the_body(ui_server: Server) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        _post(ui_server, {"X-FakeLLM-Scenario": "ui-text", "X-FakeLLM-Faults": "drop@3"})


def test_fragmented_writes_decode_to_the_same_parts(ui_server: Server) -> None:
    whole = _post(ui_server, {"X-FakeLLM-Scenario": "ui-text", "X-FakeLLM-Seed": "5"}).content
    headers = {
        "X-FakeLLM-Scenario": "ui-text",
        "X-FakeLLM-Seed": "5",
        "X-FakeLLM-Faults": "fragment 1-7 bytes",
    }
    with httpx.stream("POST", f"{ui_server.url}/api/chat", json=_body(), headers=headers) as r:
        assert r.status_code == 200
        decoder = SSEDecoder()
        chunks = list(r.iter_raw())
        events = [e for chunk in chunks for e in decoder.feed(chunk)]
    assert len(chunks) > len(events)
    assert [e.data for e in events] == [e.data for e in SSEDecoder().feed(whole)]


@pytest.mark.parametrize(
    ("content", "names"),
    [
        (b"{", "not valid JSON"),
        (b'{"messages": []}', "at least one message"),
        (
            b'{"messages": [{"role": "user", "parts": [{"type": "text", "text": 1}]}]}',
            "messages.0.parts.0.text",
        ),
    ],
)
def test_bad_bodies_are_json_400s(ui_server: Server, content: bytes, names: str) -> None:
    r = httpx.post(f"{ui_server.url}/api/chat", content=content, headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.headers["content-type"] == "application/json"
    assert names in r.json()["error"]["message"]
    entry = httpx.get(f"{ui_server.url}/_fakellm/journal").json()[-1]
    assert entry["outcome"] == "rejected"


def test_an_unknown_protocol_is_a_400(ui_server: Server) -> None:
    r = httpx.post(f"{ui_server.url}/api/chat?protocol=v9", json=_body())
    assert r.status_code == 400 and "'v9'" in r.json()["error"]["message"]


def test_the_data_protocol_lines(ui_server: Server) -> None:
    r = httpx.post(
        f"{ui_server.url}/api/chat?protocol=data", json=_body(), headers={"X-FakeLLM-Scenario": "ui-text"}
    )
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.headers["x-vercel-ai-data-stream"] == "v1"
    lines = r.text.splitlines()
    assert lines[0].startswith('f:{"messageId":"msg-')
    assert "".join(json.loads(line[2:]) for line in lines if line.startswith("0:")) == TEXT
    assert json.loads(lines[-1][2:]) == {
        "finishReason": "stop",
        "usage": {"promptTokens": 7, "completionTokens": 8},  # 3, and 3 a message + "hi"
    }
    assert lines[-2].startswith("e:")
    errored = httpx.post(
        f"{ui_server.url}/api/chat?protocol=data",
        json=_body(),
        headers={"X-FakeLLM-Scenario": "ui-text", "X-FakeLLM-Faults": "error_event@1 message=boom"},
    )
    assert errored.text.splitlines()[-1] == '3:"boom"'


def test_resume_is_204_without_a_stream(ui_server: Server) -> None:
    r = httpx.get(f"{ui_server.url}/api/chat/never/stream")
    assert r.status_code == 204 and r.content == b""
    _post(ui_server, {"X-FakeLLM-Scenario": "ui-text"}, id="done-chat")
    assert httpx.get(f"{ui_server.url}/api/chat/done-chat/stream").status_code == 204  # its schedule is over
    assert httpx.post(f"{ui_server.url}/api/chat/never/stream").status_code == 405


def test_resume_replays_the_running_stream_on_its_schedule(ui_server: Server) -> None:
    """The first attempt drops after 3 tokens; the resume, 0.3 s in, gets every part from the
    start: those already due at once, the rest when they fall due (~0.85 s after the POST)."""
    headers = {"X-FakeLLM-Scenario": "ui-slow", "X-FakeLLM-Seed": "11"}
    whole = _post(ui_server, headers, id="whole").content  # the same stream, not cut
    posted = time.monotonic()
    with pytest.raises(httpx.RemoteProtocolError):
        _post(ui_server, {**headers, "X-FakeLLM-Faults": "drop@3"}, id="cut")
    time.sleep(max(0.0, 0.3 - (time.monotonic() - posted)))
    arrivals: list[tuple[float, bytes]] = []
    with httpx.stream("GET", f"{ui_server.url}/api/chat/cut/stream", timeout=10) as r:
        assert r.status_code == 200
        assert r.headers["x-vercel-ai-ui-message-stream"] == "v1"
        for chunk in r.iter_raw():
            arrivals.append((time.monotonic() - posted, chunk))
    replay = b"".join(chunk for _, chunk in arrivals)
    assert b"id:" not in replay
    # The same parts as the uncut stream but the message id (each chat has its own draw order).
    assert len(_parts(replay)) == len(_parts(whole))
    assert [p for p in _parts(replay) if p != "[DONE]" and p["type"] == "text-delta"] == [
        p for p in _parts(whole) if p != "[DONE]" and p["type"] == "text-delta"
    ]
    first, last = arrivals[0][0], arrivals[-1][0]
    assert first < 0.6  # what was due went out at once
    assert 0.6 < last < 2.5  # the rest on the original schedule, not at once
    entries = httpx.get(f"{ui_server.url}/_fakellm/journal").json()
    resumed = entries[-1]
    assert (
        resumed["method"] == "GET" and resumed["format"] == "ai_sdk.ui" and resumed["outcome"] == "completed"
    )
    cut = next(e for e in entries if e["request"] and e["request"].get("id") == "cut")
    assert cut["outcome"] == "client_disconnected" or cut["faults"]
    assert resumed["seed"] == cut["seed"] and resumed["scenario"] == "ui-slow"


def test_a_chat_resumes_its_latest_stream(ui_server: Server) -> None:
    """Two streams of one chat: the resume replays the second."""
    done = threading.Event()

    def slow() -> None:
        _post(ui_server, {"X-FakeLLM-Scenario": "ui-slow"}, id="twice")
        done.set()

    _post(ui_server, {"X-FakeLLM-Scenario": "ui-text"}, id="twice")
    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.2)
    r = httpx.get(f"{ui_server.url}/api/chat/twice/stream", timeout=10)
    thread.join()
    assert done.is_set() and r.status_code == 200
    assert (
        "".join(p["delta"] for p in _parts(r.content) if p != "[DONE]" and p["type"] == "text-delta")
        == SLOW_TEXT
    )


def test_a_data_protocol_chat_is_replayed_in_its_protocol(ui_server: Server) -> None:
    headers = {"X-FakeLLM-Scenario": "ui-slow", "X-FakeLLM-Faults": "drop@2"}
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(f"{ui_server.url}/api/chat?protocol=data", json=_body("data-chat"), headers=headers)
    r = httpx.get(f"{ui_server.url}/api/chat/data-chat/stream", timeout=10)
    assert r.status_code == 200 and r.headers["x-vercel-ai-data-stream"] == "v1"
    lines = r.text.splitlines()
    assert lines[0].startswith("f:") and lines[-1].startswith("d:")
    assert "".join(json.loads(line[2:]) for line in lines if line.startswith("0:")) == SLOW_TEXT
