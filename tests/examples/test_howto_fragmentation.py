"""How-to: catch a hand-rolled SSE parser that breaks when events are cut across reads."""

import contextlib
import json

import pytest

from pytest_fakellm import assert_accumulated

BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}], "stream": True}


def naive(http):  # splits each read on "\n": an event cut in two is lost
    with http.stream("POST", "chat/completions", json=BODY) as response:
        for read in response.iter_bytes():
            for line in read.decode(errors="replace").split("\n"):
                if line.startswith("data: {"):
                    with contextlib.suppress(ValueError, IndexError):  # "skip junk"
                        yield json.loads(line[6:])["choices"][0]["delta"].get("content") or ""


def correct(http):  # iter_lines() keeps the partial line between reads
    with http.stream("POST", "chat/completions", json=BODY) as response:
        for line in response.iter_lines():
            if line.startswith("data: {"):
                choices = json.loads(line[6:])["choices"]
                if choices:
                    yield choices[0]["delta"].get("content") or ""


@pytest.mark.fakellm(
    text="Every token must arrive, «é» and 😀 too.",
    ascii_only=False,  # raw UTF-8 on the wire, so that cuts can fall inside a character
    faults="fragment 1-7 bytes delay_ms=0",  # no pause between the pieces: a faster test
)
def test_fragmentation_catches_the_naive_parser(fakellm):
    with fakellm.httpx_client() as http:
        assert_accumulated(fakellm.record(correct(http)))
        with pytest.raises(AssertionError, match="first difference at character"):
            assert_accumulated(fakellm.record(naive(http)))
