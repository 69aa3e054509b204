"""``fakellm serve --workers 2`` as a real process: both workers serve, one scrape of ``/metrics``
sums them, a worker killed with SIGKILL leaves the other serving and is replaced, SIGTERM or SIGINT
stops every process, and workers whose supervisor was killed stop by themselves (fakellm/workers.py)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from collections.abc import Set as AbstractSet
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import chat_body, content_of

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="--workers forks")

LISTENING = re.compile(r"fakellm listening on (http://127\.0\.0\.1:\d+)/v1 \(.*, 2 workers\)")
TEXT_TOKENS = 6  # "Hello", " there", ",", " how", " are", " you": the scenario below
SCENARIO = (
    'scenarios:\n  - name: default\n    content: {text: "Hello there, how are you"}\n'
    "    timing: {ttft_ms: 0, itl_ms: 5}\n"
)


@dataclass
class Workers:
    process: subprocess.Popen[str]
    url: str
    stderr: list[str] = field(default_factory=list)  # read as it comes, by a thread
    reader: threading.Thread | None = None

    def wait(self, timeout: float) -> str:
        """Wait for the command to exit; its stdout after the first line (stderr is in ``stderr``)."""
        self.process.wait(timeout)
        assert self.process.stdout is not None and self.reader is not None
        self.reader.join(5)
        return self.process.stdout.read()

    def children(self) -> set[int]:
        return children_of(self.process.pid)

    def wait_for_children(
        self, count: int, *, other_than: AbstractSet[int] = frozenset(), timeout: float = 10
    ) -> set[int]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            kids = self.children()
            if len(kids) == count and not kids & other_than:
                return kids
            time.sleep(0.05)
        raise AssertionError(f"expected {count} workers, have {self.children()}")


def children_of(pid: int) -> set[int]:
    """The live (not zombie) processes whose parent is ``pid``, from /proc."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            # "pid (comm) state ppid ...": comm may hold spaces, so split after its ")".
            state, ppid = stat.read_text().rsplit(")", 1)[1].split()[:2]
            if int(ppid) == pid and state != "Z":
                found.add(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@contextlib.contextmanager
def workers(tmp_path: Path, *args: str) -> Iterator[Workers]:
    """``python -m fakellm serve --workers 2 --port 0``, its URL read; whatever is left at the end
    is stopped (SIGKILL to the group: a test that failed must not leave workers serving)."""
    scenarios = tmp_path / "hello.yaml"
    scenarios.write_text(SCENARIO)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fakellm",
            "serve",
            "--port",
            "0",
            "--workers",
            "2",
            "--scenarios",
            str(scenarios),
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, so the cleanup below reaches every worker
        env={**os.environ, "TMPDIR": str(tmp_path)},  # where its metrics folder goes
    )
    try:
        assert process.stdout is not None and process.stderr is not None
        line = process.stdout.readline()
        match = LISTENING.search(line)
        assert match is not None, f"{line!r} {process.stderr.read() if process.poll() is not None else ''}"
        running = Workers(process, match.group(1))
        err = process.stderr
        running.reader = threading.Thread(
            target=lambda: running.stderr.extend(iter(err.readline, "")), daemon=True
        )
        running.reader.start()
        running.wait_for_children(2)
        yield running
    finally:
        if process.poll() is None:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()


def stream_once(url: str, **headers: str) -> tuple[str, str]:
    """One streamed chat request on a new connection: (the worker that served it, its text)."""
    with httpx.Client(timeout=20) as client:
        response = client.post(f"{url}/v1/chat/completions", json=chat_body(stream=True), headers=headers)
    assert response.status_code == 200, response.text
    return response.headers["x-fakellm-worker"], content_of(response.content)


def scrape(url: str) -> tuple[str, dict[str, float]]:
    """One ``GET /metrics`` on a new connection: who answered, and each sample name's sum over
    its labels."""
    response = httpx.get(f"{url}/metrics", timeout=10)
    sums: Counter[str] = Counter()
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            sums[sample.name] += sample.value
    return response.headers["x-fakellm-worker"], dict(sums)


