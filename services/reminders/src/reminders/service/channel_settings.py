"""A tenant's own channel settings over the process-wide ones (`REMINDERS_*`).

Stored per tenant, each field optional: a field the tenant has not set falls back to the
process-wide setting. A tenant's webhook URL is always signed with the tenant's own secret
and a tenant's SMS provider gets only the tenant's own token: the deployment's secret and
token never go to an address a tenant chose, and a tenant's URLs must point at public
addresses (checked when stored and, by the channels, before every attempt; unless
`REMINDERS_ALLOW_PRIVATE_ADDRESSES`). The secrets are write-only: the API says whether one
is set, never what it is, and nothing logs them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from huikuan_runtime.addresses import literal_problem
from huikuan_runtime.db import unit_of_work
from huikuan_runtime.problems import InvalidInput
from reminders.config import Settings, sender_domains
from reminders.domain.calendar import Window
from reminders.store import settings as store


@dataclass(frozen=True, slots=True)
class TenantSettings:
    """What one tenant's deliveries and calendar use."""

    mail_from: str
    webhook_url: str | None
    webhook_secret: str
    webhook_own: bool
    sms_url: str | None
    sms_token: str | None
    sms_own: bool
    window: Window
    default_timezone: str


def calendar_of(
    row: Mapping[str, Any] | None, window: Window, default_timezone: str
) -> tuple[Window, str]:
    """The send window and default time zone of a tenant: its own, else the given ones."""
    r = row or {}
    return (
        Window(r.get("send_window_start") or window.start, r.get("send_window_end") or window.end),
        r.get("default_timezone") or default_timezone,
    )


def effective(settings: Settings, row: Mapping[str, Any] | None) -> TenantSettings:
    r = row or {}
    window, zone = calendar_of(
        r, Window(settings.send_window_start, settings.send_window_end), settings.default_timezone
    )
    webhook_own, sms_own = bool(r.get("webhook_url")), bool(r.get("sms_url"))
    process_token = settings.sms_token.get_secret_value() if settings.sms_token else None
    return TenantSettings(
        mail_from=r.get("mail_from") or settings.mail_from,
        webhook_url=r["webhook_url"] if webhook_own else settings.webhook_url,
        webhook_secret=(
            r["webhook_secret"] if webhook_own else settings.webhook_secret.get_secret_value()
        ),
        webhook_own=webhook_own,
        sms_url=r["sms_url"] if sms_own else settings.sms_url,
        sms_token=r.get("sms_token") if sms_own else process_token,
        sms_own=sms_own,
        window=window,
        default_timezone=zone,
    )


async def stored(pool: asyncpg.Pool, tenant: str) -> asyncpg.Record | None:
    """The tenant's own settings as stored (None: it has set none)."""
    async with pool.acquire() as conn:
        return await store.get(conn, tenant)


async def save(
    pool: asyncpg.Pool,
    tenant: str,
    changes: dict[str, Any],
    settings: Settings,
    at: datetime,
) -> asyncpg.Record:
    """Apply `changes` (the fields the caller sent; None clears one) over what is stored,
    check the result and store it. Refused with 422, nothing written, when the send window
    would not start before it ends (with the process-wide values filling in), or a URL and
    its secret or token would not go together."""
    async with unit_of_work(pool) as conn:
        await store.lock(conn, tenant)
        merged = _merged(await store.get(conn, tenant), changes, settings)
        return await store.put(conn, tenant, merged, at)


def _merged(
    row: asyncpg.Record | None, changes: dict[str, Any], settings: Settings
) -> dict[str, Any]:
    """`changes` over `row`, checked (see `save`)."""
    merged = {f: changes[f] if f in changes else (row[f] if row else None) for f in store.FIELDS}
    errors: list[dict[str, str]] = []
    window = effective(settings, merged).window
    if not window.start < window.end:
        field = "send_window_end" if "send_window_end" in changes else "send_window_start"
        errors.append(
            {
                "field": field,
                "message": f"the send window must start before it ends "
                f"({window.start:%H:%M} to {window.end:%H:%M})",
            }
        )
    if merged["webhook_url"] and not merged["webhook_secret"]:
        errors.append(
            {
                "field": "webhook_secret",
                "message": "required with webhook_url: a "
                "tenant's webhooks are signed with the tenant's own secret",
            }
        )
    if merged["webhook_secret"] and not merged["webhook_url"]:
        errors.append(
            {
                "field": "webhook_url",
                "message": "webhook_secret is set: give the "
                "webhook_url it signs for (or clear both)",
            }
        )
    for f in ("webhook_url", "sms_url"):
        url = changes.get(f)
        if url and not settings.allow_private_addresses and (problem := literal_problem(url)):
            errors.append(
                {"field": f, "message": f"{problem}: a tenant's {f} must point at a public address"}
            )
    if sender := changes.get("mail_from"):
        domain, allowed = sender.rpartition("@")[2].lower().rstrip("."), sender_domains(settings)
        if not any(domain == d or domain.endswith("." + d) for d in allowed):
            errors.append(
                {
                    "field": "mail_from",
                    "message": "a tenant's sender must be at "
                    f"{' or '.join(allowed)} (REMINDERS_SENDER_DOMAINS)",
                }
            )
    if merged["sms_token"] and not merged["sms_url"]:
        errors.append(
            {
                "field": "sms_url",
                "message": "sms_token is set: give the sms_url of "
                "the provider it is for (or clear both)",
            }
        )
    if errors:
        raise InvalidInput(
            "; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors
        )
    return merged
