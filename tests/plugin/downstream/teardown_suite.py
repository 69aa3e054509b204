"""What the fixture checks at teardown, and marker validation (run by tests/plugin/test_teardown.py,
which checks every message)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from fakellm import Scenario
from pytest_fakellm import FakeLLM, assert_error_event

TEXT = "one two three four five six"


def ask(client: Any, prompt: str = "Hi") -> Any:
    return client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": prompt}], stream=True
    )


def pieces(client: Any, prompt: str = "Hi") -> Iterator[str]:
    for chunk in ask(client, prompt):
        if chunk.choices and chunk.choices[0].delta.content:
            yield chunk.choices[0].delta.content


class BrokenSource:
    """A token source with a bug: the server hits an internal error when it is used."""

    def text(self, request: dict[str, Any], rng: random.Random) -> str:
        raise RuntimeError("the token source broke")


def test_unrequested_in_list(fakellm: FakeLLM) -> None:
    fakellm.script(["first", "second", "third"])
    assert fakellm.record(pieces(fakellm.openai_client())).text == "first"


def test_unrequested_single(fakellm: FakeLLM) -> None:
    fakellm.script(text="never asked for")


def test_unrequested_match(fakellm: FakeLLM) -> None:
    fakellm.script(text="Sunny.", match={"prompt": "weather"})
    fakellm.record(pieces(fakellm.openai_client(), "Hello"))


@pytest.mark.fakellm(text="never asked for", assert_all_requested=False)
def test_allowed_by_marker(fakellm: FakeLLM) -> None:
    pass


def test_allowed_by_attribute(fakellm: FakeLLM) -> None:
    fakellm.script(text="never asked for")
    fakellm.assert_all_requested = False


def test_failing_test_reports_only_its_own_failure(fakellm: FakeLLM) -> None:
    fakellm.script(text="never asked for")
    assert 1 == 2, "the test's own failure"


def test_internal_error(fakellm: FakeLLM) -> None:
    fakellm.script([Scenario(name="broken", content=BrokenSource())])
    with pytest.raises(openai.InternalServerError):
        ask(fakellm.openai_client(max_retries=0))


@pytest.mark.fakellm(assert_no_internal_errors=False)
def test_internal_error_allowed(fakellm: FakeLLM) -> None:
    fakellm.script([Scenario(name="broken", content=BrokenSource())])
    with pytest.raises(openai.InternalServerError):
        ask(fakellm.openai_client(max_retries=0))


@pytest.mark.fakellm(txt="hello")
def test_unknown_marker_keyword(fakellm: FakeLLM) -> None:
    pass


@pytest.mark.fakellm(text="hello", ttft_ms=-5)
def test_bad_marker_value(fakellm: FakeLLM) -> None:
    pass


@pytest.mark.fakellm(text="hello")
def test_marker_without_fixture() -> None:
    pass


def test_inprocess_cannot_reset(fakellm_inprocess: FakeLLM) -> None:
    fakellm_inprocess.script(text=TEXT, faults=["drop@2 rst"])
    recording = fakellm_inprocess.record(pieces(fakellm_inprocess.openai_client(max_retries=0)))
    assert recording.text == "one two" and recording.error is not None


def test_inprocess_cannot_reach_openai3_clients_of_the_code_under_test(fakellm_inprocess: FakeLLM) -> None:
    def code_under_test() -> str:
        client = openai.OpenAI(api_key="sk-test", max_retries=0)  # sends through httpx2
        try:
            return "".join(pieces(client))
        except openai.APIConnectionError:
            return "fallback"  # a swallowed error would make the test pass for the wrong reason

    assert code_under_test() == "fallback"


def test_socket_reset_works(fakellm: FakeLLM) -> None:
    assert fakellm.mode == "socket"
    fakellm.script(text=TEXT, faults=["drop@2 rst"])
    recording = fakellm.record(pieces(fakellm.openai_client(max_retries=0)))
    assert_error_event(recording, exception=openai.APIConnectionError)
    assert fakellm.journal[0].outcome == "reset"
