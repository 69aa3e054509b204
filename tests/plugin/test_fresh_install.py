"""First contact: a fresh project that installs fakellm (a real install of this checkout into a new
venv, not the editable one the suite runs in) and runs one sync test with the ``fakellm`` fixture
sees no warning at all, even with every warning shown or turned into an error.

pytest-asyncio is not a dependency of fakellm (the fixtures are sync): installed, it warns at
configure time in every run of a project that has not set ``asyncio_default_fixture_loop_scope``
(pytest-asyncio 1.5: a hidden PytestDeprecationWarning, an INTERNALERROR under
``filterwarnings = error``). Async tests work once the project installs it, as its docs say.

About 20 s on this VM (a venv, a wheel build, the dependencies from the local wheel cache), up to a
minute when the machine is busy: one test, kept in the default run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SYNC_TEST = """
def test_one(fakellm):
    fakellm.script(text="Hello.")
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}], "stream": True}
    with fakellm.httpx_client() as client, client.stream("POST", "/chat/completions", json=body) as r:
        assert fakellm.record(r.iter_lines()).text == "Hello."
"""

ASYNC_TEST = """
import pytest


@pytest.mark.asyncio
async def test_async(fakellm):
    fakellm.script(text="Hello.")
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}], "stream": True}
    async with fakellm.async_httpx_client() as client:
        async with client.stream("POST", "/chat/completions", json=body) as response:
            recording = await fakellm.arecord(response.aiter_lines())
    assert recording.text == "Hello."
"""


def _run(command: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"
    return done


def _no_warning(done: subprocess.CompletedProcess[str]) -> None:
    output = done.stdout + done.stderr
    assert "warning" not in output.lower(), output
    assert "1 passed in" in done.stdout, output


@pytest.mark.skipif(sys.platform == "win32", reason="venv layout")
def test_a_fresh_install_runs_a_sync_test_with_no_warning(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path)
    python = str(venv / "bin" / "python")
    _run([python, "-m", "pip", "install", "-q", str(ROOT)], cwd=tmp_path)
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_one.py").write_text(SYNC_TEST)
    pytest_cmd = [python, "-m", "pytest", "-p", "no:cacheprovider"]
    _no_warning(_run(pytest_cmd, cwd=project))
    # What pytest and Python hide by default (DeprecationWarning at configure time) is shown here.
    _no_warning(_run([python, "-W", "default", *pytest_cmd[1:]], cwd=project))
    (project / "pytest.ini").write_text("[pytest]\nfilterwarnings = error\n")
    _no_warning(_run(pytest_cmd, cwd=project))

    # Async tests: the project installs pytest-asyncio (and sets its loop scope, as it asks).
    _run([python, "-m", "pip", "install", "-q", "pytest-asyncio"], cwd=tmp_path)
    (project / "pytest.ini").write_text(
        "[pytest]\nfilterwarnings = error\nasyncio_default_fixture_loop_scope = function\n"
    )
    (project / "test_one.py").unlink()
    (project / "test_async.py").write_text(ASYNC_TEST)
    _no_warning(_run(pytest_cmd, cwd=project))
