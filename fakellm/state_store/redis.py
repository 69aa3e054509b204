"""The shared state store: Redis (``fakellm serve --state redis://host:6379/0``), for many worker
processes and hosts behind one load balancer. Every key is under ``fakellm:<namespace>:``.

What costs a round trip, and when (never one per chunk):

- Each request to a streaming route asks the script's version, and takes the next scenario of a
  scripted sequence, in one Lua call (``current``); the script itself is read only when its
  version moved. A request carrying faults with ``times`` or a ``probability`` counts them in one
  more Lua call before planning (``reserve``): atomic across processes, so ``times: 1`` fires once
  in all. A resumable stream's record is written before its first byte (a client may reconnect
  to another process as soon as it has an event id).
- Journal entries, stored responses and internal errors are not waited for: a background task
  writes what has gathered in one pipeline, at once when idle and as a batch under load. An
  entry is copied out at its stream's open and when its request is over; it is read as JSON
  (``JournalEntry.as_dict`` and the process's ``worker`` id), never as the live object.

Deliberate choices:

- **Values are pickles** of fakellm's own objects (scenarios, requests, faults: what a resume
  plans again), tagged with fakellm's version; a value of another version is refused rather
  than half read. Point ``--state`` only at a Redis you trust with code, as you would a pytest
  worker. (A wire format is pickled as its name: the formats are singletons compared by
  identity.)
- **Bounds as the memory stores have them**: the journal ``journal_size`` entries and its bodies'
  budget in bytes, resume records ``resume_max`` and 16 MiB and ``resume_ttl_s``, stored responses
  1000 and 16 MiB, the newest 100 internal errors, header fault scopes 1024 (least recently used
  first); trimmed in the same Lua call that adds. Every key expires a day after its last write.
- **Redis away**: a request that needs it is answered 503 in its format's shape
  (:class:`~fakellm.state_store.base.StateUnavailable`) and logged once per outage, not per
  request; journal writes wait in a bounded buffer (``journal_size`` entries: the journal keeps no
  more) and go out when Redis is back. A Redis that came back empty (restarted without
  persistence) is noticed by a per-process marker key, and each process writes its whole journal
  again; the script, counters and resume records of before are gone with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import logging
import pickle
import secrets
import threading
import time
from collections.abc import Iterator, Sequence
from importlib.metadata import version as _dist_version
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import redis
import redis.asyncio as aredis
from redis.exceptions import RedisError

from ..config import ServerConfig
from ..faults import Fault
from ..journal import BODIES_BUDGET_BYTES, Journal, JournalEntry
from ..observe import NO_WATCH, Answered, StreamWatch
from ..pipeline import FaultCounter, FaultCounters
from ..resume import MemoryResumeStore, ResumeRecord
from ..scenario import Scenario
from ..store import ResponseStore
from ..wire import format_named
from .base import Script, StateUnavailable

__all__ = ["RedisStateStore", "dumps", "loads", "shown_url"]

log = logging.getLogger("fakellm")

KEY_TTL_S = 24 * 3600  # every key expires a day after its last write (an abandoned namespace goes)
MAX_ERRORS = 100
MAX_HEADER_SCOPES = FaultCounters.MAX_HEADER_SCOPES
RESPONSES_MAX = ResponseStore.MAX_ENTRIES
RESPONSES_MAX_BYTES = ResponseStore.MAX_BYTES
RESUME_MAX_BYTES = MemoryResumeStore.MAX_BYTES
# The budget of the shared journal's JSON: the bodies' budget of one journal, and room for the
# rest of each entry.
JOURNAL_BYTES_PER_ENTRY = 8 * 1024
SOCKET_TIMEOUT_S = 2.0  # a Redis that hangs is as good as away: the request is answered 503
RETRY_S = (0.1, 0.25, 0.5, 1.0)  # the writer's waits between tries while Redis is away

try:
    _VERSION = _dist_version("fakellm").encode()
except Exception:  # pragma: no cover - run from a checkout that is not installed
    _VERSION = b"0"
_TAG = b"fakellm " + _VERSION + b"\n"


# --------------------------------------------------------------------------------------------------
# Values


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj: Any) -> Any:
        name = getattr(obj, "name", None)
        if isinstance(name, str) and hasattr(obj, "open_stream") and format_named(name) is obj:
            return ("wire", name)
        return None


class _Unpickler(pickle.Unpickler):
    def persistent_load(self, pid: Any) -> Any:
        if isinstance(pid, tuple) and len(pid) == 2 and pid[0] == "wire":
            fmt = format_named(pid[1])
            if fmt is not None:
                return fmt
        raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")


def dumps(value: Any) -> bytes:
    """``value`` as the store keeps it: tagged with fakellm's version."""
    out = io.BytesIO()
    out.write(_TAG)
    _Pickler(out, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    return out.getvalue()


def loads(data: bytes) -> Any:
    """A value :func:`dumps` wrote (a ValueError for one of another fakellm version)."""
    if not data.startswith(_TAG):
        found = data.split(b"\n", 1)[0][:40].decode("latin-1")
        raise ValueError(f"a value written by {found!r}, not by fakellm {_VERSION.decode()}")
    return _Unpickler(io.BytesIO(data[len(_TAG) :])).load()


def shown_url(url: str) -> str:
    """``url`` without its password (for messages and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


# --------------------------------------------------------------------------------------------------
# Lua: each one call, atomic

# Add a value to a bounded collection: KEYS order (zset by score), data (hash), bytes (counter),
# and more hashes whose field ``id`` goes with it. ARGV: id, score, value, max entries, max bytes,
# the lowest score kept (older ones expire), key TTL.
_BOUNDED_PUT = """
local id, value = ARGV[1], ARGV[3]
local old = redis.call('HSTRLEN', KEYS[2], id)
redis.call('HSET', KEYS[2], id, value)
if not redis.call('ZSCORE', KEYS[1], id) then redis.call('ZADD', KEYS[1], ARGV[2], id) end
local bytes = redis.call('INCRBY', KEYS[3], string.len(value) - old)
local function drop(gone)
  bytes = redis.call('DECRBY', KEYS[3], redis.call('HSTRLEN', KEYS[2], gone))
  redis.call('HDEL', KEYS[2], gone)
  redis.call('ZREM', KEYS[1], gone)
  for i = 4, #KEYS do redis.call('HDEL', KEYS[i], gone) end
end
for _, gone in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[6])) do drop(gone) end
while redis.call('ZCARD', KEYS[1]) > tonumber(ARGV[4]) or bytes > tonumber(ARGV[5]) do
  local first = redis.call('ZRANGE', KEYS[1], 0, 0)
  if #first == 0 then break end
  drop(first[1])
