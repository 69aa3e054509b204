"""The playground at ``/``: served to browsers beside the JSON every other client gets, and driven
for real in headless Chromium (Debian's ``chromium`` through ``playwright``, as in test_browser.py):
it streams each format, shows errors as errors, plots one mark per chunk, compares two streams side
by side, shows the journal and gives snippets that work.

Screenshots of each state are kept in ``$FAKELLM_ARTIFACTS/playground/`` (default
``/tmp/fakellm-artifacts/playground/``): loaded, streamed, error, side-by-side, dark.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from fakellm import ProxyServer, Server
from fakellm.faults import FAULTS
from fakellm.playground import ASSETS, CSP
from tests.helpers import raw_request

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page, Request

TEXT = "The playground streams this, token by token: café, naïve and 😀, to the very end."
SCENARIOS = [
    {"name": "default", "content": {"text": TEXT}, "timing": {"ttft_ms": 40, "itl_ms": 6}},
    {
        "name": "thinker",
        "content": {"text": "Checking the weather."},
        "reasoning": {"text": "The user wants the weather in Paris."},
        "reasoning_field": "reasoning_content",
        "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}],
        "timing": {"ttft_ms": 20, "itl_ms": 4},
    },
]
ARTIFACTS = Path(os.environ.get("FAKELLM_ARTIFACTS", "/tmp/fakellm-artifacts")) / "playground"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"

# The page is over when every pane has ended and has its journal entry (the "server" readout).
OVER = """(count) => {
  const panes = [...document.querySelectorAll('.pane')];
  return panes.length === count && panes.every((p) =>
    !['idle', 'streaming'].includes(p.dataset.state) &&
    !['\u2013', '\u2026'].includes(p.querySelector('[data-k=server]').textContent));
}"""


@pytest.fixture(scope="module")
def pg_server() -> Iterator[Server]:
    server = Server(seed=7, scenarios=SCENARIOS).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def page(browser: Browser, pg_server: Server) -> Iterator[Page]:
    """The playground in a fresh context, with every request and console error recorded."""
    pg_server.journal.clear()
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    requests: list[str] = []
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    def on_request(request: Request) -> None:
        requests.append(request.url)

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", on_request)
    page.requests = requests  # type: ignore[attr-defined]
    page.errors = errors  # type: ignore[attr-defined]
    page.goto(pg_server.url + "/")
    page.wait_for_selector("body[data-choices=loaded]")
    try:
        yield page
    finally:
        context.close()


def _send(page: Page, prompt: str = "hi", panes: int = 1, timeout_ms: float = 20_000) -> list[dict[str, Any]]:
    page.fill("#prompt", prompt)
    page.press("#prompt", "Enter")
    page.wait_for_function(OVER, arg=panes, timeout=timeout_ms)
    return [_pane(page, i) for i in range(panes)]


def _pane(page: Page, index: int) -> dict[str, Any]:
    pane: dict[str, Any] = page.evaluate(
        """(i) => {
          const p = document.querySelectorAll('.pane')[i];
          const text = (sel) => p.querySelector(sel).textContent;
          return {...p.dataset, text: text('.text'), error: p.querySelector('.error').hidden ? null :
                  text('.error'), ttftShown: text('[data-k=ttft]'), tps: text('[data-k=tps]'),
                  gaps: text('[data-k=gaps]'), tools: text('.tools'), reasoning: text('.reasoning-text'),
                  notes: text('.notes'), title: text('.pane-title'), spec: text('.pane-spec')};
        }""",
        index,
    )
    return pane


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _toggle(page: Page, label: str) -> None:
    page.click(f"#toggles button:text-is('{label}')")


# -- served beside the JSON ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("accept", "page_wanted"),
    [(BROWSER_ACCEPT, True), ("text/html", True), ("application/json", False), ("*/*", False), (None, False)],
)
def test_the_root_is_the_page_for_browsers_and_json_for_clients(
    pg_server: Server, accept: str | None, page_wanted: bool
) -> None:
    headers = {"Accept": accept} if accept is not None else {}
    response = raw_request(pg_server.port, method="GET", path="/", headers=headers)
    assert response.status == 200
    assert response.headers["vary"] == "Accept"
    if page_wanted:
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert response.headers["content-security-policy"] == CSP
        assert b"<title>fakellm playground</title>" in response.body
    else:
        assert response.headers["content-type"] == "application/json"
        assert json.loads(response.body)["name"] == "fakellm"


def test_curl_gets_the_json(pg_server: Server) -> None:
    command = ["curl", "-s", "-i", pg_server.url + "/"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=10)
    head, _, body = result.stdout.partition("\n\n")  # text=True made every CRLF a LF
    assert "content-type: application/json" in head.lower()
    assert json.loads(body)["base_url"] == pg_server.base_url


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/_fakellm/playground", "text/html; charset=utf-8"),
        *((f"/_fakellm/playground/{name}", kind) for name, kind in ASSETS.items()),
    ],
)
def test_the_files_are_served_with_their_content_types(
    pg_server: Server, path: str, content_type: str
) -> None:
    response = httpx.get(pg_server.url + path)
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "path",
    ["/_fakellm/playground/nope.js", "/_fakellm/playground/..%2F__init__.py", "/_fakellm/playground/a/b"],
)
def test_no_other_file_is_served(pg_server: Server, path: str) -> None:
    response = httpx.get(pg_server.url + path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_url"


def test_the_proxy_root_stays_json(make_proxy: Callable[..., ProxyServer], pg_server: Server) -> None:
    proxy = make_proxy(pg_server.base_url)
    response = httpx.get(proxy.url + "/", headers={"Accept": BROWSER_ACCEPT})
    assert response.headers["content-type"] == "application/json"
    assert httpx.get(proxy.url + "/_fakellm/playground").status_code == 404


def test_the_scenarios_route_lists_what_the_header_can_name(pg_server: Server) -> None:
    listed = httpx.get(pg_server.url + "/_fakellm/scenarios").json()
    assert listed["object"] == "list"
    by_name = {s["name"]: s for s in listed["data"]}
    assert list(by_name) == ["default", "thinker"]
    assert by_name["default"]["default"] is True and by_name["thinker"]["default"] is False
    assert by_name["default"]["timing"] == {"ttft_ms": 40.0, "itl_ms": 6.0}
    assert by_name["thinker"]["tool_calls"] == ["get_weather"] and by_name["thinker"]["reasoning"] is True
    assert by_name["thinker"]["resumable"] is False and by_name["thinker"]["turns"] == 0


def test_the_journal_limit(pg_server: Server) -> None:
    pg_server.journal.clear()
    for _ in range(3):
        httpx.post(pg_server.base_url + "/chat/completions", json={"model": "m", "messages": []})
    assert len(httpx.get(pg_server.url + "/_fakellm/journal").json()) == 3
    newest = httpx.get(pg_server.url + "/_fakellm/journal?limit=2").json()
    assert [e["index"] for e in newest] == [e.index for e in list(pg_server.journal)[-2:]]
    assert len(httpx.get(pg_server.url + "/_fakellm/journal?limit=1000").json()) == 3
    for bad in ("0", "1001", "x", "-1", "1.5", "1&limit=2", "9" * 40):
        response = httpx.get(f"{pg_server.url}/_fakellm/journal?limit={bad}")
        assert response.status_code == 400, bad
        assert response.json()["error"]["param"] == "limit"
    assert httpx.get(pg_server.url + "/_fakellm/health").status_code == 200


# -- in Chromium -------------------------------------------------------------------------------------
def test_it_loads_without_errors_and_asks_only_its_own_origin(page: Page, pg_server: Server) -> None:
    assert page.title() == "fakellm playground"
    assert page.locator("#scenario option").all_text_contents()[1:] == [
        "default (40 ms + 6 ms/token, default)",
        "thinker (20 ms + 4 ms/token, tools, reasoning)",
    ]
    # Shift+Enter is a new line, not a send.
    page.fill("#prompt", "one")
    page.press("#prompt", "Shift+Enter")
    page.keyboard.type("two")
    assert page.input_value("#prompt") == "one\ntwo"
    page.wait_for_timeout(1200)  # a journal poll or two
    assert len(pg_server.journal) == 0
    _shot(page, "loaded")
    assert page.errors == []  # type: ignore[attr-defined]
    requests: list[str] = page.requests  # type: ignore[attr-defined]
    assert requests and all(url.startswith(pg_server.url + "/") for url in requests), requests
    assert any("/_fakellm/journal?limit=" in url for url in requests)


def test_a_prompt_streams_what_the_journal_says_was_sent(page: Page, pg_server: Server) -> None:
    (pane,) = _send(page)
    entry = pg_server.journal.last
    assert entry is not None and entry.outcome == "completed"
    assert pane["state"] == "done"
    assert pane["text"] == entry.text == TEXT
    assert pane["tokens"] == str(entry.tokens_sent)
    assert re.fullmatch(r"\d+(\.\d)? ms", pane["ttftShown"]), pane["ttftShown"]
    assert 20 <= float(pane["ttft"]) < 5000
    assert float(pane["tps"]) > 0
    assert re.fullmatch(r"[\d.]+ / [\d.]+ / [\d.]+ ms", pane["gaps"]), pane["gaps"]
    # One mark per chunk the page read: streamed, so more than one (a busy machine joins tokens in
    # one read, several when the browser's process waits for a core).
    assert 1 < int(pane["chunks"]) <= entry.tokens_sent + 2
    assert pane["marks"] == pane["chunks"]
    assert pane["faultMarks"] == "0"
    # The journal table shows the request, newest first.
    page.wait_for_function("() => document.querySelector('#journal').dataset.rows === '1'", timeout=5000)
    row = page.locator("#journal tbody tr").first.locator("td").all_text_contents()
    assert row[1:7] == ["POST", "/v1/chat/completions", "openai.chat", "default", "200", "completed"]
    _shot(page, "streamed")
    assert page.errors == []  # type: ignore[attr-defined]
    assert all(url.startswith(pg_server.url + "/") for url in page.requests)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("format_", "journal_format"),
    [
        ("chat", "openai.chat"),
        ("responses", "openai.responses"),
        ("anthropic", "anthropic.messages"),
        ("completions", "openai.completions"),
        ("ui", "ai_sdk.ui"),
    ],
)
def test_each_format_streams(page: Page, pg_server: Server, format_: str, journal_format: str) -> None:
    page.select_option("#format", format_)
    (pane,) = _send(page)
    entry = pg_server.journal.last
    assert entry is not None
    assert (entry.format, entry.outcome) == (journal_format, "completed")
    assert pane["state"] == "done", pane
    assert pane["text"] == entry.text == TEXT
    assert pane["error"] is None and pane["notes"] == ""
    assert pane["marks"] == pane["chunks"] and int(pane["chunks"]) >= 5


@pytest.mark.parametrize("format_", ["chat", "responses", "anthropic", "ui"])
def test_reasoning_and_tool_calls_are_shown(page: Page, pg_server: Server, format_: str) -> None:
    page.select_option("#format", format_)
    page.select_option("#scenario", "thinker")
    (pane,) = _send(page)
    assert pane["state"] == "done", pane
    assert pane["text"] == "Checking the weather."
    assert pane["reasoning"] == "The user wants the weather in Paris."
    assert "ƒ get_weather" in pane["tools"] and '"city": "Paris"' in pane["tools"]
    entry = pg_server.journal.last
    assert entry is not None and entry.tool_calls[0]["id"] in pane["tools"]


@pytest.mark.parametrize("format_", ["chat", "responses", "anthropic", "completions", "ui"])
def test_a_scripted_error_shows_as_an_error_with_its_message(
    page: Page, pg_server: Server, format_: str
) -> None:
    page.select_option("#format", format_)
    _toggle(page, "error mid-stream")
    assert page.input_value("#faults") == "error_event@10"
    (pane,) = _send(page)
    entry = pg_server.journal.last
    assert entry is not None and entry.outcome == "error_event"
    assert pane["state"] == "error"
    assert pane["text"] == entry.text and 0 < len(pane["text"]) < len(TEXT)
    # What the error_event fault sends by default, in each format's words.
    expected = "Overloaded" if format_ == "anthropic" else "The server had an error while processing"
    assert expected in pane["error"], pane["error"]
    assert pane["faultMarks"] == "1"
    if format_ == "chat":
        _shot(page, "error")


def test_an_http_429_shows_as_an_error(page: Page, pg_server: Server) -> None:
    _toggle(page, "http 429")
    (pane,) = _send(page)
    assert pane["state"] == "error"
    assert pane["error"].startswith("HTTP 429")
    assert "rate_limit_exceeded: Rate limit reached for requests (scripted by fakellm)." in pane["error"]
    assert pane["text"] == ""
    entry = pg_server.journal.last
    assert entry is not None and (entry.status, entry.outcome) == (429, "http_error")


def test_a_bad_fault_spec_shows_the_servers_message(page: Page) -> None:
    page.fill("#faults", "explode@3")
    (pane,) = _send(page)
    assert pane["state"] == "error" and pane["error"].startswith("HTTP 400")
    assert "X-FakeLLM-Faults" in pane["error"]


def test_toggles_compose_into_the_faults_field(page: Page) -> None:
    _toggle(page, "drop")
    _toggle(page, "fragment")
    assert page.input_value("#faults") == "drop@10; fragment 1-7 bytes"
    _toggle(page, "drop")
    assert page.input_value("#faults") == "fragment 1-7 bytes"
    page.fill("#faults", "fragment 1-7 bytes; malformed@5")
    pressed = page.locator("#toggles button[aria-pressed=true]").all_text_contents()
    assert pressed == ["fragment", "malformed"]
    assert "X-FakeLLM-Faults: fragment 1-7 bytes; malformed@5" in page.text_content("#snippet")


def test_a_drop_shows_the_broken_stream(page: Page, pg_server: Server) -> None:
    _toggle(page, "drop")
    (pane,) = _send(page)
    entry = pg_server.journal.last
    assert entry is not None and entry.outcome == "dropped"
    assert pane["state"] == "error" and "the stream broke" in pane["error"]
    assert pane["text"] == entry.text


def test_a_malformed_event_is_noted_and_the_stream_goes_on(page: Page, pg_server: Server) -> None:
    _toggle(page, "malformed")
    (pane,) = _send(page)
    assert pane["state"] == "done" and pane["text"] == TEXT
    assert "an event that is no JSON" in pane["notes"]


def test_escape_stops_a_stalled_stream(page: Page, pg_server: Server) -> None:
    page.fill("#faults", "stall@3 forever")
    page.fill("#prompt", "hi")
    page.press("#prompt", "Enter")
    page.wait_for_function("() => document.querySelector('.pane').dataset.tokens === '3'", timeout=10_000)
    assert page.get_attribute(".pane", "data-state") == "streaming"
    page.keyboard.press("Escape")
    page.wait_for_function(OVER, arg=1, timeout=10_000)
    pane = _pane(page, 0)
    assert pane["state"] == "stopped" and "stopped by you" in pane["notes"]
    entry = pg_server.journal.last
    assert entry is not None and entry.outcome == "client_disconnected"
    assert pane["text"] == entry.text


def _side_by_side(page: Page, against: str, shot: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    page.check("#compare")
    page.select_option("#against", against)
    plain, other = _send(page, panes=2)
    if shot:
        _shot(page, shot)
    return plain, other


def test_side_by_side_with_a_slow_first_token(page: Page, pg_server: Server) -> None:
    plain, slow = _side_by_side(page, "latency 1500ms", "side-by-side")
    assert plain["state"] == slow["state"] == "done"
    assert plain["text"] == slow["text"] == TEXT
    assert slow["title"] == "With latency 1500ms" and "latency 1500ms" in slow["spec"]
    # The same seed for both, chosen by the page since the field was empty.
    entries = list(pg_server.journal)
    seeds = {entry.headers["x-fakellm-seed"] for entry in entries}
    assert len(entries) == 2 and len(seeds) == 1, seeds
    assert f"seed {seeds.pop()}" in plain["spec"] and entries[0].seed == entries[1].seed
    assert float(slow["ttft"]) - float(plain["ttft"]) > 1000
    assert plain["faultMarks"] == "0" and slow["faultMarks"] == "1"
    assert plain["marks"] == plain["chunks"] and slow["marks"] == slow["chunks"]


@pytest.mark.skipif("buffer" not in FAULTS, reason="the buffer fault is not merged yet")
def test_side_by_side_with_buffer_all(page: Page, pg_server: Server) -> None:
    page.fill("#itl", "20")  # about half a second of stream, so that the burst is late enough to see
    plain, buffered = _side_by_side(page, "buffer all", "side-by-side-buffer")
    assert plain["state"] == buffered["state"] == "done"
    assert plain["text"] == buffered["text"] == TEXT
    # Streamed: many reads, the first token early; buffered: one burst at the end.
    assert int(plain["chunks"]) >= 10 and int(buffered["chunks"]) <= 3, (plain, buffered)
    assert float(buffered["ttft"]) > float(plain["ttft"]) + 250, (plain, buffered)
    assert buffered["tps"] == "\u2013"  # every token in the same read: no rate to speak of
    entries = list(pg_server.journal)
    assert sorted(len(e.faults) for e in entries) == [0, 1]


@pytest.mark.skipif("buffer" not in FAULTS, reason="the buffer fault is not merged yet")
def test_side_by_side_with_buffer_4096(page: Page, pg_server: Server) -> None:
    page.fill("#itl", "10")
    plain, buffered = _side_by_side(page, "buffer 4096", None)
    assert plain["state"] == buffered["state"] == "done"
    assert plain["text"] == buffered["text"] == TEXT
    # About 7 KB of chunks: let out as one full 4096-byte buffer, then the rest at the end.
    assert int(plain["chunks"]) >= 10 and 2 <= int(buffered["chunks"]) <= 3, (plain, buffered)


def test_the_curl_snippet_streams(page: Page, pg_server: Server) -> None:
    page.fill("#seed", "42")
    page.fill("#itl", "2")
    page.fill("#prompt", "it's a test")  # a quote the shell must get right
    curl = page.get_attribute("#snippet", "data-curl")
    assert curl is not None and curl.startswith(f"curl -N {pg_server.url}/v1/chat/completions")
    result = subprocess.run(["bash", "-c", curl], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    events = [line.removeprefix("data: ") for line in result.stdout.split("\n\n") if line]
    assert events[-1] == "[DONE]"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in map(json.loads, events[:-1]))
    assert text == TEXT
    entry = pg_server.journal.last
    assert entry is not None and entry.headers["x-fakellm-seed"] == "42"
    assert entry.headers["x-fakellm-itl-ms"] == "2"
    assert entry.request == {
        "model": "gpt-4o",
        "stream": True,
        "messages": [{"role": "user", "content": "it's a test"}],
    }
    page.click("#tab-python")
    python = page.text_content("#snippet") or ""
    assert 'OpenAI(base_url="' + pg_server.base_url + '"' in python
    assert '"X-FakeLLM-Seed": "42"' in python and "stream=True" in python
    page.click("#tab-fetch")
    assert f'fetch("{pg_server.url}/v1/chat/completions"' in (page.text_content("#snippet") or "")


@pytest.mark.parametrize("format_", ["chat", "responses", "anthropic", "completions", "ui"])
def test_the_python_snippet_runs(page: Page, pg_server: Server, format_: str) -> None:
    """openai-python (the anthropic SDK for Messages, httpx for /api/chat), as the page writes it."""
    page.select_option("#format", format_)
    page.fill("#faults", "fragment 1-7 bytes")
    page.click("#tab-python")
    python = page.get_attribute("#snippet", "data-python")
    assert python is not None and python == page.text_content("#snippet")
    result = subprocess.run([sys.executable, "-c", python], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    if format_ == "ui":
        parts = [json.loads(line) for line in result.stdout.splitlines() if line != "[DONE]"]
        assert "".join(p.get("delta", "") for p in parts if p["type"] == "text-delta") == TEXT
    else:
        assert result.stdout == TEXT
    entry = pg_server.journal.last
    assert entry is not None and [f.fault for f in entry.faults] == ["fragment"]


def test_the_fetch_snippet_runs(page: Page, pg_server: Server) -> None:
    page.fill("#faults", "fragment 1-7 bytes")
    snippet = page.get_attribute("#snippet", "data-fetch")
    assert snippet is not None
    logged: list[str] = []
    page.on("console", lambda message: logged.append(message.text))
    page.evaluate(f"async () => {{\n{snippet}\n}}")
    entry = pg_server.journal.last
    assert entry is not None and entry.outcome == "completed"
    assert [f.fault for f in entry.faults] == ["fragment"]
    assert len(logged) > 10 and "data: [DONE]" in "".join(logged)


def test_a_journal_row_gives_its_seed_and_the_seed_replays_the_stream(page: Page, pg_server: Server) -> None:
    page.select_option("#format", "responses")
    assert page.text_content("#format-path") == "/v1/responses"
    page.fill("#seed", "123")
    (first,) = _send(page)
    page.fill("#seed", "")
    page.wait_for_function("() => document.querySelector('#journal').dataset.rows === '1'", timeout=5000)
    page.click("#journal tbody tr")
    entry = pg_server.journal.last
    # This server has a seed of its own: the row gives the request's header, which replays it.
    assert entry is not None and page.input_value("#seed") == "123"
    (again,) = _send(page)
    replayed = pg_server.journal.last
    assert replayed is not None and replayed.index != entry.index
    assert replayed.seed == entry.seed and replayed.request_id == entry.request_id
    assert again["text"] == first["text"]


def test_the_journal_clears(page: Page, pg_server: Server) -> None:
    _send(page)
    page.wait_for_function("() => document.querySelector('#journal').dataset.rows === '1'", timeout=5000)
    page.click("#journal-clear")
    page.wait_for_function("() => document.querySelector('#journal').dataset.rows === '0'", timeout=5000)
    assert len(pg_server.journal) == 0


def test_dark_mode(browser: Browser, pg_server: Server) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, color_scheme="dark")
    try:
        page = context.new_page()
        page.goto(pg_server.url + "/")
        page.wait_for_selector("body[data-choices=loaded]")
        background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(15, 17, 21)"
        page.check("#compare")
        page.select_option("#against", "fragment 1-7 bytes")
        _toggle(page, "error mid-stream")
        _send(page, panes=2)
        _shot(page, "dark")
    finally:
        context.close()
