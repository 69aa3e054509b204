"""The AI SDK's own chat client in Chromium against POST /api/chat (issue 14): ``AbstractChat`` and
``DefaultChatTransport`` from the ``ai`` package (what ``useChat`` runs), bundled by esbuild from
``pages/ui_chat_entry.js`` and served by a page on another origin than fakellm's. Text, a
client-side tool loop, an error part, and a resume after a dropped connection, asserted on the
messages the client holds and on the server's journal. The Node side of the same client is
test_ai_sdk_ui.py.

The bundle is built once per module from ``tests/node/node_modules`` (no CDN, no network): locally
the tests skip without it, under ``CI`` they fail instead (as test_node_clients.py). A screenshot of
each case is kept in ``$FAKELLM_ARTIFACTS/ai-sdk/`` (default ``/tmp/fakellm-artifacts/ai-sdk/``).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from fakellm import Server
from tests.helpers import page_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser

# The bundle and the browser are made once per module: its tests are one xdist group, on one worker.
pytestmark = pytest.mark.xdist_group("ai-sdk-ui-browser")

NODE_DIR = Path(__file__).parent.parent / "node"
ENTRY = Path(__file__).parent / "pages" / "ui_chat_entry.js"
ARTIFACTS = Path(os.environ.get("FAKELLM_ARTIFACTS", "/tmp/fakellm-artifacts")) / "ai-sdk"

TEXT = "Hello, world! How are you?"
SLOW_TEXT = "One two three four five six seven eight nine ten."
SCENARIOS: list[dict[str, Any]] = [
    {"name": "ui-text", "content": {"text": TEXT}, "timing": {"ttft_ms": 20, "itl_ms": 5}},
    # A drop at token 3 leaves about 0.8 s of the schedule for the resume to come back into.
    {"name": "ui-resume", "content": {"text": SLOW_TEXT}, "timing": {"ttft_ms": 50, "itl_ms": 100}},
    {
        "name": "ui-agent",
        "timing": {"ttft_ms": 20, "itl_ms": 5},
        "turns": [
            {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
            {"content": {"text": "It is {tool_result} in Paris."}},
        ],
    },
]
PAGE = """<!doctype html>
<meta charset="utf-8">
<title>fakellm: the AI SDK's chat client</title>
<style>
  body { font: 14px system-ui, sans-serif; margin: 1em; }
  .message { border: 1px solid #ccc; border-radius: 6px; margin: .4em 0; padding: .4em .6em; }
  .message.user { background: #eef4ff; }
  .part[data-type=step-start] { color: #999; font-size: 11px; }
  #error { color: #b00; }
</style>
<p>chat <code id="chat-id"></code>: <b id="status">ready</b> <span id="error"></span></p>
<div id="chat"></div>
<script src="/ui_chat.js"></script>
"""
MakeServer = Callable[..., Server]


def _ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The entry and the ``ai`` package it imports, one IIFE script for the page."""
    esbuild = NODE_DIR / "node_modules" / ".bin" / "esbuild"
    if not esbuild.exists():
        missing = "tests/node/node_modules has no esbuild: run `npm ci --prefix tests/node`"
        if _ci():
            pytest.fail(f"CI must run the AI SDK browser tests: {missing}")
        pytest.skip(missing)
    out = tmp_path_factory.mktemp("ai-sdk-bundle") / "ui_chat.js"
    built = subprocess.run(
        [str(esbuild), str(ENTRY), "--bundle", "--format=iife", "--platform=browser", f"--outfile={out}"],
        # The entry is not under tests/node: point esbuild's resolver at its node_modules.
        env={**os.environ, "NODE_PATH": str(NODE_DIR / "node_modules")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    return out.read_text()


@pytest.fixture(scope="module")
def origin(bundle: str) -> Iterator[str]:
    with page_server(PAGE, {"/ui_chat.js": bundle}) as served:
        yield served


@pytest.fixture
def server(make_server: MakeServer) -> Server:
    return make_server(scenarios=SCENARIOS, seed=7)


def _run(browser: Browser, origin: str, server: Server, name: str, **options: Any) -> dict[str, Any]:
    """``runChat(options)`` in a fresh page; its result, what the page shows, and the page's errors."""
    context = browser.new_context(viewport={"width": 800, "height": 400})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(origin + "/")
        result: dict[str, Any] = page.evaluate(
            "(options) => runChat(options)", {"api": f"{server.url}/api/chat", **options}
        )
        result["shown"] = page.inner_text("#chat")
        result["shown_status"] = page.inner_text("#status")
        result["page_errors"] = errors
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        return result
    finally:
        context.close()


def _assistant(result: dict[str, Any]) -> dict[str, Any]:
    (message,) = [m for m in result["messages"] if m["role"] == "assistant"]
    return message


def _texts(message: dict[str, Any]) -> list[str]:
    return [p["text"] for p in message["parts"] if p["type"] == "text"]


def _journal(server: Server) -> list[dict[str, Any]]:
    return list(httpx.get(f"{server.url}/_fakellm/journal").json())


def test_text_streams_into_the_messages_text_part(browser: Browser, origin: str, server: Server) -> None:
    r = _run(browser, origin, server, "text", scenario="ui-text")
    assert r["status"] == "ready" and r["error"] is None and r["page_errors"] == []
    assert [m["role"] for m in r["messages"]] == ["user", "assistant"]
    message = _assistant(r)
    assert message["id"].startswith("msg-")
    assert message["parts"] == [{"type": "step-start"}, {"type": "text", "text": TEXT, "state": "done"}]
    assert TEXT in r["shown"] and r["shown_status"] == "ready"
    assert r["requests"] == ["POST /api/chat 200"]
    (entry,) = _journal(server)
    assert (entry["method"], entry["path"], entry["format"], entry["outcome"]) == (
        "POST",
        "/api/chat",
        "ai_sdk.ui",
        "completed",
    )
    assert entry["headers"]["origin"] == origin, "the page is on another origin (CORS)"
    assert entry["request"]["id"] == r["id"] and entry["text"] == TEXT


def test_a_tool_call_is_a_tool_part_and_its_output_gets_the_next_answer(
    browser: Browser, origin: str, server: Server
) -> None:
    r = _run(browser, origin, server, "tool", scenario="ui-agent", tool=True)
    assert r["status"] == "ready" and r["error"] is None and r["page_errors"] == []
    (call,) = r["calls"]
    assert call["toolName"] == "get_weather" and call["input"] == {"city": "Paris"}
    assert call["toolCallId"].startswith("call_")
    # The chat sent the tool's output back by itself (sendAutomaticallyWhen), and the second turn quoted it.
    assert r["requests"] == ["POST /api/chat 200", "POST /api/chat 200"]
    message = _assistant(r)
    assert [p["type"] for p in message["parts"]] == ["step-start", "tool-get_weather", "step-start", "text"]
    tool = message["parts"][1]
    assert tool["toolCallId"] == call["toolCallId"] and tool["input"] == {"city": "Paris"}
    assert tool["state"] == "output-available" and tool["output"] == {"weather": "sunny"}
    assert _texts(message) == ['It is {"weather":"sunny"} in Paris.']
    assert 'It is {"weather":"sunny"} in Paris.' in r["shown"]

    first, second = _journal(server)
    assert [e["outcome"] for e in (first, second)] == ["completed", "completed"]
    assert [c["name"] for c in first["tool_calls"]] == ["get_weather"]
    # The second request carries the call and its output in the assistant message it goes on with.
    sent = second["request"]["messages"][-1]
    assert sent["role"] == "assistant" and sent["id"] == message["id"]
    sent_tool = next(p for p in sent["parts"] if p["type"] == "tool-get_weather")
    assert sent_tool["toolCallId"] == call["toolCallId"] and sent_tool["output"] == {"weather": "sunny"}
    assert second["text"] == 'It is {"weather":"sunny"} in Paris.'


def test_an_error_part_is_the_chats_error_and_the_text_so_far_stays(
    browser: Browser, origin: str, server: Server
) -> None:
    r = _run(browser, origin, server, "error", scenario="ui-text", faults="error_event@2")
    assert r["status"] == "error" and r["shown_status"] == "error" and r["page_errors"] == []
    assert r["error"] == "Error: The server had an error while processing your request. Sorry about that!"
    assert _texts(_assistant(r)) == ["Hello,"]
    assert "Hello," in r["shown"]
    (entry,) = _journal(server)
    assert entry["outcome"] == "error_event" and entry["tokens_sent"] == 2 and entry["text"] == "Hello,"


def test_resume_stream_after_a_drop_rebuilds_the_whole_message_once(
    browser: Browser, origin: str, server: Server
) -> None:
    r = _run(browser, origin, server, "resume", scenario="ui-resume", faults="drop@3", resume=True)
    dropped = r["dropped"]
    # Chromium's fetch names a cut body "network error" (Node's undici: "terminated").
    assert dropped["status"] == "error" and dropped["error"] == "TypeError: network error", dropped
    assert _texts(_assistant(dropped)) == ["One two three"]
    assert r["status"] == "ready" and r["error"] is None and r["page_errors"] == []
    assert r["requests"] == ["POST /api/chat 200", f"GET /api/chat/{r['id']}/stream 200"]
    # A full replay: the client starts the same message again from the replay's start, no text twice.
    message = _assistant(r)
    assert message["id"] == _assistant(dropped)["id"]
    assert message["parts"] == [{"type": "step-start"}, {"type": "text", "text": SLOW_TEXT, "state": "done"}]
    assert r["shown"].count(SLOW_TEXT) == 1 and "three One" not in r["shown"]

    posted, resumed = _journal(server)
    assert (posted["method"], posted["faults"][0]["fault"]) == ("POST", "drop")
    assert (resumed["method"], resumed["path"]) == ("GET", f"/api/chat/{r['id']}/stream")
    assert resumed["format"] == "ai_sdk.ui" and resumed["outcome"] == "completed"
    assert "x-fakellm-faults" not in resumed["headers"], "prepareReconnectToStreamRequest sent no faults"
    assert resumed["seed"] == posted["seed"] and resumed["text"] == SLOW_TEXT
