"""What the agent view shows of operations: each conversation's SLA countdown, the
inbox sorted by what is due soonest, and the configuration (read-only)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from hub.operations.sla import Clock, resolution_clock, response_clock
from hub.timeline.model import Conversation, Customer, Event

if TYPE_CHECKING:
    from hub.operations.service import Operations

__all__ = ["SlaBadge", "badges", "config_summary", "resolution_badge", "span_text"]

State = Literal["ok", "warning", "breached"]
_NAMES = {"first_response": "First response", "update": "Update", "resolution": "Resolution"}


def span_text(seconds: float) -> str:
    """``5400`` → ``"1h 30m"``; ``"45s"`` under a minute."""
    seconds = abs(int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes = seconds // 60
    days, minutes = divmod(minutes, 1440)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m"


@dataclass(frozen=True, slots=True)
class SlaBadge:
    """One clock as the agent sees it: ``label`` ("First response due in 35m")."""

    clock: str
    due_at: datetime | None
    state: State
    remaining: float
    fraction: float

    @property
    def label(self) -> str:
        name = _NAMES[self.clock]
        if self.state == "breached":
            return f"{name} overdue by {span_text(self.remaining)}"
        return f"{name} due in {span_text(self.remaining)}"


def _badge(ops: Operations, clock: Clock, now: datetime) -> SlaBadge:
    if clock.breached:
        state: State = "breached"
    elif clock.fraction >= ops.settings.sla.escalate_at:
        state = "warning"
    else:
        state = "ok"
    return SlaBadge(clock.name, clock.due_at, state, clock.remaining(now), clock.fraction)


def badges(
    ops: Operations,
    convs: Sequence[Conversation],
    customers: Mapping[str, Customer],
    now: datetime,
) -> dict[str, SlaBadge]:
    """The reply each conversation owes (first response or update), by conversation id;
    conversations waiting on the customer or resolved have none. No store reads."""
    out: dict[str, SlaBadge] = {}
    for conv in convs:
        policy = ops.policies.policy_for(conv, customers.get(conv.customer_id))
        clock = response_clock(conv, policy, ops.policies.calendar(policy), now)
        if clock is not None:
            out[conv.id] = _badge(ops, clock, now)
    return out


def resolution_badge(
    ops: Operations,
    conv: Conversation,
    customer: Customer | None,
    events: Sequence[Event],
    now: datetime,
) -> SlaBadge:
    """The resolution clock (paused while we wait on the customer)."""
    policy = ops.policies.policy_for(conv, customer)
    clock = resolution_clock(conv, events, policy, ops.policies.calendar(policy), now)
    badge = _badge(ops, clock, now)
    if not clock.running and not clock.breached:
        return SlaBadge(clock.name, None, "ok", badge.remaining, badge.fraction)
    return badge


def config_summary(ops: Operations) -> dict[str, Any]:
    """The configuration, as the agent view lists it (read-only)."""
    s = ops.settings
    return {
        "rules": [r.model_dump(exclude_defaults=True) for r in s.rules],
        "escalations": [e.model_dump() for e in s.escalations],
        "policies": [p.model_dump() for p in s.sla.all_policies],
        "calendars": {k: v.model_dump(mode="json") for k, v in s.calendars.items()},
        "teams": {k: v.model_dump() for k, v in s.teams.items()},
        "staff": {k: v.model_dump() for k, v in s.staff.items()},
        "thresholds": {"assign_at": s.sla.assign_at, "escalate_at": s.sla.escalate_at},
        "time_rules": s.time_rules.model_dump(),
    }
