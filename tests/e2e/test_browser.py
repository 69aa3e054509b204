"""Frontend developers call fakellm straight from a page on another origin: CORS on every route,
checked on the wire, then for real in headless Chromium (Debian's ``chromium`` driven by the
``playwright`` package; no browser download).

The browser part is a plain sync test on purpose: playwright's sync API refuses to run inside a
running asyncio loop, and nothing here needs one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from fakellm import Server, ServerConfig, scenario_from_dict
from tests.helpers import chat_body, page_server, raw_request

if TYPE_CHECKING:
    from playwright.sync_api import Browser

# One Chromium per module (e2e/conftest.py): its tests are one xdist group, on one worker.
pytestmark = pytest.mark.xdist_group("browser")

SCREENSHOT = Path("/tmp/fakellm-browser.png")
PAGE_ORIGIN = "http://127.0.0.1:5173"  # a dev server's origin, for the wire-level checks
STREAM_TEXT = "Streaming into a browser: café, naïve, 😀 and 日本語, token by token, to the very end."
REQUEST_HEADERS = (
    "authorization, content-type, x-stainless-os, x-stainless-lang, x-stainless-arch, "
    "x-stainless-runtime, x-stainless-package-version, x-stainless-retry-count, x-fakellm-faults"
)


# -- CORS on the wire ----------------------------------------------------------------------------
ROUTES = [
    ("POST", "/v1/chat/completions"),
    ("GET", "/v1/models"),
    ("GET", "/v1/models/default"),
    ("GET", "/_fakellm/journal"),
    ("DELETE", "/_fakellm/journal"),
    ("GET", "/_fakellm/health"),
    ("GET", "/v1/no-such-route"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_preflight_allows_the_route_and_echoes_headers(server: Server, method: str, path: str) -> None:
    response = raw_request(
        server.port,
        method="OPTIONS",
        path=path,
        headers={
            "Origin": PAGE_ORIGIN,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": REQUEST_HEADERS,
        },
    )
    assert 200 <= response.status < 300
    assert response.headers["access-control-allow-origin"] == PAGE_ORIGIN
    assert method in [m.strip() for m in response.headers["access-control-allow-methods"].split(",")]
    # Echoed, not "*": a wildcard does not cover Authorization.
    allowed = {h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")}
    assert allowed >= {h.strip() for h in REQUEST_HEADERS.split(",")}


def test_streamed_response_carries_cors_headers(server: Server) -> None:
    response = raw_request(
        server.port,
        chat_body(),
        headers={"Origin": PAGE_ORIGIN, "Authorization": "Bearer sk-test", "x-stainless-os": "Linux"},
    )
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["access-control-allow-origin"] == PAGE_ORIGIN
    exposed = {h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")}
    # A page can read what it needs to see why a stream came late: the buffering ask included.
    assert {"x-request-id", "x-accel-buffering"} <= exposed
    assert response.headers["x-request-id"] and response.headers["x-accel-buffering"] == "no"


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/v1/chat/completions", b"{not json", 400),
        ("GET", "/v1/chat/completion", None, 404),
        ("GET", "/v1/no-such-route", None, 404),
        ("GET", "/v1/chat/completions", None, 405),
    ],
)
def test_errors_are_readable_cross_origin(
    server: Server, method: str, path: str, body: bytes | None, status: int
) -> None:
    """A page must be able to read the OpenAI-shaped error, not just see a CORS failure."""
    response = raw_request(server.port, body, method=method, path=path, headers={"Origin": PAGE_ORIGIN})
    assert response.status == status
    assert response.headers["access-control-allow-origin"] == PAGE_ORIGIN


# -- in Chromium --------------------------------------------------------------------------------
PAGE = """<!doctype html>
<meta charset="utf-8">
<title>fakellm from another origin</title>
<style>body { font: 15px sans-serif; margin: 2em; } pre { white-space: pre-wrap; background: #f4f4f4;
padding: 1em; } code { color: #555; }</style>
<h1>fakellm, streamed into a page on another origin</h1>
<p id="status">idle</p>
<pre id="out"></pre>
<p>reads: <code id="reads">0</code>, x-request-id: <code id="rid">?</code></p>
<script>
// What a frontend does: fetch, then read the body as it arrives with getReader().
async function streamChat(url, headers, body) {
  const started = performance.now();
  const result = {status: 0, requestId: null, contentType: null, reads: [], text: "", done: false,
                  error: null};
  const out = document.getElementById("out");
  document.getElementById("status").textContent = "streaming";
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: {"Content-Type": "application/json", ...headers},
      body: JSON.stringify(body),
    });
    result.status = response.status;
    result.requestId = response.headers.get("x-request-id");
    result.contentType = response.headers.get("content-type");
    document.getElementById("rid").textContent = String(result.requestId);
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      result.reads.push({bytes: value.length, ms: performance.now() - started, before: result.text.length});
      buffer += decoder.decode(value, {stream: true});
      let cut;
      while ((cut = buffer.indexOf("\\n\\n")) >= 0) {
        const event = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        for (const line of event.split("\\n")) {
          if (!line.startsWith("data: ")) continue;
          const data = line.slice(6);
          if (data === "[DONE]") { result.done = true; continue; }
          for (const choice of JSON.parse(data).choices) result.text += choice.delta.content || "";
        }
      }
      out.textContent = result.text;
      document.getElementById("reads").textContent = String(result.reads.length);
    }
    document.getElementById("status").textContent = result.done ? "done" : "ended without [DONE]";
  } catch (error) {
    result.error = String(error);
    document.getElementById("status").textContent = "failed: " + error;
  }
  return result;
}
</script>
"""


@pytest.fixture
def page_origin() -> Iterator[str]:
    """A tiny web server on its own port: the page's origin differs from fakellm's."""
    with page_server(PAGE) as origin:
        yield origin


def _stream_in_page(browser: Browser, origin: str, url: str, headers: dict[str, str]) -> dict[str, Any]:
    context = browser.new_context(viewport={"width": 900, "height": 500})
    try:
        page = context.new_page()
        page.goto(origin + "/")
        body = {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
        result: dict[str, Any] = page.evaluate(
            "([url, headers, body]) => streamChat(url, headers, body)", [url, headers, body]
        )
        if headers.get("X-FakeLLM-Faults"):
            page.screenshot(path=str(SCREENSHOT))  # for eyeballing; not part of the assertions
        return result
    finally:
        context.close()


def test_page_on_another_origin_streams_with_fetch_and_get_reader(
    browser: Browser, page_origin: str, make_server: Callable[..., Server]
) -> None:
    server = make_server(
        seed=5,
        scenarios=[
            {"name": "default", "content": {"text": STREAM_TEXT}, "timing": {"ttft_ms": 50, "itl_ms": 15}}
        ],
    )
    assert page_origin.rsplit(":", 1)[1] != str(server.port)
    headers = {
        "Authorization": "Bearer sk-from-the-browser",
        "x-stainless-os": "Linux",
        "x-stainless-lang": "js",
        "x-stainless-package-version": "6.49.0",
        "x-stainless-retry-count": "0",
        "X-FakeLLM-Faults": "fragment 3-11 bytes",
    }
    result = _stream_in_page(browser, page_origin, server.base_url + "/chat/completions", headers)

    assert result["error"] is None, result["error"]
    assert result["status"] == 200
    assert result["contentType"].startswith("text/event-stream")
    assert result["text"] == STREAM_TEXT
    assert result["done"]
    reads = result["reads"]
    assert len(reads) >= 10, reads
    # Incremental: the page had part of the text in hand while more was still to come.
    partial = [r["before"] for r in reads if 0 < r["before"] < len(STREAM_TEXT)]
    assert len(set(partial)) >= 5, reads
    assert reads[-1]["ms"] - reads[0]["ms"] > 100, reads

    entry = server.journal.last
    assert entry is not None
    # The exposed header was readable from script, and it is this stream's id.
    assert result["requestId"] == entry.request_id
    assert entry.outcome == "completed"
    assert entry.headers["x-stainless-os"] == "Linux"
    assert "sk-from-the-browser" not in entry.headers.get("authorization", ""), "credentials are redacted"
    assert [f.fault for f in entry.faults] == ["fragment"]
    assert entry.headers["origin"] == page_origin


def test_browser_enforces_cors_control(
    browser: Browser, page_origin: str, make_server: Callable[..., Server]
) -> None:
    """The control: with the page's origin not allowed, the same fetch fails in the browser, so the
    test above passes because of fakellm's CORS answers, not because the browser ignores CORS."""
    config = ServerConfig(
        port=0,
        cors_origins=("http://somewhere-else.invalid",),
        scenarios=(scenario_from_dict({"name": "default", "content": {"text": STREAM_TEXT}}),),
    )
    server = make_server(config=config)
    result = _stream_in_page(
        browser, page_origin, server.base_url + "/chat/completions", {"Authorization": "Bearer sk-x"}
    )
    assert result["status"] == 0
    assert result["error"] is not None and "TypeError" in result["error"]
    assert result["text"] == ""
    assert len(server.journal) == 0, "the preflight failed, so the POST was never sent"
