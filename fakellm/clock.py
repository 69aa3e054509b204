"""The clock streams are scheduled on, and the timer that wakes them when they are due.

Deliberately not ``loop.call_at``. uvloop keeps libuv's clock in whole milliseconds, truncated,
and rounds every delay to a millisecond, so a timer fires anywhere from half a millisecond early
to a millisecond and a half late, depending on when the loop last read the clock (and later as
that truncation compounds over busy iterations); asyncio's selector rounds its poll timeout up to
the next millisecond. That was most of a stream's lateness at 100 streams (``benchmarks/``).

So on Linux all the waits of an event loop share one ``timerfd`` (``CLOCK_MONOTONIC``,
nanosecond resolution), which the loop watches as an ordinary file descriptor, armed for the
earliest deadline pending; each wake-up ends every wait due by then, never one before its time.
Wake-ups are at least :data:`MIN_GAP_S` apart, for the CPU: on a virtual machine every wake of an
idle process costs tens of microseconds, so with a hundred streams a wake-up per chunk costs more
than the rest of the chunk's path (``benchmarks/README.md``). A lone stream wakes on time; under
load, the streams due within that gap wake together, at most that late. Where there is no
``timerfd`` (macOS, Windows) or the loop cannot watch a descriptor, each wait is a
``loop.call_at``, with the loop's own rounding.

The clock is ``time.monotonic`` (``CLOCK_MONOTONIC``, the ``timerfd``'s), never ``loop.time()``,
which on uvloop moves in millisecond steps: a ``t0`` read from it would be up to a millisecond
off before the first token is even scheduled.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import heapq
import itertools
import math
import os
import sys
import time
from collections.abc import Callable
from typing import Protocol

__all__ = ["MIN_GAP_S", "Waker", "elapsed_ms", "now", "open_waker"]

now: Callable[[], float] = time.monotonic
"""Seconds on the clock every schedule is on (``t0`` of a stream, its deadlines, the journal's
elapsed times)."""


def elapsed_ms(t0: float) -> float:
    """Milliseconds since ``t0`` on :data:`now`, to the microsecond: float noise must not make a
    token due at 200 ms read as 199.99999999997 ms in the journal."""
    return round((now() - t0) * 1000.0, 3)


MIN_GAP_S = 0.0005
"""The least time between two wake-ups of a loop's ``timerfd``: a wait ends at its deadline, or
this long after the previous wake-up if that is later."""
_MIN_GAP_NS = round(MIN_GAP_S * 1e9)
_NEVER = 1 << 63
# The latest deadline a wait arms (about 146 years): every duration is bounded where it is parsed,
# but a due time is a sum of many (a million tokens at 24 h each), and past 2**63 ns the timerfd's
# 64-bit time overflows. Such a wait ends at disconnect or shutdown, as a stall does.
_FAR_S = float(1 << 62) / 1e9


class Waker(Protocol):
    """Futures that complete at absolute deadlines (seconds on :data:`now`)."""

    loop: asyncio.AbstractEventLoop

    def at(self, deadline: float) -> asyncio.Future[None]:
        """A future that completes once ``now() >= deadline``; cancel it to give up the wait."""
        ...

    def close(self) -> None: ...


def open_waker(loop: asyncio.AbstractEventLoop) -> Waker:
    """The most exact waker ``loop`` supports."""
    timerfd = _TimerFd.create()
    if timerfd is not None:
        try:
            return _TimerFdWaker(loop, timerfd)
        except (NotImplementedError, OSError, ValueError):  # a loop that cannot watch descriptors
            timerfd.close()
    return _LoopWaker(loop)


class _LoopWaker:
    """The fallback: one ``loop.call_at`` per wait, moved onto the loop's own clock."""

    __slots__ = ("loop",)

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def at(self, deadline: float) -> asyncio.Future[None]:
        loop = self.loop
        fut: asyncio.Future[None] = loop.create_future()
        handle = loop.call_at(loop.time() + (deadline - now()), _release, fut)
        fut.add_done_callback(lambda _: handle.cancel())
        return fut

    def close(self) -> None:
        pass


