"""How the official ``openai`` SDK (3.x, httpx2) reacts to each fault, on a real server.

The last test runs every fault through the SDK and renders the table in
docs/openai-sdk-faults.md (between its ``faults-sdk`` markers: the matrix of tests/e2e/test_matrix.py
has the rest of the file); it fails when the table differs, so the README's table cannot go stale.
Regenerate it with ``FAKELLM_UPDATE_DOCS=1 pytest tests/e2e/test_faults_sdk.py``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
import pytest

from fakellm import Server
from fakellm.tokens import tokenize

MakeServer = Callable[..., Server]

TEXT = "Hello there, world! Ça va? 😀 All good."
TOKENS = tokenize(TEXT)
MESSAGES: list[Any] = [{"role": "user", "content": "Hi"}]
DOC = Path(__file__).resolve().parents[2] / "docs" / "openai-sdk-faults.md"
README = Path(__file__).resolve().parents[2] / "README.md"
DOC_START, DOC_END = "<!-- faults-sdk:start -->", "<!-- faults-sdk:end -->"
README_START = "<!-- sdk-table:start -->"
README_END = "<!-- sdk-table:end -->"


@pytest.fixture
def server(make_server: MakeServer) -> Server:
    return make_server(
        seed=5, scenarios=[{"name": "default", "content": {"text": TEXT}, "timing": {"itl_ms": 2}}]
    )


@dataclass
class Outcome:
    text: str  # the content the application received before the end or the error
    chunks: int
    error: BaseException | None
    seconds: float


def stream(server: Server, faults: str, *, timeout: float = 5.0, max_retries: int = 0) -> Outcome:
    """Stream one completion the way an application would, keeping what arrived before any error."""
    parts: list[str] = []
    chunks = 0
    error: BaseException | None = None
    started = time.monotonic()
    with openai.OpenAI(
        base_url=server.base_url, api_key="sk-test", timeout=timeout, max_retries=max_retries
    ) as client:
        try:
            with client.chat.completions.create(
                model="gpt-4o",
                messages=MESSAGES,
                stream=True,
                extra_headers={"X-FakeLLM-Faults": faults} if faults else None,
            ) as response:
                for chunk in response:
                    chunks += 1
                    parts.extend(c.delta.content or "" for c in chunk.choices)
        except Exception as exc:
            error = exc
    return Outcome("".join(parts), chunks, error, time.monotonic() - started)


def settle(server: Server) -> None:
    deadline = time.monotonic() + 3
    while len(server.state.streams) and time.monotonic() < deadline:
        time.sleep(0.005)
    assert len(server.state.streams) == 0


def test_error_event_raises_api_error_after_the_earlier_tokens(server: Server) -> None:
    result = stream(server, 'error_event@4 message="Overloaded" type=overloaded_error code=busy')
    assert isinstance(result.error, openai.APIError)
    assert not isinstance(result.error, openai.APIStatusError)  # it came inside a 200 stream
    assert result.error.message == "Overloaded"
    assert result.error.code == "busy" and result.error.type == "overloaded_error"
    assert result.text == "".join(TOKENS[:4])


@pytest.mark.parametrize("then", ["done", "hold"])
def test_error_event_then_done_or_hold_raises_at_once(server: Server, then: str) -> None:
    result = stream(server, f"error_event@2 {then}", timeout=5)
    assert isinstance(result.error, openai.APIError) and result.text == "".join(TOKENS[:2])
    assert result.seconds < 2.0  # "hold" keeps the socket open, but the SDK raises on the error
    settle(server)


@pytest.mark.parametrize("spec", ["drop@3", "drop@3 rst"])
def test_drop_raises_a_connection_error(server: Server, spec: str) -> None:
    result = stream(server, spec)
    assert isinstance(result.error, openai.APIConnectionError)
    assert not isinstance(result.error, openai.APITimeoutError)
    if "rst" not in spec:  # a reset may discard bytes the client had not read yet
        assert result.text == "".join(TOKENS[:3])


def test_stall_past_the_read_timeout_raises_a_timeout(server: Server) -> None:
    result = stream(server, "stall@3 forever", timeout=1.0)
    assert isinstance(result.error, openai.APITimeoutError)
    assert result.text == "".join(TOKENS[:3])
    assert 0.9 <= result.seconds < 5.0
    settle(server)  # the client went away: the stalled stream ended, no task left behind
    entry = server.journal.last
    assert entry is not None and entry.outcome == "client_disconnected"


def test_keepalive_comments_reset_the_read_timeout(server: Server) -> None:
    result = stream(server, "stall@3 1500ms keepalive_ms=250", timeout=1.0)
    assert result.error is None and result.text == TEXT
    assert result.seconds >= 1.4


def test_429_with_retry_after_is_retried_after_waiting(server: Server) -> None:
    # Without Retry-After the SDK backs off 0.375-0.5 s; with it, it waits the 1.5 s asked for.
    result = stream(server, "http_error 429 retry_after_s=1.5 times=1", max_retries=2)
    assert result.error is None and result.text == TEXT
    assert 1.45 <= result.seconds < 5.0
    first, second = server.journal.entries()[-2:]
    assert (first.status, first.outcome) == (429, "http_error")
    assert (second.status, second.outcome) == (200, "completed")
    assert second.headers.get("x-stainless-retry-count") == "1"
    assert second.time - first.time >= 1.45


def test_429_without_retry_after_uses_the_sdk_backoff(server: Server) -> None:
    result = stream(server, "http_error 429 times=1", max_retries=2)
    assert result.error is None and result.text == TEXT
    assert result.seconds < 1.2


def test_retry_after_ms_is_honoured(server: Server) -> None:
    result = stream(server, "http_error 429 retry_after_ms=900 times=1", max_retries=2)
    assert result.error is None
    first, second = server.journal.entries()[-2:]
    assert 0.85 <= second.time - first.time < 3.0


def test_429_without_retries_raises_rate_limit_error(server: Server) -> None:
    result = stream(server, "http_error 429 retry_after_s=1")
    assert isinstance(result.error, openai.RateLimitError)
    assert result.error.status_code == 429
    assert result.error.code == "rate_limit_exceeded"
    assert result.error.response.headers["retry-after"] == "1"


def test_truncate_ends_without_error(server: Server) -> None:
    result = stream(server, "truncate@4")
    assert result.error is None
    assert result.text == "".join(TOKENS[:4])


def test_malformed_raises_json_decode_error(server: Server) -> None:
    result = stream(server, "malformed@3")
    assert isinstance(result.error, json.JSONDecodeError)
    assert not isinstance(result.error, openai.OpenAIError)  # application code must catch it itself
    assert result.text == "".join(TOKENS[:3])


@pytest.mark.parametrize(
    "spec", ["fragment 1-7 bytes", "fragment coalesce", "sse crlf comments ids retry_ms=100", "sse cr"]
)
def test_the_sdk_reads_byte_level_faults_correctly(server: Server, spec: str) -> None:
    result = stream(server, spec)
    assert result.error is None and result.text == TEXT
    assert result.chunks == len(TOKENS) + 2  # role, tokens, finish


def test_a_leading_bom_silently_loses_the_first_event(server: Server) -> None:
    # wire.md T6: openai-python reads the first field name as "\ufeffdata" and drops that event.
    # Here it is the role chunk, so no text is lost; a spec-correct parser loses nothing.
    result = stream(server, "sse bom")
    assert result.error is None and result.text == TEXT
    assert result.chunks == len(TOKENS) + 1


# --------------------------------------------------------------------------------------------------
# The README table


@dataclass(frozen=True)
class Row:
    spec: str
    max_retries: int = 0
    timeout: float = 5.0
    note: str = ""


ROWS = [
    Row(""),
    Row("http_error 400"),
    Row("http_error 401"),
    Row("http_error 429"),
    Row("http_error 500"),
    Row("http_error 503"),
    Row("http_error 429 retry_after_s=1 times=1", max_retries=2, note="waits the Retry-After, then retries"),
    Row("http_error 500 times=1", max_retries=2, note="retries after its own backoff"),
    Row("http_error 503 should_retry=false times=1", max_retries=2, note="x-should-retry: false wins"),
    Row("error_event@3"),
    Row("error_event@3 done"),
    Row("error_event@3 hold"),
    Row("drop@3"),
    Row("drop@3 rst"),
    Row("stall@3 1500ms", timeout=1.0, note="read timeout 1 s"),
    Row("stall@3 1500ms keepalive_ms=250", timeout=1.0, note="read timeout 1 s: comments reset it"),
    Row("truncate@3", note="an incomplete answer that looks complete"),
    Row("malformed@3", note="not an openai exception"),
    Row("fragment 1-7 bytes"),
    Row("fragment coalesce"),
    Row("sse crlf"),
    Row("sse cr"),
    Row("sse comments"),
    Row("sse ids"),
    Row("sse retry_ms=1000"),
    Row("sse bom", note="openai-python has no BOM handling (wire.md T6)"),
    Row("bandwidth 20000"),
    Row("latency 300ms"),
    Row("slow_tokens@2 x3"),
]


def _raised(error: BaseException | None) -> str:
    if error is None:
        return "nothing"
    cls = type(error)
    module = "openai" if cls.__module__.startswith("openai") else cls.__module__
    if module == "json.decoder":
        module = "json"
    return f"`{module}.{cls.__qualname__}`"


def _received(outcome: Outcome, baseline: Outcome) -> str:
    if outcome.text == TEXT:
        lost = baseline.chunks - outcome.chunks
        return "everything" if lost == 0 else f"all the text; {lost} chunk silently lost (the role chunk)"
    if not outcome.text:
        return "nothing"
    for n in range(len(TOKENS), 0, -1):
        if outcome.text == "".join(TOKENS[:n]):
            return f"the first {n} tokens"
    return f"{outcome.text!r}"  # pragma: no cover - would be a bug worth seeing in the table


def render(rows: list[tuple[Row, Outcome, int]], baseline: Outcome) -> str:
    lines = [
        "## openai-python, what it raises for each fault",
        "",
        "Generated by tests/e2e/test_faults_sdk.py.",
        "Each row streams one chat completion with the official `openai` Python SDK (3.x) from a fakellm",
        "server, with the fault in the `X-FakeLLM-Faults` header, `max_retries=0` unless the row says",
        f"otherwise, and a 5 s timeout. The answer is {len(TOKENS)} tokens; faults at `@3` fire after the "
        "third.",
        "",
        "| `X-FakeLLM-Faults` | the SDK raises | the application received | requests | note |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row, outcome, requests in rows:
        spec = f"`{row.spec}`" if row.spec else "*(none)*"
        retries = f" (max_retries={row.max_retries})" if row.max_retries else ""
        lines.append(
            f"| {spec}{retries} | {_raised(outcome.error)} | {_received(outcome, baseline)} | "
            f"{requests} | {row.note} |"
        )
    lines += [
        "",
        "### openai 2.x",
        "",
        "openai 2.x (httpx) differs only in how transport failures surface (wire.md §2.2): it does not",
        "wrap them, so `drop` raises a raw `httpx.RemoteProtocolError` (incomplete chunked read),",
        "`drop … rst` a raw `httpx.ReadError` (connection reset by peer), and a stall past the read",
        "timeout a raw `httpx.ReadTimeout`, where 3.x raises `openai.APIConnectionError` and",
        "`openai.APITimeoutError`. Current 2.x honours `Retry-After` up to 120 s and does not retry above",
        "that, like 3.x (releases before 2.25 stopped at 60 s). Everything else is the same:",
        "`openai.APIError` for an error event,",
        "a bare `json.JSONDecodeError` for a malformed chunk, silent truncation, and a lost first event",
        "after a BOM.",
        "",
    ]
    return "\n".join(lines)


@pytest.fixture
def table_server(make_server: MakeServer) -> Iterator[Server]:
    yield make_server(
        seed=5, scenarios=[{"name": "default", "content": {"text": TEXT}, "timing": {"itl_ms": 5}}]
    )


def test_sdk_fault_table_in_the_docs_is_current(table_server: Server) -> None:
    baseline = stream(table_server, "")
    assert baseline.error is None and baseline.text == TEXT
    rows = []
    for row in ROWS:
        before = len(table_server.journal)
        outcome = stream(table_server, row.spec, timeout=row.timeout, max_retries=row.max_retries)
        settle(table_server)
        rows.append((row, outcome, len(table_server.journal) - before))
    text = render(rows, baseline)
    hint = "regenerate it with FAKELLM_UPDATE_DOCS=1 pytest tests/e2e/test_faults_sdk.py"
    doc = DOC.read_text(encoding="utf-8")
    doc_head, doc_start, doc_rest = doc.partition(DOC_START)
    _, doc_end, doc_tail = doc_rest.partition(DOC_END)
    assert doc_start and doc_end, f"{DOC} lacks the {DOC_START} ... {DOC_END} markers"
    if os.environ.get("FAKELLM_UPDATE_DOCS") == "1":
        DOC.write_text(f"{doc_head}{doc_start}\n{text}{doc_end}{doc_tail}", encoding="utf-8")
        doc_rest = f"\n{text}{doc_end}{doc_tail}"
    assert doc_rest.partition(DOC_END)[0] == f"\n{text}", f"{DOC} is stale: {hint}\n\n{text}"
    # The README carries the same table, between markers.
    table = "\n".join(line for line in text.splitlines() if line.startswith("|"))
    readme = README.read_text(encoding="utf-8")
    head, start, rest = readme.partition(README_START)
    _, end, tail = rest.partition(README_END)
    assert start and end, f"README.md lacks the {README_START} ... {README_END} markers"
    if os.environ.get("FAKELLM_UPDATE_DOCS") == "1":
        README.write_text(f"{head}{start}\n{table}\n{end}{tail}", encoding="utf-8")
        rest = f"\n{table}\n{end}{tail}"
    assert rest.partition(README_END)[0].strip() == table, f"README.md's SDK table is stale: {hint}"
