"""Record through the proxy, replay with ``fakellm serve --scenarios DIR``: real sockets throughout."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
import pytest

from fakellm import ProxyServer, Server, load_recording
from tests.helpers import (
    RawResponse,
    _parse_chunks,
    chat_body,
    fakellm_process,
    raw_request,
    sdk_tokens_before_error,
    tokens_of,
    wait_for_file,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "recorded"
TEXT = "Recorded once, replayed byte for byte, with the same rhythm."


@pytest.fixture
def upstream(make_server: Callable[..., Server]) -> Server:
    return make_server(
        seed=5,
        scenarios=[
            {"name": "default", "content": {"text": TEXT}, "timing": {"itl_ms": 2}},
            {"name": "timed", "content": {"text": TEXT}, "timing": {"ttft_ms": 150, "itl_ms": 45}},
            {"name": "breaks", "content": {"text": TEXT}, "timing": {"itl_ms": 5}, "faults": ["drop@4"]},
        ],
    )


@pytest.fixture
def recorder(tmp_path: Path, make_proxy: Callable[..., ProxyServer], upstream: Server) -> ProxyServer:
    """A proxy in front of ``upstream`` that records every stream into ``tmp_path``."""
    return make_proxy(upstream.base_url, record_dir=tmp_path)


def record(proxy: ProxyServer, test_id: str | None, **body: Any) -> RawResponse:
    headers = {"X-FakeLLM-Test-Id": test_id} if test_id else {}
    return raw_request(proxy.port, chat_body(**body), headers=headers)


def arrivals(response: RawResponse, ends: list[int]) -> list[float]:
    """When (seconds after the request) the body first held ``ends[i]`` bytes."""
    out: list[float] = []
    for i, at in enumerate(response.read_times):
        partial = RawResponse(200, {})
        _parse_chunks(b"".join(response.reads[: i + 1]), partial)
        while len(out) < len(ends) and len(partial.body) >= ends[len(out)]:
            out.append(at - response.started)
    return out


# -- the round trip ------------------------------------------------------------------------------------


def test_record_then_replay_reproduces_the_bytes_and_the_rhythm(
    tmp_path: Path, recorder: ProxyServer, make_server: Callable[..., Server]
) -> None:
    recorded = record(
        recorder,
        "tests/e2e/test_record_replay.py::test_round_trip",
        model="timed",
        stream_options={"include_usage": True},
    )
    path = wait_for_file(tmp_path / "tests-e2e-test_record_replay.py--test_round_trip.json")
    recording = load_recording(path)
    assert b"".join(e.raw for e in recording.events) == recorded.body
    assert recording.end == "eof"
    assert recording.request["messages"] == [{"role": "user", "content": "Hello"}]
    assert recording.request["params"] == {"stream": True, "stream_options": {"include_usage": True}}
    assert recording.headers["x-request-id"] == recorded.headers["x-request-id"]
    at_ms = [e.at_ms for e in recording.events]
    assert at_ms[0] >= 140  # the upstream's TTFT, as it arrived
    assert at_ms[-1] - at_ms[0] >= 0.8 * 45 * (len(tokens_of(recorded.body)) - 1)

    replay = make_server(scenario_paths=[tmp_path])
    replayed = raw_request(replay.port, chat_body(model="timed", stream_options={"include_usage": True}))
    assert replayed.terminated
    assert replayed.body == recorded.body
    assert replayed.headers["x-fakellm-scenario"] == recording.name
    ends = []
    total = 0
    for event in recording.events:
        total += len(event.raw)
        ends.append(total)
    times = arrivals(replayed, ends)
    for got, want in zip(times, at_ms, strict=True):
        assert abs(got * 1000 - want) < 150, (times, at_ms)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    want_gaps = [(b - a) / 1000 for a, b in itertools.pairwise(at_ms)]
    for got, want in zip(gaps, want_gaps, strict=True):
        assert got == pytest.approx(want, abs=0.1), (gaps, want_gaps)


def test_speed_scales_the_recorded_timing(
    tmp_path: Path,
    make_proxy: Callable[..., ProxyServer],
    make_server: Callable[..., Server],
    upstream: Server,
) -> None:
    # Into a folder that does not exist yet: the recorder makes it.
    proxy = make_proxy(upstream.base_url, record_dir=tmp_path / "rec")
    record(proxy, "fast", model="timed")
    path = wait_for_file(tmp_path / "rec" / "fast.json")
    doc = json.loads(path.read_text())
    recorded_span = (doc["events"][-1]["at_ms"] - doc["events"][0]["at_ms"]) / 1000
    doc["speed"] = 10
    path.write_text(json.dumps(doc))
    replay = make_server(scenario_paths=[path])
    replayed = raw_request(replay.port, chat_body(model="timed"))
    assert replayed.terminated
    # From the first body byte to the last at the client: the time to the head (a new server's first
    # request, on a loaded machine) is not what speed scales.
    span = replayed.read_times[-1] - replayed.read_times[0]
    assert span < recorded_span / 3, (span, recorded_span)


def test_faults_apply_on_top_of_a_replay(
    tmp_path: Path, recorder: ProxyServer, make_server: Callable[..., Server]
) -> None:
    recorded = record(recorder, "faulted")
    replay = make_server(scenario_paths=[wait_for_file(tmp_path / "faulted.json")])
    assert sdk_tokens_before_error(replay.base_url, "error_event@2") == tokens_of(recorded.body)[:2]
    cut = raw_request(replay.port, chat_body(), headers={"X-FakeLLM-Faults": "drop@3; fragment 1-9 bytes"})
    assert not cut.terminated
    assert recorded.body.startswith(cut.body)
    assert len(tokens_of(cut.body)) == 3


def test_an_upstream_drop_is_recorded_and_replayed_as_a_drop(
    tmp_path: Path, recorder: ProxyServer, make_server: Callable[..., Server]
) -> None:
    recorded = record(recorder, "breaks", model="breaks")
    assert not recorded.terminated
    recording = load_recording(wait_for_file(tmp_path / "breaks.json"))
    assert recording.end == "dropped"
    replay = make_server(scenario_paths=[tmp_path])
    replayed = raw_request(replay.port, chat_body(model="breaks"))
    assert not replayed.terminated
    assert replayed.closed
    assert replayed.body == recorded.body


def test_the_whole_upstream_stream_is_recorded_even_when_a_fault_cuts_the_client_short(
    tmp_path: Path, recorder: ProxyServer
) -> None:
    cut = raw_request(
        recorder.port, chat_body(), headers={"X-FakeLLM-Test-Id": "cut", "X-FakeLLM-Faults": "drop@1"}
    )
    assert not cut.terminated
    recording = load_recording(wait_for_file(tmp_path / "cut.json"))
    assert recording.end == "eof"
    assert recording.events[-1].raw == b"data: [DONE]\n\n"


# -- matching and naming ----------------------------------------------------------------------------


def test_a_recording_answers_its_request_and_its_name(
    tmp_path: Path, recorder: ProxyServer, make_server: Callable[..., Server]
) -> None:
    question = [{"role": "user", "content": "What is recorded?"}]
    recorded = record(recorder, "by-request", messages=question)
    wait_for_file(tmp_path / "by-request.json")
    replay = make_server(
        scenario_paths=[tmp_path], scenarios=[{"name": "default", "content": {"text": "other"}}]
    )
    assert raw_request(replay.port, chat_body(messages=question)).body == recorded.body
    other = raw_request(replay.port, chat_body(messages=[{"role": "user", "content": "What is recorded"}]))
    assert other.headers["x-fakellm-scenario"] == "default"
    by_header = raw_request(replay.port, chat_body(), headers={"X-FakeLLM-Scenario": "by-request"})
    assert by_header.body == recorded.body
    assert raw_request(replay.port, chat_body(model="by-request")).body == recorded.body
    # A non-streaming request gets the answer the stream adds up to.
    client = openai.OpenAI(base_url=replay.base_url, api_key="sk-x", max_retries=0)
    completion = client.chat.completions.create(model="gpt-4o", messages=question)  # type: ignore[arg-type]
    assert completion.choices[0].message.content == TEXT


def test_file_names_are_stable_and_readable(tmp_path: Path, recorder: ProxyServer) -> None:
    record(recorder, "tests/test_a.py::test_twice")
    record(recorder, "tests/test_a.py::test_twice")
    wait_for_file(tmp_path / "tests-test_a.py--test_twice.json")
    wait_for_file(tmp_path / "tests-test_a.py--test_twice-2.json")
    record(recorder, None)
    record(recorder, None)  # the same request: the same name, written again
    deadline = time.monotonic() + 5
    while len(list(tmp_path.glob("gpt-4o-*.json"))) < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    (hashed,) = tmp_path.glob("gpt-4o-*.json")
    assert re.fullmatch(r"gpt-4o-[0-9a-f]{12}\.json", hashed.name)


# -- the shipped recordings ------------------------------------------------------------------------------


@pytest.fixture
def shipped(tmp_path: Path, make_server: Callable[..., Server]) -> Server:
    """The shipped recordings, replayed 20 times faster (the files themselves replay at speed 1)."""
    for path in FIXTURES.glob("*.json"):
        doc = json.loads(path.read_text())
        doc["speed"] = 20
        (tmp_path / path.name).write_text(json.dumps(doc))
    return make_server(scenario_paths=[tmp_path])


# The openai-python SDK names its recorded streams by their sha256 (wire.md §1.4): the replay is
# those exact bytes.
@pytest.mark.parametrize(
    ("name", "sha256"),
    [
        ("openai-tool-call", "2018feb66ae13fcf5333d61b95849decc68d3f63bd38172889367e1afb1e04f7"),
        ("openai-refusal", "569c877e69429d4cbc1577d2cd6dd33878095c68badc6b6654a69769b391a1c1"),
    ],
)
def test_shipped_sdk_captures_replay_byte_for_byte(shipped: Server, name: str, sha256: str) -> None:
    response = raw_request(shipped.port, chat_body(), headers={"X-FakeLLM-Scenario": name})
    assert response.terminated
    assert hashlib.sha256(response.body).hexdigest() == sha256


def test_the_shipped_text_stream_parses_with_the_openai_sdk(shipped: Server) -> None:
    client = openai.OpenAI(base_url=shipped.base_url, api_key="sk-x", max_retries=0)
    chunks = list(
        client.chat.completions.create(
            model="gpt-4.1-nano",
            messages=[
                {"role": "user", "content": "Invent a new holiday and describe it in a few short sections."}
            ],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("**Holiday Idea:** Lantern Swap Night\n\n")
    assert chunks[0].model == "gpt-4.1-nano-2025-04-14"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == sum(
        1 for c in chunks if c.choices and c.choices[0].delta.content
    )


def test_the_shipped_tool_call_parses_with_the_openai_sdk(shipped: Server) -> None:
    client = openai.OpenAI(base_url=shipped.base_url, api_key="sk-x", max_retries=0)
    with client.chat.completions.stream(
        model="gpt-4o-2024-08-06",
        messages=[{"role": "user", "content": "What's the weather like in New York City?"}],
    ) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].finish_reason == "tool_calls"
    (call,) = final.choices[0].message.tool_calls or []
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "New York City"}


def test_the_shipped_refusal_parses_with_the_openai_sdk(shipped: Server) -> None:
    client = openai.OpenAI(base_url=shipped.base_url, api_key="sk-x", max_retries=0)
    with client.chat.completions.stream(
        model="openai-refusal", messages=[{"role": "user", "content": "anything"}], logprobs=True
    ) as stream:
        final = stream.get_final_completion()
    message = final.choices[0].message
    assert message.content is None
    assert message.refusal == "I'm very sorry, but I can't assist with that."


def test_fakellm_serve_replays_the_shipped_folder() -> None:
    with fakellm_process("serve", "--scenarios", str(FIXTURES), "--port", "0") as served:
        line = served.first_line
        match = re.match(r"fakellm listening on http://127\.0\.0\.1:(\d+)/v1 \(scenarios: (.*)\)", line)
        assert match, line
        assert {"openai-text-usage", "openai-tool-call", "openai-refusal"} <= set(match.group(2).split(", "))
        response = raw_request(int(match.group(1)), chat_body(model="openai-tool-call"))
        assert hashlib.sha256(response.body).hexdigest().startswith("2018feb66ae1")
    assert served.process.returncode == 0, served.err


def test_the_shipped_folder_is_tidy() -> None:
    # Every file is a recording written the way the recorder writes them (diff-friendly).
    for path in FIXTURES.glob("*.json"):
        assert load_recording(path).dumps() == path.read_text(), path
    assert sorted(p.name for p in FIXTURES.iterdir()) == [
        "openai-refusal.json",
        "openai-text-usage.json",
        "openai-tool-call.json",
    ]
