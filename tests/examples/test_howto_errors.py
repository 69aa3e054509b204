"""How-to: a mid-stream error event, a dropped connection, a stalled stream."""

import openai
import pytest

from pytest_fakellm import assert_error_event


def answer(client, question):
    stream = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": question}], stream=True
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            yield chunk.choices[0].delta.content


@pytest.mark.fakellm(text="one two three four five", faults=["error_event@3"])
def test_an_error_event_reaches_the_caller(fakellm):
    recording = fakellm.record(answer(fakellm.openai_client(), "Hi"))
    # Raised (not swallowed, not a JSONDecodeError), after exactly "one two three".
    assert_error_event(recording, exception=openai.APIError)


@pytest.mark.fakellm(text="one two three four five", faults=["drop@2"])
def test_a_dropped_connection_reaches_the_caller(fakellm):
    recording = fakellm.record(answer(fakellm.openai_client(max_retries=0), "Hi"))
    assert_error_event(recording, exception=openai.APIConnectionError)
    assert fakellm.journal.last.outcome == "dropped"


@pytest.mark.fakellm(text="one two three", faults=["stall@1 duration_ms=null"])
def test_a_stall_is_caught_as_a_hang(fakellm):
    recording = fakellm.record(answer(fakellm.openai_client(), "Hi"), timeout_s=0.5)
    assert recording.timed_out and recording.text == "one"
