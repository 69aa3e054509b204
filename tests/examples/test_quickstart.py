"""The README's ten-line example."""

import pytest

from pytest_fakellm import assert_accumulated, assert_error_event


def answer(client, question):  # the code under test: yields the answer as it streams
    stream = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": question}], stream=True
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            yield chunk.choices[0].delta.content


def test_answer_streams_every_token(fakellm):
    fakellm.script(text="Paris is the capital of France.", faults="fragment 1-7 bytes")
    recording = fakellm.record(answer(fakellm.openai_client(), "Capital of France?"))
    assert recording.text == "Paris is the capital of France."
    assert_accumulated(recording)  # nothing lost, duplicated or corrupted on the way


@pytest.mark.fakellm(text="one two three four five", faults="error_event@3")
def test_mid_stream_error_reaches_the_user(fakellm):
    recording = fakellm.record(answer(fakellm.openai_client(), "Hi"))
    assert_error_event(recording)  # raised after exactly the first 3 tokens: not swallowed, no hang
