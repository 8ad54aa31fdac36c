"""The directory in Redis, shared by every replica, with a small local cache in front.

Key ``<prefix><ref>``, a hash with the fields ``e`` (email), ``p`` (phone), ``m`` (mobile),
``u`` (unique_external_id) and ``a`` (the ref it aliases); a PX TTL of ``ttl_s``, re-armed by
every Link that names the ref. A Link is an HSET of the fields it knows, so Redis itself merges
(a later phone joins the email, a later email replaces the old one) and two replicas learning
different fields of one customer never overwrite each other.

Round trips, all on the poll thread (the sync client; its one connection belongs to that thread):

- ``learn`` buffers; ``flush`` writes the buffer in one round trip (a Lua script: HSET + PEXPIRE
  per Link, returning the merged records so the cache holds them). Call it once per poll batch.
- ``resolve`` flushes first if anything is buffered (reads see this process's writes), then walks
  the chain in the cache; only if a ref on it is not cached does it make **one** round trip: a
  Lua script that walks every ref's chain in Redis and returns the records it read. Unresolved
  refs are not cached, so a Link learned by another replica is seen by the next resolve; records
  found are cached ``cache_ttl_s`` (how stale another replica's update may look here).

The script reads keys it computes (the next hop of a chain), which standalone and Sentinel Redis
allow (the ledger's deployment) and Redis Cluster does not promise.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any

import orjson

from consumer._redis import Scrubber, connect, redact_url
from consumer.contacts.directory._api import DirectoryUnavailable
from consumer.contacts.directory._expiring import ExpiringRecords
from consumer.contacts.directory._record import MAX_DEPTH, Record, Resolution, record_of, walk
from transforms.activity import Contact, Link

# One EVALSHA per flush, the buffered Links as one JSON argument ([[ref, e, p, m, u, a], …],
# "" for absent): HSET what each Link knows, re-arm its TTL, and answer the merged records
# ([[e, p, m, u, a], …]) for the cache, as one JSON string. JSON rather than 6 arguments and 5
# replies per Link: redis-py packs and parses every argument and reply in Python (measured:
# ~100 µs per Link that way, bench/directory_cost.py).
_LEARN = """
local names, ttl, out = {'e', 'p', 'm', 'u', 'a'}, ARGV[2], {}
for i, link in ipairs(cjson.decode(ARGV[3])) do
  local key, args = ARGV[1] .. link[1], {}
  for j = 1, 5 do
    if link[j + 1] ~= '' then args[#args + 1] = names[j]; args[#args + 1] = link[j + 1] end
  end
  redis.call('HSET', key, unpack(args))
  redis.call('PEXPIRE', key, ttl)
  local h = redis.call('HMGET', key, 'e', 'p', 'm', 'u', 'a')
  out[i] = {h[1] or '', h[2] or '', h[3] or '', h[4] or '', h[5] or ''}
end
return cjson.encode(out)
"""

# Mirrors _record.walk: each ref's chain, cycle-safe, MAX_DEPTH hops; stops after the first chain
# that holds an identifier (first ref that resolves wins). Answers the records it found as one
# JSON string, [[ref, e, p, m, u, a], …] ("" for an absent field): as for _LEARN, one bulk reply
# costs redis-py far less to parse than six per record.
_WALK = """
local prefix, depth = ARGV[1], tonumber(ARGV[2])
local out = {}
for i = 3, #ARGV do
  local ref, seen, n, found = ARGV[i], {}, 0, false
  while ref and not seen[ref] and n < depth do
    seen[ref] = true
    n = n + 1
    local h = redis.call('HMGET', prefix .. ref, 'e', 'p', 'm', 'u', 'a')
    if not (h[1] or h[2] or h[3] or h[4] or h[5]) then break end
    out[#out + 1] = {ref, h[1] or '', h[2] or '', h[3] or '', h[4] or '', h[5] or ''}
    if h[1] or h[2] or h[3] or h[4] then found = true end
    ref = h[5] or nil
  end
  if found then break end
end
if #out == 0 then return '[]' end  -- cjson writes an empty table as {}
return cjson.encode(out)
"""


def _json(reply: bytes) -> Any:
    try:
        return orjson.loads(reply)
    except orjson.JSONDecodeError:
        # a value someone else wrote under our prefix, not UTF-8: must not stop the poll thread
        return orjson.loads(reply.decode("utf-8", errors="replace"))


class RedisDirectory:
    """The directory in Redis (see the module docstring). Owned by the poll thread: its cache,
    its buffer and its one connection are used by no other thread."""

    def __init__(self, url: str, *, prefix: str = "fdac-contacts:", ttl_s: float = 180 * 86400,
                 timeout_s: float = 1.0, cache_entries: int = 100_000, cache_ttl_s: float = 30,
                 max_buffered: int = 250, clock: Callable[[], float] = time.monotonic):
        self.url = redact_url(url)
        self.prefix = prefix
        self.clock = clock
        self.round_trips = 0  # calls to Redis (one a flush batch, one a miss): tests, benchmark
        self._ttl_ms = max(1, round(ttl_s * 1000))
        self._timeout_s = timeout_s
        self._cache = ExpiringRecords(cache_entries, cache_ttl_s)
        self._buffer: list[tuple[str, Record]] = []
        self._max_buffered = max_buffered
        self._down_until = 0.0
        self._scrub = Scrubber(url)
        self._redis: Any = connect(url, timeout_s=timeout_s, setting="contacts url")
        self._walk = self._redis.register_script(_WALK)
        self._learn = self._redis.register_script(_LEARN)

    def __repr__(self) -> str:
        return f"RedisDirectory(url={self.url!r}, prefix={self.prefix!r})"

    def learn(self, links: Iterable[Link]) -> None:
        """Buffer the Links (no I/O) until :meth:`flush`, or until ``max_buffered`` are waiting,
        when this call flushes (and may raise DirectoryUnavailable)."""
        for link in links:
            rec = record_of(link)
            if rec is not None:
                self._buffer.append((link.ref, rec))
        if len(self._buffer) >= self._max_buffered:
            self.flush()

    def flush(self) -> None:
        """Write every buffered Link, ``max_buffered`` a round trip (one Lua call must stay well
        inside ``timeout_s`` and not hold Redis long). On DirectoryUnavailable what was not
        written stays buffered: a message whose Links are not written must not be committed."""
        while self._buffer:
            batch = self._buffer[:self._max_buffered]
            args: list[str | int | bytes] = [
                self.prefix, self._ttl_ms,
                orjson.dumps([(ref, *(v or "" for v in rec.values())) for ref, rec in batch])]
            reply = self._call(f"learn {len(batch)} links", partial(self._learn, args=args))
            del self._buffer[:len(batch)]
            now = self.clock()
            for (ref, _), stored in zip(batch, _json(reply), strict=True):
                self._cache.put(ref, Record(*(v or None for v in stored)), now)

    def resolve(self, refs: Sequence[str]) -> Contact | None:
        return self.lookup(refs).contact

    def lookup(self, refs: Sequence[str]) -> Resolution:
        if not refs:
            return Resolution(None, ())
        self.flush()
        cache, now = self._cache, self.clock()
        missed = False

        def cached(ref: str) -> Record | None:
            nonlocal missed
            rec = cache.get(ref, now)
            missed = missed or rec is None
            return rec

        found = walk(refs, cached)
        if found.contact is not None and not missed:
            return found
        reply = self._call(f"resolve {refs[0]!r}", lambda: self._walk(
            args=[self.prefix, MAX_DEPTH, *refs]))
        fetched: dict[str, Record] = {}
        for ref, *values in _json(reply):
            fetched[ref] = rec = Record(*(v or None for v in values))
            cache.put(ref, rec, now)
        return walk(refs, fetched.get)

    def close(self) -> None:
        self._redis.close()

    def _call(self, what: str, op: Callable[[], Any]) -> Any:
        from redis.exceptions import RedisError

        now = self.clock()
        if now < self._down_until:  # fail fast: the poll thread must not wait timeout_s per event
            raise DirectoryUnavailable(
                f"contact directory {self.url} is unavailable ({what}): it did not answer a "
                f"moment ago; asking again in {self._down_until - now:.1f} s",
                retry_after=self._down_until - now)
        self.round_trips += 1
        try:
            return op()
        except (RedisError, OSError) as e:
            retry_after = max(1.0, self._timeout_s)
            self._down_until = self.clock() + retry_after
            detail = self._scrub(str(e)) or "no answer"
            raise DirectoryUnavailable(
                f"contact directory {self.url} did not answer ({what}): {type(e).__name__}: "
                f"{detail}; events wait until it does", retry_after=retry_after) from None
