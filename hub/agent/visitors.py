"""Visitors agents can recognise: a friendly name for anonymous customers, and what the
widget reported about the visitor (page, referrer, browser, language, local time).

The name is generated for display only (``customer.name`` stays unset, so a real
name, given later, wins) and is stable: the same customer always gets the same
one. The context comes from the ``visitor`` meta of the customer's latest chat
message (``hub.connectors.chat``: the widget's ``hello.page`` and the socket's
``User-Agent``), reported by the browser and unverified: context, never evidence.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ua_parser import parse as parse_user_agent

from hub.agent.i18n import gettext
from hub.timeline.model import Direction

if TYPE_CHECKING:
    from collections.abc import Sequence

    from hub.timeline.model import Customer, Event

__all__ = ["VisitorContext", "browser_of", "customer_label", "friendly_name", "visitor_context"]

_ADJECTIVES = (
    "Amber", "Azure", "Brave", "Bright", "Calm", "Coral", "Crimson", "Dapper", "Eager",
    "Gentle", "Golden", "Happy", "Indigo", "Jade", "Jolly", "Kind", "Lively", "Lucky",
    "Maple", "Mellow", "Misty", "Nimble", "Olive", "Polite", "Quiet", "Rosy", "Rusty",
    "Silver", "Sunny", "Swift", "Teal", "Witty",
)  # fmt: skip
_ANIMALS = (
    "Badger", "Beaver", "Crane", "Dolphin", "Falcon", "Fox", "Gecko", "Heron", "Ibis",
    "Koala", "Lark", "Lemur", "Lynx", "Marten", "Moose", "Newt", "Otter", "Owl", "Panda",
    "Puffin", "Quail", "Raven", "Robin", "Seal", "Sparrow", "Stork", "Swan", "Tapir",
    "Toucan", "Walrus", "Wren", "Yak",
)  # fmt: skip


def friendly_name(seed: str) -> str:
    """A stable, friendly two-word name for ``seed`` ("Amber Otter")."""
    digest = hashlib.sha256(seed.encode()).digest()
    return f"{_ADJECTIVES[digest[0] % len(_ADJECTIVES)]} {_ANIMALS[digest[1] % len(_ANIMALS)]}"


def customer_label(customer: Customer | None) -> str:
    """How the agent view names a customer: their name, else a friendly generated one."""
    if customer is None:
        return gettext("Unknown customer")
    if customer.name:
        return customer.name
    chat = next((i for i in customer.identities if i.kind == "chat"), None)
    return friendly_name(chat.value if chat else customer.id)


def browser_of(user_agent: str) -> str:
    """ "Firefox 128 on Windows", from a ``User-Agent`` header."""
    parsed = parse_user_agent(user_agent)
    browser = parsed.user_agent
    name = browser.family if browser else "Unknown browser"
    if browser and browser.major:
        name += f" {browser.major}"
    system = parsed.os
    return f"{name} on {system.family}" if system and system.family != "Other" else name


@dataclass(frozen=True, slots=True)
class VisitorContext:
    """What the agent's side panel shows about a chat visitor (all optional)."""

    page_url: str | None = None
    page_title: str | None = None
    referrer: str | None = None
    browser: str | None = None
    language: str | None = None
    time_zone: str | None = None
    local_time: str | None = None


def visitor_context(events: Sequence[Event], now: datetime | None = None) -> VisitorContext | None:
    """The context of the latest inbound chat message that has one, or ``None``."""
    for event in reversed(events):
        seen = event.meta.get("visitor") if event.direction is Direction.IN else None
        if event.channel == "chat" and isinstance(seen, dict) and seen:
            return _context({k: str(v) for k, v in seen.items()}, now or datetime.now(UTC))
    return None


def _context(seen: dict[str, str], now: datetime) -> VisitorContext:
    zone, local = seen.get("tz"), None
    if zone:
        try:
            local = now.astimezone(ZoneInfo(zone)).strftime("%H:%M (%a)")
        except (ZoneInfoNotFoundError, ValueError):
            zone = None
    agent = seen.get("user_agent")
    return VisitorContext(
        page_url=seen.get("url"),
        page_title=seen.get("title"),
        referrer=seen.get("referrer"),
        browser=browser_of(agent) if agent else None,
        language=seen.get("lang"),
        time_zone=zone,
        local_time=local,
    )
