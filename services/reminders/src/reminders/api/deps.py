"""What reminders' routes get from the app for its lifetime, as typed dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from huikuan_runtime.deps import app_state
from reminders.config import Settings
from reminders.render import Renderer
from reminders.service.schedule import TenantChannels

Config = Annotated[Settings, Depends(app_state("settings"))]
Texts = Annotated[Renderer, Depends(app_state("renderer"))]
Channels = Annotated[TenantChannels, Depends(app_state("channels"))]
