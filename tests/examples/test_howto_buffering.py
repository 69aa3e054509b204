"""How-to: see what a buffering proxy (nginx, a CDN, a load balancer) does to a stream, and take
away the header that tells nginx not to buffer."""

import time

import httpx
import pytest

TEXT = "Streamed token by token, or held and sent all at once."


def arrivals(client, faults=""):
    """The text, and when each token reached the client (seconds after the request)."""
    started = time.monotonic()
    stream = client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "user", "content": "Hi"}],
        stream=True,
        extra_headers={"X-FakeLLM-Faults": faults},
    )
    text, times = "", []
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
            times.append(time.monotonic() - started)
    return text, times


@pytest.mark.fakellm(text=TEXT, ttft_ms=50, itl_ms=20)
def test_behind_a_buffering_proxy_every_token_comes_at_the_end(fakellm):
    client = fakellm.openai_client()
    text, streamed = arrivals(client)
    assert text == TEXT and streamed[-1] - streamed[0] > 0.2  # token by token
    text, held = arrivals(client, "buffer all")  # what a CDN that buffers whole answers does
    assert text == TEXT  # nothing lost: the same answer, late
    assert held[0] > 0.2 and held[-1] - held[0] < 0.05  # the first token comes with the last
    entry = fakellm.journal.last
    assert entry.first_token_ms > 200  # the journal times what was written, not what was planned


@pytest.mark.fakellm(text=TEXT)
def test_nginx_buffers_in_4k_pieces(fakellm):
    client = fakellm.openai_client()
    text, times = arrivals(client, "buffer 4k")  # nginx's proxy_buffer_size on most systems
    assert text == TEXT
    assert times[-1] - times[0] < 0.05  # a short answer fits in one buffer: all of it at the end
    assert fakellm.journal.last.faults[0].detail == "4096 bytes"


def test_take_away_x_accel_buffering(fakellm):
    body = {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "Hi"}]}
    url = f"{fakellm.base_url}/chat/completions"
    assert httpx.post(url, json=body).headers["x-accel-buffering"] == "no"  # fakellm's default
    response = httpx.post(url, json=body, headers={"X-FakeLLM-Faults": "accel_buffering"})
    assert "x-accel-buffering" not in response.headers  # now a real nginx in front buffers it
