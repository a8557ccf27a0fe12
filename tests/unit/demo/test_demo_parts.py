"""The demo service's parts that need no server: faults, rate limiting, hashes, caches."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadlens.demo import FAULT_DESCRIPTIONS, FAULTS, Faults
from loadlens.demo.cache import LeakyCache, ReadCache
from loadlens.demo.chat import parse_cursor
from loadlens.demo.passwords import hash_password, verify_password
from loadlens.demo.ratelimit import RateLimiter
from loadlens.demo.web import ClientError


def test_faults_parse_names_and_list_them_back() -> None:
    assert tuple(FAULT_DESCRIPTIONS) == FAULTS
    faults = Faults.parse(["small-pool", "id-format"])
    assert faults.small_pool and faults.id_format and not faults.leak
    assert faults.names == ("id-format", "small-pool")
    assert Faults.parse(()) == Faults()
    assert Faults.parse("leak").names == ("leak",)


def test_unknown_faults_name_every_valid_one() -> None:
    with pytest.raises(ValueError) as caught:
        Faults.parse(["leak", "nope", "slow_hash"])
    assert str(caught.value) == (
        "unknown fault(s): nope, slow_hash; valid faults: "
        "id-format, token-race, no-lock, slow-hash, leak, small-pool"
    )


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_rate_limiter_allows_a_burst_then_refills() -> None:
    clock = FakeClock()
    limiter = RateLimiter(2, clock=clock)
    assert [limiter.take("a").allowed for _ in range(3)] == [True, True, False]
    refused = limiter.take("a")
    assert (refused.allowed, refused.remaining, refused.retry_after_s) == (False, 0, 1)
    assert limiter.take("b").allowed, "buckets are per client"
    clock.now += 0.5
    assert limiter.take("a").allowed
    assert not limiter.take("a").allowed


def test_rate_limiter_retry_after_rounds_up_to_whole_seconds() -> None:
    clock = FakeClock()
    limiter = RateLimiter(0.25, clock=clock)
    assert limiter.take("a").allowed
    assert limiter.take("a").retry_after_s == 4
    clock.now += 3.5
    assert limiter.take("a").retry_after_s == 1
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(0)


def test_password_hashes_record_their_cost() -> None:
    encoded = hash_password("secret", iterations=10, salt="s")
    assert encoded.startswith("pbkdf2_sha256$10$s$")
    assert verify_password("secret", encoded)
    assert not verify_password("Secret", encoded)
    assert not verify_password("secret", "md5$1$s$00")
    assert not verify_password("secret", "garbage")
    assert hash_password("secret", iterations=10) != hash_password("secret", iterations=10)


def test_read_cache_counts_and_evicts_least_recently_used() -> None:
    cache = ReadCache(capacity=2)
    cache.put("a", b"1")
    cache.put("b", b"2")
    assert cache.get("a") == b"1"
    cache.put("c", b"3")
    assert cache.get("b") is None
    cache.invalidate("a")
    assert cache.get("a") is None
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.size) == (1, 2, 1)


def test_leaky_cache_never_hits_and_never_shrinks() -> None:
    cache = LeakyCache()
    for _ in range(3):
        assert cache.get("user-1") is None
        cache.put("user-1", b"{}")
        cache.invalidate("user-1")
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.size) == (0, 3, 3)


@given(st.integers(min_value=0, max_value=2**63 - 1))
def test_message_ids_are_valid_cursors(number: int) -> None:
    assert parse_cursor(str(number)) == number


@given(st.text(min_size=1).filter(lambda s: not (s.isascii() and s.isdigit())))
def test_anything_else_is_an_invalid_cursor(raw: str) -> None:
    with pytest.raises(ClientError) as caught:
        parse_cursor(raw)
    assert caught.value.status == 400
    assert caught.value.message == f"invalid cursor: {raw!r} is not a message id"
