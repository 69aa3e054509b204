"""How to record an Anthropic Messages stream (POST /v1/messages) with the fixture."""

from typing import Any

MESSAGES = [{"role": "user", "content": "hi"}]


def test_anthropic_raw_events_are_recorded(fakellm: Any) -> None:
    client = fakellm.anthropic_client()
    stream = client.messages.create(model="claude-test", max_tokens=64, messages=MESSAGES, stream=True)
    recording = fakellm.record(stream)
    assert recording.format == "anthropic"
    assert recording.text
    assert recording.finish_reason is not None


def test_anthropic_stream_helper_is_recorded(fakellm: Any) -> None:
    client = fakellm.anthropic_client()
    with client.messages.stream(model="claude-test", max_tokens=64, messages=MESSAGES) as stream:
        events = fakellm.record(stream)
    with client.messages.stream(model="claude-test", max_tokens=64, messages=MESSAGES) as stream:
        pieces = fakellm.record(stream.text_stream)
    assert events.format == "anthropic"
    assert events.text
    assert pieces.text
