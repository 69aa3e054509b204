"""Fuzzing request validation: any body to ``POST /v1/chat/completions`` and any value of the
``X-FakeLLM-*`` headers gets a 4xx in OpenAI's shape or a well-formed stream or completion. Never a
500, a cut stream, or an internal error recorded by the server.

Most examples go through the app in process (fast); a few go over a real socket.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st

from fakellm import FaultSpecError, InProcess, Server, SSEDecoder, parse_fault_spec
from fakellm.state import ServerState

from .strategies import budget, check_chunk_data, fault_specs, header_text, json_values

SCENARIOS = [
    {"name": "default", "content": {"echo": {"prefix": "You said: "}}},
    # Raw UTF-8 instead of \uXXXX escapes: the other way the encoder writes text.
    {"name": "raw", "match": {"model": "raw*"}, "content": {"echo": True}, "ascii_only": False},
    {"name": "fixed", "content": {"text": "Hello there, wörld 😀!"}, "timing": {"itl_ms": 0.5}},
]
ROLES = ["system", "developer", "user", "assistant", "tool", "function"]
# A read that waits longer than this is a slow stream by request (a stall, a latency, a TTFT), not a
# failure: the example stops reading, which disconnects the client as a real one would.
READ_TIMEOUT_S = 0.3

# Text with lone surrogates too: valid in JSON (``"\ud800"``), not encodable as UTF-8.
_any_text = st.text(st.characters(categories=["Cs", "L", "N", "P", "Z", "Cc"]), max_size=30)
_texts = st.one_of(st.text(max_size=30), _any_text, st.sampled_from(["", " ", "\n", "[DONE]", "data: x\n\n"]))
_parts = st.lists(
    st.one_of(
        st.fixed_dictionaries({"type": st.just("text"), "text": _texts | json_values}),
        st.fixed_dictionaries({"type": st.sampled_from(["image_url", "input_audio", "x"])}),
        st.dictionaries(st.sampled_from(["type", "text"]), json_values, max_size=2),
        json_values,
    ),
    max_size=3,
)
_messages = st.lists(
    st.one_of(
        st.fixed_dictionaries(
            {"role": st.sampled_from(ROLES)},
            optional={"content": st.one_of(_texts, _parts, st.none(), json_values), "name": _texts},
        ),
        st.dictionaries(st.sampled_from(["role", "content"]), json_values, max_size=2),
        json_values,
    ),
    max_size=4,
)
_optional = {
    "messages": _messages | json_values,
    "stream": st.booleans() | json_values,
    "stream_options": st.fixed_dictionaries({}, optional={"include_usage": st.booleans() | json_values})
    | json_values,
    "max_tokens": st.integers(-2, 50) | json_values,
    "max_completion_tokens": st.integers(-2, 50) | json_values,
    "n": st.integers(-1, 3) | json_values,
    "temperature": json_values,
    "tools": json_values,
}
chat_bodies = st.fixed_dictionaries(
    {"model": st.one_of(st.sampled_from(["gpt-4o", "raw-model", ""]), _texts, json_values)},
    optional=_optional,
)
plausible_bodies = st.fixed_dictionaries(
    {
        "model": st.sampled_from(["gpt-4o", "raw-model"]),
        "messages": st.lists(
            st.fixed_dictionaries({"role": st.sampled_from(ROLES), "content": _texts | _parts}),
            min_size=1,
            max_size=3,
        ),
    },
    optional={k: _optional[k] for k in ("stream", "stream_options", "max_tokens")},
)


def _as_bytes(value: Any) -> bytes:
    return json.dumps(value).encode()


bodies = st.one_of(
    chat_bodies.map(_as_bytes),
    plausible_bodies.map(_as_bytes),
    json_values.map(_as_bytes),
    st.binary(max_size=40),  # not JSON, not even UTF-8
    st.text(st.sampled_from('{}[]":,0123456789.e-ntrufalsmodegpt\\u'), max_size=40).map(str.encode),
)


def _header_safe(text: str) -> str:
    """``text`` without the characters a header value cannot carry."""
    return "".join(c for c in text if c == "\t" or ("\x20" <= c <= "\xff" and c != "\x7f")).strip()


_numbers = st.floats(0, 20, allow_nan=False).map(lambda f: f"{f:g}")
fakellm_headers = st.fixed_dictionaries(
    {},
    optional={
        "X-FakeLLM-Scenario": st.sampled_from(["default", "raw", "fixed", "nope"]) | header_text,
        "X-FakeLLM-Seed": st.one_of(st.integers(-5, 2**70).map(str), header_text),
        "X-FakeLLM-TTFT-Ms": st.one_of(
            _numbers, st.sampled_from(["nan", "inf", "-0", "-1", "1_0"]), header_text
        ),
        "X-FakeLLM-ITL-Ms": st.one_of(_numbers, st.sampled_from(["nan", "-inf", "0x1"]), header_text),
        "X-FakeLLM-Faults": fault_specs.map(_header_safe),
    },
)


# --------------------------------------------------------------------------------------------------
# The check: what any answer must look like


def _faults_of(headers: dict[str, str]) -> list[str]:
    try:
        return [f.name for f in parse_fault_spec(headers.get("X-FakeLLM-Faults", ""))]
    except FaultSpecError:
        return []


def check_answer(client: httpx.Client, state: ServerState, body: bytes, headers: dict[str, str]) -> None:
    faults = _faults_of(headers)
    state.internal_errors.clear()
    try:
        with client.stream(
            "POST",
            "chat/completions",
            content=body,
            headers={
                "content-type": "application/json",
                **{k: v.encode("latin-1") for k, v in headers.items()},
            },
        ) as response:
            status = response.status_code
            kind = response.headers.get("content-type", "")
            decoder = SSEDecoder()
            events: list[str] = []
            raw = b""
            complete = False
            try:
                for chunk in response.iter_raw():
                    raw += chunk
                    events += [e.data for e in decoder.feed(chunk)]
                complete = True
            except httpx.ReadTimeout:
                pass  # a stream slowed on purpose: stop reading (the client goes away)
            except httpx.TransportError:
                assert "drop" in faults, f"the stream was cut without a drop fault: {raw[-200:]!r}"
    except httpx.ReadTimeout:
        assert faults or "X-FakeLLM-TTFT-Ms" in headers or "X-FakeLLM-ITL-Ms" in headers, "no answer in time"
        return
    finally:
        errors = list(state.internal_errors)
        state.internal_errors.clear()
    assert not errors, errors[0]
    event(f"status {status}{' complete' if complete else ''}")  # --hypothesis-show-statistics

    if status != 200:
        # A 5xx only when the request asked for it.
        assert 400 <= status < 500 or (500 <= status < 600 and "http_error" in faults), status
        assert kind.startswith("application/json"), kind
        error = json.loads(raw)["error"]
        assert isinstance(error["message"], str) and error["message"]
        assert isinstance(error["type"], str) and error["type"]
        assert "param" in error and "code" in error
        return
    if not kind.startswith("text/event-stream"):
        assert kind.startswith("application/json"), kind
        if complete:
            assert json.loads(raw)["object"] == "chat.completion"
        return
    if complete and not {"drop", "truncate", "error_event", "malformed"} & set(faults):
        assert events and events[-1] == "[DONE]", raw[-200:]
    for data in events:
        if "malformed" not in faults:
            check_chunk_data(data)


# --------------------------------------------------------------------------------------------------
# In process


@pytest.fixture(scope="module")
def inprocess() -> Iterator[tuple[httpx.Client, ServerState]]:
    with InProcess(scenarios=SCENARIOS, seed=7) as fake, fake.httpx_client(timeout=READ_TIMEOUT_S) as client:
        yield client, fake.state


@budget(1.0)
@given(body=bodies)
@example(body=b'{"model":"raw-1","messages":[{"role":"user","content":"\\ud800"}],"stream":true}')
@example(body=b'{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"text","text":"a"}]}]}')
def test_any_body_in_process(inprocess: tuple[httpx.Client, ServerState], body: bytes) -> None:
    check_answer(*inprocess, body, {})


@budget(0.4)
@given(body=plausible_bodies.map(_as_bytes), headers=fakellm_headers)
@example(
    body=_as_bytes({"model": "m", "messages": [{"role": "user", "content": "hi"}]}),
    headers={"X-FakeLLM-Seed": "9" * 5000},
)
def test_any_fakellm_headers_in_process(
    inprocess: tuple[httpx.Client, ServerState], body: bytes, headers: dict[str, str]
) -> None:
    check_answer(*inprocess, body, headers)


# --------------------------------------------------------------------------------------------------
# Over a real socket: fewer examples, the same check


@pytest.fixture(scope="module")
def socket_server() -> Iterator[tuple[httpx.Client, ServerState]]:
    server = Server(scenarios=SCENARIOS, seed=7).start()
    try:
        with httpx.Client(base_url=server.base_url, timeout=READ_TIMEOUT_S) as client:
            yield client, server.state
    finally:
        server.stop()


@budget(0.15)
@given(body=plausible_bodies.map(_as_bytes) | bodies)
def test_any_body_over_a_socket(socket_server: tuple[httpx.Client, ServerState], body: bytes) -> None:
    check_answer(*socket_server, body, {})


@budget(0.1)
@given(body=plausible_bodies.map(_as_bytes), headers=fakellm_headers)
def test_any_fakellm_headers_over_a_socket(
    socket_server: tuple[httpx.Client, ServerState], body: bytes, headers: dict[str, str]
) -> None:
    started = time.monotonic()
    check_answer(*socket_server, body, headers)
    assert time.monotonic() - started < 10
