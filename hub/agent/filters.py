"""Template filters for the agent view: times, durations, channel names, delivery labels."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import jinja2

from hub.agent.visitors import customer_label
from hub.timeline.model import utcnow

__all__ = ["CHANNEL_LABELS", "install"]

CHANNEL_LABELS = {
    "chat": "Chat",
    "email": "Email",
    "sms": "SMS",
    "voice": "Phone",
    "whatsapp": "WhatsApp",
    "messenger": "Messenger",
    "instagram": "Instagram",
    "telegram": "Telegram",
    "api": "API",
    "hub": "Hub",
}

DELIVERY_LABELS = {
    "queued": "Queued",
    "sending": "Sending",
    "sent": "Sent",
    "delivered": "Delivered",
    "read": "Read",
    "failed": "Failed",
}


def channel_label(channel: str | None) -> str:
    """``sms`` → ``SMS``; unknown channels keep their name."""
    if not channel:
        return ""
    return CHANNEL_LABELS.get(channel, channel.replace("_", " ").title())


def span(seconds: float | int | None) -> str:
    """A duration for people: ``45s``, ``3m 05s``, ``2h 10m``, ``3d 4h``."""
    if seconds is None:
        return ""
    total = max(0, int(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def since(when: datetime | None, now: datetime | None = None) -> str:
    """How long ago ``when`` was, as :func:`span` (empty for ``None``)."""
    if when is None:
        return ""
    return span(((now or utcnow()) - when).total_seconds())


def clock(when: datetime | None) -> str:
    """``2026-05-01 14:03 UTC`` (the page's script shows it in local time)."""
    return "" if when is None else when.strftime("%Y-%m-%d %H:%M UTC")


def iso(when: datetime | None) -> str:
    return "" if when is None else when.isoformat()


def delivery_label(status: Any) -> str:
    value = getattr(status, "value", status)
    return DELIVERY_LABELS.get(str(value), str(value))


def install(env: jinja2.Environment) -> None:
    """Register the filters on ``env``."""
    env.filters.update(
        channel=channel_label,
        span=span,
        since=since,
        clock=clock,
        iso=iso,
        delivery=delivery_label,
        label=customer_label,
    )
