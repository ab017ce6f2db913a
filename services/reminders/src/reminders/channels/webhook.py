"""Webhook: a JSON POST signed per Standard Webhooks (`huikuan_runtime.webhook_signing`).

Headers: `webhook-id` and `Idempotency-Key` (both the reminder's idempotency key, the same
on every retry), `webhook-timestamp` (Unix seconds), `webhook-signature` (`v1,<base64>`).
Any 2xx is delivered; 4xx other than 408/429 is permanent; everything else is retried."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx

from huikuan_runtime import webhook_signing
from reminders.channels import DeliveryError, Guard, Message


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
        key = message.idempotency_key
        headers = {
            "Content-Type": "application/json",
            **webhook_signing.headers(key, [self.secret], int(self.clock()), body),
            "Idempotency-Key": key,
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