def scrape_each(url: str, pids: set[int]) -> dict[int, dict[str, float]]:
    """A scrape answered by each of ``pids`` (new connections until each has answered one)."""
    got: dict[int, dict[str, float]] = {}
    for _ in range(200):
        worker, sums = scrape(url)
        got.setdefault(int(worker), sums)
        if set(got) >= pids:
            return got
    raise AssertionError(f"only {sorted(got)} of {sorted(pids)} answered")


def until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_both_workers_serve_and_one_scrape_sums_them(tmp_path: Path) -> None:
    with workers(tmp_path) as server:
        pids = server.children()
        # Concurrent streams on new connections, each held 300 ms: both workers accept some.
        with ThreadPoolExecutor(16) as pool:
            served = list(
                pool.map(lambda _: stream_once(server.url, **{"X-FakeLLM-TTFT-Ms": "300"}), range(32))
            )
        by_worker = Counter(int(worker) for worker, _ in served)
        assert set(by_worker) == pids, by_worker  # every pid a worker of this process, both used
        assert {text for _, text in served} == {"Hello there, how are you"}

        # Any worker's scrape is the sum over both: every stream counted once, whoever served it.
        for sums in scrape_each(server.url, pids).values():
            assert sums["fakellm_streams_total"] == 32
            assert sums["fakellm_tokens_total"] == 32 * TEXT_TOKENS
            assert sums["fakellm_ttft_seconds_count"] == 32
            assert sums["fakellm_inter_token_gap_seconds_count"] == 32 * (TEXT_TOKENS - 1)
            assert 32 * 0.3 <= sums["fakellm_ttft_seconds_sum"] < 32 * 5
            assert sums["fakellm_active_streams"] == 0
        health = httpx.get(f"{server.url}/_fakellm/health").json()
        assert health["status"] == "ok" and int(health["worker"]) in pids


def test_a_killed_worker_leaves_the_other_serving_and_is_replaced(tmp_path: Path) -> None:
    with workers(tmp_path) as server:
        pids = server.children()
        # Streams open on both workers (a first token 30 s away), then one worker is killed.
        opened: list[httpx.Response] = []
        clients = [httpx.Client(timeout=30) for _ in range(12)]
        try:
            for client in clients:
                request = client.build_request(
                    "POST",
                    f"{server.url}/v1/chat/completions",
                    json=chat_body(stream=True),
                    headers={"X-FakeLLM-TTFT-Ms": "30000"},
                )
                opened.append(client.send(request, stream=True))
            held = Counter(int(r.headers["x-fakellm-worker"]) for r in opened)
            assert set(held) == pids, held
            until(lambda: scrape(server.url)[1]["fakellm_active_streams"] == 12)

            victim, survivor = sorted(pids)
            os.kill(victim, signal.SIGKILL)
            # New requests keep succeeding, whoever takes them, while the victim is replaced.
            texts = [stream_once(server.url)[1] for _ in range(20)]
            assert texts == ["Hello there, how are you"] * 20

            replaced = server.wait_for_children(2, other_than={victim})
            assert survivor in replaced
            (newcomer,) = replaced - {survivor}
            until(
                lambda: any(
                    f"worker {victim} died (killed by SIGKILL); starting another" in line
                    for line in server.stderr
                )
            )
            # The dead worker's streams left the live gauge; the survivor's are still counted,
            # and the newcomer answers as well.
            for sums in scrape_each(server.url, {survivor, newcomer}).values():
                assert sums["fakellm_active_streams"] == held[survivor]
            assert alive(server.process.pid)
        finally:
            for client in clients:
                client.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_every_process(tmp_path: Path, sig: signal.Signals) -> None:
    with workers(tmp_path) as server:
        pids = server.children()
        (metrics_dir,) = tmp_path.glob("fakellm-metrics-*")  # every worker's files (metrics.py)
        clients = [httpx.Client(timeout=30) for _ in range(6)]
        try:
            # Open streams on the workers (a stall: only the shutdown ends them).
            opened = [
                client.send(
                    client.build_request(
                        "POST",
                        f"{server.url}/v1/chat/completions",
                        json=chat_body(stream=True),
                        headers={"X-FakeLLM-Faults": "stall@1"},
                    ),
                    stream=True,
                )
                for client in clients
            ]
            assert any(metrics_dir.glob("*.db"))
            started = time.monotonic()
            server.process.send_signal(sig)
            out = server.wait(10)
            took = time.monotonic() - started
        finally:
            for client in clients:
                client.close()
        assert server.process.returncode == 0, server.stderr
        assert took < 5, (
            f"stopped {took:.1f} s after {sig.name} (streams end at once; the grace period is 3 s)"
        )
        assert "fakellm stopped" in out
        assert not any(alive(pid) for pid in pids)
        assert all(r.status_code == 200 for r in opened)
        assert sum("stopping" in line for line in server.stderr) == 1  # said once, by the supervisor
        assert not any("Traceback" in line for line in server.stderr)
        assert not metrics_dir.exists(), "the metrics folder is removed"


