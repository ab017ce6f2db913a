"""Webhook: a JSON POST signed with HMAC-SHA256 over `<timestamp>.<body>`.

Headers: `X-Huikuan-Timestamp` (unix seconds), `X-Huikuan-Signature` (`sha256=<hex>`),
`Idempotency-Key` (the reminder's key). Any 2xx is delivered; 4xx other than 408/429 is
permanent; everything else is retried."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable

import httpx

from reminders.channels import DeliveryError, Guard, Message


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class WebhookChannel:
    name = "webhook"

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        clock: Callable[[], float],
        timeout: float = 10.0,
        guard: Guard | None = None,
    ) -> None:
        self.url, self.secret, self.clock, self.timeout = url, secret, clock, timeout
        self.guard = guard

    async def deliver(self, message: Message) -> None:
        body = json.dumps(
            {
                "reminder_id": message.reminder_id,
                "tenant": message.tenant,
                "customer_id": message.customer_id,
                "language": message.language,
                "subject": message.subject,
                "body": message.body,
                **message.data,
            },
            ensure_ascii=False,
            sort_keys=True,
        ).encode()
        timestamp = str(int(self.clock()))
        headers = {
            "Content-Type": "application/json",
            "X-Huikuan-Timestamp": timestamp,
            "X-Huikuan-Signature": sign(self.secret, timestamp, body),
            "Idempotency-Key": message.idempotency_key,
        }
        url = message.recipient or self.url
        if self.guard is not None and (problem := await self.guard(url)) is not None:
            raise DeliveryError(f"webhook: {problem}")
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                reply = await client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"webhook: {exc!r}") from exc
        if 200 <= reply.status_code < 300:
            return
        permanent = 400 <= reply.status_code < 500 and reply.status_code not in (408, 429)
        raise DeliveryError(f"webhook answered {reply.status_code}", permanent=permanent)
