"""SLA clocks: which policy holds for a conversation, and how much of each target's
business time has gone.

Three clocks, each in business time on the policy's calendar:

* ``first_response`` — from the customer's first unanswered message to our first
  reply (an automated acknowledgement is not a reply);
* ``update`` — after that, each time the customer waits on us again, until we
  answer (only for policies with an update frequency);
* ``resolution`` — the time the conversation spent waiting on us, from its first
  message to its resolution: it pauses while we wait on the customer.

The policy follows the conversation's priority, except that once the 80 % rule
raised it the tag ``sla:p2`` keeps the original policy (raising a priority to get
attention must not move the goalposts).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from hub.operations.calendar import ALWAYS, BusinessCalendar
from hub.operations.settings import SlaPolicy, SlaSettings
from hub.operations.triage import from_priority
from hub.timeline.fold import is_conversational, is_reply
from hub.timeline.model import Conversation, ConversationStatus, Customer, Direction, Event

__all__ = ["Clock", "Policies", "resolution_clock", "response_clock", "sla_priority"]


@dataclass(frozen=True, slots=True)
class Clock:
    """One running or stopped SLA clock."""

    name: str
    cycle: str
    target_seconds: float
    elapsed_seconds: float
    due_at: datetime | None
    running: bool

    @property
    def fraction(self) -> float:
        return self.elapsed_seconds / self.target_seconds

    @property
    def breached(self) -> bool:
        return self.elapsed_seconds >= self.target_seconds

    def remaining(self, now: datetime) -> float:
        """Wall-clock seconds until due (negative once overdue)."""
        if self.due_at is None:
            return self.target_seconds - self.elapsed_seconds
        return (self.due_at - now).total_seconds()


def sla_priority(conv: Conversation) -> str:
    """The priority whose policy applies (``P1``…``P4``)."""
    pinned = next((t for t in conv.tags if t.startswith("sla:")), None)
    if pinned is not None and pinned[4:].upper() in ("P1", "P2", "P3", "P4"):
        return pinned[4:].upper()
    return from_priority(conv.priority)


class Policies:
    """SLA settings with their calendars resolved."""

    def __init__(self, settings: SlaSettings, calendars: Mapping[str, BusinessCalendar]) -> None:
        self.settings = settings
        self.calendars = {"always": ALWAYS, **calendars}

    def policy_for(self, conv: Conversation, customer: Customer | None) -> SlaPolicy:
        channel = conv.channels[0] if conv.channels else (conv.last_channel or "*")
        attrs = customer.attributes if customer is not None else {}
        tier = str(attrs.get(self.settings.customer_tier_attribute, "")).lower()
        priority = sla_priority(conv)
        for policy in self.settings.all_policies:
            if policy.priority != priority:
                continue
            if policy.channel not in ("*", channel):
                continue
            if policy.customer_tier not in ("*", tier):
                continue
            return policy
        raise AssertionError("the default policies cover every priority")

    def calendar(self, policy: SlaPolicy) -> BusinessCalendar:
        return self.calendars[policy.calendar]


def _clock(
    name: str,
    cycle: str,
    target_minutes: float,
    start: datetime,
    now: datetime,
    calendar: BusinessCalendar,
) -> Clock:
    target = target_minutes * 60
    elapsed = calendar.seconds_between(start, now)
    due = calendar.add(start, target)
    return Clock(name, cycle, target, elapsed, due, True)


def response_clock(
    conv: Conversation, policy: SlaPolicy, calendar: BusinessCalendar, now: datetime
) -> Clock | None:
    """The reply we owe now (first response or next update), or ``None`` while the
    conversation waits on the customer or is resolved."""
    if conv.status is ConversationStatus.RESOLVED or conv.waiting_since is None:
        return None
    if conv.first_response_at is None:
        return _clock(
            "first_response",
            "first",
            policy.first_response_minutes,
            conv.waiting_since,
            now,
            calendar,
        )
    if policy.update_minutes <= 0:
        return None
    cycle = conv.waiting_since.isoformat()
    return _clock("update", cycle, policy.update_minutes, conv.waiting_since, now, calendar)


def resolution_clock(
    conv: Conversation,
    events: Sequence[Event],
    policy: SlaPolicy,
    calendar: BusinessCalendar,
    now: datetime,
) -> Clock:
    """Business time spent waiting on us, from ``events`` (the conversation's, oldest first)."""
    elapsed = 0.0
    waiting_from: datetime | None = None
    for event in events:
        if not is_conversational(event):
            continue
        if event.direction is Direction.IN:
            if waiting_from is None:
                waiting_from = event.occurred_at
        elif is_reply(event) and waiting_from is not None:
            elapsed += calendar.seconds_between(waiting_from, event.occurred_at)
            waiting_from = None
    target = policy.resolution_minutes * 60
    running = waiting_from is not None and conv.status is not ConversationStatus.RESOLVED
    if running:
        assert waiting_from is not None
        elapsed += calendar.seconds_between(waiting_from, now)
        due = calendar.add(now, max(0.0, target - elapsed)) if elapsed < target else None
        return Clock("resolution", "0", target, elapsed, due, True)
    return Clock("resolution", "0", target, elapsed, None, False)