def test_workers_stop_when_their_supervisor_is_killed(tmp_path: Path) -> None:
    with workers(tmp_path) as server:
        pids = server.children()
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait(5)
        # Orphaned, each notices within a second or so and stops gracefully.
        until(lambda: not any(alive(pid) for pid in pids), timeout=10)


def test_a_second_signal_stops_at_once(tmp_path: Path) -> None:
    with workers(tmp_path) as server:
        # A client that sends a body slowly keeps its connection busy past the streams' end: the
        # first signal waits for it up to the grace period (3 s), a second one does not.
        port = int(server.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
            time.sleep(0.3)
            server.process.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            assert server.process.poll() is None, "the first signal waits for the busy connection"
            started = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            out = server.wait(10)
            took = time.monotonic() - started
        assert server.process.returncode == 130
        assert "fakellm stopped at once" in out
        assert took < 2, f"exited {took:.2f} s after the second signal"


def test_workers_that_keep_dying_stop_the_command(tmp_path: Path) -> None:
    # A worker that dies is replaced; five deaths within 10 s mean something is broken, and the
    # command stops rather than fork in a loop.
    with workers(tmp_path) as server:
        gone: set[int] = set()
        while len(gone) < 5 and server.process.poll() is None:
            pid = min(server.wait_for_children(2, other_than=gone))
            os.kill(pid, signal.SIGKILL)
            gone.add(pid)
        server.wait(15)
        assert server.process.returncode == 1
        assert any(
            "5 workers died within 10 s (the last: killed by SIGKILL); stopping" in line
            for line in server.stderr
        )
        assert not any("Traceback" in line for line in server.stderr)


def test_workers_on_redis_share_one_state(tmp_path: Path, redis_url: str) -> None:
    # With --state every worker joins the one store by the config it was forked with: no warning,
    # a times: 1 fault fires once across both, and either worker's journal is both workers'.
    with workers(tmp_path, "--state", redis_url) as server:
        pids = server.children()
        faults = {"X-FakeLLM-Faults": "http_error 503 times=1", "X-FakeLLM-TTFT-Ms": "200"}
        statuses: Counter[int] = Counter()
        served: set[int] = set()

        def once(_: int) -> None:
            with httpx.Client(timeout=20) as client:
                response = client.post(
                    f"{server.url}/v1/chat/completions", json=chat_body(stream=True), headers=faults
                )
            statuses[response.status_code] += 1
            served.add(int(response.headers["x-fakellm-worker"]))

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(once, range(16)))
        assert served == pids
        assert statuses == {503: 1, 200: 15}
        until(lambda: len(httpx.get(f"{server.url}/_fakellm/journal").json()) >= 16)
        for _ in range(6):  # new connections: whichever worker answers has every entry
            assert len(httpx.get(f"{server.url}/_fakellm/journal").json()) == 16
        assert not any("a state of its own" in line for line in server.stderr)
