"""API keys, principals and the circuit breaker, without I/O."""

from __future__ import annotations

import uuid

import pytest

from gateway.clients import CircuitBreaker
from gateway.config import Settings
from gateway.domain.keys import KEY_PREFIX, Principal, generate_key, hash_key


def test_keys_are_random_and_only_their_hash_is_kept() -> None:
    one, two = generate_key(uuid.uuid4()), generate_key(uuid.uuid4())
    assert one.secret.startswith(KEY_PREFIX) and len(one.secret) > 40
    assert one.secret != two.secret
    assert one.hash == hash_key(one.secret) != hash_key(two.secret)
    assert one.secret not in one.hash.hex()
    assert one.secret.startswith(one.prefix) and len(one.prefix) < 12


def test_a_principal_allows_only_its_scopes() -> None:
    who = Principal(tenant="t", key_id=None, scopes=frozenset({"ledger:read"}))
    assert who.allows("ledger:read")
    assert not who.allows("ledger:write")


def test_the_breaker_opens_after_consecutive_failures_and_resets_on_success() -> None:
    breaker = CircuitBreaker(failures=3, cooldown=3600)
    breaker.failure()
    breaker.failure()
    breaker.success()
    breaker.failure()
    breaker.failure()
    assert not breaker.open
    breaker.failure()
    assert breaker.open


def test_the_breaker_lets_a_trial_call_through_after_the_cooldown() -> None:
    breaker = CircuitBreaker(failures=1, cooldown=0)
    breaker.failure()
    assert not breaker.open  # half-open at once with no cooldown


def test_a_half_open_breaker_admits_one_trial_and_a_failed_one_reopens_it() -> None:
    now = [0.0]
    breaker = CircuitBreaker(failures=2, cooldown=5.0, clock=lambda: now[0])
    first = breaker.allow()
    assert first is not None and not first.trial  # closed: every call goes
    breaker.failure(first)
    breaker.failure(breaker.allow())
    assert breaker.open and breaker.allow() is None
    now[0] = 5.0
    trial = breaker.allow()
    assert trial is not None and trial.trial
    assert breaker.allow() is None and breaker.allow() is None  # one trial at a time
    breaker.failure(trial)
    assert breaker.open and breaker.allow() is None  # another cooldown from now
    now[0] = 9.9
    assert breaker.allow() is None
    now[0] = 10.0
    again = breaker.allow()
    assert again is not None and again.trial
    breaker.success(again)
    assert not breaker.open
    assert [p is not None and not p.trial for p in (breaker.allow(), breaker.allow())] == [
        True,
        True,
    ]


def test_placeholder_secrets_are_refused_outside_development(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HUIKUAN_ENV", "production")
    monkeypatch.setenv("HUIKUAN_INTERNAL_TOKEN", "a-real-internal-secret")
    with pytest.raises(ValueError, match="GATEWAY_OPERATOR_KEY"):
        Settings()
    monkeypatch.setenv("GATEWAY_OPERATOR_KEY", "a-real-operator-secret")
    assert Settings().environment == "production"
    monkeypatch.delenv("HUIKUAN_INTERNAL_TOKEN")
    with pytest.raises(ValueError, match="HUIKUAN_INTERNAL_TOKEN"):
        Settings()


def test_an_idempotency_claim_must_outlive_the_longest_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GATEWAY_DOWNSTREAM_TIMEOUT_SECONDS", "30")
    monkeypatch.setenv("GATEWAY_IDEMPOTENCY_CLAIM_TIMEOUT_SECONDS", "30")
    with pytest.raises(ValueError, match="must exceed GATEWAY_DOWNSTREAM_TIMEOUT_SECONDS"):
        Settings()
    monkeypatch.setenv("GATEWAY_IDEMPOTENCY_CLAIM_TIMEOUT_SECONDS", "31")
    assert Settings().idempotency_claim_timeout_seconds == 31
