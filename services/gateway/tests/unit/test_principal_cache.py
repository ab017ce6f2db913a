"""The short-lived cache of authenticated credentials."""

from __future__ import annotations

import uuid

from gateway.domain.keys import Principal, PrincipalCache, hash_key


def _who(key_id: uuid.UUID | None = None) -> Principal:
    return Principal("t-1", key_id or uuid.uuid4(), frozenset({"ledger:read"}))


def test_a_key_is_trusted_for_the_ttl_only() -> None:
    cache = PrincipalCache(ttl=5)
    who = _who()
    assert cache.key(hash_key("hk_a"), 0) is None
    cache.remember_key(hash_key("hk_a"), who, 0)
    assert cache.key(hash_key("hk_a"), 4.9) == who
    assert cache.key(hash_key("hk_b"), 1) is None
    assert cache.key(hash_key("hk_a"), 5) is None


def test_revoking_forgets_the_key_at_once() -> None:
    cache = PrincipalCache(ttl=5)
    revoked, kept = _who(), _who()
    cache.remember_key(hash_key("hk_a"), revoked, 0)
    cache.remember_key(hash_key("hk_b"), kept, 0)
    cache.forget_key(revoked.key_id)  # type: ignore[arg-type]
    assert cache.key(hash_key("hk_a"), 1) is None
    assert cache.key(hash_key("hk_b"), 1) == kept


def test_a_zero_ttl_keeps_nothing_and_the_size_is_bounded() -> None:
    off = PrincipalCache(ttl=0)
    off.remember_key(hash_key("hk_a"), _who(), 0)
    off.remember_tenant("t-1", 0)
    assert off.key(hash_key("hk_a"), 0) is None
    assert not off.tenant_known("t-1", 0)
    small = PrincipalCache(ttl=5, max_entries=3)
    for n in range(10):
        small.remember_key(hash_key(f"hk_{n}"), _who(), 0)
    assert len(small._keys) <= 3


def test_a_tokens_tenant_is_remembered_for_the_ttl() -> None:
    cache = PrincipalCache(ttl=5)
    assert not cache.tenant_known("t-1", 0)
    cache.remember_tenant("t-1", 0)
    assert cache.tenant_known("t-1", 4.9)
    assert not cache.tenant_known("t-2", 1)
    assert not cache.tenant_known("t-1", 5)


def test_suspending_forgets_the_tenants_keys_and_its_tokens_tenant_at_once() -> None:
    cache = PrincipalCache(ttl=5)
    suspended, other = _who(), Principal("t-2", uuid.uuid4(), frozenset({"ledger:read"}))
    cache.remember_key(hash_key("hk_a"), suspended, 0)
    cache.remember_key(hash_key("hk_b"), other, 0)
    cache.remember_tenant("t-1", 0)
    cache.remember_tenant("t-2", 0)
    cache.forget_tenant("t-1")
    assert cache.key(hash_key("hk_a"), 1) is None and not cache.tenant_known("t-1", 1)
    assert cache.key(hash_key("hk_b"), 1) == other and cache.tenant_known("t-2", 1)


def test_a_lookup_begun_before_a_forget_does_not_put_it_back() -> None:
    cache = PrincipalCache(ttl=5)
    who = _who()
    read_at = cache.generation  # a lookup starts reading the key (still active)
    cache.forget_tenant(who.tenant)  # meanwhile the tenant is suspended here
    cache.remember_key(hash_key("hk_a"), who, 0, read_at)
    cache.remember_tenant(who.tenant, 0, read_at)
    assert cache.key(hash_key("hk_a"), 1) is None
    assert not cache.tenant_known(who.tenant, 1)
    read_at = cache.generation  # a lookup after the forget caches as usual
    cache.remember_key(hash_key("hk_a"), who, 0, read_at)
    assert cache.key(hash_key("hk_a"), 1) == who
