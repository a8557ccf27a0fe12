"""The in-process read cache for GET /users/{id}, and its leaking twin for the `leak` fault.

`ReadCache` is a bounded LRU of rendered response bodies. `LeakyCache` reproduces a common
mistake in its simplest form: entries are appended to one growing log, keyed by something that
differs per request (so nothing is ever hit or evicted), and looked up by searching the log, so
every request pays a cost proportional to everything cached before it. Latency and RSS drift up
over a run, and the drift slows itself down: the slower requests get, the fewer entries are added.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

# Enough for every seeded user many times over; a bound that keeps memory flat.
DEFAULT_CAPACITY = 10_000
# Bytes each leaked entry costs: large enough that the growth shows in RSS within a short run.
LEAK_ENTRY_PADDING = 8 * 1024
# Spaces, not zero bytes: a key starts with NUL, and a log of NULs would make every search crawl.
_PADDING = b" " * LEAK_ENTRY_PADDING


@dataclass(frozen=True, slots=True)
class CacheStats:
    """Hits, misses and entries of a cache since it was created."""

    hits: int
    misses: int
    size: int


class Cache(Protocol):
    """A read cache of response bodies by resource id."""

    def get(self, key: str) -> bytes | None: ...
    def put(self, key: str, body: bytes) -> None: ...
    def invalidate(self, key: str) -> None: ...
    def stats(self) -> CacheStats: ...


class ReadCache:
    """A bounded least-recently-used cache."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._capacity = capacity
        self._hits = 0
        self._misses = 0

    def get(self, key: str) -> bytes | None:
        """The cached body for `key`, or None (counted as a miss)."""
        body = self._entries.get(key)
        if body is None:
            self._misses += 1
            return None
        self._hits += 1
        self._entries.move_to_end(key)
        return body

    def put(self, key: str, body: bytes) -> None:
        """Cache `body` under `key`, evicting the least recently used entry when full."""
        self._entries[key] = body
        self._entries.move_to_end(key)
        if len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def invalidate(self, key: str) -> None:
        """Forget `key`, after the resource changed or went away."""
        self._entries.pop(key, None)

    def stats(self) -> CacheStats:
        """Hits, misses and current size."""
        return CacheStats(self._hits, self._misses, len(self._entries))


class LeakyCache:
    """The `leak` fault: an append-only log searched linearly, keyed per request."""

    def __init__(self) -> None:
        self._log = bytearray()
        self._sequence = itertools.count()
        self._size = 0
        self._hits = 0
        self._misses = 0

    def _key(self, key: str) -> bytes:
        # The bug: the key includes a per-request sequence number, so no lookup ever matches.
        return f"\x00{key}#{next(self._sequence)}\x00".encode()

    def get(self, key: str) -> bytes | None:
        """Search the whole log (cost grows with its size); never finds anything."""
        if self._log.find(self._key(key)) >= 0:
            self._hits += 1
        self._misses += 1
        return None

    def put(self, key: str, body: bytes) -> None:
        """Append an entry that nothing will ever read or evict."""
        self._log += self._key(key) + body + _PADDING
        self._size += 1

    def invalidate(self, key: str) -> None:
        """Nothing to forget: old entries are unreachable anyway, and stay."""

    def stats(self) -> CacheStats:
        """Hits (always 0), misses and the number of entries leaked so far."""
        return CacheStats(self._hits, self._misses, self._size)
