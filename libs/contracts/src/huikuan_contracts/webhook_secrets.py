"""What a webhook signing secret given to us may be (Standard Webhooks,
www.standardwebhooks.com) and the HMAC key it stands for. A *standard* secret is `whsec_`
followed by standard base64 (`A-Z a-z 0-9 + /`, padded with `=`); its key is the bytes it
encodes (24 to 64 of them when given to us). Any other string keys the HMAC with its own
UTF-8 bytes, as it is. Signing itself is `huikuan_runtime.webhook_signing`."""

from __future__ import annotations

import base64
import binascii

SECRET_PREFIX = "whsec_"
# What the specification recommends for a secret's key; checked on secrets given to us.
MIN_KEY_BYTES, MAX_KEY_BYTES = 24, 64


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
