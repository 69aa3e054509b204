"""The openai SDK 2.x (on httpx) against a real fakellm: it streams like 3.x, but reacts to transport
faults differently (wire.md §2.2): 2.x lets the raw httpx exception out, 3.x wraps it.

2.x and 3.x cannot share a virtual environment, so 2.x lives in ``.cache/openai-v2`` (a ``pip
install --target``, made once and git-ignored) and runs in one subprocess that plays every case
against one server and prints a JSON line per case (``openai_v2/cases.py``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from fakellm import Server

# The openai 2.x install (``openai_v2_path``, once per session) and the module's one run of every case:
# these tests and tests/plugin/test_openai_v2.py are one xdist group, so that one worker makes them.
pytestmark = pytest.mark.xdist_group("openai-v2")

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "openai-v2"
CASES_SCRIPT = Path(__file__).resolve().parent / "openai_v2" / "cases.py"
REQUIREMENT = "openai>=2,<3"
TEXT = "Hello there, world! Café ünïcode 😀 and a few more words to stream."


def _need(what: str) -> None:
    """Without the registry this is a skip on a laptop, but a failure in CI."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} (CI is set, so the openai 2.x test must run)")
    pytest.skip(what)


def _installed_version(target: Path) -> str | None:
    version_file = target / "openai" / "_version.py"
    if not version_file.is_file():
        return None
    found = re.search(r"__version__\s*=\s*['\"]([^'\"]+)", version_file.read_text())
    return found.group(1) if found else None


def _is_v2(target: Path) -> bool:
    version = _installed_version(target)
    return version is not None and version.startswith("2.")


@pytest.fixture(scope="session")
def openai_v2_path() -> Path:
    """A private install of openai 2.x and its dependencies (httpx 0.x), made once."""
    if _is_v2(CACHE):
        return CACHE
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    # Install beside the final place, then move it there: an interrupted install never looks done.
    staging = Path(tempfile.mkdtemp(prefix="openai-v2-", dir=CACHE.parent))
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-input",
                "--target",
                str(staging),
                REQUIREMENT,
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if result.returncode != 0:
            _need(f"cannot pip install {REQUIREMENT!r}: {result.stderr.strip()[-600:]}")
        if not _is_v2(CACHE):  # else another pytest process (an xdist worker) made it meanwhile: keep it
            if CACHE.exists():
                shutil.rmtree(CACHE)  # a broken or wrong-version leftover
            try:
                staging.rename(CACHE)
            except OSError:
                if not _is_v2(CACHE):  # not a rival's finished install either
                    raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    version = _installed_version(CACHE)
    assert version is not None and version.startswith("2."), version
    return CACHE


