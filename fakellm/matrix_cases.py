"""The catalogue of ``fakellm matrix``: one case per fault of docs/faults.md with useful settings.

Plain data, no behaviour: ``matrix.py`` serves each case under its own path prefix and judges the
command's run by the case's ``kind`` (docs/matrix.md, "Verdicts"). Every case streams the same
answer, ``TEXT`` (12 tokens, so a fault ``@3`` fires after the third), with a short inter-token
gap; a case is its ``X-FakeLLM-Faults`` spec plus, for timing cases, a timing header.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["CASES", "ITL_MS", "KINDS", "SCENARIO", "TEXT", "Case", "Kind"]

TEXT = "Hello there, world! Ça va? 😀 All good."
ITL_MS = 10.0

# The one scenario the matrix server has: a fixed text, so a command's output can be compared with
# it, and the same answer for every format.
SCENARIO: dict[str, Any] = {"name": "default", "content": {"text": TEXT}, "timing": {"itl_ms": ITL_MS}}

Kind = Literal["valid", "slow", "broken", "retry", "no_retry"]
KINDS: tuple[Kind, ...] = ("valid", "slow", "broken", "retry", "no_retry")
"""What the server does in a case, which decides what a correct client does (``matrix.judge``):

- ``valid``: a complete, spec-valid stream, however unusual its bytes: the whole text, exit 0.
- ``slow``: a complete stream that takes its time: the whole text, or an error the client's own
  timeout raised (it chose to give up; it must say so).
- ``broken``: the stream fails (an error event, a drop, a truncation, a bad chunk, a stall that
  never ends): say so (non-zero exit), or retry and print the whole text once.
- ``retry``: an HTTP error that the client is told it may retry (``times=1``: the first attempt
  fails, a retry succeeds): retry and print the whole text, or say so.
- ``no_retry``: an HTTP error that says not to retry (``x-should-retry: false``): say so, without
  retrying.
"""


@dataclass(frozen=True, slots=True)
class Case:
    name: str  # the path segment: /_matrix/<name>/v1/...
    faults: str  # the X-FakeLLM-Faults spec ("" for none)
    kind: Kind
    expectation: str  # what a correct client does, in the table
    headers: tuple[tuple[str, str], ...] = ()  # other X-FakeLLM-* headers (timing)

    @property
    def spec(self) -> str:
        """The case as shown in the table: its faults and headers."""
        shown = [self.faults] if self.faults else []
        shown += [f"{name}: {value}" for name, value in self.headers]
        return "; ".join(shown) or "(none)"


_FULL = "prints the whole text, exits 0"
_SAY = "exits non-zero (or retries and prints the whole text once)"

CASES: tuple[Case, ...] = (
    Case("none", "", "valid", _FULL),
    Case("error_event", "error_event@3", "broken", f"{_SAY}: an error event inside the 200 stream"),
    Case("error_event_done", "error_event@3 done", "broken", f"{_SAY}: the [DONE] after it is no success"),
    Case(
        "error_event_hold",
        "error_event@3 hold",
        "broken",
        "exits non-zero at once, although the socket stays open (or retries and prints the whole text once)",
    ),
    Case("drop_fin", "drop@3", "broken", f"{_SAY}: the body ends without its terminator"),
    Case("drop_rst", "drop@3 rst", "broken", f"{_SAY}: a TCP reset"),
    Case("truncate", "truncate@3", "broken", f"{_SAY}: a clean end with no finish and no [DONE]"),
    Case(
        "malformed",
        "malformed@3",
        "broken",
        "exits non-zero, or skips the bad event and prints the whole text",
    ),
    Case(
        "stall",
        "stall@3 2500ms",
        "slow",
        "waits 2.5 s and prints the whole text, or times out and exits non-zero",
    ),
    Case(
        "stall_keepalive",
        "stall@3 2500ms keepalive_ms=250",
        "slow",
        "prints the whole text: the comments keep a read timeout from firing (or exits non-zero)",
    ),
    Case(
        "stall_forever", "stall@3 forever", "broken", "times out by itself and exits non-zero (never hangs)"
    ),
    Case("fragment", "fragment 1-7 bytes", "valid", f"{_FULL}: events cut into 1-7 byte reads"),
    Case("coalesce", "fragment coalesce", "valid", f"{_FULL}: 2-4 events per read"),
    Case("sse_crlf", "sse crlf", "valid", f"{_FULL}: CRLF line endings"),
    Case("sse_cr", "sse cr", "valid", f"{_FULL}: CR line endings"),
    Case("sse_comments", "sse comments", "valid", f"{_FULL}: comment lines between events"),
    Case("sse_bom", "sse bom", "valid", f"{_FULL}: a UTF-8 BOM before the first event"),
    Case("sse_ids", "sse ids", "valid", f"{_FULL}: an id: line on every event"),
    Case("sse_retry", "sse retry_ms=1000", "valid", f"{_FULL}: a retry: field"),
    Case(
        "http_429_retry_after",
        "http_error 429 retry_after_s=1 times=1",
        "retry",
        "waits the Retry-After (1 s), retries, prints the whole text (or exits non-zero)",
    ),
    Case(
        "http_429",
        "http_error 429 times=1",
        "retry",
        "backs off, retries, prints the whole text (or exits non-zero)",
    ),
    Case("http_500", "http_error 500 times=1", "retry", "retries, prints the whole text (or exits non-zero)"),
    Case(
        "http_503_no_retry",
        "http_error 503 should_retry=false times=1",
        "no_retry",
        "exits non-zero without retrying: x-should-retry: false",
    ),
    Case(
        "slow_first_token",
        "",
        "slow",
        "waits 2.5 s for the first token and prints the whole text (or times out and exits non-zero)",
        headers=(("X-FakeLLM-TTFT-Ms", "2500"),),
    ),
    Case(
        "slow_tokens",
        "slow_tokens@3 x20",
        "slow",
        "prints the whole text although tokens slow down 20 times after the third",
    ),
    Case("latency", "latency 500ms", "valid", f"{_FULL}: the body starts 0.5 s after the head"),
    Case("bandwidth", "bandwidth 2000", "valid", f"{_FULL}: at 2000 bytes per second"),
    Case(
        "buffer_all",
        "buffer all",
        "valid",
        f"{_FULL}: nothing until the end, then every event at once (a buffering proxy)",
    ),
)
