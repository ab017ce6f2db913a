"""Channels that deliver by keeping what was said: the letter (an HTML document, kept as
the delivery), and the stand-in used when no SMTP server or SMS provider is configured
(`make run`): it logs the message and counts it as delivered."""

from __future__ import annotations

import html
import logging

from reminders.channels import Message

log = logging.getLogger(__name__)


def letter_html(message: Message) -> str:
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in message.body.split("\n") if p)
    return (
        f'<!doctype html><html lang="{message.language}"><head><meta charset="utf-8">'
        f"<title>{html.escape(message.subject)}</title></head><body>"
        f"<h1>{html.escape(message.subject)}</h1>{paragraphs}</body></html>"
    )


class LetterChannel:
    """The reminder's stored body is the letter; printing and posting is a person's job."""

    name = "letter"

    async def deliver(self, message: Message) -> None:
        log.info("letter ready", extra={"reminder_id": message.reminder_id})


class LoggingChannel:
    def __init__(self, name: str) -> None:
        self.name = name

    async def deliver(self, message: Message) -> None:
        log.info(
            "reminder delivered to the log (no %s transport configured)",
            self.name,
            extra={
                "reminder_id": message.reminder_id,
                "customer_id": message.customer_id,
                "recipient": message.recipient,
                "subject": message.subject,
            },
        )
