"""``fakellm serve --workers N``: N processes accepting on one listening socket, and the supervisor
that starts them, starts another when one dies, and stops them all.

Deliberately not hypercorn's own supervisor (``hypercorn.run.run`` with ``config.workers``):

- it builds the app in each worker from an import path (``config.application_path``); ours is
  built from a :class:`~fakellm.config.ServerConfig` that the command line has already checked;
- it stops every worker as soon as one exits with a non-zero code, so one worker killed (by the
  OOM killer, by a chaos test) takes the whole server down: the opposite of what more than one
  worker is for;
- its workers stop on its own shutdown event, not through :func:`fakellm.server.serve_app`, whose
  trigger first ends every open stream (a stall must not hold a worker up) and then resets what
  is left before hypercorn's grace period would wait on it forever.

Forked, not spawned (hypercorn spawns): the parent has imported everything, built and checked the
configuration and bound the socket before the first fork, and a forked worker inherits all of it
(copy-on-write), so a worker starts, and a dead one is replaced, in milliseconds, and nothing has
to be pickled. The parent runs no event loop and no thread, so a child inherits nothing half-done.
There is no fork on Windows: the command refuses ``--workers`` above 1 there.

Signals: the parent handles SIGINT and SIGTERM and passes each on to every worker as SIGTERM, and
the workers ignore SIGINT. A Ctrl-C in a terminal reaches the whole process group, so a worker
that handled SIGINT too would see two signals for one keypress, and the second means "at once".
A worker whose parent is gone (killed with SIGKILL) stops by itself (:func:`watch_parent`).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import TextIO

__all__ = [
    "MAX_WORKERS",
    "RESTART_LIMIT",
    "Supervisor",
    "WorkerExit",
    "describe_exit",
    "in_worker",
    "watch_parent",
]

MAX_WORKERS = 64
# A worker that keeps dying is a broken configuration or machine, not bad luck: after this many
# deaths within RESTART_WINDOW_S the supervisor stops everything rather than fork in a loop.
RESTART_LIMIT = 5
RESTART_WINDOW_S = 10.0
KILL_MARGIN_S = 5.0  # after the grace period, how long a worker may take before it is SIGKILLed
_POLL_S = 0.5  # how often the supervisor looks at the clock while it waits for its workers
_PARENT_CHECK_S = 1.0


@dataclass(frozen=True, slots=True)
class WorkerExit:
    """A worker that has exited: its pid, slot (0 to N-1) and exit code (``-signal`` when a
    signal ended it, as ``multiprocessing`` reports it)."""

    pid: int
    index: int
    exitcode: int


def describe_exit(exitcode: int) -> str:
    """``exit code 1``, ``killed by SIGKILL``."""
    if exitcode >= 0:
        return f"exit code {exitcode}"
    try:
        return f"killed by {signal.Signals(-exitcode).name}"
    except ValueError:
        return f"killed by signal {-exitcode}"


_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def in_worker() -> None:
    """First thing in a forked worker: the parent's signal handlers are not the worker's (they
    would signal the parent's list of workers), and SIGINT is the parent's to pass on. The parent
    forks with both signals blocked (:meth:`Supervisor._start`), so none can reach the parent's
    handler in the child before this; one sent meanwhile is delivered now, to the default."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)


def watch_parent(loop: asyncio.AbstractEventLoop, parent: int, stop: Callable[[], None]) -> None:
    """Call ``stop`` once the process ``parent`` is no longer this worker's parent (it died, and
    the worker was handed to init). Once a second: one system call, and a worker orphaned by a
    SIGKILLed supervisor stops within a second rather than serving on unsupervised. (Not a pipe
    from the parent: a worker forked later inherits the write ends kept for the earlier ones.)"""

    def _check() -> None:
        if os.getppid() != parent:
            stop()
            return
        loop.call_later(_PARENT_CHECK_S, _check)

    loop.call_later(_PARENT_CHECK_S, _check)


class Supervisor:
    """Runs ``target(index)`` in ``workers`` forked processes and keeps that many running until
    SIGINT or SIGTERM: a worker that dies is replaced in its slot (``on_exit`` is told first, e.g.
    to take it out of the metrics' live gauges). :meth:`run` returns the command's exit code: 0
    once all stopped gracefully, 130 when a second signal made them stop at once, 1 when workers
    kept dying."""

    def __init__(
        self,
        target: Callable[[int], int],
        workers: int,
        *,
        grace_s: float,
        on_exit: Callable[[WorkerExit], None] = lambda _: None,
        err: TextIO = sys.stderr,
    ) -> None:
        self.target = target
        self.workers = workers
        self.grace_s = grace_s
        self.on_exit = on_exit
        self.err = err
        self._context = multiprocessing.get_context("fork")
        self._running: dict[int, BaseProcess] = {}  # slot -> process
        self._deaths: deque[float] = deque(maxlen=RESTART_LIMIT)
        self._signals = 0
        self._stop_by: float | None = None  # monotonic deadline once stopping
        self._gave_up = False

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._running.values() if p.pid is not None]

    def _say(self, text: str) -> None:
        print(f"fakellm: {text}", file=self.err, flush=True)

    def _start(self, index: int) -> None:
        if self._stop_by is not None:
            return  # a signal came while the workers were being started: start no more
        process = self._context.Process(
            target=self._child, args=(index,), name=f"fakellm-worker-{index}", daemon=False
        )
        signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            process.start()
            self._running[index] = process  # before a signal held meanwhile is handled
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)

    def _child(self, index: int) -> None:
        in_worker()
        code = self.target(index)
        sys.stdout.flush()
        sys.stderr.flush()
        # multiprocessing turns the target's return into exit code 0; SystemExit carries ours.
        raise SystemExit(code)

    def _signalled(self, signum: int, frame: FrameType | None) -> None:
        self._signals += 1
        if self._signals == 1:
            self._stop_by = time.monotonic() + self.grace_s + KILL_MARGIN_S
            self._say("stopping (Ctrl-C again to stop at once)")
        # The first SIGTERM stops each worker gracefully; a second, at once (cli._serve_on).
        self._signal_all(signal.SIGTERM)

    def _signal_all(self, sig: int) -> None:
        for pid in self.pids:
            with contextlib.suppress(ProcessLookupError):  # gone: run() collects its exit
                os.kill(pid, sig)

    def _collect(self) -> list[WorkerExit]:
        exited = []
        for index, process in list(self._running.items()):
            if process.exitcode is None:
                continue
            process.join()
            del self._running[index]
            assert process.pid is not None
            exited.append(WorkerExit(process.pid, index, process.exitcode))
        return exited

    def _replace(self, gone: WorkerExit) -> None:
        now = time.monotonic()
        self._deaths.append(now)
        if len(self._deaths) == RESTART_LIMIT and now - self._deaths[0] < RESTART_WINDOW_S:
            self._say(
                f"{RESTART_LIMIT} workers died within {RESTART_WINDOW_S:g} s (the last: "
                f"{describe_exit(gone.exitcode)}); stopping"
            )
            self._gave_up = True
            self._stop_by = now + self.grace_s + KILL_MARGIN_S
            self._signal_all(signal.SIGTERM)
            return
        self._say(f"worker {gone.pid} died ({describe_exit(gone.exitcode)}); starting another")
        self._start(gone.index)

    def run(self, ready: Callable[[], None] = lambda: None) -> int:
        """Start the workers and supervise them until they have all stopped; ``ready()`` is called
        once the signal handlers are in, before the first fork."""
        previous = {sig: signal.signal(sig, self._signalled) for sig in (signal.SIGINT, signal.SIGTERM)}
        codes: list[int] = []
        try:
            ready()
            for index in range(self.workers):
                self._start(index)
            while self._running:
                wait([p.sentinel for p in self._running.values()], timeout=_POLL_S)
                for gone in self._collect():
                    self.on_exit(gone)
                    codes.append(gone.exitcode)
                    if self._stop_by is None:
                        self._replace(gone)
                if self._stop_by is not None and time.monotonic() > self._stop_by:
                    self._say("workers still running after the grace period: killing them")
                    self._signal_all(signal.SIGKILL)
                    self._stop_by = float("inf")  # killed: now only wait for them
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if self._gave_up:
            return 1
        if self._signals > 1 or 130 in codes:
            return 130
        return 0
