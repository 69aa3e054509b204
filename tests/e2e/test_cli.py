"""``fakellm serve``: flags to config in-process, then real processes for what only a process shows
(the printed URL, signals, exit codes, stderr without tracebacks)."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fakellm import Server, ServerConfig, parse_fault_spec, scenario_from_dict
from fakellm.cli import build_parser, main, serve_config
from tests.helpers import chat_body, content_of, raw_request

BIN = Path(sys.executable).parent
LISTENING = re.compile(r"fakellm listening on (http://127\.0\.0\.1:(\d+)/v1)\b")


# -- flags → config (in-process) -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("argv", "field", "expected"),
    [
        ([], "host", "127.0.0.1"),
        (["--host", "0.0.0.0"], "host", "0.0.0.0"),
        ([], "port", 8000),
        (["--port", "0"], "port", 0),
        (["--port", "9123"], "port", 9123),
        ([], "scenario_paths", ()),
        (["--scenarios", "a.yaml"], "scenario_paths", ("a.yaml",)),
        (["--scenarios", "a.yaml", "--scenarios", "more/"], "scenario_paths", ("a.yaml", "more/")),
        ([], "seed", None),
        (["--seed", "42"], "seed", 42),
        ([], "faults", ()),
        (
            ["--faults", "error_event@20; fragment 1-7 bytes"],
            "faults",
            tuple(parse_fault_spec("error_event@20; fragment 1-7 bytes")),
        ),
        ([], "accel_buffering", "no"),
        (["--accel-buffering", "omit"], "accel_buffering", "omit"),
        (["--accel-buffering", "yes"], "accel_buffering", "yes"),
        ([], "resume_ttl_s", 600.0),
        (["--resume-ttl", "30"], "resume_ttl_s", 30.0),
        (["--resume-ttl", "0.5"], "resume_ttl_s", 0.5),
        (["--resume-ttl", "604800"], "resume_ttl_s", 604800.0),
        ([], "resume_max", 1000),
        (["--resume-max", "1"], "resume_max", 1),
        (["--resume-max", "1000000"], "resume_max", 1_000_000),
        ([], "state_url", None),
        (["--state", "redis://127.0.0.1:6379/0"], "state_url", "redis://127.0.0.1:6379/0"),
        (["--state", "memory"], "state_url", "memory"),
        (["--state", "unix:///run/redis.sock"], "state_url", "unix:///run/redis.sock"),
    ],
)
def test_serve_flag_sets_config_field(argv: list[str], field: str, expected: Any) -> None:
    config = serve_config(build_parser().parse_args(["serve", *argv]))
    assert isinstance(config, ServerConfig)
    assert getattr(config, field) == expected


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--port", "-1"], "port must be 0-65535"),
        (["--port", "65536"], "port must be 0-65535"),
        (["--port", "http"], "not a port number"),
        (["--seed", "x"], "not an integer: 'x'"),
        (["--seed", "-1"], "seed must be >= 0"),
        (["--faults", "explode@3"], "unknown fault 'explode'"),
        (["--faults", "drop@"], "--faults"),
        (["--accel-buffering", "off"], "--accel-buffering: invalid choice: 'off'"),
        (["--resume-ttl", "soon"], "--resume-ttl: not a number of seconds: 'soon'"),
        (["--resume-ttl", "0"], "--resume-ttl: must be more than 0 and at most a week (604800 s), got 0"),
        (["--resume-ttl", "-5"], "must be more than 0 and at most a week"),
        (["--resume-ttl", "604801"], "must be more than 0 and at most a week"),
        (["--resume-ttl", "nan"], "must be more than 0 and at most a week"),
        (["--resume-ttl", "inf"], "must be more than 0 and at most a week"),
        (["--resume-max", "many"], "--resume-max: not an integer: 'many'"),
        (["--resume-max", "1.5"], "--resume-max: not an integer: '1.5'"),
        (["--resume-max", "0"], "--resume-max: must be 1-1000000, got 0"),
        (["--resume-max", "1000001"], "--resume-max: must be 1-1000000, got 1000001"),
        (["--state", "localhost:6379"], "--state: 'localhost:6379' is not a state store"),
        (["--state", "http://h:6379/0"], "is not a state store: give 'memory' or a Redis URL"),
        (["--state", "redis://h:port/0"], "the port is not a number"),
        (["--state", "redis:///0"], "names no host"),
        (["--state", "redis://h:6379/zero"], "the database is a number"),
        (["--workers", "0"], "--workers: must be 1-64, got '0'"),
        (["--workers", "65"], "--workers: must be 1-64, got '65'"),
        (["--workers", "two"], "--workers: must be 1-64, got 'two'"),
        (["--workers", "-2"], "--workers: must be 1-64, got '-2'"),
    ],
)
def test_bad_flag_is_a_usage_error(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    # The parser, not main(): a flag that wrongly parsed would start a real server on port 8000.
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["serve", *argv])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


@pytest.mark.parametrize(("argv", "workers"), [([], 1), (["--workers", "1"], 1), (["--workers", "4"], 4)])
def test_workers_flag(argv: list[str], workers: int) -> None:
    # Not a ServerConfig field: each worker is handed the same config (tests/e2e/test_workers.py).
    assert build_parser().parse_args(["serve", *argv]).workers == workers


def test_help_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--host", "--port", "--scenarios", "--seed", "--faults"):
        assert flag in out


def test_help_of_the_installed_command() -> None:
    result = subprocess.run(
        [str(BIN / "fakellm"), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "serve" in result.stdout
    assert result.stderr == ""


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 2
    assert "usage: fakellm" in capsys.readouterr().err


# -- bad scenario files stop serve before it binds ---------------------------------------------
BAD_SCENARIOS = {
    "bad-yaml": ('scenarios:\n  - name: a\n    content: {text: "hi"\n', 4, None, None, "not valid YAML"),
    "unknown-field": (
        "scenarios:\n  - name: a\n    contnet: {text: hi}\n",
        3,
        "'a'",
        "contnet",
        "did you mean 'content'",
    ),
    "wrong-type": (
        'scenarios:\n  - name: a\n    timing: {ttft_ms: "fast"}\n',
        3,
        "'a'",
        "timing.ttft_ms",
        "must be a number",
    ),
    "missing-name": ("scenarios:\n  - content: {text: hi}\n", 2, "'#1'", None, "'name' is required"),
    "duplicate-name": (
        "scenarios:\n  - name: a\n  - name: b\n  - name: a\n",
        4,
        "'a'",
        "name",
        "duplicate scenario name",
    ),
    "bad-regex": (
        'scenarios:\n  - name: a\n    match: {prompt: "(unclosed"}\n',
        3,
        "'a'",
        "match.prompt",
        "not a valid regular expression",
    ),
    "bad-fault": (
        "scenarios:\n  - name: a\n    faults:\n      - {type: drop, after_tokens: -3}\n",
        4,
        "'a'",
        "faults[0].after_tokens",
        "must be >= 0",
    ),
    "unknown-fault": (
        "scenarios:\n  - name: a\n    faults:\n      - {type: explode}\n",
        4,
        "'a'",
        "faults[0].type",
        "unknown fault 'explode'",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_SCENARIOS))
def test_bad_scenario_file_stops_serve(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text, line, scenario, field, reason = BAD_SCENARIOS[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    code = main(["serve", "--port", "0", "--scenarios", str(path)])
    captured = capsys.readouterr()
    assert code == 2
    assert "fakellm listening" not in captured.out
    err = captured.err
    assert f"{path}:{line}" in err, err
    if scenario is not None:
        assert f"scenario {scenario}" in err, err
    if field is not None:
        assert f"field '{field}'" in err, err
    assert reason in err
    assert "Traceback" not in err
    assert err.count("\n") == 1, "one line, not a log dump"


def test_missing_scenario_path_stops_serve(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.yaml"
    assert main(["serve", "--port", "0", "--scenarios", str(missing)]) == 2
    assert f"{missing}: no such file or folder" in capsys.readouterr().err


def test_bad_scenario_in_a_folder_names_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a-good.yaml").write_text("scenarios:\n  - name: good\n")
    (tmp_path / "b-bad.json").write_text('{"scenarios": [\n  {"name": "x", "seed": "one"}\n]}\n')
    assert main(["serve", "--port", "0", "--scenarios", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'b-bad.json'}:2, scenario 'x', field 'seed'" in err, err


def test_port_in_use_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        code = main(["serve", "--port", str(port)])
    captured = capsys.readouterr()
    assert code == 1
    assert f"fakellm: cannot listen on 127.0.0.1:{port}: Address already in use" in captured.err
    assert "Traceback" not in captured.err
    assert "fakellm listening" not in captured.out


# -- real processes ------------------------------------------------------------------------------
SCENARIOS = """\
scenarios:
  - name: default
    content: {text: "One two three four five six seven eight nine ten eleven twelve."}
    timing: {ttft_ms: 0, itl_ms: 1}
  - name: slow
    content: {faker: {paragraphs: 20}}
    timing: {ttft_ms: 0, itl_ms: 40}
