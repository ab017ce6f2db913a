"""What reminders' routes get from the app for its lifetime, as typed dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from reminders.render import Renderer
from reminders.service.schedule import TenantChannels


def get_renderer(request: Request) -> Renderer:
    renderer: Renderer = request.app.state.renderer
    return renderer


def get_channels(request: Request) -> TenantChannels:
    channels: TenantChannels = request.app.state.channels
    return channels


Texts = Annotated[Renderer, Depends(get_renderer)]
Channels = Annotated[TenantChannels, Depends(get_channels)]
