"""plan_stream: how faults from each source are counted for ``times``, and the default rule."""

from __future__ import annotations

from fakellm import HttpError, Scenario
from fakellm.content import FixedText
from fakellm.pipeline import FaultCounters, plan_stream
from fakellm.scenario import ScenarioBook
from fakellm.wire.openai import parse_chat_request

REQUEST = parse_chat_request(b'{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}')


def _errors(counters: FaultCounters, *, header: list[HttpError], scope: str) -> int | None:
    plan = plan_stream(
        REQUEST,
        Scenario(name="s", content=FixedText("x")),
        server_seed=1,
        global_faults=[HttpError(status=503, times=1)],
        extra_faults=header,
        extra_scope=scope,
        counters=counters,
    )
    return plan.http_error.status if plan.http_error is not None else None


def test_times_counts_each_fault_source_separately() -> None:
    counters = FaultCounters()
    header = [HttpError(status=429, times=1)]
    # The server-wide fault fires once, whichever header the request carries...
    assert _errors(counters, header=[], scope="header:") == 503
    assert _errors(counters, header=[], scope="header:") is None
    # ...and a header's own fault has its own count.
    assert _errors(counters, header=header, scope="header:http_error 429 times=1") == 429
    assert _errors(counters, header=header, scope="header:http_error 429 times=1") is None


def test_an_explicit_default_wins_over_a_loaded_scenario_named_default() -> None:
    loaded = Scenario(name="default", content=FixedText("from the file"))
    scripted = Scenario(name="default", content=FixedText("scripted"))
    book = ScenarioBook([loaded], default=scripted)
    assert book.select(None, "gpt-4o", "hi") is scripted
