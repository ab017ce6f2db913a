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
random bytes); what a secret given to us may be, and its key, is
`huikuan_contracts.webhook_secrets` (`secret_problem`, `signing_key`): one encoding 24 to 64 bytes.
Any other string keys the HMAC with its own UTF-8 bytes, as it is: a tenant's or a
deployment's own string, and a gateway subscription secret made before this scheme
(`whsec_` and URL-safe base64 without padding, never valid standard base64 as it is 43
characters long). A receiver holding such a secret gives the library those bytes,
`Webhook(secret.encode())`, or (a gateway subscription) rotates to a standard secret.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, datetime
from secrets import token_bytes

from standardwebhooks import Webhook

from huikuan_contracts.webhook_secrets import SECRET_PREFIX, signing_key

GENERATED_KEY_BYTES = 32


def generate_secret() -> str:
    """`whsec_` and the base64 of 32 random bytes; shown to the receiver once."""
    return SECRET_PREFIX + base64.b64encode(token_bytes(GENERATED_KEY_BYTES)).decode()


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
