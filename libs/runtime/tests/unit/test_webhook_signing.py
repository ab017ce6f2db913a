"""Standard Webhooks signatures: the specification's own example, what a receiver's library
accepts, and which HMAC key each kind of secret stands for."""

from __future__ import annotations

import base64
import secrets
import time

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from huikuan_contracts.webhook_secrets import secret_problem, signing_key
from huikuan_runtime.webhook_signing import generate_secret, headers, signature

# The example of the Standard Webhooks test suites: secret, id, timestamp, payload, signature.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_specifications_example_signs_to_its_signature() -> None:
    assert signature(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE
    sent = headers(SPEC_ID, [SPEC_SECRET], SPEC_TIMESTAMP, SPEC_BODY)
    assert sent == {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TIMESTAMP),
        "webhook-signature": SPEC_SIGNATURE,
    }


def test_a_receivers_library_verifies_what_is_sent_and_nothing_altered() -> None:
    secret, now = generate_secret(), int(time.time())
    body = '{"id":"e-1","data":{"name":"回款"}}'.encode()
    sent = headers("d-1", [secret], now, body)
    assert Webhook(secret).verify(body, sent) == {"id": "e-1", "data": {"name": "回款"}}
    for altered in (
        {**sent, "webhook-id": "d-2"},
        {**sent, "webhook-timestamp": str(now + 1)},
    ):
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(body, altered)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body + b" ", sent)
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_secret()).verify(body, sent)


def test_each_secret_adds_a_signature_in_order_and_each_verifies_alone() -> None:
    new, old, now = generate_secret(), generate_secret(), int(time.time())
    sent = headers("d-1", [new, old], now, b"{}")
    assert sent["webhook-signature"].split(" ") == [
        signature(new, "d-1", now, b"{}"),
        signature(old, "d-1", now, b"{}"),
    ]
    for secret in (new, old):
        Webhook(secret).verify(b"{}", sent)
    with pytest.raises(ValueError):
        headers("d-1", [], now, b"{}")


def test_generated_secrets_are_standard_base64_of_32_random_bytes() -> None:
    made = {generate_secret() for _ in range(50)}
    assert len(made) == 50
    for secret in made:
        assert secret.startswith("whsec_") and secret_problem(secret) is None
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        assert len(key) == 32 and signing_key(secret) == key


def test_any_other_string_keys_the_hmac_with_its_utf8_bytes() -> None:
    """A tenant's or deployment's own string, and every gateway secret made before this
    scheme (`whsec_` + URL-safe base64 without padding): the receiver passes the bytes."""
    now = int(time.time())
    older = ["whsec_" + secrets.token_urlsafe(32) for _ in range(200)]
    for secret in ["t1-webhook-secret-0123456789", "密钥-0123456789abcdef", *older]:
        assert signing_key(secret) == secret.encode()
        sent = headers("r-1", [secret], now, b"{}")
        Webhook(secret.encode()).verify(b"{}", sent)


def test_secrets_given_to_us_are_standard_when_they_say_so() -> None:
    assert secret_problem(SPEC_SECRET) is None  # 24 bytes
    assert secret_problem("whsec_" + base64.b64encode(bytes(64)).decode()) is None
    assert secret_problem("any string at all, used as it is") is None
    refused = {
        "": "empty",
        "whsec_" + secrets.token_urlsafe(32): "standard base64",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS": "standard base64",  # padding missing
        "whsec_not base64 at all!": "standard base64",
        "whsec_": "standard base64",
        "whsec_" + base64.b64encode(bytes(16)).decode(): "24 to 64 bytes, this one 16",
        "whsec_" + base64.b64encode(bytes(65)).decode(): "24 to 64 bytes, this one 65",
    }
    for secret, why in refused.items():
        problem = secret_problem(secret)
        assert problem is not None and why in problem, (secret, problem)
