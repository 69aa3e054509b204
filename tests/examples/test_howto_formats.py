"""How-to: one scenario, every format: Chat Completions, Responses and Anthropic Messages."""

import anthropic
import pytest


@pytest.mark.fakellm(text="one two three")
def test_the_responses_api_streams(fakellm):
    client = fakellm.openai_client()
    with client.responses.stream(model="gpt-4o", input="Hi") as stream:
        response = stream.get_final_response()
    assert response.output_text == "one two three"
    assert fakellm.journal.last.format == "openai.responses"
    # Stored unless the request says "store": false.
    assert client.responses.retrieve(response.id).output_text == "one two three"


@pytest.mark.fakellm(text="one two three")
def test_the_anthropic_messages_api_streams(fakellm):
    client = anthropic.Anthropic(base_url=fakellm.base_url.removesuffix("/v1"), api_key="anything")
    with client.messages.stream(
        model="claude-sonnet-4-5", max_tokens=100, messages=[{"role": "user", "content": "Hi"}]
    ) as stream:
        text = "".join(stream.text_stream)
    assert text == "one two three"
    assert fakellm.journal.last.format == "anthropic.messages"
    client.close()


@pytest.mark.fakellm(text="one two three four five", faults=["error_event@3"])
def test_an_error_event_in_the_messages_format(fakellm):
    client = anthropic.Anthropic(
        base_url=fakellm.base_url.removesuffix("/v1"), api_key="anything", max_retries=0
    )
    with (
        pytest.raises(anthropic.APIStatusError, match="overloaded"),
        client.messages.stream(
            model="claude-sonnet-4-5", max_tokens=100, messages=[{"role": "user", "content": "Hi"}]
        ) as stream,
    ):
        for _ in stream.text_stream:
            pass
    client.close()
