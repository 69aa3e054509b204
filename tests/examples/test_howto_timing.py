"""How-to: script the time to first token and the pace, and assert on what the user saw."""

import pytest

from pytest_fakellm import assert_ttft


def answer(client, question):
    stream = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": question}], stream=True
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            yield chunk.choices[0].delta.content


@pytest.mark.fakellm(text="Thinking... done.", ttft_ms=300, itl_ms=20)
def test_first_token_arrives_after_the_scripted_ttft(fakellm):
    recording = fakellm.record(answer(fakellm.openai_client(), "Hi"))
    assert_ttft(recording, min_ms=250, max_ms=5000)  # generous: CI machines are slow
    assert sum(recording.gaps_ms) >= 0.5 * 20 * len(recording.gaps_ms)  # the pace, on average


def test_the_server_side_timing_is_in_the_journal(fakellm):
    fakellm.script(text="Hello", ttft_ms=200)
    "".join(answer(fakellm.openai_client(), "Hi"))
    assert fakellm.journal.last.first_token_ms >= 190  # measured by the server
