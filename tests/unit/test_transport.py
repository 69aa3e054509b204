"""``ActiveStreams.send`` on its own, outside any server: with no connection to write to it yields
every frame (the ASGI path), never before its due time, on asyncio's loop and on uvloop; the
streams of a loop share one waker (``clock.py``), which closes with the last of them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from fakellm.clock import now
from fakellm.journal import JournalEntry
from fakellm.stream import Frame, StreamContext
from fakellm.transport import ActiveStreams

uvloop = pytest.importorskip("uvloop")

LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}


async def _collect(
    streams: ActiveStreams, dues: list[float]
) -> tuple[list[bytes], list[float], JournalEntry]:
    frames = [Frame(due, b"chunk %d" % i, f"t{i}", 1) for i, due in enumerate(dues)]
    entry = JournalEntry(index=0, time=0.0, method="POST", path="/", status=200)
    t0 = now()
    got: list[bytes] = []
    at: list[float] = []
    async for data in streams.send(iter(frames), StreamContext.seeded(1), entry, t0):
        got.append(data)
        at.append(now() - t0)
    return got, at, entry


@pytest.mark.parametrize("name", LOOPS)
def test_frames_are_yielded_no_earlier_than_due(name: str) -> None:
    dues = [0.02, 0.02, 0.03, 0.05]
    loop = LOOPS[name]()
    try:
        streams = ActiveStreams()

        async def _many() -> list[tuple[list[bytes], list[float], JournalEntry]]:
            return await asyncio.gather(*(_collect(streams, dues) for _ in range(5)))

        results = loop.run_until_complete(_many())
    finally:
        loop.close()
    for got, at, entry in results:
        assert got == [b"chunk 0", b"chunk 1", b"chunk 2", b"chunk 3"]
        for due, when in zip(dues, at, strict=True):
            assert due - 1e-9 <= when < due + 0.5
        assert entry.outcome == "completed" and entry.tokens_sent == 4
    assert len(streams) == 0


def test_the_streams_of_a_loop_share_a_waker_that_closes_with_the_last() -> None:
    streams = ActiveStreams()
    loops = [LOOPS["uvloop"](), LOOPS["asyncio"]()]
    seen: list[object] = []

    async def _stream(hold: asyncio.Event) -> None:
        async def _frames():  # type: ignore[no-untyped-def]
            yield Frame(0.0, b"first")
            await hold.wait()
            yield Frame(0.0, b"last")

        entry = JournalEntry(index=0, time=0.0, method="POST", path="/", status=200)
        async for _ in streams.send(_frames(), StreamContext.seeded(1), entry, now()):
            seen.append(streams._wakers._open[asyncio.get_running_loop()][0])

    async def _two() -> None:
        hold = asyncio.Event()
        tasks = [asyncio.ensure_future(_stream(hold)) for _ in range(2)]
        await asyncio.sleep(0.01)
        assert len(streams._wakers) == 1  # both streams in flight, one waker
        hold.set()
        await asyncio.gather(*tasks)

    try:
        for loop in loops:
            loop.run_until_complete(_two())
            assert len(streams._wakers) == 0  # closed with the last stream
    finally:
        for loop in loops:
            loop.close()
    # Each loop had its own (a server restarted on a new loop gets a new one), shared by its streams.
    assert seen[0] is seen[1] is seen[2] is seen[3]
    assert seen[4] is seen[7] and seen[4] is not seen[0]
    assert len(streams) == 0
