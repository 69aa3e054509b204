"""``GET /v1/chat/completions/stream``, the stream for the browser's ``EventSource`` (issue 14,
docs/frontend.md 'EventSource'): the query string says what a POST says in its body and headers,
every event carries an id, and a reconnect with ``Last-Event-ID`` continues where the stream
broke. Checked on the wire with httpx, then with Chromium's own ``EventSource``, whose automatic
reconnect after a ``drop`` must end with the whole text and no event twice."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from fakellm import Server
from tests.helpers import page_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser

PATH = "/v1/chat/completions/stream"
TEXT = "An EventSource reconnects by itself: café, naïve, 😀 and 日本語, and not one token twice."
MakeServer = Callable[..., Server]


@pytest.fixture
def server(make_server: MakeServer) -> Server:
    return make_server(
        scenarios=[
            {"name": "default", "content": {"text": TEXT}, "timing": {"ttft_ms": 20, "itl_ms": 5}},
            {
                "name": "other",
                "content": {"text": "Another scenario."},
                "timing": {"ttft_ms": 0, "itl_ms": 0},
            },
        ]
    )


def get(
    server: Server, query: dict[str, str], headers: dict[str, str] | None = None
) -> tuple[bytes, bool, httpx.Response]:
    """One GET of the stream: its body as far as it came, and whether the connection broke."""
    raw, broke = b"", False
    with httpx.stream("GET", server.url + PATH, params=query, headers=headers, timeout=10) as response:
        try:
            for part in response.iter_raw():
                raw += part
        except (httpx.RemoteProtocolError, httpx.ReadError):
            broke = True
    return raw, broke, response


def events(raw: bytes) -> list[tuple[str, str]]:
    """(id, data) of each event."""
    out = []
    for block in raw.decode().split("\n\n")[:-1]:
        fields = dict(line.split(": ", 1) for line in block.split("\n") if not line.startswith("retry:"))
        out.append((fields["id"], fields["data"]))
    return out


def text_of(pairs: list[tuple[str, str]]) -> str:
    return "".join(
        json.loads(data)["choices"][0]["delta"].get("content") or "" for _, data in pairs if data != "[DONE]"
    )


def journal(server: Server) -> list[dict[str, Any]]:
    return list(httpx.get(f"{server.url}/_fakellm/journal").json())


# -- on the wire ---------------------------------------------------------------------------------
def test_the_query_stands_for_the_post_and_its_headers(server: Server) -> None:
    raw, broke, response = get(
        server, {"prompt": "Hi", "model": "gpt-4o-mini", "seed": "7", "system": "Be brief."}
    )
    assert not broke and response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-fakellm-seed"] == "7"
    got = events(raw)
    stream_id = response.headers["x-request-id"]
    assert [i for i, _ in got] == [f"{stream_id}:{n}" for n in range(len(got))]
    assert text_of(got) == TEXT
    assert got[-1][1] == "[DONE]"
    assert json.loads(got[0][1])["model"] == "gpt-4o-mini"

    # The same stream as the POST it stands for, event for event.
    post = httpx.post(
        f"{server.url}/v1/chat/completions",
        json={
            "model": "gpt-4o-mini",
            "stream": True,
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        },
        headers={"X-FakeLLM-Seed": "7", "X-FakeLLM-Resumable": "1"},
    )
    assert [d for _, d in events(post.content)] == [d for _, d in got]

    entry = journal(server)[0]
    assert entry["method"] == "GET" and entry["path"] == PATH and entry["outcome"] == "completed"
    assert entry["stream_id"] == stream_id
    assert entry["request"]["messages"][0] == {"role": "system", "content": "Be brief."}


def test_scenario_timing_and_faults_come_from_the_query(server: Server) -> None:
    raw, _, response = get(server, {"prompt": "Hi", "scenario": "other"})
    assert response.headers["x-fakellm-scenario"] == "other"
    assert text_of(events(raw)) == "Another scenario."

    raw, broke, _ = get(server, {"faults": "error_event@3", "ttft_ms": "0", "itl_ms": "0"})
    assert not broke
    assert '"error"' in events(raw)[-1][1]

    raw, _, _ = get(server, {"retry_ms": "250"})
    assert raw.startswith(b"retry: 250\n")
    last = journal(server)[-1]
    assert last["faults"][0]["fault"] == "sse"


def test_a_reconnect_goes_on_after_its_last_event_without_the_query_faults(server: Server) -> None:
    query = {"prompt": "Hi", "faults": "drop@20", "retry_ms": "100"}
    first, broke, _ = get(server, query)
    assert broke
    before = events(first)
    assert len(before) == 21, "the role chunk, then 20 tokens"
    # The browser sends the same URL again: its drop is the first attempt's, not this one's.
    rest, broke, response = get(server, query, {"Last-Event-ID": before[-1][0]})
    assert not broke and response.status_code == 200
    after = events(rest)
    assert not rest.startswith(b"retry:")
    whole = before + after
    assert text_of(whole) == TEXT
    assert [int(i.rpartition(":")[2]) for i, _ in whole] == list(range(len(whole)))
    entries = journal(server)
    assert [(e["outcome"], e["resumed_after"]) for e in entries] == [("dropped", None), ("completed", 20)]

    # After the last event, nothing is left: 204, which stops an EventSource for good.
    done = httpx.get(server.url + PATH, params=query, headers={"Last-Event-ID": whole[-1][0]})
    assert done.status_code == 204 and done.content == b""
    # One event before it, the last one (data: [DONE]) is sent again.
    again, _, response = get(server, query, {"Last-Event-ID": whole[-2][0]})
    assert events(again) == [whole[-1]]


@pytest.mark.parametrize(
    ("query", "headers", "status", "param"),
    [
        ({"prompt": "Hi", "temperature": "1"}, {}, 400, "temperature"),
        ({"retry_ms": "soon"}, {}, 400, "retry_ms"),
        ({"retry_ms": "0"}, {}, 400, "retry_ms"),
        ({"faults": "explode@3"}, {}, 400, "X-FakeLLM-Faults"),
        ({"seed": "x"}, {}, 400, "X-FakeLLM-Seed"),
        ({}, {"Last-Event-ID": "not-ours"}, 400, "Last-Event-ID"),
        ({}, {"Last-Event-ID": "req_gone:3"}, 404, "Last-Event-ID"),
    ],
)
def test_bad_queries_are_clear_errors(
    server: Server, query: dict[str, str], headers: dict[str, str], status: int, param: str
) -> None:
    response = httpx.get(server.url + PATH, params=query, headers=headers)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["param"] == param and error["message"]
    entry = journal(server)[-1]
    assert (entry["method"], entry["status"], entry["outcome"]) == ("GET", status, "rejected")
    assert httpx.get(server.url + PATH).status_code == 200, "the server keeps serving"


def test_a_parameter_twice_and_other_methods_are_refused(server: Server) -> None:
    twice = httpx.get(f"{server.url}{PATH}?prompt=a&prompt=b")
    assert twice.status_code == 400 and twice.json()["error"]["param"] == "prompt"
    assert httpx.post(server.url + PATH, json={}).status_code == 405
    routes = httpx.get(server.url + "/", headers={"Accept": "application/json"}).json()["routes"]
    assert {"methods": ["GET"], "path": PATH} in [{k: r[k] for k in ("methods", "path")} for r in routes]


def test_a_page_on_another_origin_may_read_it(server: Server) -> None:
    response = httpx.get(server.url + PATH, headers={"Origin": "http://127.0.0.1:5173"})
    assert response.headers["access-control-allow-origin"] == "http://127.0.0.1:5173"


# -- in Chromium ---------------------------------------------------------------------------------
PAGES = Path(__file__).parent / "pages"
PAGE = f"""<!doctype html>
<meta charset="utf-8">
<title>fakellm EventSource and fetch test page</title>
<pre id="out"></pre>
<script>{(PAGES / "event_source.js").read_text()}</script>
<script>{(PAGES / "fetch_sse.js").read_text()}</script>
"""


@pytest.fixture
def page_origin() -> Iterator[str]:
    with page_server(PAGE) as origin:
        yield origin


def _in_page(browser: Browser, origin: str, script: str, args: list[Any]) -> dict[str, Any]:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(origin + "/")
        result: dict[str, Any] = page.evaluate(script, args)
        result["shown"] = page.inner_text("#out")
        return result
    finally:
        context.close()


def _listen(browser: Browser, origin: str, url: str, close_at_done: bool) -> dict[str, Any]:
    return _in_page(browser, origin, "([url, close]) => listen(url, close)", [url, close_at_done])


def _fetch(browser: Browser, origin: str, server: Server, first_faults: str) -> dict[str, Any]:
    """``streamChat`` (pages/fetch_sse.js) on a resumable POST, ``first_faults`` on its first try."""
    script = """async ([url, faults]) => {
      const body = { model: "gpt-4o", stream: true, messages: [{ role: "user", content: "Hi" }] };
      const headersFor = (attempt) => ({
        "X-FakeLLM-Resumable": "1", ...(attempt === 1 ? { "X-FakeLLM-Faults": faults } : {}),
      });
      const show = (text) => { document.getElementById("out").textContent = text; };
      try { return await streamChat(url, body, headersFor, show); }
      catch (error) { return { error: String(error) }; }
    }"""
    return _in_page(browser, origin, script, [f"{server.url}/v1/chat/completions", first_faults])


def test_event_source_gets_the_whole_text_across_a_dropped_connection(
    browser: Browser, page_origin: str, server: Server
) -> None:
    url = f"{server.url}{PATH}?prompt=Hi&faults=drop%4020&retry_ms=100"
    result = _listen(browser, page_origin, url, close_at_done=True)

    assert result["state"] == "closed at [DONE]", result
    assert result["opens"] == 2 and result["errors"] == 1, "one drop, one automatic reconnect"
    ids = [int(e["id"].rpartition(":")[2]) for e in result["events"]]
    assert ids == list(range(len(ids))), "no event twice, none missing"
    pairs = [(e["id"], e["data"]) for e in result["events"]]
    assert text_of(pairs) == TEXT == result["shown"]
    first, second = journal(server)
    assert (first["outcome"], second["outcome"]) == ("dropped", "completed")
    # The first connection carried the role chunk and 20 tokens, but the browser resumes after the
    # last event it dispatched: on a loaded machine Chromium can fail the load (no chunked end)
    # before it hands the EventSource the last bytes it read (seen: 18), as with fetch below.
    after = second["resumed_after"]
    assert 1 <= after <= 20, "no later than the drop"
    assert second["headers"]["last-event-id"] == result["events"][after]["id"]
    assert first["headers"]["origin"] == page_origin


def test_event_source_that_never_closes_is_stopped_by_a_204(
    browser: Browser, page_origin: str, server: Server
) -> None:
    """A page that does not close at [DONE]: the browser reconnects after the clean end, and the
    204 (nothing left) is what stops it, instead of the stream starting over."""
    url = f"{server.url}{PATH}?prompt=Hi&retry_ms=100"
    result = _listen(browser, page_origin, url, close_at_done=False)

    assert result["state"] == "closed by the browser", result
    # One error at the clean end (the browser then reconnects), one for the 204 that closes it.
    assert result["opens"] == 1 and result["errors"] == 2
    assert text_of([(e["id"], e["data"]) for e in result["events"]]) == TEXT
    assert result["events"][-1]["data"] == "[DONE]"
    assert len(journal(server)) == 1, "the 204 started no stream"


@pytest.mark.parametrize(
    "faults",
    ["drop@20", "fragment 1-7 bytes; drop@20", "buffer 4096; drop@20", "drop@20 rst"],
)
def test_a_fetch_client_resumes_with_last_event_id(
    browser: Browser, page_origin: str, server: Server, faults: str
) -> None:
    """The buffer pattern (reads split events, lines and characters, or hold many) and a resume
    after the connection breaks, in Chromium: the whole text, each token once."""
    result = _fetch(browser, page_origin, server, faults)
    assert result.get("error") is None, result
    assert result["text"] == TEXT == result["shown"]
    assert result["attempts"] == 2
    first, second = journal(server)
    assert (first["outcome"], second["outcome"]) in [("dropped", "completed"), ("reset", "completed")]
    # Up to the 20 events sent before the drop: what reached the page is not always all of them.
    # An errored ReadableStream discards the chunks it queued and the page had not read yet (a
    # burst of held bytes, or the kernel's after a reset), so the resume starts at the page's last.
    after = second["resumed_after"]
    assert 1 <= after <= 20 and second["headers"]["last-event-id"].endswith(f":{after}")


def test_a_fetch_client_surfaces_an_error_in_the_middle_of_a_200(
    browser: Browser, page_origin: str, server: Server
) -> None:
    result = _fetch(browser, page_origin, server, "error_event@10")
    assert result["error"].startswith("Error: "), result
    assert len(result["shown"]) > 0, "the text before the error stays on the page"
    assert len(journal(server)) == 1, "an error event is not resumed"
