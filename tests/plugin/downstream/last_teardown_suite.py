"""A teardown check that fails in the last test of the run, when the session server stops in the same
teardown (run by tests/plugin/test_teardown.py with and without ``-k``)."""

from __future__ import annotations

from pytest_fakellm import FakeLLM


def test_passes_first(fakellm: FakeLLM) -> None:
    fakellm.httpx_client().get("/models").raise_for_status()


def test_requests_one_of_two(fakellm: FakeLLM) -> None:
    fakellm.script(["asked for", "never asked for"])
    client = fakellm.httpx_client()
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}
    client.post("/chat/completions", json=body).raise_for_status()
