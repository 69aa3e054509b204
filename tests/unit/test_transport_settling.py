"""When the transport journals a planned stream's outcome (issue 10, defect 2): just before it
writes the last frame, never earlier (the last frame may be due long after the one before it),
and marked as settling so that readers in other threads wait for the rest of the entry."""

from __future__ import annotations

import asyncio
import threading

from fakellm.clock import now
from fakellm.journal import Journal
from fakellm.stream import DROP_FIN, Frame, StreamContext
from fakellm.transport import ActiveStreams


def _settling(journal: Journal) -> bool:
    return bool(journal._settling)


def test_the_outcome_is_journaled_right_before_the_last_frame() -> None:
    journal = Journal()
    entry = journal.open(time=0.0, method="POST", path="/", status=200)
    frames = [
        Frame(0.0, b"token", "token", 1),
        Frame(0.0, b"finish", closing=True),
        Frame(0.3, b"[DONE]", closing=True),  # due well after the frame before it
    ]
    seen: list[tuple[bytes, str, bool]] = []
    meanwhile: list[tuple[str, bool]] = []

    async def look() -> None:
        await asyncio.sleep(0.15)  # while the transport waits for the last frame's due time
        meanwhile.append((entry.outcome, _settling(journal)))

    async def run() -> None:
        t0 = now()
        looking = asyncio.ensure_future(look())
        async for data in ActiveStreams().send(iter(frames), StreamContext.seeded(1), entry, t0):
            seen.append((data, entry.outcome, _settling(journal)))
        await looking

    asyncio.run(run())
    assert meanwhile == [("streaming", False)]
    assert seen == [
        (b"token", "streaming", False),
        (b"finish", "streaming", False),  # the end is known, but 300 ms away: nobody waits yet
        (b"[DONE]", "completed", True),  # decided before the client can have these bytes
    ]
    assert entry.outcome == "completed" and not _settling(journal)


def test_a_stream_that_ends_in_a_drop_is_not_journaled_early() -> None:
    journal = Journal()
    entry = journal.open(time=0.0, method="POST", path="/", status=200)
    frames = [Frame(0.0, b"finish", closing=True), Frame(0.0, b"", action=DROP_FIN)]
    seen: list[str] = []

    async def run() -> None:
        async for _ in ActiveStreams().send(iter(frames), StreamContext.seeded(1), entry, now()):
            seen.append(entry.outcome)

    try:
        asyncio.run(run())
    except Exception as exc:
        assert type(exc).__name__ == "DropConnection"
    assert seen == ["streaming"] and entry.outcome == "dropped"


def test_a_reader_in_another_thread_waits_for_a_settling_entry() -> None:
    journal = Journal()
    entry = journal.open(time=0.0, method="POST", path="/", status=200)
    entry.settling()
    threading.Timer(0.1, lambda: (setattr(entry, "duration_ms", 1.0), entry.settled())).start()
    read: list[float | None] = []
    reader = threading.Thread(target=lambda: read.append(journal.last.duration_ms if journal.last else None))
    reader.start()
    reader.join(timeout=5)
    assert read == [1.0]
    # The thread writing an entry never waits for it (it would hold the loop that settles it).
    entry.settling()
    assert journal.last is entry
    entry.settled()
