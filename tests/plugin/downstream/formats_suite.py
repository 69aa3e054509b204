"""Every format through the fixture's pre-wired SDK clients and record(), sync and async."""

import pytest

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.mark.fakellm(text="one two three")
def test_anthropic_stream_helper(fakellm):
    client = fakellm.anthropic_client()
    with client.messages.stream(model="c", max_tokens=64, messages=MESSAGES) as stream:
        recording = fakellm.record(stream.text_stream)
        final = stream.get_final_message()
    assert recording.text == "one two three"
    assert final.stop_reason == "end_turn"
    assert fakellm.journal.last.format == "anthropic.messages"


@pytest.mark.fakellm(text="one two three")
@pytest.mark.asyncio
async def test_async_anthropic_raw_events(fakellm):
    client = fakellm.async_anthropic_client()
    stream = await client.messages.create(model="c", max_tokens=64, messages=MESSAGES, stream=True)
    recording = await fakellm.arecord(stream)
    assert (recording.format, recording.text, recording.finish_reason) == (
        "anthropic",
        "one two three",
        "end_turn",
    )


@pytest.mark.fakellm(text="one two three", faults=["error_event@2"])
def test_anthropic_error_event_is_recorded(fakellm):
    client = fakellm.anthropic_client(max_retries=0)
    stream = client.messages.create(model="c", max_tokens=64, messages=MESSAGES, stream=True)
    recording = fakellm.record(stream)
    assert recording.text == "one two"
    assert recording.error is not None or recording.error_item is not None


@pytest.mark.fakellm(text="one two three")
def test_responses_stream_helper(fakellm):
    client = fakellm.openai_client()
    with client.responses.stream(model="g", input="hi") as stream:
        final = stream.get_final_response()
    assert final.output_text == "one two three"
    assert fakellm.journal.last.format == "openai.responses"


@pytest.mark.fakellm(text="one two three")
@pytest.mark.asyncio
async def test_async_responses_raw_events(fakellm):
    client = fakellm.async_openai_client()
    recording = await fakellm.arecord(client.responses.create(model="g", input="hi", stream=True))
    assert (recording.format, recording.text, recording.finish_reason) == (
        "responses",
        "one two three",
        "completed",
    )


@pytest.mark.fakellm(text="one two three")
def test_legacy_completions(fakellm):
    client = fakellm.openai_client()
    recording = fakellm.record(client.completions.create(model="i", prompt="hi", stream=True))
    assert (recording.format, recording.text, recording.finish_reason) == (
        "completions",
        "one two three",
        "stop",
    )