end
for i = 1, #KEYS do redis.call('EXPIRE', KEYS[i], ARGV[7]) end
return bytes
"""

# The script's version and, when it is not ARGV[1], its value; with ARGV[2] == '1' the next
# scenario of a sequence. KEYS: script (hash), sequence (list).
_CURRENT = """
local v = redis.call('HGET', KEYS[1], 'version') or '0'
local blob = false
if v ~= ARGV[1] then blob = redis.call('HGET', KEYS[1], 'value') or false end
local popped = false
if ARGV[2] == '1' then popped = redis.call('LPOP', KEYS[2]) or false end
return {v, blob, popped}
"""

# A new script: its version. KEYS: script, sequence. ARGV: key TTL, value, the sequence's items.
_PUBLISH = """
local v = redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('HSET', KEYS[1], 'value', ARGV[2])
redis.call('DEL', KEYS[2])
for i = 3, #ARGV do redis.call('RPUSH', KEYS[2], ARGV[i]) end
redis.call('EXPIRE', KEYS[1], ARGV[1])
if #ARGV > 2 then redis.call('EXPIRE', KEYS[2], ARGV[1]) end
return v
"""

# Count faults: each (scope, field) pair of ARGV from 4 on, in the hash <KEYS[1]>c:<version>:<scope>;
# the numbers before counting. Header scopes are kept in a least-recently-used set, the oldest
# forgotten past ARGV[2]. ARGV: version, max header scopes, key TTL, pairs...
_TAKE = """
local out = {}
local base = KEYS[1] .. 'c:' .. ARGV[1] .. ':'
local lru, clock = KEYS[1] .. 'cscopes:' .. ARGV[1], KEYS[1] .. 'cclock'
for i = 4, #ARGV, 2 do
  local scope = ARGV[i]
  local key = base .. scope
  out[#out + 1] = redis.call('HINCRBY', key, ARGV[i + 1], 1) - 1
  redis.call('EXPIRE', key, ARGV[3])
  if string.sub(scope, 1, 6) == 'header' then
    redis.call('ZADD', lru, redis.call('INCR', clock), scope)
    while redis.call('ZCARD', lru) > tonumber(ARGV[2]) do
      local oldest = redis.call('ZPOPMIN', lru)
      redis.call('DEL', base .. oldest[1])
    end
    redis.call('EXPIRE', lru, ARGV[3])
    redis.call('EXPIRE', clock, ARGV[3])
  end
end
return out
"""


class _Link:
    """The store's connections: a synchronous client for the calls made from any thread
    (``script()``, ``reset()``), and an asyncio one for the serving loop (made in the loop that
    first uses it: a redis.asyncio client belongs to one loop). Turns every Redis failure into
    :class:`StateUnavailable`, and logs an outage once, and its end."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.shown = shown_url(url)
        self.sync = redis.Redis.from_url(
            url, socket_timeout=SOCKET_TIMEOUT_S, socket_connect_timeout=SOCKET_TIMEOUT_S
        )
        self._async: aredis.Redis | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._down = False
        self._lock = threading.Lock()

    def client(self) -> aredis.Redis:
        loop = asyncio.get_running_loop()
        if self._async is None or self._loop is not loop:
            self._async = aredis.Redis.from_url(
                self.url, socket_timeout=SOCKET_TIMEOUT_S, socket_connect_timeout=SOCKET_TIMEOUT_S
            )
            self._loop = loop
        return self._async

    @contextlib.contextmanager
    def reached(self) -> Iterator[None]:
        """Around a call to Redis: its failure becomes :class:`StateUnavailable` (``failed``)."""
        try:
            yield
        except RedisError as error:
            raise self.failed(error) from error

    def failed(self, error: BaseException) -> StateUnavailable:
        with self._lock:
            first, self._down = not self._down, True
        if first:
            log.error("fakellm: the state store %s is unavailable: %s", self.shown, error)
        return StateUnavailable(self.shown, error)

    def worked(self) -> None:
        if self._down:
            with self._lock:
                back, self._down = self._down, False
            if back:
                log.warning("fakellm: the state store %s is back", self.shown)

    async def close(self) -> None:
        if self._async is not None and self._loop is asyncio.get_running_loop():
            with contextlib.suppress(RedisError, RuntimeError):
                await self._async.aclose()
        self._async = None
        self.sync.close()


# --------------------------------------------------------------------------------------------------
# The parts


class RedisScript:
    def __init__(self, link: _Link, prefix: str) -> None:
        self._link = link
        self._keys = [f"{prefix}script", f"{prefix}sequence"]

    def publish(self, script: Script) -> int:
        items = [dumps(s) for s in script.scenarios] if script.sequence else []
        with self._link.reached():
            result = self._link.sync.eval(_PUBLISH, 2, *self._keys, KEY_TTL_S, dumps(script), *items)
        self._link.worked()
        return int(result)

    async def current(self, known: int, pop: bool) -> tuple[int, Script | None, Scenario | None]:
        with self._link.reached():
            raw = await self._link.client().eval(_CURRENT, 2, *self._keys, str(known), "1" if pop else "0")
        self._link.worked()
        version = int(raw[0])
        changed: Script | None = None
        if version != known:
            # No value: Redis has no script (never set, or it came back empty): the base book.
            changed = loads(raw[1]) if raw[1] else Script()
        popped = loads(raw[2]) if raw[2] else None
        return version, changed, popped

    def left(self) -> list[Scenario]:
        with self._link.reached():
            items = self._link.sync.lrange(self._keys[1], 0, -1)
        return [loads(cast(bytes, item)) for item in cast(list[Any], items)]


def _field(index: int, fault: Fault) -> str:
    # A fault's own counter is its place in its source and its settings (as FaultCounters keys
    # on (index, fault)): stable across processes, as repr of the frozen settings is.
    return f"{index}:{hashlib.sha1(repr(fault).encode()).hexdigest()[:16]}"


class _Reserved:
    """The numbers counted before planning, handed to it as ``FaultCounter.take`` asks."""

    __slots__ = ("_numbers",)

    def __init__(self, numbers: dict[tuple[str, int, Fault], int]) -> None:
        self._numbers = numbers

    def take(self, scope: str, index: int, fault: Fault) -> int | None:
        # A fault not counted has no times and no probability: its number is never looked at.
        count = self._numbers.get((scope, index, fault), 0)
        return count if fault.times is None or count < fault.times else None


class RedisCounters:
    def __init__(self, link: _Link, prefix: str) -> None:
        self._link = link
        self._prefix = prefix
        self._none = _Reserved({})

    async def reserve(self, version: int, takes: Sequence[tuple[str, int, Fault]]) -> FaultCounter:
        if not takes:
            return self._none
        pairs: list[str] = []
        for scope, index, fault in takes:
            pairs += [scope, _field(index, fault)]
        with self._link.reached():
            counts = await self._link.client().eval(
                _TAKE, 1, self._prefix, str(version), MAX_HEADER_SCOPES, KEY_TTL_S, *pairs
            )
        self._link.worked()
        return _Reserved({take: int(n) for take, n in zip(takes, counts, strict=True)})

    def clear(self) -> None:
        pass  # a new script's version starts every count again; the old counts expire


class RedisResumeStore:
    """Resume records, shared. A record is read from Redis each time it is asked for (another
    process may have added an attempt or a cancel); ``cancelled_after`` answers from what this
    process last read or did, as a background stream asks it at every frame."""

    def __init__(self, link: _Link, prefix: str, config: ServerConfig) -> None:
        self._link = link
        self.max_entries = config.resume_max
        self.max_bytes = RESUME_MAX_BYTES
        self.ttl_s = config.resume_ttl_s
        self._keys = [f"{prefix}r:order", f"{prefix}r:data", f"{prefix}r:bytes", f"{prefix}r:cancel"]
        self._attempts = f"{prefix}r:attempts:"
        self._cancels: dict[str, float] = {}

    async def put(self, record: ResumeRecord) -> None:
        data = dumps(record)
        if len(data) > self.max_bytes:
            return  # kept, it would push out every other one
        args = (record.id, record.started, data, self.max_entries, self.max_bytes)
        with self._link.reached():
            await self._link.client().eval(
                _BOUNDED_PUT, 4, *self._keys, *args, time.time() - self.ttl_s, KEY_TTL_S
            )
        self._link.worked()

    async def get(self, id: str) -> ResumeRecord | None:
        with self._link.reached():
            async with self._link.client().pipeline(transaction=False) as pipe:
                pipe.hget(self._keys[1], id)
                pipe.hget(self._keys[3], id)
                pipe.lrange(self._attempts + id, 0, -1)
                data, cancelled, attempts = await pipe.execute()
        self._link.worked()
        if data is None:
            return None
        record: ResumeRecord = loads(data)
        if time.time() - record.started > self.ttl_s:
            return None
        record.attempts = [int(a) for a in attempts]
        if cancelled is not None:
            record.cancelled_after_s = float(cancelled)
            self._cancels[id] = record.cancelled_after_s
        return record

    async def attempt(self, id: str, journal_index: int) -> None:
        key = self._attempts + id
        with self._link.reached():
            async with self._link.client().pipeline(transaction=False) as pipe:
                pipe.rpush(key, journal_index)
                pipe.expire(key, max(1, int(self.ttl_s) + 1))
                await pipe.execute()
        self._link.worked()

    async def cancel(self, id: str, after_s: float) -> ResumeRecord | None:
        with self._link.reached():
            if await self._link.client().hexists(self._keys[1], id):
                await self._link.client().hsetnx(self._keys[3], id, repr(after_s))
        return await self.get(id)

    def cancelled_after(self, id: str) -> float | None:
        return self._cancels.get(id)

    def clear(self) -> None:
        self._cancels.clear()
        with self._link.reached():
            attempts = list(self._link.sync.scan_iter(match=self._attempts + "*", count=1000))
            self._link.sync.delete(*self._keys, *attempts)

    def __len__(self) -> int:
        with self._link.reached():
            return int(self._link.sync.zcard(self._keys[0]))


class _Writer:
    """Journal entries, stored responses and internal errors, written off the request path: a
    task on the serving loop sends what has gathered in one pipeline, and while Redis is away
    keeps it (bounded) and tries again."""

    def __init__(self, link: _Link, prefix: str, config: ServerConfig, journal: Journal) -> None:
        self._link = link
        self._local = journal
        self.worker = secrets.token_hex(4)
        self._marker = f"{prefix}worker:{self.worker}"
        self.journal_keys = [f"{prefix}j:order", f"{prefix}j:data", f"{prefix}j:bytes"]
        self.response_keys = [f"{prefix}resp:order", f"{prefix}resp:data", f"{prefix}resp:bytes"]
        self.errors_key = f"{prefix}errors"
        self.max_entries = config.journal_size
        self.max_bytes = BODIES_BUDGET_BYTES + config.journal_size * JOURNAL_BYTES_PER_ENTRY
        self._entries: dict[int, JournalEntry] = {}  # id(entry) -> entry, to write as it is then
        self._responses: dict[str, bytes] = {}
        self._errors: list[str] = []
        self._written = False  # whether this process has written to Redis before (its marker)
        self._floor = 0  # journal entries below this index were reset away: never written again
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = threading.Lock()  # internal errors come from any thread
        self._drain_lock: asyncio.Lock | None = None

    # -- what to write -------------------------------------------------------------------------
    def entry(self, entry: JournalEntry) -> None:
        with self._lock:
            self._entries.pop(id(entry), None)
            self._entries[id(entry)] = entry
            while len(self._entries) > self.max_entries:  # the journal keeps no more than these
                del self._entries[next(iter(self._entries))]
        self._poke()

    def response(self, id: str, response: dict[str, Any]) -> None:
        data = json.dumps(response, separators=(",", ":")).encode()
        if len(data) > RESPONSES_MAX_BYTES:
            return
        with self._lock:
            self._responses[id] = data
            while len(self._responses) > RESPONSES_MAX:
                del self._responses[next(iter(self._responses))]
        self._poke()

    def error(self, text: str) -> None:
        with self._lock:
            self._errors = [*self._errors, text][-MAX_ERRORS:]
        self._poke()

    def forget_journal(self) -> None:
        """The journal was reset: what this process journaled before is not written again."""
        with self._lock:
            self._entries.clear()
            self._floor = self._local.next_index

    def _poke(self) -> None:
        wake = self._wake
        if wake is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: close() wrote what it could
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            loop = self._task.get_loop() if self._task is not None else None
            if loop is None or running is loop:
                wake.set()
            else:
                loop.call_soon_threadsafe(wake.set)

    # -- writing -------------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()
            self._drain_lock = asyncio.Lock()
            self._task = asyncio.get_running_loop().create_task(self._run(), name="fakellm-state-writer")
            self._wake.set()

    async def _run(self) -> None:
        assert self._wake is not None
        tries = 0
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.drain()
                tries = 0
            except StateUnavailable:
                await asyncio.sleep(RETRY_S[min(tries, len(RETRY_S) - 1)])
                tries += 1
                self._wake.set()

    async def drain(self) -> None:
        """Write what has gathered now (:class:`StateUnavailable` if Redis is away: it stays)."""
        if self._drain_lock is None:
            self.start()
        assert self._drain_lock is not None
        async with self._drain_lock:
            with self._lock:
                entries, self._entries = self._entries, {}
                responses, self._responses = self._responses, {}
                errors, self._errors = self._errors, []
            try:
                lost = await self._write(list(entries.values()), responses, errors)
            except RedisError as error:
                with self._lock:  # kept, in order, before anything that came meanwhile
                    self._entries = {**entries, **self._entries}
                    self._responses = {**responses, **self._responses}
                    self._errors = [*errors, *self._errors][-MAX_ERRORS:]
                raise self._link.failed(error) from error
            self._link.worked()
            if lost:
                # Redis came back empty (restarted without persistence): this process's
                # journal goes to it again, whole.
                log.warning(
                    "fakellm: the state store %s lost its data; journal written again", self._link.shown
                )
                for entry in self._local.entries():
                    if entry.index >= self._floor:
                        self.entry(entry)

    async def _write(
        self, entries: list[JournalEntry], responses: dict[str, bytes], errors: list[str]
    ) -> bool:
        """One pipeline; whether Redis had lost this process's marker (its data) since the last."""
        if not entries and not responses and not errors and self._written:
            return False
        client = self._link.client()
        now = time.time()
        async with client.pipeline(transaction=False) as pipe:
            pipe.set(self._marker, b"1", nx=True, ex=KEY_TTL_S)
            pipe.expire(self._marker, KEY_TTL_S)
            for entry in entries:
                if entry.index < self._floor:
                    continue
                row = entry.as_dict()
                row["worker"] = self.worker
                data = json.dumps(row, separators=(",", ":"), default=str)
                member = f"{self.worker}:{entry.index:012d}"
                pipe.eval(
                    _BOUNDED_PUT, 3, *self.journal_keys, member, entry.time, data,
                    self.max_entries, self.max_bytes, now - KEY_TTL_S, KEY_TTL_S,
                )  # fmt: skip
            for rid, data_bytes in responses.items():
                pipe.eval(
                    _BOUNDED_PUT, 3, *self.response_keys, rid, now, data_bytes,
                    RESPONSES_MAX, RESPONSES_MAX_BYTES, now - KEY_TTL_S, KEY_TTL_S,
                )  # fmt: skip
            if errors:
                pipe.rpush(self.errors_key, *errors)
                pipe.ltrim(self.errors_key, -MAX_ERRORS, -1)
                pipe.expire(self.errors_key, KEY_TTL_S)
            results = await pipe.execute()
        lost = bool(results[0]) and self._written
        self._written = True
        return lost

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(StateUnavailable):
            if self._drain_lock is not None:
                await asyncio.wait_for(self.drain(), SOCKET_TIMEOUT_S)


class _JournalCopier:
    """The observer that copies a journal entry out at its stream's open and its request's end
    (``observe.py``: the seam a shared store was meant to be on)."""

    def __init__(self, writer: _Writer) -> None:
        self._writer = writer

    def opened(self, entry: JournalEntry) -> StreamWatch:
        self._writer.entry(entry)
        return NO_WATCH

    def upstream(self, entry: JournalEntry) -> StreamWatch:
        return NO_WATCH

    def answered(self, answer: Answered) -> None:
        if answer.entry is not None:
            self._writer.entry(answer.entry)


class RedisJournal:
    def __init__(self, link: _Link, writer: _Writer) -> None:
        self._link = link
        self._writer = writer
        self.observer = _JournalCopier(writer)

    async def entries(self, journal: Journal, limit: int | None) -> list[dict[str, Any]]:
        journal.entries()  # this process's streams that are settling, settled first
        await self._writer.drain()
        order, data, _ = self._writer.journal_keys
        start = 0 if limit is None else -limit
        with self._link.reached():
            members = cast(list[bytes], await self._link.client().zrange(order, start, -1))
            rows = cast(list[bytes | None], await self._link.client().hmget(data, members) if members else [])
        return [json.loads(row) for row in rows if row is not None]

    def clear(self, journal: Journal) -> None:
        journal.clear()
        self._writer.forget_journal()
        with self._link.reached():
            self._link.sync.delete(*self._writer.journal_keys)


class RedisResponses:
    """Stored responses: this process's own answered from memory, the others' from Redis."""

    def __init__(self, link: _Link, writer: _Writer) -> None:
        self._link = link
        self._writer = writer
        self._own = ResponseStore()

    def put(self, id: str, response: dict[str, Any]) -> None:
        self._own.put(id, response)
        self._writer.response(id, response)

    async def get(self, id: str) -> dict[str, Any] | None:
        own = self._own.get(id)
        if own is not None:
            return own
        with self._link.reached():
            data = await self._link.client().hget(self._writer.response_keys[1], id)
        return None if data is None else dict(json.loads(data))

    def clear(self) -> None:
        self._own.clear()
        with self._link.reached():
            self._link.sync.delete(*self._writer.response_keys)


class RedisErrors:
    def __init__(self, link: _Link, writer: _Writer) -> None:
        self._link = link
        self._writer = writer

    def add(self, text: str) -> None:
        self._writer.error(text)

    async def all(self) -> list[str]:
        await self._writer.drain()
        with self._link.reached():
            texts = await self._link.client().lrange(self._writer.errors_key, 0, -1)
        return [cast(bytes, t).decode("utf-8", "replace") for t in texts]

    def clear(self) -> None:
        with self._link.reached():
            self._link.sync.delete(self._writer.errors_key)


class RedisStateStore:
    """Every part on one Redis, under ``fakellm:<namespace>:``. Made from its URL alone, so a
    fresh process (a worker) joins the others by its config."""

    def __init__(self, url: str, config: ServerConfig, journal: Journal, namespace: str = "") -> None:
        self._link = _Link(url)
        self.shown = self._link.shown
        prefix = f"fakellm:{namespace}:"
        self.writer = _Writer(self._link, prefix, config, journal)
        self.script = RedisScript(self._link, prefix)
        self.counters = RedisCounters(self._link, prefix)
        self.journal = RedisJournal(self._link, self.writer)
        self.resumable = RedisResumeStore(self._link, prefix, config)
        self.responses = RedisResponses(self._link, self.writer)
        self.errors = RedisErrors(self._link, self.writer)

    @property
    def worker(self) -> str:
        """This process's id in the shared journal (each entry's ``worker``)."""
        return self.writer.worker

    async def start(self) -> None:
        self.writer.start()

    async def close(self) -> None:
        await self.writer.close()
        await self._link.close()
