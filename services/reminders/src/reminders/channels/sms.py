"""SMS through a configurable HTTP provider: `POST <url>` with JSON `{to, text}` and the
provider's bearer token; 2xx is delivered."""

from __future__ import annotations

import httpx

from reminders.channels import DeliveryError, Guard, Message


class SmsChannel:
    name = "sms"

    def __init__(
        self, url: str, token: str | None, *, timeout: float = 10.0, guard: Guard | None = None
    ) -> None:
        self.url, self.token, self.timeout, self.guard = url, token, timeout, guard

    async def deliver(self, message: Message) -> None:
        if not message.recipient:
            raise DeliveryError("the customer has no phone number", permanent=True)
        headers = {"Idempotency-Key": message.idempotency_key}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.guard is not None and (problem := await self.guard(self.url)) is not None:
            raise DeliveryError(f"sms: {problem}")
        text = f"{message.subject}\n{message.body}"
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                reply = await client.post(
                    self.url, json={"to": message.recipient, "text": text}, headers=headers
                )
        except httpx.HTTPError as exc:
            raise DeliveryError(f"sms: {exc!r}") from exc
        if not 200 <= reply.status_code < 300:
            raise DeliveryError(
                f"sms provider answered {reply.status_code}",
                permanent=400 <= reply.status_code < 500 and reply.status_code != 429,
            )
