"""Bearer JWTs: verification against keys generated here, claims to tenant and scopes, and
the cached key set (fetches counted through an in-process transport)."""

from __future__ import annotations

from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from gateway.config import Settings
from gateway.domain.keys import Principal
from gateway.domain.tokens import (
    TokenRejected,
    TokenRules,
    key_id,
    looks_like_jwt,
    scopes_of,
    verify,
)
from gateway.jwks import KeySet, KeysUnavailable

NOW = 1_900_000_000.0
RULES = TokenRules(
    issuer="https://id.example.com/",
    audience="huikuan-api",
    algorithms=frozenset({"RS256", "ES256"}),
)


class Signer:
    """A signing key of the identity provider, with its public JWK."""

    def __init__(self, kid: str, algorithm: str = "RS256") -> None:
        self.kid = kid
        self.algorithm = algorithm
        if algorithm == "ES256":
            self.private: Any = ec.generate_private_key(ec.SECP256R1())
            self.jwk: dict[str, Any] = ECAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        else:
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self.jwk = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        self.jwk.update(kid=kid, use="sig", alg=algorithm)

    def public(self) -> jwt.PyJWK:
        return jwt.PyJWK(self.jwk)

    def token(self, **overrides: Any) -> str:
        claims: dict[str, Any] = {
            "iss": RULES.issuer,
            "aud": RULES.audience,
            "sub": "user-1",
            "tenant_id": "t-1",
            "scope": "ledger:read credit:read",
            "iat": int(NOW) - 60,
            "exp": int(NOW) + 600,
        }
        claims.update(overrides)
        claims = {name: value for name, value in claims.items() if value is not None}
        return jwt.encode(claims, self.private, algorithm=self.algorithm, headers={"kid": self.kid})


@pytest.fixture(scope="module")
def rsa_signer() -> Signer:
    return Signer("rsa-1")


@pytest.fixture(scope="module")
def ec_signer() -> Signer:
    return Signer("ec-1", "ES256")


def test_a_valid_token_maps_to_its_tenant_subject_and_scopes(
    rsa_signer: Signer, ec_signer: Signer
) -> None:
    for signer in (rsa_signer, ec_signer):
        token = signer.token()
        assert looks_like_jwt(token)
        assert key_id(token, RULES) == signer.kid
        claims = verify(token, signer.public(), RULES, NOW)
        assert claims.tenant == "t-1"
        assert claims.subject == "user-1"
        assert claims.scopes == {"ledger:read", "credit:read"}


def test_scopes_come_from_a_space_separated_string_or_a_list() -> None:
    assert scopes_of({"scope": "a b  c"}, ("scope", "scp")) == {"a", "b", "c"}
    assert scopes_of({"scp": ["a", "b", 3]}, ("scope", "scp")) == {"a", "b"}
    assert scopes_of({"scope": "a", "scp": ["b"]}, ("scope", "scp")) == {"a"}
    assert scopes_of({}, ("scope", "scp")) == frozenset()
    with pytest.raises(TokenRejected):
        scopes_of({"scope": {"a": 1}}, ("scope",))


def test_expiry_and_not_before_are_checked_with_a_small_leeway(rsa_signer: Signer) -> None:
    key = rsa_signer.public()
    assert verify(rsa_signer.token(exp=int(NOW) - 10), key, RULES, NOW).tenant == "t-1"
    with pytest.raises(TokenRejected, match="expired"):
        verify(rsa_signer.token(exp=int(NOW) - 31), key, RULES, NOW)
    assert verify(rsa_signer.token(nbf=int(NOW) + 10), key, RULES, NOW).tenant == "t-1"
    with pytest.raises(TokenRejected, match="not valid yet"):
        verify(rsa_signer.token(nbf=int(NOW) + 31), key, RULES, NOW)
    with pytest.raises(TokenRejected, match="'exp'"):
        verify(rsa_signer.token(exp=None), key, RULES, NOW)
    with pytest.raises(TokenRejected, match="not a number"):
        verify(rsa_signer.token(exp="soon"), key, RULES, NOW)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"aud": "another-api"}, "aud"),
        ({"iss": "https://evil.example.com/"}, "iss"),
        ({"tenant_id": None}, "no tenant"),
        ({"tenant_id": ""}, "no tenant"),
        ({"tenant_id": 7}, "no tenant"),
        ({"aud": None}, "'aud'"),
    ],
)
def test_wrong_audience_issuer_or_tenant_is_rejected(
    rsa_signer: Signer, overrides: dict[str, Any], reason: str
) -> None:
    with pytest.raises(TokenRejected, match=reason):
        verify(rsa_signer.token(**overrides), rsa_signer.public(), RULES, NOW)


def test_a_token_signed_by_another_key_is_rejected(rsa_signer: Signer) -> None:
    impostor = Signer(rsa_signer.kid)  # same kid, different key
    with pytest.raises(TokenRejected, match="signature"):
        verify(impostor.token(), rsa_signer.public(), RULES, NOW)


def test_symmetric_and_unsigned_tokens_are_refused(rsa_signer: Signer) -> None:
    # A shared-secret token (the classic trick: an RSA public key used as the HMAC secret).
    forged = jwt.encode(
        {"iss": RULES.issuer, "aud": RULES.audience, "tenant_id": "t-1", "exp": NOW + 60},
        "a-secret-anyone-could-know-0123456789",
        algorithm="HS256",
        headers={"kid": rsa_signer.kid},
    )
    with pytest.raises(TokenRejected, match="HS256"):
        key_id(forged, RULES)
    unsigned = jwt.encode({"tenant_id": "t-1"}, "", algorithm="none")
    with pytest.raises(TokenRejected):
        key_id(unsigned, RULES)
    with pytest.raises(TokenRejected, match="readable"):
        key_id("not.a.jwt", RULES)


