"""How-to: the AI SDK's chat route (POST /api/chat, what useChat posts to), read from Python."""

import json

import httpx
import pytest


def ui_parts(response):
    """The UI message stream's parts: one ``data: {json}`` event each, ``data: [DONE]`` last."""
    lines = [line.removeprefix("data: ") for line in response.text.split("\n\n") if line]
    return [line if line == "[DONE]" else json.loads(line) for line in lines]


@pytest.mark.fakellm(text="Hello from the fake model.")
def test_use_chat_gets_the_ui_message_stream(fakellm):
    root = fakellm.base_url.removesuffix("/v1")
    body = {
        "id": "chat-1",
        "messages": [{"id": "u1", "role": "user", "parts": [{"type": "text", "text": "Hi"}]}],
        "trigger": "submit-message",
    }
    response = httpx.post(f"{root}/api/chat", json=body)
    assert response.headers["x-vercel-ai-ui-message-stream"] == "v1"
    parts = ui_parts(response)
    assert [p["type"] for p in parts[:3]] == ["start", "start-step", "text-start"]
    text = "".join(p["delta"] for p in parts[:-1] if p["type"] == "text-delta")
    assert text == "Hello from the fake model."
    assert parts[-2:] == [{"type": "finish", "finishReason": "stop"}, "[DONE]"]
    assert fakellm.journal.last.format == "ai_sdk.ui"


@pytest.mark.fakellm(text="one two three four", faults=["error_event@2 message=Overloaded"])
def test_a_mid_stream_error_is_an_error_part(fakellm):
    root = fakellm.base_url.removesuffix("/v1")
    body = {"id": "chat-2", "messages": [{"role": "user", "parts": [{"type": "text", "text": "Hi"}]}]}
    parts = ui_parts(httpx.post(f"{root}/api/chat", json=body))
    assert parts[-1] == {"type": "error", "errorText": "Overloaded"}


@pytest.mark.fakellm(text="one two three")
def test_the_ai_sdk_4_data_stream_protocol(fakellm):
    root = fakellm.base_url.removesuffix("/v1")
    body = {"messages": [{"role": "user", "content": "Hi"}]}  # AI SDK 4's useChat sent content
    response = httpx.post(f"{root}/api/chat?protocol=data", json=body)
    assert response.headers["x-vercel-ai-data-stream"] == "v1"
    lines = response.text.splitlines()
    assert [json.loads(line[2:]) for line in lines if line.startswith("0:")] == ["one", " two", " three"]
    assert lines[-1].startswith('d:{"finishReason":"stop"')


def test_nothing_to_resume_is_a_204(fakellm):
    root = fakellm.base_url.removesuffix("/v1")
    assert httpx.get(f"{root}/api/chat/no-such-chat/stream").status_code == 204
