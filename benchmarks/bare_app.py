"""The yardstick: a bare Quart app on hypercorn that streams pre-built chunks and does nothing else.

It answers ``POST /v1/chat/completions`` on the same schedule as fakellm (role chunk and first
token at ``ttft``, token *i* at ``ttft + i * itl``, finish chunk and ``[DONE]`` with the last
token), read from the same request (``X-FakeLLM-TTFT-Ms``, ``X-FakeLLM-ITL-Ms``, ``max_tokens``),
with chunks of the same shape and size, built once per length and reused. No scenarios, no
journal, no faults, no CORS: what is left is the cost of Quart and hypercorn themselves, which
every fakellm figure is divided by.

Two ways to wait, chosen when the server starts:

- ``deadline`` (the yardstick): sleep until ``t0 + due`` with ``asyncio.sleep(due - elapsed)``,
  so a late wake-up is not carried into the next chunk;
- ``sleep``: ``asyncio.sleep(itl)`` after each chunk, as most hand-written mock servers do, so
  every wake-up's lateness adds up over the stream (shown for comparison).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from functools import cache

from quart import Quart, Response, request

__all__ = ["create_bare_app"]

_DONE = b"data: [DONE]\n\n"
_WORDS = ("The", " quick", " brown", " fox", " jumps", " over", " the", " lazy", " dog", ".")


@cache
def _chunks(tokens: int) -> tuple[bytes, tuple[bytes, ...], bytes]:
    """Role chunk, ``tokens`` content chunks and the finish chunk: shaped like fakellm's."""
    head = (
        'data: {"id":"chatcmpl-BareBareBareBareBareBareBareB","object":"chat.completion.chunk",'
        '"created":1735689600,"model":"bench","service_tier":"default",'
        '"system_fingerprint":"fp_0000000000","choices":'
    )
    tail = "}\n\n"
    role = head + (
        '[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},'
        '"logprobs":null,"finish_reason":null}]' + tail
    )
    content = tuple(
        (
            head
            + '[{"index":0,"delta":{"content":'
            + json.dumps(_WORDS[i % len(_WORDS)])
            + '},"logprobs":null,"finish_reason":null}]'
            + tail
        ).encode()
        for i in range(tokens)
    )
    finish = head + '[{"index":0,"delta":{},"logprobs":null,"finish_reason":"length"}]' + tail
    return role.encode(), content, finish.encode()


async def _deadline_body(tokens: int, t0: float, ttft: float, itl: float) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    role, content, finish = _chunks(tokens)
    await asyncio.sleep(t0 + ttft - loop.time())
    yield role
    for i, chunk in enumerate(content):
        if i:
            await asyncio.sleep(t0 + ttft + i * itl - loop.time())
        yield chunk
    yield finish
    yield _DONE


async def _sleep_body(tokens: int, ttft: float, itl: float) -> AsyncIterator[bytes]:
    role, content, finish = _chunks(tokens)
    await asyncio.sleep(ttft)
    yield role
    for i, chunk in enumerate(content):
        if i:
            await asyncio.sleep(itl)
        yield chunk
    yield finish
    yield _DONE


def create_bare_app(mode: str = "deadline") -> Quart:
    if mode not in ("deadline", "sleep"):
        raise ValueError(f"mode must be 'deadline' or 'sleep', got {mode!r}")
    app = Quart("bare")
    app.config["RESPONSE_TIMEOUT"] = None

    @app.post("/v1/chat/completions")
    async def chat() -> Response:
        t0 = asyncio.get_running_loop().time()
        body = json.loads(await request.get_data())
        tokens = int(body.get("max_tokens") or 100)
        ttft = float(request.headers.get("X-FakeLLM-TTFT-Ms", "0")) / 1000.0
        itl = float(request.headers.get("X-FakeLLM-ITL-Ms", "0")) / 1000.0
        stream = (
            _deadline_body(tokens, t0, ttft, itl) if mode == "deadline" else _sleep_body(tokens, ttft, itl)
        )
        response = Response(
            stream,
            content_type="text/event-stream; charset=utf-8",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        response.timeout = None
        return response

    return app
