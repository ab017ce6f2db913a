"""How every outbound webhook is signed: Standard Webhooks (www.standardwebhooks.com), one
implementation for the gateway's subscriptions and the reminders' webhook channel.

A signed request carries three headers:

- `webhook-id`: the message's id, the same on every retry of that message, so a receiver
  drops repeats by it;
- `webhook-timestamp`: Unix seconds of this attempt;
- `webhook-signature`: `v1,<base64 of HMAC-SHA256 over "<id>.<timestamp>.<body>">`, one per
  signing secret, space-separated (two while a rotation overlaps, the newest first).

A receiver verifies with any Standard Webhooks library, e.g. in Python
`standardwebhooks.Webhook(secret).verify(body, headers)` (the `standardwebhooks` package
signs here too, so what is sent is what the library verifies).

Secrets: a *standard* secret is `whsec_` followed by standard base64 (`A-Z a-z 0-9 + /`,
padded with `=`); its HMAC key is the bytes it encodes. `generate_secret` makes those (32
random bytes), and `secret_problem` accepts one given to us when it encodes 24 to 64 bytes.
Any other string keys the HMAC with its own UTF-8 bytes, as it is: a tenant's or a
deployment's own string, and a gateway subscription secret made before this scheme
(`whsec_` and URL-safe base64 without padding, never valid standard base64 as it is 43
characters long). A receiver holding such a secret gives the library those bytes,
`Webhook(secret.encode())`, or (a gateway subscription) rotates to a standard secret.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import UTC, datetime
from secrets import token_bytes

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"
GENERATED_KEY_BYTES = 32
# What the specification recommends for a secret's key; checked on secrets given to us.
MIN_KEY_BYTES, MAX_KEY_BYTES = 24, 64


def generate_secret() -> str:
    """`whsec_` and the base64 of 32 random bytes; shown to the receiver once."""
    return SECRET_PREFIX + base64.b64encode(token_bytes(GENERATED_KEY_BYTES)).decode()


def _encoded_key(secret: str) -> bytes | None:
    """The bytes a standard secret encodes; None when `secret` is not one."""
    if not secret.startswith(SECRET_PREFIX):
        return None
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True) or None
    except binascii.Error:
        return None


def signing_key(secret: str) -> bytes:
    """The HMAC key `secret` stands for: the bytes a standard secret encodes, otherwise the
    string's own UTF-8 bytes."""
    return _encoded_key(secret) or secret.encode()


def secret_problem(secret: str) -> str | None:
    """Why `secret`, given to us, should not sign webhooks, or None. Empty: refused. One
    that starts with `whsec_` must be a standard secret of 24 to 64 bytes (a receiver's
    library decodes it, so a broken one would verify nothing). Any other string is used as
    it is (its UTF-8 bytes)."""
    if not secret:
        return "a signing secret cannot be empty"
    if not secret.startswith(SECRET_PREFIX):
        return None
    key = _encoded_key(secret)
    if key is None:
        return (
            f"after {SECRET_PREFIX} comes standard base64 (A-Z, a-z, 0-9, + and /, padded with =)"
        )
    if not MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES:
        return (
            f"a {SECRET_PREFIX} secret encodes {MIN_KEY_BYTES} to {MAX_KEY_BYTES} bytes, "
            f"this one {len(key)}"
        )
    return None


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256 of "<message_id>.<timestamp>.<body>">`, keyed with
    `signing_key(secret)`."""
    at = datetime.fromtimestamp(timestamp, UTC)
    return Webhook(signing_key(secret)).sign(message_id, at, body)


def headers(message_id: str, secrets: Sequence[str], timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers of `body` sent at `timestamp` (Unix seconds):
    one signature per secret in `secrets`, in their order."""
    if not secrets:
        raise ValueError("a webhook is signed with at least one secret")
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            signature(secret, message_id, timestamp, body) for secret in secrets
        ),
    }