def run_v2(path: Path, base_url: str, cases: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run ``cases`` with openai 2.x in a subprocess: (versions, results by case name)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(path), os.environ.get("PYTHONPATH", "")])}
    env["PYTHONNOUSERSITE"] = "1"
    result = subprocess.run(
        [sys.executable, str(CASES_SCRIPT)],
        input=json.dumps({"base_url": base_url, "cases": cases}),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return lines[0], {line["name"]: line for line in lines[1:]}


# Each case: what the client does, and what openai 2.x must do about it.
CASES: list[dict[str, Any]] = [
    {"name": "stream", "api": "stream"},
    {"name": "stream_async", "api": "stream_async"},
    {"name": "create", "api": "create"},
    {"name": "drop", "api": "stream", "headers": {"X-FakeLLM-Faults": "drop@3"}},
    {"name": "drop_async", "api": "stream_async", "headers": {"X-FakeLLM-Faults": "drop@3"}},
    {"name": "rst", "api": "stream", "headers": {"X-FakeLLM-Faults": "drop@3 rst"}},
    {
        "name": "stall",
        "api": "stream",
        "timeout": 1.0,
        "headers": {"X-FakeLLM-Faults": "stall@3 duration_ms=8000"},
    },
    {"name": "error_event", "api": "stream", "headers": {"X-FakeLLM-Faults": "error_event@3 message=boom"}},
    {"name": "truncate", "api": "stream", "headers": {"X-FakeLLM-Faults": "truncate@3"}},
    {"name": "malformed", "api": "stream", "headers": {"X-FakeLLM-Faults": "malformed@3"}},
    {"name": "bom", "api": "stream", "headers": {"X-FakeLLM-Faults": "sse bom"}},
    {
        "name": "retry_after_too_long",
        "api": "stream",
        "max_retries": 2,
        "headers": {"X-FakeLLM-Faults": "http_error 429 retry_after_s=121 times=1"},
    },
    {
        "name": "retry_429",
        "api": "stream",
        "max_retries": 2,
        "headers": {"X-FakeLLM-Faults": "http_error 429 retry_after_s=1 times=1"},
    },
]


@pytest.fixture(scope="module")
def v2_server() -> Iterator[Server]:
    scenario = {"name": "default", "content": {"text": TEXT}, "timing": {"ttft_ms": 0, "itl_ms": 2}}
    with Server(seed=99, scenarios=[scenario]) as server:
        yield server


@pytest.fixture(scope="module")
def v2(openai_v2_path: Path, v2_server: Server) -> dict[str, Any]:
    versions, results = run_v2(openai_v2_path, v2_server.base_url, CASES)
    assert versions["openai"].startswith("2."), versions
    assert versions["httpx"].startswith("0."), versions
    assert Path(versions["openai_file"]).is_relative_to(openai_v2_path), versions
    assert set(results) == {case["name"] for case in CASES}
    return results


def _entries(server: Server, case: str) -> list[Any]:
    return [e for e in server.journal if e.headers.get("x-case") == case]


def _first_tokens_of_text(result: dict[str, Any]) -> None:
    """The tokens before the fault reached the caller (3 of them), then it failed."""
    assert result["content_chunks"] == 3, result
    assert result["text"] and TEXT.startswith(result["text"]) and result["text"] != TEXT


@pytest.mark.parametrize("name", ["stream", "stream_async"])
def test_stream(v2: dict[str, Any], v2_server: Server, name: str) -> None:
    result = v2[name]
    assert result["error"] is None, result["error"]
    assert result["text"] == TEXT
    assert result["finish_reason"] == "stop"
    assert result["completion_tokens"] == result["content_chunks"] > 1
    assert result["id"].startswith("chatcmpl-")
    (entry,) = _entries(v2_server, name)
    assert entry.outcome == "completed"
    assert entry.text == TEXT


def test_non_stream(v2: dict[str, Any]) -> None:
    result = v2["create"]
    assert result["error"] is None, result["error"]
    assert result["text"] == TEXT
    assert result["finish_reason"] == "stop"
    assert result["completion_tokens"] == v2["stream"]["completion_tokens"]


@pytest.mark.parametrize(
    ("name", "raised", "outcome"),
    [
        ("drop", "httpx.RemoteProtocolError", "dropped"),
        ("drop_async", "httpx.RemoteProtocolError", "dropped"),
        ("rst", "httpx.ReadError", "reset"),
        ("stall", "httpx.ReadTimeout", None),
    ],
)
def test_transport_faults_raise_raw_httpx_errors(
    v2: dict[str, Any], v2_server: Server, name: str, raised: str, outcome: str | None
) -> None:
    """Unlike 3.x, 2.x does not wrap these in openai.APIConnectionError / APITimeoutError."""
    result = v2[name]
    error = result["error"]
    assert error is not None, result
    assert error["type"] == raised, error
    assert error["httpx_error"] and not error["openai_error"], error
    _first_tokens_of_text(result)
    (entry,) = _entries(v2_server, name)
    if outcome is not None:
        assert entry.outcome == outcome
    if name == "drop":
        assert "incomplete chunked read" in error["message"]


def test_stall_times_out_after_the_read_timeout(v2: dict[str, Any]) -> None:
    # Read timeout 1 s, stall 8 s: the timeout, not the end of the stall, ends it.
    assert 0.9 <= v2["stall"]["elapsed_s"] < 6


def test_error_event_raises_api_error(v2: dict[str, Any], v2_server: Server) -> None:
    result = v2["error_event"]
    error = result["error"]
    assert error is not None, result
    assert error["type"] == "openai.APIError"
    assert error["openai_error"]
    assert error["message"] == "boom"
    _first_tokens_of_text(result)
    (entry,) = _entries(v2_server, "error_event")
    assert entry.outcome == "error_event"


def test_truncate_goes_unnoticed(v2: dict[str, Any]) -> None:
    result = v2["truncate"]
    assert result["error"] is None
    assert result["finish_reason"] is None
    _first_tokens_of_text(result)


def test_429_is_retried_after_retry_after(v2: dict[str, Any], v2_server: Server) -> None:
    result = v2["retry_429"]
    assert result["error"] is None, result["error"]
    assert result["text"] == TEXT
    # openai 2.x honours Retry-After up to 60 s; without it the first back-off is about 0.5 s.
    assert result["elapsed_s"] >= 0.95
    entries = _entries(v2_server, "retry_429")
    assert [e.status for e in entries] == [429, 200]
    assert [e.headers.get("x-stainless-retry-count") for e in entries] == ["0", "1"]
    assert entries[1].outcome == "completed"


# -- the contrast: the same faults with the installed openai 3.x, in-process --------------------
@pytest.mark.parametrize(
    ("spec", "timeout", "v2_name", "wrapped"),
    [
        ("drop@3", 10.0, "drop", openai.APIConnectionError),
        ("drop@3 rst", 10.0, "rst", openai.APIConnectionError),
        ("stall@3 duration_ms=8000", 1.0, "stall", openai.APITimeoutError),
    ],
)
def test_openai_3_wraps_what_2_lets_through(
    v2: dict[str, Any],
    v2_server: Server,
    spec: str,
    timeout: float,
    v2_name: str,
    wrapped: type[openai.APIError],
) -> None:
    assert openai.__version__.startswith("3."), "the venv's SDK is the 3.x one"
    client = openai.OpenAI(base_url=v2_server.base_url, api_key="sk-x", max_retries=0, timeout=timeout)
    text = ""
    started = time.monotonic()
    with client, pytest.raises(wrapped):
        stream = client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "Hello"}],
            stream=True,
            extra_headers={"X-FakeLLM-Faults": spec},
        )
        for chunk in stream:
            text += "".join(c.delta.content or "" for c in chunk.choices)
    assert time.monotonic() - started < 6
    assert text == v2[v2_name]["text"], "same server, same seed: the same tokens before the fault"
    assert v2[v2_name]["error"]["type"] != f"openai.{wrapped.__name__}"


def test_retry_after_over_120s_is_not_retried(v2: dict[str, Any], v2_server: Server) -> None:
    """Current 2.x (like 3.x) gives up at once when Retry-After exceeds 120 s. (Older 2.x, e.g.
    2.24, ignored a Retry-After over 60 s and retried after its own back-off.)"""
    result = v2["retry_after_too_long"]
    error = result["error"]
    assert error is not None, result
    assert error["type"] == "openai.RateLimitError"
    assert result["elapsed_s"] < 5
    assert [e.status for e in _entries(v2_server, "retry_after_too_long")] == [429]


def test_malformed_chunk_raises_a_bare_json_error(v2: dict[str, Any]) -> None:
    result = v2["malformed"]
    error = result["error"]
    assert error is not None, result
    assert error["type"] == "json.JSONDecodeError"
    assert not error["openai_error"]
    _first_tokens_of_text(result)


def test_bom_loses_the_first_event_silently(v2: dict[str, Any]) -> None:
    """No BOM handling in 2.x either: the first field name becomes "\\ufeffdata", so the role chunk
    is lost, and nothing says so."""
    result = v2["bom"]
    assert result["error"] is None
    assert result["text"] == TEXT
    assert result["chunks"] == v2["stream"]["chunks"] - 1
