"""What clients send must not cost every other stream (issue 10, defects 4 and 5).

A message of one 8 MB word held the event loop for about 200 s (the tokenizer was quadratic in the
length of a word, and counted prompt tokens on the loop); 20 distinct 8 MB prompts took the server
to about 3 GB, and clearing the journal gave none of it back.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
import time
from collections.abc import Callable

import pytest

from fakellm import Server
from fakellm.journal import BODIES_BUDGET_BYTES, PREFIX_CHARS
from tests.helpers import RawResponse, chat_body, raw_request

MakeServer = Callable[..., Server]

BIG = 8 * 1024 * 1024
TICK = {"name": "tick", "content": {"text": " tick" * 60}, "timing": {"ttft_ms": 0, "itl_ms": 20}}
ECHO = {"name": "echo", "content": {"echo": True}, "timing": {"ttft_ms": 0, "itl_ms": 0}}
FIXED = {"name": "default", "content": {"text": "short answer"}, "timing": {"ttft_ms": 0, "itl_ms": 0}}


def _big_body(text: str, *, stream: bool, **extra: object) -> bytes:
    body = chat_body(messages=[{"role": "user", "content": text}], stream=stream, **extra)
    return json.dumps(body).encode()


def _gaps_ms(response: RawResponse) -> list[float]:
    times = response.read_times
    return [(b - a) * 1000.0 for a, b in itertools.pairwise(times)]


@pytest.mark.parametrize(
    ("scenario", "stream", "extra"),
    [("default", True, {}), ("default", False, {}), ("echo", True, {"max_tokens": 5})],
)
def test_an_8mb_word_does_not_hold_other_streams(
    make_server: MakeServer, scenario: str, stream: bool, extra: dict[str, object]
) -> None:
    server = make_server(scenarios=[FIXED, TICK, ECHO])
    ticking: list[RawResponse] = []
    health_ms: list[float] = []
    done = threading.Event()

    def tick() -> None:
        ticking.append(raw_request(server.port, chat_body(), headers={"X-FakeLLM-Scenario": "tick"}))

    def health() -> None:
        while not done.is_set():
            start = time.monotonic()
            assert raw_request(server.port, None, method="GET", path="/_fakellm/health").status == 200
            health_ms.append((time.monotonic() - start) * 1000.0)
            time.sleep(0.01)

    threads = [threading.Thread(target=tick), threading.Thread(target=health)]
    for t in threads:
        t.start()
    time.sleep(0.15)  # both under way
    word = "a" * BIG
    answer = raw_request(
        server.port,
        _big_body(word, stream=stream, **extra),
        headers={"X-FakeLLM-Scenario": scenario},
        timeout=30,
    )
    threads[0].join(timeout=30)
    done.set()
    threads[1].join(timeout=30)

    assert answer.status == 200
    if scenario == "echo":
        assert answer.body.count(b'"content":"aaaa"') == 5
    elif stream:
        assert b"data: [DONE]" in answer.body
    else:
        usage = json.loads(answer.body)["usage"]
        assert usage["prompt_tokens"] == 3 + 3 + BIG // 4  # counted at 4 characters a token
    (ticked,) = ticking
    assert ticked.status == 200 and b"data: [DONE]" in ticked.body
    # Before the fix the loop was held for minutes (3 s for 1 MB); 1 s is far from that and far from
    # the noise of a loaded 2-core CI machine (a 283 ms gap was seen there once, with 250 as the bound,
    # the server sharing this process's GIL with the client threads).
    assert max(_gaps_ms(ticked)) < 1000, _gaps_ms(ticked)
    assert health_ms and max(health_ms) < 1000, health_ms


def _rss_kb() -> int:
    """The resident size of this process, which runs the server in a thread."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_large_distinct_prompts_keep_the_server_bounded(make_server: MakeServer) -> None:
    """20 distinct 4 MB prompts, streamed and echoed in part: the journal keeps bodies under its
    budget, one over it shows its size, hash and prefix, and memory does not grow with them."""
    server = make_server(scenarios=[FIXED, ECHO])
    size = 4 * 1024 * 1024

    def prompt(i: int) -> str:
        return f"{i:04d}" + " word" * ((size - 4) // 5)  # words: the old cut was linear for these

    def send(i: int) -> None:
        text = prompt(i)
        answer = raw_request(
            server.port,
            _big_body(text, stream=True, max_tokens=3),
            headers={"X-FakeLLM-Scenario": "echo"},
            timeout=30,
        )
        assert answer.status == 200

    send(0)  # the first one settles what the server's machinery itself costs
    before = _rss_kb()
    for i in range(1, 21):
        send(i)
    grown_mb = (_rss_kb() - before) / 1024
    # Each body kept whole would be 80 MB at least (and the tokenizer's cache used to keep a
    # tuple of a million strings for each): a few bodies' worth of slack for the allocator.
    assert grown_mb < 60, f"the server grew by {grown_mb:.0f} MB"

    journal = server.journal
    assert journal.kept_bytes <= BODIES_BUDGET_BYTES
    entry = journal.last
    assert entry is not None
    kept = entry.request
    assert kept["truncated"] is True
    raw = _big_body(prompt(20), stream=True, max_tokens=3)
    assert kept["size"] == len(raw)
    assert kept["sha256"] == hashlib.sha256(raw).hexdigest()
    assert kept["prefix"] == raw[:PREFIX_CHARS].decode()
    assert entry.text == prompt(20)[:12] and entry.outcome == "completed"  # 3 pieces of 4

    cleared = raw_request(server.port, None, method="DELETE", path="/_fakellm/journal")
    assert cleared.status in (200, 204)
    assert server.journal.kept_bytes == 0 and len(server.journal) == 0


def test_a_small_body_is_kept_whole(make_server: MakeServer) -> None:
    server = make_server(scenarios=[FIXED])
    body = chat_body(messages=[{"role": "user", "content": "c" * 100_000}])
    raw_request(server.port, body)
    entry = server.journal.last
    assert entry is not None and entry.request == body
    assert 100_000 < server.journal.kept_bytes < 200_000


def test_a_stream_text_over_the_budget_is_kept_as_a_summary(make_server: MakeServer) -> None:
    text = "d" * 20_000
    server = make_server(scenarios=[{**FIXED, "content": {"text": text}}])
    server.journal.budget_bytes = 10_000  # the budget is 16 MiB: a smaller one, to stay fast
    answer = raw_request(server.port, chat_body(), timeout=60)
    assert b"data: [DONE]" in answer.body
    entry = server.journal.last
    assert entry is not None and entry.outcome == "completed"
    assert entry.text == text[:PREFIX_CHARS]
    assert entry.text_summary == {
        "truncated": True,
        "size": len(text),
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
        "prefix": text[:PREFIX_CHARS],
    }
    (served,) = json.loads(raw_request(server.port, None, method="GET", path="/_fakellm/journal").body)
    assert served["text_summary"] == entry.text_summary
    assert server.journal.kept_bytes <= 10_000
