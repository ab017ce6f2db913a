"""Token buckets per key and scope."""

from __future__ import annotations

import pytest

from gateway.domain.ratelimit import Limit, RateLimiter, retry_after


def test_a_burst_is_granted_then_calls_wait_for_refill() -> None:
    limiter = RateLimiter(Limit(rate=2, burst=3))
    assert [limiter.take("k", "ledger:read", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.take("k", "ledger:read", 0.0)
    assert wait == pytest.approx(0.5)
    assert retry_after(wait) == "1"
    assert limiter.take("k", "ledger:read", 0.5) == 0.0  # one token back after 1/rate
    assert limiter.take("k", "ledger:read", 0.5) > 0


def test_keys_and_scopes_have_their_own_buckets_and_rates() -> None:
    limiter = RateLimiter(Limit(rate=1, burst=1), {"credit:check": Limit(rate=100, burst=50)})
    assert limiter.take("a", "ledger:write", 0.0) == 0.0
    assert limiter.take("a", "ledger:write", 0.0) > 0
    assert limiter.take("b", "ledger:write", 0.0) == 0.0  # another key
    assert all(limiter.take("a", "credit:check", 0.0) == 0.0 for _ in range(50))
    assert limiter.take("a", "credit:check", 0.0) == pytest.approx(0.01)


def test_a_bucket_never_holds_more_than_its_burst() -> None:
    limiter = RateLimiter(Limit(rate=10, burst=2))
    limiter.take("k", "s", 0.0)
    assert [limiter.take("k", "s", 1000.0) for _ in range(3)][2] > 0


def test_nonsense_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        Limit(rate=0, burst=1)
