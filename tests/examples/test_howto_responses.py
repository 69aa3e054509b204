"""How to record an openai Responses stream (POST /v1/responses) with the fixture."""

from typing import Any


def test_responses_stream_is_recorded(fakellm: Any) -> None:
    client = fakellm.openai_client()
    recording = fakellm.record(client.responses.create(model="gpt-test", input="hi", stream=True))
    assert recording.format == "responses"
    assert recording.text
    assert recording.finish_reason == "completed"
    assert recording.usage is not None