"""


def _read_line(proc: subprocess.Popen[bytes], timeout: float) -> str:
    """One line of stdout, or fail with what the process said (no blocking past ``timeout``)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    buf = b""
    fd = proc.stdout.fileno()
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        ready, _, _ = select.select([fd], [], [], max(0.0, left))
        if not ready:
            proc.kill()
            pytest.fail(f"no line from fakellm within {timeout}s; got {buf!r}")
        data = os.read(fd, 1)
        if not data:
            proc.wait(10)
            err = proc.stderr.read().decode() if proc.stderr else ""
            pytest.fail(f"fakellm exited ({proc.returncode}) before printing a line: {buf!r}\n{err}")
        buf += data
    return buf.decode()


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "scenarios.yaml"
    path.write_text(SCENARIOS)
    return path


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


@pytest.mark.parametrize(
    ("command", "signum"),
    [
        pytest.param([str(BIN / "fakellm")], signal.SIGTERM, id="fakellm-SIGTERM"),
        pytest.param([sys.executable, "-m", "fakellm"], signal.SIGINT, id="python-m-SIGINT"),
    ],
)
def test_serve_process_prints_url_streams_and_stops_cleanly(
    command: list[str],
    signum: signal.Signals,
    scenario_file: Path,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    proc = subprocess.Popen(
        [*command, "serve", "--port", "0", "--seed", "7", "--scenarios", str(scenario_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    processes.append(proc)
    line = _read_line(proc, timeout=60)
    found = LISTENING.search(line)
    assert found, line
    base_url, port = found.group(1), int(found.group(2))
    assert port != 0, "the real port, not the requested 0"

    # A whole stream, byte-level, from the printed port; the seed makes it repeatable.
    first = raw_request(port, chat_body(), timeout=30)
    assert first.status == 200 and first.terminated
    assert content_of(first.body) == "One two three four five six seven eight nine ten eleven twelve."
    again = raw_request(port, chat_body(), timeout=30)
    assert again.body == first.body, "--seed makes streams byte-identical"

    # A stream that is still open when the signal comes must end, not hang the shutdown.
    with (
        httpx.Client(base_url=base_url, timeout=30) as client,
        client.stream(
            "POST", "/chat/completions", json=chat_body(), headers={"X-FakeLLM-Scenario": "slow"}
        ) as response,
    ):
        assert response.status_code == 200
        received = b""
        chunks = response.iter_raw()
        while received.count(b"data: ") < 3:
            received += next(chunks)
        signalled = time.monotonic()
        proc.send_signal(signum)
        with pytest.raises(httpx.RemoteProtocolError):
            for chunk in chunks:
                received += chunk
        ended = time.monotonic() - signalled
    assert b"[DONE]" not in received, "a stream cut by shutdown must not look complete"
    assert ended < 10

    code = proc.wait(timeout=20)
    out = proc.stdout.read().decode() if proc.stdout else ""
    err = proc.stderr.read().decode() if proc.stderr else ""
    assert code == 0, err
    assert out.strip().endswith("fakellm stopped"), out
    assert "Traceback" not in err, err
    assert "Error" not in err, err
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=5):
        pass


def test_serve_process_with_bad_scenario_exits_without_traceback(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("scenarios:\n  - name: a\n    timing: {itl_ms: -5}\n")
    result = subprocess.run(
        [str(BIN / "fakellm"), "serve", "--port", "0", "--scenarios", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"fakellm: bad scenario: {bad}:3, scenario 'a', field 'timing.itl_ms'")
    assert "Traceback" not in result.stderr


def test_journal_of_a_served_process_is_json(
    scenario_file: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    """The process serves the control routes too (what the proxy and other-language suites read)."""
    proc = subprocess.Popen(
        [str(BIN / "fakellm"), "serve", "--port", "0", "--scenarios", str(scenario_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    processes.append(proc)
    found = LISTENING.search(_read_line(proc, timeout=60))
    assert found
    port = int(found.group(2))
    raw_request(port, chat_body(), timeout=30)
    journal = raw_request(port, method="GET", path="/_fakellm/journal", timeout=30)
    assert journal.status == 200
    entries = json.loads(journal.body)
    entries = entries["entries"] if isinstance(entries, dict) else entries
    assert entries[-1]["scenario"] == "default"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0


def test_shutdown_does_not_wait_forever_for_a_client_that_stopped_reading() -> None:
    """A client that stops reading leaves its stream blocked in a socket write, where no wake-up
    reaches it; shutdown resets such connections at the end of the grace period."""
    big = scenario_from_dict({"name": "default", "content": {"text": "many words " * 100_000}})
    server = Server(config=ServerConfig(port=0, scenarios=(big,), shutdown_grace_s=0.5)).start()
    with socket.socket() as stuck:
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.connect(("127.0.0.1", server.port))
        body = json.dumps(chat_body()).encode()
        stuck.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        deadline = time.monotonic() + 10
        while server.journal.last is None or server.journal.last.bytes_sent == 0:
            assert time.monotonic() < deadline, "the stream never started"
            time.sleep(0.01)
        time.sleep(0.3)  # let the server's send buffer fill up
        thread = server._thread
        assert thread is not None
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 5
        assert not thread.is_alive()
        stuck.settimeout(5)
        with pytest.raises(ConnectionResetError):
            while stuck.recv(65536):
                pass
    assert not server.app.state.internal_errors


@pytest.mark.parametrize(
    "command", [[str(BIN / "fakellm"), "--version"], [sys.executable, "-m", "fakellm", "-V"]]
)
def test_version_of_the_installed_command(command: list[str]) -> None:
    import fakellm

    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"fakellm {fakellm.__version__}\n"
    assert re.fullmatch(r"fakellm \d+\.\d+\.\d+\S*\n", result.stdout)


def test_a_second_sigint_stops_serve_at_once(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    """The first Ctrl-C waits (up to the 3 s grace period) for a connection that is still busy:
    here a client that stopped reading, its stream blocked in a socket write. The second does not."""
    scenarios = tmp_path / "big.yaml"
    scenarios.write_text(
        # About 2 MB of text, more than the socket buffers hold (faker text is bounded to about 20 KB).
        "scenarios:\n  - name: default\n    content: {text: '"
        + "lorem ipsum dolor sit amet " * 80_000
        + "'}\n    timing: {ttft_ms: 0, itl_ms: 0}\n"
    )
    proc = subprocess.Popen(
        [str(BIN / "fakellm"), "serve", "--port", "0", "--scenarios", str(scenarios)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    processes.append(proc)
    found = LISTENING.search(_read_line(proc, timeout=60))
    assert found
    with socket.socket() as stuck:
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.connect(("127.0.0.1", int(found.group(2))))
        body = json.dumps(chat_body()).encode()
        stuck.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        stuck.settimeout(10)
        assert stuck.recv(1024).startswith(b"HTTP/1.1 200")
        time.sleep(0.5)  # the server's send buffer fills up: the stream is blocked in a write
        proc.send_signal(signal.SIGINT)
        time.sleep(0.3)
        assert proc.poll() is None, "the first SIGINT waits for the busy connection"
        second = time.monotonic()
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=20)
        took = time.monotonic() - second
    out = proc.stdout.read().decode() if proc.stdout else ""
    err = proc.stderr.read().decode() if proc.stderr else ""
    assert took < 1.5, f"exited {took:.2f}s after the second SIGINT (the grace period is 3 s)"
    assert code == 130
    assert "Ctrl-C again to stop at once" in err
    assert out.strip().endswith("fakellm stopped at once (1 connection reset)"), out
    assert "Traceback" not in err, err


# -- fakellm matrix (tests/e2e/test_matrix.py tests it in full) -------------------------------------
def test_matrix_process_runs_a_client_and_gates_on_its_verdicts(tmp_path: Path) -> None:
    naive = Path(__file__).resolve().parents[2] / "fixtures" / "matrix" / "naive.py"
    junit = tmp_path / "matrix.xml"
    proc = subprocess.run(
        [
            str(BIN / "fakellm"),
            "matrix",
            "--only",
            "none,truncate",
            "--junit",
            str(junit),
            "--",
            sys.executable,
            str(naive),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert "truncation_accepted FAIL" in proc.stdout and "1 of 2 cases passed" in proc.stdout
    assert "fakellm matrix: FAIL truncate: truncation_accepted" in proc.stderr
    assert junit.read_text(encoding="utf-8").count("<failure") == 1


def test_matrix_without_a_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["matrix", "--only", "none"]) == 2
    err = capsys.readouterr().err
    assert "fakellm matrix: no command to run" in err and "Traceback" not in err
