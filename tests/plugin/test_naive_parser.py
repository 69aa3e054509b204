"""assert_accumulated catches a naive SSE parser under fragmentation, in both modes, while correct
clients pass (and the naive one passes on whole events: the fault is what exposes it)."""

from __future__ import annotations

import pytest

from .helpers import run_suite


@pytest.mark.parametrize("mode", ["socket", "inprocess"])
def test_naive_parser_suite(pytester: pytest.Pytester, mode: str) -> None:
    # auto mode: the async test has no marker.
    result = run_suite(pytester, "naive_parser_suite", f"--fakellm-mode={mode}", asyncio_mode="auto")
    result.stdout.fnmatch_lines(
        [
            "*test_naive_is_caught_under_fragmentation*",
            "*AssertionError: fakellm: the client's accumulated text is not what the server sent.",
            "*first difference at character *",
            "*  server sent: *",
            "*  client got:  *",
            "*  scripted: faults fragment*",
            "*  server: completed the stream *",
            "*  client: * items (* with text*), * characters, then its iteration ended without an error",
            "*the stream had 'fragment': a client that parses each read on its own loses or breaks the "
            "events cut across reads",
        ]
    )
    result.stdout.fnmatch_lines(
        ["FAILED test_naive_parser_suite.py::test_naive_is_caught_under_fragmentation*"]
    )
    result.assert_outcomes(passed=4, failed=1)
