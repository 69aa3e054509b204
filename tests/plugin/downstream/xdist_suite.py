"""Run with ``-n 2`` by tests/plugin/test_xdist.py: each test writes what it got (its worker, the
server it talked to, its seed, the default's text) to ``out/<test>.json`` beside this file, and one
test fails so that its report (and replay line) can be checked."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from pytest_fakellm import FakeLLM

BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}], "stream": True}
OUT = Path(__file__).parent / "out"


def note(name: str, fakellm: FakeLLM) -> None:
    with fakellm.httpx_client() as client, client.stream("POST", "chat/completions", json=BODY) as response:
        text = fakellm.record(response.iter_lines()).text
    OUT.mkdir(exist_ok=True)
    info = {
        "worker": os.environ.get("PYTEST_XDIST_WORKER", "main"),
        "pid": os.getpid(),
        "base_url": fakellm.base_url,
        "server": id(fakellm.state),
        "seed": fakellm.seed,
        "text": text,
    }
    (OUT / f"{name}.json").write_text(json.dumps(info))
    time.sleep(0.2)  # long enough that both workers get tests


@pytest.mark.parametrize("n", range(6))
def test_default(fakellm: FakeLLM, n: int) -> None:
    note(f"default-{n}", fakellm)


def test_fails(fakellm: FakeLLM) -> None:
    note("fails", fakellm)
    raise AssertionError("meant to fail")
