"""``ActiveStreams.send`` on its own, outside any server: with no connection to write to it yields
every frame (the ASGI path), at its due time, on asyncio's loop (one exact timer per wait) and on
uvloop (streams due in the same millisecond share a timer)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from fakellm.journal import JournalEntry
from fakellm.stream import Frame, StreamContext
from fakellm.transport import ActiveStreams, _MillisecondTicks

uvloop = pytest.importorskip("uvloop")

LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}


async def _collect(
    streams: ActiveStreams, dues: list[float]
) -> tuple[list[bytes], list[float], JournalEntry]:
    loop = asyncio.get_running_loop()
    frames = [Frame(due, b"chunk %d" % i, f"t{i}", 1) for i, due in enumerate(dues)]
    entry = JournalEntry(index=0, time=0.0, method="POST", path="/", status=200)
    t0 = loop.time()
    got: list[bytes] = []
    at: list[float] = []
    async for data in streams.send(iter(frames), StreamContext.seeded(1), entry, t0):
        got.append(data)
        at.append(loop.time() - t0)
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


def test_ticks_are_made_per_loop_and_only_for_uvloop() -> None:
    plain = asyncio.new_event_loop()
    fast = uvloop.new_event_loop()
    other = uvloop.new_event_loop()
    try:
        assert _MillisecondTicks.of(plain, None) is None
        ticks = _MillisecondTicks.of(fast, None)
        assert ticks is not None
        assert _MillisecondTicks.of(fast, ticks) is ticks
        # A server restarted on a new loop must not reuse the old loop's pending ticks.
        fresh = _MillisecondTicks.of(other, ticks)
        assert fresh is not None and fresh is not ticks and fresh.loop is other
    finally:
        for loop in (plain, fast, other):
            loop.close()


def test_a_tick_wakes_every_stream_due_in_it_except_those_already_done() -> None:
    loop = uvloop.new_event_loop()
    try:
        ticks = _MillisecondTicks(loop)

        async def _run() -> list[bool]:
            deadline = loop.time() + 0.02
            futures = [ticks.future(deadline + i * 1e-5) for i in range(4)]  # all in one tick
            assert len(ticks.due) == 1
            futures[1].cancel()  # a client that went away
            futures[2].set_result(None)  # a stream woken early for shutdown
            await asyncio.wait_for(asyncio.gather(futures[0], futures[3]), 1.0)
            return [f.done() for f in futures]

        assert loop.run_until_complete(_run()) == [True] * 4
        assert ticks.due == {}
    finally:
        loop.close()
