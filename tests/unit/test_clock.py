"""The waker every stream sleeps on: never before its deadline, one ``timerfd`` per loop, a lone wait
woken on time and waits closer together than the minimum gap woken together, and nothing left
behind when it closes."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable, Iterator

import pytest

from fakellm import clock
from fakellm.clock import MIN_GAP_S, _LoopWaker, _TimerFd, _TimerFdWaker, now, open_waker

uvloop = pytest.importorskip("uvloop")

LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="timerfd is Linux's")


def _run(
    name: str, make_waker: Callable[[asyncio.AbstractEventLoop], clock.Waker], offsets: list[float]
) -> list[float]:
    """Wait for ``now() + offset`` for every offset at once; how late each wait ended (seconds)."""
    loop = LOOPS[name]()
    try:
        waker = make_waker(loop)

        async def _wait(deadline: float) -> float:
            await waker.at(deadline)
            return now() - deadline

        async def _all() -> list[float]:
            start = now()
            return await asyncio.gather(*(_wait(start + offset) for offset in offsets))

        try:
            return loop.run_until_complete(asyncio.wait_for(_all(), 5))
        finally:
            waker.close()
    finally:
        loop.close()


def _timerfd_waker(
    loop: asyncio.AbstractEventLoop, cls: type[_TimerFdWaker] = _TimerFdWaker
) -> _TimerFdWaker:
    timerfd = _TimerFd.create()
    assert timerfd is not None
    return cls(loop, timerfd)


@contextlib.contextmanager
def _timerfd_on(
    name: str, cls: type[_TimerFdWaker] = _TimerFdWaker
) -> Iterator[tuple[asyncio.AbstractEventLoop, _TimerFdWaker]]:
    """A loop of kind ``name`` and a timerfd waker on it, both closed afterwards."""
    loop = LOOPS[name]()
    waker = _timerfd_waker(loop, cls)
    try:
        yield loop, waker
    finally:
        waker.close()
        loop.close()


def _is_open_timerfd(fd: int) -> bool:
    try:
        with open(f"/proc/self/fdinfo/{fd}") as f:
            return "clockid:" in f.read()  # a closed number reused since is not a timerfd
    except FileNotFoundError:
        return False


OFFSETS = [0.03, 0.01, 0.0101, 0.02, 0.0, -0.01, 0.0104, 0.05]


@linux_only
@pytest.mark.parametrize("name", LOOPS)
def test_timerfd_waits_end_at_or_after_their_deadline(name: str) -> None:
    late = _run(name, _timerfd_waker, OFFSETS)
    assert all(x >= 0 for x in late), late
    # Within a generous bound for a shared machine.
    assert all(x < MIN_GAP_S + 0.25 for x in late), late


@pytest.mark.parametrize("name", LOOPS)
def test_the_fallback_waits_on_the_loop_clock(name: str) -> None:
    late = _run(name, _LoopWaker, OFFSETS)
    # The loop's own timers round (uvloop to the nearest millisecond): never more than that early.
    assert all(x >= -0.0015 for x in late), late
    assert all(x < 0.25 for x in late), late


@linux_only
def test_open_waker_takes_the_timerfd_on_linux_and_the_loop_elsewhere() -> None:
    loop = asyncio.new_event_loop()
    try:
        waker = open_waker(loop)
        assert isinstance(waker, _TimerFdWaker)
        waker.close()
    finally:
        loop.close()


def test_a_loop_that_cannot_watch_descriptors_gets_the_fallback() -> None:
    class _NoReaders(asyncio.SelectorEventLoop):
        def add_reader(self, *args: object, **kwargs: object) -> None:
            raise NotImplementedError

    loop = _NoReaders()
    try:
        waker = open_waker(loop)
        assert isinstance(waker, _LoopWaker)
        assert _run_one(loop, waker, 0.01) >= -0.0015
    finally:
        loop.close()


def _run_one(loop: asyncio.AbstractEventLoop, waker: clock.Waker, offset: float) -> float:
    async def _wait() -> float:
        deadline = now() + offset
        await waker.at(deadline)
        return now() - deadline

    return loop.run_until_complete(asyncio.wait_for(_wait(), 5))


class _Counting(_TimerFdWaker):
    fires = 0

    def _fire(self) -> None:
        self.fires += 1
        super()._fire()


@linux_only
def test_waits_closer_than_the_gap_share_a_wake_up_and_done_ones_are_skipped() -> None:
    with _timerfd_on("uvloop", _Counting) as (loop, waker):

        async def _go() -> list[float]:
            first = now() + 0.02
            deadlines = [first + i * MIN_GAP_S / 8 for i in range(6)]  # within one gap
            futures = [waker.at(d) for d in deadlines]
            futures[2].cancel()  # a client that went away
            futures[3].set_result(None)  # a stream woken early for shutdown
            late: list[float] = []
            for i in (0, 1, 4, 5):
                await asyncio.wait_for(futures[i], 1.0)
                late.append(now() - deadlines[i])
            return late

        late = loop.run_until_complete(_go())
        assert all(x >= 0 for x in late), late
        # The first on time (the waker had been idle), the rest together one gap later.
        assert isinstance(waker, _Counting) and waker.fires <= 2
        assert waker._heap == []


@linux_only
def test_an_earlier_wait_rearms_the_timer() -> None:
    with _timerfd_on("asyncio") as (loop, waker):

        async def _go() -> list[str]:
            order: list[str] = []
            start = now()
            late = waker.at(start + 0.2)
            late.add_done_callback(lambda _: order.append("late"))
            soon = waker.at(start + 0.01)  # armed after the later one
            soon.add_done_callback(lambda _: order.append("soon"))
            await asyncio.wait_for(soon, 1.0)
            assert now() - start < 0.15, "the earlier wait waited for the later one"
            await asyncio.wait_for(late, 1.0)
            return order

        assert loop.run_until_complete(_go()) == ["soon", "late"]


@linux_only
def test_close_releases_the_descriptor_and_cancels_what_still_waits() -> None:
    with _timerfd_on("asyncio") as (_, waker):
        fd = waker._timerfd.fd
        pending = waker.at(now() + 60)
        assert _is_open_timerfd(fd)
        waker.close()  # closing it twice (here and on leaving) is harmless
        assert pending.cancelled()
        assert not _is_open_timerfd(fd)
