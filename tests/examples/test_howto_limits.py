"""How-to: stop sequences and token limits, read through the official SDKs' stream helpers."""

import openai
import pytest


def test_a_stop_sequence_ends_the_answer(fakellm):
    fakellm.script(text="Step 1: mix. Step 2: bake. DONE. Enjoy!")
    client = fakellm.openai_client()
    messages = [{"role": "user", "content": "A recipe, please."}]
    with client.chat.completions.stream(model="gpt-4o", messages=messages, stop=["DONE"]) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.content == "Step 1: mix. Step 2: bake. "
    assert final.choices[0].finish_reason == "stop"


def test_anthropic_names_the_stop_sequence(fakellm):
    fakellm.script(text="Step 1: mix. Step 2: bake. DONE. Enjoy!")
    client = fakellm.anthropic_client()
    messages = [{"role": "user", "content": "A recipe, please."}]
    with client.messages.stream(
        model="claude-sonnet-4-5", max_tokens=100, messages=messages, stop_sequences=["DONE"]
    ) as stream:
        message = stream.get_final_message()
    assert (message.stop_reason, message.stop_sequence) == ("stop_sequence", "DONE")


def test_max_tokens_cuts_the_answer(fakellm):
    fakellm.script(text="one two three four five six seven eight")
    client = fakellm.openai_client()
    messages = [{"role": "user", "content": "Count."}]
    with (
        client.chat.completions.stream(model="gpt-4o", messages=messages, max_tokens=3) as stream,
        pytest.raises(openai.LengthFinishReasonError) as cut,  # the helper refuses a length finish
    ):
        stream.get_final_completion()
    assert cut.value.completion.choices[0].message.content == "one two three"


def test_max_output_tokens_ends_a_response_incomplete(fakellm):
    fakellm.script(faker=True)
    client = fakellm.openai_client()
    with client.responses.stream(model="gpt-4o", input="Write.", max_output_tokens=16) as stream:
        last = list(stream)[-1]  # response.incomplete: get_final_response() waits for completed
    assert last.response.status == "incomplete"
    assert last.response.incomplete_details.reason == "max_output_tokens"
