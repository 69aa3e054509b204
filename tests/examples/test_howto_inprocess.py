"""How-to: no socket. `fakellm_inprocess` (or `--fakellm-mode inprocess` for `fakellm`) runs the app
in the test process; code that builds its own httpx client for api.openai.com is routed to it."""

import httpx
import pytest

from pytest_fakellm import assert_accumulated, assert_ttft


def answer_with_own_client(question):  # the code under test makes its own client
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": question}], "stream": True}
    http = httpx.Client(base_url="https://api.openai.com/v1")
    with http, http.stream("POST", "/chat/completions", json=body) as response:
        yield from response.iter_lines()  # raw SSE lines: the recorder understands them


@pytest.mark.fakellm(text="No socket needed.", ttft_ms=200)
def test_code_under_test_with_its_own_httpx_client(fakellm_inprocess):
    recording = fakellm_inprocess.record(answer_with_own_client("Hi"))
    assert recording.text == "No socket needed."
    assert_ttft(recording, min_ms=150)  # the body streams: the scripted timing is kept
    assert_accumulated(recording)
