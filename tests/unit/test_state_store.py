"""The state stores' parts (``fakellm/state_store``), the Redis ones against a real redis-server
(the ``redis_url`` fixture): two stores on one URL stand for two processes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from fakellm import Scenario, ServerConfig
from fakellm.config import check_state_url
from fakellm.content import FixedText
from fakellm.faults import parse_fault_spec
from fakellm.journal import Journal
from fakellm.pipeline import plan_stream
from fakellm.resume import RECORD_OVERHEAD_BYTES, ResumeRecord, keep
from fakellm.scenario import Timing
from fakellm.state import ServerState
from fakellm.state_store import MemoryStateStore, RedisStateStore, Script, StateUnavailable
from fakellm.state_store.redis import dumps, loads, shown_url
from fakellm.wire.openai import CHAT
from fakellm.wire.openai_responses import RESPONSES

T = TypeVar("T")
REQUEST = CHAT.parse_request(b'{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}', {})


def _store(url: str, **config: Any) -> RedisStateStore:
    return RedisStateStore(url, ServerConfig(**config), Journal())


def _run(coroutine: Coroutine[Any, Any, T], *stores: RedisStateStore | ServerState) -> T:
    """``coroutine`` on one loop, then the stores closed on it (their clients belong to it)."""

    async def run() -> T:
        try:
            return await coroutine
        finally:
            for store in stores:
                await store.close()

    return asyncio.run(run())


def _record(id: str, *, started: float | None = None, size: int = 0) -> ResumeRecord:
    return ResumeRecord(
        id=id,
        path=CHAT.path,
        request=REQUEST,
        scenario=Scenario(name="s", content=FixedText("hi")),
        seed=1,
        timing=Timing(),
        created=None,
        arrived=0.0,
        started=time.time() if started is None else started,
        size=size,
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("localhost:6379", "is not a state store"),
        ("http://h/0", "is not a state store"),
        ("redis://h:x/0", "the port is not a number"),
        ("redis:///0", "names no host"),
        ("redis://h/db", "the database is a number"),
        ("unix://", "names no socket"),
    ],
)
def test_a_bad_state_url_says_what_is_wrong(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_state_url(url)
    with pytest.raises(ValueError, match=message):
        ServerConfig(state_url=url)


def test_good_state_urls_and_a_password_never_shown() -> None:
    for url in ("memory", "redis://h:6379/0", "rediss://u:p@h:6380/2", "unix:///run/r.sock", "redis://h"):
        assert check_state_url(url) == url
    assert shown_url("redis://user:secret@h:6379/0") == "redis://user:***@h:6379/0"
    assert shown_url("redis://:secret@h/0") == "redis://:***@h/0"
    assert "secret" not in StateUnavailable(shown_url("redis://:secret@h/0"), OSError("refused")).message


def test_values_keep_the_wire_formats_identity_and_refuse_another_version() -> None:
    plan = plan_stream(REQUEST, Scenario(name="s", content=FixedText("hi")), format=CHAT)
    record = keep(plan, plan.scenario, path=CHAT.path, arrived=0.0, now=0.0, body_bytes=10)
    back = loads(dumps({"fmt": RESPONSES, "record": record}))
    assert back["fmt"] is RESPONSES and back["record"].request.body == record.request.body
    with pytest.raises(ValueError, match="not by fakellm"):
        loads(b"fakellm 0.0.0-other\n" + dumps(1).split(b"\n", 1)[1])


def test_the_memory_script_pops_a_sequence_once_and_tells_a_new_version() -> None:
    store = MemoryStateStore(ServerConfig())
    one, two = (Scenario(name=n, content=FixedText(n)) for n in ("one", "two"))
    version = store.script.publish(Script((one, two), sequence=True))
    assert asyncio.run(store.script.current(version, pop=False)) == (version, None, None)
    seen = asyncio.run(store.script.current(0, pop=True))
    assert seen[0] == version and seen[1] is not None and seen[2] == one
    assert store.script.left() == [two]


def test_two_redis_stores_share_the_script_and_take_a_sequence_once(redis_url: str) -> None:
    a, b = _store(redis_url), _store(redis_url)
    scenarios = tuple(Scenario(name=f"s{i}", content=FixedText(f"text {i}")) for i in range(3))
    version = a.script.publish(Script(scenarios, sequence=True))

    async def take_all() -> list[str]:
        taken = await asyncio.gather(*(s.script.current(0, pop=True) for s in (a, b, a, b)))
        assert all(v == version and changed is not None and changed.sequence for v, changed, _ in taken)
        return sorted(p.name for _, _, p in taken if p is not None)

    async def then() -> tuple[list[str], tuple[int, Any, Any]]:
        return await take_all(), await b.script.current(version, pop=False)

    assert _run(then(), a, b) == (["s0", "s1", "s2"], (version, None, None))
    assert b.script.left() == []


def test_redis_times_1_is_taken_once_among_concurrent_reserves(redis_url: str) -> None:
    a, b = _store(redis_url), _store(redis_url)
    fault = parse_fault_spec("http_error 503 times=1")[0]
    takes = [("scenario:x", 0, fault)]

    async def reserve_many() -> list[int | None]:
        counters = await asyncio.gather(*(s.counters.reserve(1, takes) for s in (a, b) * 10))
        return [c.take("scenario:x", 0, fault) for c in counters]

    async def then() -> tuple[list[int | None], int | None]:
        # A new script's version counts again.
        return await reserve_many(), (await a.counters.reserve(2, takes)).take("scenario:x", 0, fault)

    numbers, again = _run(then(), a, b)
    assert numbers.count(0) == 1 and numbers.count(None) == 19 and again == 0


def test_redis_resume_records_are_bounded_in_count_bytes_and_time(redis_url: str) -> None:
    store = _store(redis_url, resume_max=2, resume_ttl_s=60)

    async def run() -> None:
        for id in "abc":
            await store.resumable.put(_record(id))
        assert [await store.resumable.get(id) is not None for id in "abc"] == [False, True, True]
        assert len(store.resumable) == 2
        await store.resumable.put(_record("old", started=time.time() - 61))
        assert await store.resumable.get("old") is None
        store.resumable.max_bytes = 3 * len(dumps(_record("x")))
        store.resumable.max_entries = 100
        for id in "defg":
            await store.resumable.put(_record(id))
        assert await store.resumable.get("d") is None and await store.resumable.get("g") is not None

    _run(run(), store)


def test_redis_attempts_and_the_first_cancel_are_seen_from_another_store(redis_url: str) -> None:
    a, b = _store(redis_url), _store(redis_url)

    async def run() -> None:
        await a.resumable.put(_record("s", size=RECORD_OVERHEAD_BYTES))
        await a.resumable.attempt("s", 3)
        await b.resumable.attempt("s", 0)
        assert await b.resumable.cancel("s", 1.5) is not None
        record = await a.resumable.cancel("s", 9.0)
        assert record is not None and record.cancelled_after_s == 1.5 and record.attempts == [3, 0]
        assert a.resumable.cancelled_after("s") == 1.5 and await a.resumable.cancel("nope", 1) is None
        a.resumable.clear()
        assert await b.resumable.get("s") is None

    _run(run(), a, b)


def test_a_redis_that_is_away_is_state_unavailable_naming_it() -> None:
    store = _store("redis://127.0.0.1:9/0")  # the discard port: nothing listens
    with pytest.raises(StateUnavailable) as raised:
        _run(store.script.current(0, pop=True), store)
    assert raised.value.status == 503 and "redis://127.0.0.1:9/0" in raised.value.message
    with pytest.raises(StateUnavailable):
        ServerState(ServerConfig(), store=store).script([])


def test_the_server_state_takes_a_namespace_for_its_keys(redis_url: str) -> None:
    one = ServerState(ServerConfig(state_url=redis_url), namespace="one")
    other = ServerState(ServerConfig(state_url=redis_url), namespace="other")
    one.script([Scenario(name="only-one", content=FixedText("x"))])

    async def refresh() -> None:
        await one.refresh()
        await other.refresh()

    _run(refresh(), one, other)
    assert "only-one" in one.book.names() and "only-one" not in other.book.names()
