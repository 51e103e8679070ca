"""Template filters for the agent view: times, durations, channel names, delivery labels."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import jinja2

from hub.agent.i18n import N_, gettext
from hub.agent.visitors import customer_label
from hub.timeline.model import utcnow

__all__ = ["CHANNEL_LABELS", "install"]

CHANNEL_LABELS = {
    "chat": N_("Chat"),
    "email": N_("Email"),
    "sms": N_("SMS"),
    "voice": N_("Phone"),
    "whatsapp": N_("WhatsApp"),
    "messenger": N_("Messenger"),
    "instagram": N_("Instagram"),
    "telegram": N_("Telegram"),
    "api": N_("API"),
    "hub": N_("Hub"),
}

DELIVERY_LABELS = {
    "queued": N_("Queued"),
    "sending": N_("Sending"),
    "sent": N_("Sent"),
    "delivered": N_("Delivered"),
    "read": N_("Read"),
    "failed": N_("Failed"),
}


def channel_label(channel: str | None) -> str:
    """``sms`` → ``SMS``; unknown channels keep their name."""
    if not channel:
        return ""
    known = CHANNEL_LABELS.get(channel)
    return gettext(known) if known else channel.replace("_", " ").title()


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
    known = DELIVERY_LABELS.get(str(value))
    return gettext(known) if known else str(value)


PRIORITY_LABELS = {
    "low": N_("Low"),
    "normal": N_("Normal"),
    "high": N_("High"),
    "urgent": N_("Urgent"),
}
STATUS_LABELS = {
    "open": N_("Open"),
    "pending": N_("Pending"),
    "snoozed": N_("Snoozed"),
    "resolved": N_("Resolved"),
}


def priority_label(value: str) -> str:
    known = PRIORITY_LABELS.get(value)
    return gettext(known) if known else value.capitalize()


def status_label(value: str) -> str:
    known = STATUS_LABELS.get(value)
    return gettext(known) if known else value.capitalize()


SLA_CLOCKS = {
    "first_response": N_("First response"),
    "update": N_("Update"),
    "resolution": N_("Resolution"),
}


def sla_label(badge: Any) -> str:
    """An operations SLA badge (:class:`hub.operations.display.SlaBadge`) for people:
    "First response due in 35m", "Update overdue by 1h 05m"."""
    from hub.operations.display import span_text

    name = gettext(SLA_CLOCKS.get(badge.clock, badge.clock))
    left = span_text(badge.remaining)
    if badge.state == "breached":
        return gettext("%(clock)s overdue by %(left)s") % {"clock": name, "left": left}
    return gettext("%(clock)s due in %(left)s") % {"clock": name, "left": left}


def labels(tags: list[str]) -> list[str]:
    """A conversation's labels: its tags but the ``team:``/``tier:`` ones operations sets."""
    return [t for t in tags if not t.startswith(("team:", "tier:"))]


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
        priority=priority_label,
        status=status_label,
        sla=sla_label,
        labels=labels,
    )
