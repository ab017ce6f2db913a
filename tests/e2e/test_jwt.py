"""Bearer JWTs from an identity provider: a real JWKS endpoint on localhost, a gateway
process configured with its URL, tokens signed here with keys made here."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from huikuan_dev.stack import Stack
from tests.conftest import Tenant
from tests.support import Api, eventually, extra_gateway, query

pytestmark = pytest.mark.e2e

ISSUER = "https://id.huikuan.test/"
AUDIENCE = "huikuan-mobile"


class Signer:
    def __init__(self, kid: str, algorithm: str) -> None:
        self.kid, self.algorithm = kid, algorithm
        if algorithm == "ES256":
            self.private: Any = ec.generate_private_key(ec.SECP256R1())
            self.jwk: dict[str, Any] = ECAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        else:
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self.jwk = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        self.jwk.update(kid=kid, use="sig", alg=algorithm)


class IdentityProvider:
    """Publishes its signing keys as a JWKS over HTTP on localhost and signs tokens."""

    def __init__(self) -> None:
        self.signers = [Signer("rsa-1", "RS256"), Signer("ec-1", "ES256")]
        self.requests = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                provider.requests += 1
                body = json.dumps({"keys": [s.jwk for s in provider.signers]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def rotate(self) -> Signer:
        """Publish a new key in place of the current ones."""
        new = Signer(f"rsa-{secrets.token_hex(3)}", "RS256")
        self.signers = [new]
        return new

    def token(
        self, tenant: str, scope: str | None, signer: Signer | None = None, **claims: Any
    ) -> str:
        """A token for `tenant` with `scope`; `claims` override or (as None) remove claims."""
        signer = signer or self.signers[0]
        now = int(time.time())
        payload = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "mobile-user",
            "tenant_id": tenant,
            "scope": scope,
            "iat": now,
            "exp": now + 300,
            **claims,
        }
        payload = {name: value for name, value in payload.items() if value is not None}
        headers = {"kid": signer.kid}
        return jwt.encode(payload, signer.private, algorithm=signer.algorithm, headers=headers)


@pytest.fixture(scope="module")
def provider() -> Iterator[IdentityProvider]:
    idp = IdentityProvider()
    idp.thread.start()
    yield idp
    idp.server.shutdown()
    idp.server.server_close()


@pytest.fixture(scope="module")
def jwt_gateway(stack: Stack, provider: IdentityProvider) -> Iterator[str]:
    env = {
        "GATEWAY_JWT_JWKS_URL": provider.url,
        "GATEWAY_JWT_ISSUER": ISSUER,
        "GATEWAY_JWT_AUDIENCE": AUDIENCE,
        "GATEWAY_JWT_JWKS_MIN_REFETCH_SECONDS": "0",
    }
    with extra_gateway(stack, rate_per_second="1000", burst="1000", env=env) as url:
        yield url


def _booked(tenant: Tenant, suffix: str = "") -> None:
    assert tenant.api.put_customer(f"C-1{suffix}").status_code == 201
    assert tenant.api.post_invoice(f"INV-1{suffix}", f"C-1{suffix}").status_code == 201


def _assert_refused(response: httpx.Response, error: str | None = "invalid_token") -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    if error is None:  # no credential at all: a bare challenge (RFC 6750 section 3.1)
        assert "error=" not in challenge
    else:
        assert f'error="{error}"' in challenge


def test_a_valid_token_reads_its_own_tenants_data(
    jwt_gateway: str, provider: IdentityProvider, tenant: Tenant
) -> None:
    _booked(tenant)
    for signer in provider.signers:  # RS256 and ES256
        mobile = Api(jwt_gateway, provider.token(tenant.id, "ledger:read", signer))
        customer = mobile.get("/customers/C-1")
        assert customer.status_code == 200, customer.text
        assert customer.json()["customer_id"] == "C-1"
        invoice = mobile.get("/invoices/INV-1")
        assert invoice.status_code == 200
        assert invoice.json()["amount"] == "1000.00"
    # The same gateway still takes API keys.
    assert Api(jwt_gateway, tenant.key).get("/invoices/INV-1").status_code == 200


def test_a_token_writes_for_its_tenant_only(
    jwt_gateway: str, provider: IdentityProvider, tenant: Tenant, stack: Stack
) -> None:
    mobile = Api(jwt_gateway, provider.token(tenant.id, "ledger:read ledger:write"))
    assert mobile.put_customer("C-M").status_code == 201
    # Written for the token's tenant, as its API key sees it.
    assert tenant.api.get("/customers/C-M").status_code == 200
    rows = query(
        stack.env["DATABASE_URL"],
        "SELECT tenant FROM ledger.customer WHERE customer_id = $1 AND tenant = $2",
        "C-M",
        tenant.id,
    )
    assert len(rows) == 1


def test_another_tenants_data_is_not_found(
    jwt_gateway: str, provider: IdentityProvider, tenant: Tenant, stack: Stack
) -> None:
    other_id = f"t-{secrets.token_hex(4)}"
    other = Api(stack.gateway_url, stack.create_tenant_key(other_id, "Other"))
    assert other.put_customer("C-O").status_code == 201
    assert other.post_invoice("INV-O", "C-O").status_code == 201
    mobile = Api(jwt_gateway, provider.token(tenant.id, "ledger:read credit:read"))
    for path in ("/customers/C-O", "/invoices/INV-O", "/customers/C-O/summary"):
        existing, missing = mobile.get(path), mobile.get(path.replace("-O", "-NONE"))
        assert existing.status_code == missing.status_code == 404, path
    # A token whose tenant claim is the other tenant's is the other tenant's, not ours.
    theirs = Api(jwt_gateway, provider.token(other_id, "ledger:read"))
    assert theirs.get("/invoices/INV-O").status_code == 200


def test_expired_foreign_or_misaddressed_tokens_are_refused(
    jwt_gateway: str, provider: IdentityProvider, tenant: Tenant, stack: Stack
) -> None:
    scope = "ledger:read ledger:write"
    now = int(time.time())
    stranger = Signer(provider.signers[0].kid, "RS256")  # the provider's kid, another key
    bad = {
        "expired": provider.token(tenant.id, scope, exp=now - 3600, iat=now - 7200),
        "not yet valid": provider.token(tenant.id, scope, nbf=now + 3600),
        "wrong audience": provider.token(tenant.id, scope, aud="another-api"),
        "wrong issuer": provider.token(tenant.id, scope, iss="https://evil.test/"),
        "wrong key": provider.token(tenant.id, scope, stranger),
        "unknown kid": provider.token(tenant.id, scope, Signer("nobody", "ES256")),
        "unknown tenant": provider.token(f"t-{secrets.token_hex(4)}", scope),
        "no tenant": provider.token(tenant.id, scope, tenant_id=None),
        "garbage": "eyJhbGciOiJSUzI1NiJ9.e30.c2ln",
    }
    for why, token in bad.items():
        response = Api(jwt_gateway, token).put_customer("C-X")
        assert response.status_code == 401, why
        _assert_refused(response)
    _assert_refused(Api(jwt_gateway, None).put_customer("C-X"), error=None)
    rows = query(
        stack.env["DATABASE_URL"], "SELECT 1 FROM ledger.customer WHERE tenant = $1", tenant.id
    )
    assert rows == []
    # A gateway without an identity provider takes no tokens at all.
    _assert_refused(Api(stack.gateway_url, provider.token(tenant.id, scope)).get("/customers/C"))


def test_a_token_without_the_scope_is_forbidden_without_leaking(
    jwt_gateway: str, provider: IdentityProvider, tenant: Tenant
) -> None:
    _booked(tenant)
    reader = Api(jwt_gateway, provider.token(tenant.id, "ledger:read"))
    refused = reader.put_customer("C-9")
    assert refused.status_code == 403
    assert "ledger:write" in refused.json()["detail"]
    assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
    # scp as a list works too; without credit:read both an existing and a missing
    # customer's credit answer the same 403.
    listed = Api(jwt_gateway, provider.token(tenant.id, None, scp=["ledger:read"]))
    assert listed.get("/invoices/INV-1").status_code == 200
    existing, missing = listed.get("/customers/C-1/credit"), listed.get("/customers/C-0/credit")
    assert existing.status_code == missing.status_code == 403
    assert existing.json()["detail"] == missing.json()["detail"]


def test_a_rotated_key_is_picked_up(
    jwt_gateway: str, provider: IdentityProvider, tenant: Tenant
) -> None:
    _booked(tenant)
    assert (
        Api(jwt_gateway, provider.token(tenant.id, "ledger:read"))
        .get("/invoices/INV-1")
        .status_code
        == 200
    )
    before = provider.requests
    new = provider.rotate()
    response = Api(jwt_gateway, provider.token(tenant.id, "ledger:read", new)).get(
        "/invoices/INV-1"
    )
    assert response.status_code == 200, response.text
    assert provider.requests > before  # the unknown kid made the gateway fetch the JWKS


def test_a_suspended_tenants_tokens_are_refused_on_every_gateway_process(
    jwt_gateway: str, provider: IdentityProvider, tenant: Tenant, stack: Stack
) -> None:
    """Suspended through the stack's gateway: the second gateway process (jwt_gateway)
    refuses the tenant's tokens and keys once what it trusted from its cache expires
    (GATEWAY_AUTH_CACHE_SECONDS, 5 s); made active again, they work at once — a suspended
    tenant is never cached."""
    _booked(tenant, "-susp")
    mobile = Api(jwt_gateway, provider.token(tenant.id, "ledger:read"))
    keyed = Api(jwt_gateway, tenant.key)
    assert mobile.get("/invoices/INV-1-susp").status_code == 200  # trusted for a while now
    assert keyed.get("/invoices/INV-1-susp").status_code == 200
    operator = Api(stack.gateway_url, stack.operator_key)
    patched = operator.http.patch(f"/admin/tenants/{tenant.id}", json={"active": False})
    assert patched.status_code == 200, patched.text

    def refused(api: Api) -> bool:
        response = api.get("/invoices/INV-1-susp")
        if response.status_code == 200:
            return False  # still within the other process's cache
        assert response.status_code == 403, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["type"].endswith("/tenant-suspended")
        return True

    eventually(lambda: refused(mobile), timeout=30, what="the token refused")
    eventually(lambda: refused(keyed), timeout=30, what="the key refused")
    # A fresh token of the suspended tenant is refused too, not only the cached one.
    assert refused(Api(jwt_gateway, provider.token(tenant.id, "ledger:read credit:read")))
    assert operator.http.patch(f"/admin/tenants/{tenant.id}", json={"active": True}).is_success
    assert mobile.get("/invoices/INV-1-susp").status_code == 200
    assert keyed.get("/invoices/INV-1-susp").status_code == 200