def test_api_keys_do_not_look_like_tokens(rsa_signer: Signer) -> None:
    assert not looks_like_jwt("hk_abc.def.ghi")
    assert not looks_like_jwt("dev-operator-key")
    assert looks_like_jwt(rsa_signer.token())


def test_a_principal_from_a_token_is_rate_limited_per_tenant_and_subject() -> None:
    one = Principal("t-1", None, frozenset(), subject="u-1")
    two = Principal("t-2", None, frozenset(), subject="u-1")
    assert one.rate_key != two.rate_key
    assert one.rate_key == Principal("t-1", None, frozenset({"x"}), subject="u-1").rate_key


def test_settings_require_issuer_and_audience_and_refuse_symmetric_algorithms() -> None:
    with pytest.raises(ValueError, match="ISSUER"):
        Settings(jwt_jwks_url="https://id.example.com/jwks")
    with pytest.raises(ValueError, match="algorithms"):
        Settings(jwt_algorithms=["HS256"])
    settings = Settings(
        jwt_jwks_url="https://id.example.com/jwks", jwt_issuer="i", jwt_audience="a"
    )
    assert settings.jwt_tenant_claim == "tenant_id"
    assert settings.jwt_scope_claims == ["scope", "scp"]


class Provider:
    """A JWKS endpoint served in process; counts how often it is asked."""

    def __init__(self, *signers: Signer) -> None:
        self.signers = list(signers)
        self.calls = 0
        self.failing = False

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.failing:
            return httpx.Response(503)
        return httpx.Response(200, json={"keys": [s.jwk for s in self.signers]})

    def key_set(self, *, ttl: float = 300, min_refetch: float = 10) -> KeySet:
        return KeySet(
            "https://id.example.com/jwks",
            algorithms=RULES.algorithms,
            ttl=ttl,
            min_refetch=min_refetch,
            timeout=5,
            client=httpx.AsyncClient(transport=httpx.MockTransport(self.handle)),
        )


async def test_keys_are_cached_for_the_ttl(rsa_signer: Signer) -> None:
    provider = Provider(rsa_signer)
    keys = provider.key_set(ttl=300)
    for at in (0.0, 1.0, 299.0):
        assert (await keys.key("rsa-1", at)) is not None
    assert provider.calls == 1
    assert (await keys.key("rsa-1", 300.0)) is not None
    assert provider.calls == 2
    await keys.close()


async def test_an_unknown_kid_refetches_at_a_bounded_rate(
    rsa_signer: Signer, ec_signer: Signer
) -> None:
    provider = Provider(rsa_signer)
    keys = provider.key_set(min_refetch=10)
    assert (await keys.key("rsa-1", 0.0)) is not None
    provider.signers.append(ec_signer)  # the provider rotates in a new key
    assert (await keys.key("ec-1", 5.0)) is None  # too soon after the last fetch
    assert (await keys.key("garbage", 6.0)) is None
    assert provider.calls == 1
    found = await keys.key("ec-1", 10.0)
    assert found is not None and found.algorithm_name == "ES256"
    assert provider.calls == 2
    for at in (11.0, 12.0, 13.0):  # a flood of unknown kids costs at most one fetch per 10 s
        assert (await keys.key(f"garbage-{at}", at)) is None
    assert provider.calls == 2
    await keys.close()


async def test_concurrent_requests_share_one_fetch(rsa_signer: Signer) -> None:
    import asyncio

    provider = Provider(rsa_signer)
    keys = provider.key_set(min_refetch=0)
    found = await asyncio.gather(*(keys.key("rsa-1", 0.0) for _ in range(20)))
    assert all(key is not None for key in found)
    assert provider.calls == 1
    await keys.close()


async def test_held_keys_survive_a_failing_provider(rsa_signer: Signer) -> None:
    provider = Provider(rsa_signer)
    keys = provider.key_set(ttl=60, min_refetch=10)
    assert (await keys.key("rsa-1", 0.0)) is not None
    provider.failing = True
    assert (await keys.key("rsa-1", 100.0)) is not None  # stale, but better than nothing
    assert provider.calls == 2
    await keys.close()


async def test_no_keys_at_all_is_unavailable_not_unauthorized(rsa_signer: Signer) -> None:
    provider = Provider(rsa_signer)
    provider.failing = True
    keys = provider.key_set()
    with pytest.raises(KeysUnavailable):
        await keys.key("rsa-1", 0.0)
    await keys.close()


async def test_keys_for_encryption_or_other_algorithms_are_ignored(rsa_signer: Signer) -> None:
    encryption = Signer("enc-1")
    encryption.jwk["use"] = "enc"
    provider = Provider(rsa_signer, encryption)
    provider.signers.append(Signer("rs512", "RS256"))
    provider.signers[-1].jwk["alg"] = "RS512"  # not among the accepted algorithms
    keys = provider.key_set()
    assert (await keys.key("rsa-1", 0.0)) is not None
    assert (await keys.key("enc-1", 0.0)) is None
    assert (await keys.key("rs512", 0.0)) is None
    await keys.close()


def test_the_challenge_header_stays_printable_ascii_whatever_the_token_says() -> None:
    from gateway.api.deps import _challenge

    value = _challenge("invalid_token", "tokens signed with '中\\\"x\r\n' are not accepted")
    assert value.startswith('Bearer realm="huikuan", error="invalid_token", error_description="')
    value.encode("ascii")  # never a character a header cannot carry
    assert "\r" not in value and "\n" not in value and value.count('"') == 6
