"""How-to: a reasoning model's thinking, scripted, read through each SDK's stream helper."""

import pytest

THINKING = "The user says hi. A short greeting back is enough."
MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.mark.fakellm(reasoning=THINKING, text="Hello!")
def test_claude_thinks_before_it_answers(fakellm):
    client = fakellm.anthropic_client()
    with client.messages.stream(model="claude-test", max_tokens=256, messages=MESSAGES) as stream:
        recording = fakellm.record(stream)
        message = stream.get_final_message()
    thinking, text = message.content
    assert thinking.type == "thinking" and thinking.thinking == THINKING
    assert thinking.signature  # one signature_delta, just before the block's stop
    assert text.text == "Hello!"
    assert recording.reasoning == THINKING and recording.text == "Hello!"


@pytest.mark.fakellm(reasoning=THINKING, text="Hello!")
def test_the_responses_reasoning_item(fakellm):
    client = fakellm.openai_client()
    with client.responses.stream(model="gpt-test", input="hi") as stream:
        response = stream.get_final_response()
    reasoning, _message = response.output
    assert reasoning.type == "reasoning"
    assert reasoning.summary[0].text == THINKING
    assert response.output_text == "Hello!"


def test_chat_streams_it_only_in_a_field_you_name(fakellm):
    # OpenAI never streams reasoning on Chat Completions; DeepSeek and vLLM use reasoning_content.
    fakellm.script(reasoning=THINKING, text="Hello!", reasoning_field="reasoning_content")
    client = fakellm.openai_client()
    with client.chat.completions.stream(model="deepseek-test", messages=MESSAGES) as stream:
        message = stream.get_final_completion().choices[0].message
    assert message.reasoning_content == THINKING and message.content == "Hello!"


def test_a_drop_inside_the_thinking(fakellm):
    fakellm.script(reasoning=THINKING, text="Hello!", faults="drop@3")  # after 3 thinking tokens
    client = fakellm.anthropic_client(max_retries=0)
    recording = fakellm.record(
        client.messages.create(model="claude-test", max_tokens=256, messages=MESSAGES, stream=True)
    )
    assert recording.error is not None
    assert recording.reasoning == fakellm.journal.last.reasoning  # what reached the wire
    assert recording.text == ""