def _release(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class _TimerFdWaker:
    """Every wait of one loop on one ``timerfd`` (module docstring)."""

    __slots__ = ("_armed", "_heap", "_last", "_seq", "_timerfd", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop, timerfd: _TimerFd) -> None:
        self.loop = loop
        self._timerfd = timerfd
        # (deadline ns, sequence, future): the sequence keeps equal deadlines from comparing futures.
        self._heap: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._armed = _NEVER  # when the timerfd fires next (ns)
        self._last = 0  # when it last fired (ns)
        loop.add_reader(timerfd.fd, self._fire)

    def at(self, deadline: float) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = self.loop.create_future()
        ns = math.ceil(min(deadline, _FAR_S) * 1e9)
        heapq.heappush(self._heap, (ns, next(self._seq), fut))
        if ns < self._armed:
            when = max(ns, self._last + _MIN_GAP_NS)
            if when < self._armed:
                self._armed = when
                self._timerfd.arm(when)
        return fut

    def _fire(self) -> None:
        self._timerfd.clear()
        heap = self._heap
        self._last = current = time.monotonic_ns()
        while heap and heap[0][0] <= current:
            fut = heapq.heappop(heap)[2]
            if not fut.done():  # a wait given up (client gone) or ended early (shutdown)
                fut.set_result(None)
        if heap:
            self._armed = max(heap[0][0], current + _MIN_GAP_NS)
            self._timerfd.arm(self._armed)
        else:
            self._armed = _NEVER

    def close(self) -> None:
        if self._timerfd.fd >= 0:
            with contextlib.suppress(Exception):  # the loop may be closed already
                self.loop.remove_reader(self._timerfd.fd)
        self._timerfd.close()
        for _, _, fut in self._heap:
            fut.cancel()
        self._heap.clear()


_CLOCK_MONOTONIC = 1
_TFD_TIMER_ABSTIME = 1
_TFD_NONBLOCK = os.O_NONBLOCK
_TFD_CLOEXEC = getattr(os, "O_CLOEXEC", 0o2000000)


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


class _TimerFd:
    """A non-blocking ``timerfd`` on ``CLOCK_MONOTONIC``: ``os.timerfd_*`` on Python 3.13 and
    later, libc through ``ctypes`` before that."""

    __slots__ = ("arm", "fd")

    _libc: ctypes.CDLL | None = None

    def __init__(self, fd: int, arm: Callable[[int], object]) -> None:
        self.fd = fd
        self.arm = arm
        """Fire once at the given ``time.monotonic_ns`` (a past one fires at once)."""

    @classmethod
    def create(cls) -> _TimerFd | None:
        if not sys.platform.startswith("linux"):
            return None
        try:
            if sys.version_info >= (3, 13):
                fd = os.timerfd_create(time.CLOCK_MONOTONIC, flags=os.TFD_NONBLOCK | os.TFD_CLOEXEC)
                return cls(fd, functools.partial(os.timerfd_settime_ns, fd, flags=os.TFD_TIMER_ABSTIME))
            libc = cls._libc
            if libc is None:
                libc = ctypes.CDLL(None, use_errno=True)
                libc.timerfd_create.argtypes = [ctypes.c_int, ctypes.c_int]
                libc.timerfd_settime.argtypes = [
                    ctypes.c_int,
                    ctypes.c_int,
                    ctypes.POINTER(_Itimerspec),
                    ctypes.c_void_p,
                ]
                cls._libc = libc
            fd = libc.timerfd_create(_CLOCK_MONOTONIC, _TFD_NONBLOCK | _TFD_CLOEXEC)
        except (AttributeError, OSError):
            return None
        if fd < 0:
            return None
        # Built once: a wake-up re-arms the timer, so this is on every chunk's path.
        spec = _Itimerspec()
        value = spec.it_value
        pointer = ctypes.pointer(spec)
        settime = libc.timerfd_settime

        def arm(ns: int) -> None:
            value.tv_sec, value.tv_nsec = divmod(max(1, ns), 1_000_000_000)
            if settime(fd, _TFD_TIMER_ABSTIME, pointer, None) != 0:
                raise OSError(ctypes.get_errno(), "timerfd_settime failed")

        return cls(fd, arm)

    def clear(self) -> None:
        try:  # noqa: SIM105 (not contextlib.suppress: this is on every wake-up's path)
            os.read(self.fd, 8)
        except (BlockingIOError, InterruptedError):  # already read, or re-armed since it fired
            pass

    def close(self) -> None:
        """Idempotent: a second close must not close a number the process has reused since."""
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            with contextlib.suppress(OSError):
                os.close(fd)
