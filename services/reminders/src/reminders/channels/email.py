"""Email over real SMTP (aiosmtplib). The reminder's idempotency key becomes the
Message-ID, so a receiving system can drop a duplicate after a crash-and-retry."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from reminders.channels import DeliveryError, Message


class EmailChannel:
    name = "email"

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        username: str | None = None,
        password: str | None = None,
        start_tls: bool = False,
        timeout: float = 10.0,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password = username, password
        self.start_tls, self.timeout = start_tls, timeout

    async def deliver(self, message: Message) -> None:
        if not message.recipient:
            raise DeliveryError("the customer has no email address", permanent=True)
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.recipient
        mail["Subject"] = message.subject
        mail["Message-ID"] = f"<{message.idempotency_key}@huikuan.reminders>"
        mail["X-Huikuan-Reminder"] = message.reminder_id
        mail["Content-Language"] = message.language
        mail.set_content(message.body)
        try:
            await aiosmtplib.send(
                mail,
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password,
                start_tls=self.start_tls,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"recipient refused: {exc}", permanent=True) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"smtp: {exc}") from exc
