"""Run chat-completion cases with whichever ``openai`` is first on the path, print one JSON line each.

The openai 2.x test starts this script with PYTHONPATH pointing at a private ``pip install
--target`` of openai 2.x (it cannot share a virtual environment with 3.x). It reads a JSON object
on stdin: ``{"base_url": ..., "cases": [{"name", "api", "headers", "timeout", "max_retries"}]}``
with ``api`` one of ``stream``, ``stream_async``, ``create``. What it prints is data, never an
assertion: the test decides what each SDK reaction should be.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import httpx
import openai

MESSAGES: list[Any] = [{"role": "user", "content": "Hello"}]


def describe(exc: BaseException) -> dict[str, Any]:
    cls = type(exc)
    cause = exc.__cause__ or exc.__context__
    return {
        "type": f"{cls.__module__.split('.')[0]}.{cls.__name__}",
        "message": str(exc),
        "openai_error": isinstance(exc, openai.OpenAIError),
        "httpx_error": isinstance(exc, httpx.HTTPError),
        "cause": None if cause is None else f"{type(cause).__module__.split('.')[0]}.{type(cause).__name__}",
    }


def _client_kwargs(base_url: str, case: dict[str, Any]) -> dict[str, Any]:
    return {
        "base_url": base_url,
        "api_key": "sk-fakellm",
        "timeout": case.get("timeout", 10.0),
        "max_retries": case.get("max_retries", 0),
        "default_headers": {"x-case": case["name"], **case.get("headers", {})},
    }


def run_sync(base_url: str, case: dict[str, Any], out: dict[str, Any]) -> None:
    with openai.OpenAI(**_client_kwargs(base_url, case)) as client:
        if case["api"] == "create":
            completion = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            out["text"] = completion.choices[0].message.content
            out["finish_reason"] = completion.choices[0].finish_reason
            out["completion_tokens"] = completion.usage.completion_tokens if completion.usage else None
            out["id"] = completion.id
            return
        stream = client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        for chunk in stream:
            _take(chunk, out)


async def run_async(base_url: str, case: dict[str, Any], out: dict[str, Any]) -> None:
    async with openai.AsyncOpenAI(**_client_kwargs(base_url, case)) as client:
        stream = await client.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        async for chunk in stream:
            _take(chunk, out)


def _take(chunk: Any, out: dict[str, Any]) -> None:
    out["chunks"] += 1
    out["id"] = chunk.id
    for choice in chunk.choices:
        if choice.delta.content:
            out["text"] += choice.delta.content
            out["content_chunks"] += 1
        if choice.finish_reason:
            out["finish_reason"] = choice.finish_reason
    if chunk.usage is not None:
        out["completion_tokens"] = chunk.usage.completion_tokens


def run(base_url: str, case: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": case["name"],
        "text": "",
        "chunks": 0,
        "content_chunks": 0,
        "finish_reason": None,
        "completion_tokens": None,
        "id": None,
        "error": None,
    }
    started = time.monotonic()
    try:
        if case["api"] == "stream_async":
            asyncio.run(run_async(base_url, case, out))
        else:
            run_sync(base_url, case, out)
    except Exception as exc:
        out["error"] = describe(exc)
    out["elapsed_s"] = time.monotonic() - started
    return out


def main() -> int:
    job = json.load(sys.stdin)
    print(
        json.dumps(
            {"openai": openai.__version__, "httpx": httpx.__version__, "openai_file": openai.__file__}
        ),
        flush=True,
    )
    for case in job["cases"]:
        print(json.dumps(run(job["base_url"], case)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
