"""`/dunning/settings`: the tenant's own channel settings over the deployment's."""

from __future__ import annotations

from typing import Any

import asyncpg
from fastapi import APIRouter

from huikuan_contracts.reminders import (
    ChannelSettingsPublic,
    ChannelSettingsPut,
    EffectiveChannelSettings,
    Transport,
    hhmm,
    parse_hhmm,
)
from huikuan_runtime.deps import Clock, Pool
from huikuan_runtime.http import TenantId
from reminders.api.deps import Config
from reminders.config import Settings
from reminders.service import channel_settings

router = APIRouter(prefix="/dunning/settings", tags=["dunning"])


def _public(row: asyncpg.Record | None, settings: Settings) -> ChannelSettingsPublic:
    own = channel_settings.effective(settings, row)
    r: dict[str, Any] = dict(row) if row else {}

    def transport(is_own: bool, url: str | None) -> Transport:
        return "tenant" if is_own else "deployment" if url else "log"

    return ChannelSettingsPublic(
        mail_from=r.get("mail_from"),
        webhook_url=r.get("webhook_url"),
        webhook_secret_set=bool(r.get("webhook_secret")),
        sms_url=r.get("sms_url"),
        sms_token_set=bool(r.get("sms_token")),
        send_window_start=hhmm(r.get("send_window_start")),
        send_window_end=hhmm(r.get("send_window_end")),
        default_timezone=r.get("default_timezone"),
        updated_at=r.get("updated_at"),
        effective=EffectiveChannelSettings(
            mail_from=own.mail_from,
            webhook=transport(own.webhook_own, own.webhook_url),
            sms=transport(own.sms_own, own.sms_url),
            send_window_start=hhmm(own.window.start),
            send_window_end=hhmm(own.window.end),
            default_timezone=own.default_timezone,
        ),
    )


@router.get("", response_model=ChannelSettingsPublic)
async def get_settings(tenant: TenantId, pool: Pool, settings: Config) -> ChannelSettingsPublic:
    return _public(await channel_settings.stored(pool, tenant), settings)


@router.put("", response_model=ChannelSettingsPublic)
async def put_settings(
    body: ChannelSettingsPut, tenant: TenantId, pool: Pool, settings: Config, clock: Clock
) -> ChannelSettingsPublic:
    """Change the fields sent (null clears one); the secrets are write-only."""
    changes: dict[str, Any] = {f: getattr(body, f) for f in body.model_fields_set}
    for f in ("send_window_start", "send_window_end"):
        if f in changes:
            changes[f] = parse_hhmm(changes[f])
    row = await channel_settings.save(pool, tenant, changes, settings, clock.now())
    return _public(row, settings)
