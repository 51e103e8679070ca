"""What one conversation contributes to the service metrics, read from its timeline.

Everything comes from the conversation's events, so a merge (which re-points a
customer's events, never a conversation's) or a channel switch (which continues the
same conversation) leaves the numbers as they were:

* **opened** — the customer's first message; **channel** — the channel it came on;
* **first response** — business seconds from that message to our first real reply
  (an automated acknowledgement is not one), on the calendar of the conversation's
  SLA policy (round the clock for P1 by default, Mon-Fri 09:00-17:00 for the rest);
* **resolution** — business seconds from opening to the last resolution (an agent's
  or the 72 h auto-close, as operations records them; else the conversation's
  ``resolved_at``);
* **handle time** — business seconds the conversation spent waiting on us (each
  customer message until our next reply), a diagnostic;
* **reopened** — a customer message after a resolution; **first-contact resolution** —
  resolved, never reopened, with exactly one reply from us;
* **transfers**, **SLA breaches** — operations' ``transfer`` and ``sla_breach`` events;
* **CSAT / CES / NPS** — survey answers (``meta.survey``, see :mod:`hub.surveys`);
  ``surveyed`` when a survey went out (``meta.survey_sent``);
* **macros** — the macros our replies were written from (``meta.macro``), in order.

Dimensions: the final assignee (``agent``), ``team`` and ``support_tier`` (tags
``team:…``, ``tier:…``), ``priority`` (the one whose SLA policy applies) and the
customer's ``tier`` (the SLA's customer-tier attribute, e.g. ``plan``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from hub.operations.calendar import BusinessCalendar
from hub.operations.sla import Policies, sla_priority
from hub.operations.triage import team_of, tier_of
from hub.timeline.fold import is_conversational, is_reply
from hub.timeline.model import Conversation, ConversationStatus, Customer, Direction, Event

__all__ = ["DIMENSIONS", "Facts", "dress", "facts_of", "measure"]

DIMENSIONS = ("agent", "team", "channel", "priority", "tier", "support_tier")
_RESOLUTIONS = ("resolved", "auto_close")


@dataclass(slots=True)
class Facts:
    """One conversation's contribution (times in business seconds)."""

    conversation_id: str
    opened_at: datetime
    channel: str
    agent: str
    team: str
    priority: str
    tier: str
    support_tier: str
    first_response: float | None = None
    resolution: float | None = None
    handle: float = 0.0
    resolved: bool = False
    reopened: bool = False
    replies: int = 0
    transfers: int = 0
    breaches: int = 0
    surveyed: list[str] = field(default_factory=list)
    csat: int | None = None
    ces: int | None = None
    nps: int | None = None
    macros: tuple[str, ...] = ()

    @property
    def fcr(self) -> bool:
        return self.resolved and not self.reopened and self.replies == 1

    def dimension(self, name: str) -> str:
        value: str = getattr(self, name)
        return value


def facts_of(
    conv: Conversation,
    events: Sequence[Event],
    customer: Customer | None,
    policies: Policies,
    *,
    names: dict[str, str] | None = None,
) -> Facts | None:
    """The facts of ``conv`` from its ``events`` (oldest first); ``None`` before the
    customer wrote (nothing to measure)."""
    calendar = policies.calendar(policies.policy_for(conv, customer))
    measured = measure(events, calendar)
    if measured is None:
        return None
    return dress(measured, conv, customer, policies, names=names)


def measure(events: Sequence[Event], calendar: BusinessCalendar) -> Facts | None:
    """What the events alone say, on ``calendar`` (the dimensions left blank for
    :func:`dress`); ``None`` before the customer wrote. Reports cache this part."""
    first_in = next(
        (e for e in events if e.direction is Direction.IN and is_conversational(e)), None
    )
    if first_in is None:
        return None
    facts = Facts(
        conversation_id=first_in.conversation_id or "",
        opened_at=first_in.occurred_at,
        channel=first_in.channel,
        agent="",
        team="",
        priority="",
        tier="",
        support_tier="",
    )
    _walk(facts, events, calendar)
    return facts


def dress(
    measured: Facts,
    conv: Conversation,
    customer: Customer | None,
    policies: Policies,
    *,
    names: dict[str, str] | None = None,
) -> Facts:
    """``measured`` (left as it is) with the dimensions of ``conv`` and ``customer``, and
    the conversation's own resolution where the timeline records none."""
    attrs = customer.attributes if customer is not None else {}
    tier_attr = policies.settings.customer_tier_attribute
    agent = conv.assignee or "unassigned"
    m = measured
    facts = Facts(
        conv.id,
        m.opened_at,
        m.channel,
        (names or {}).get(agent, agent),
        team_of(conv.tags) or "none",
        sla_priority(conv),
        str(attrs.get(tier_attr) or "none").lower(),
        tier_of(conv.tags) or "none",
        m.first_response,
        m.resolution,
        m.handle,
        m.resolved,
        m.reopened,
        m.replies,
        m.transfers,
        m.breaches,
        m.surveyed,
        m.csat,
        m.ces,
        m.nps,
        m.macros,
    )
    if not facts.resolved and conv.status is ConversationStatus.RESOLVED and conv.resolved_at:
        calendar = policies.calendar(policies.policy_for(conv, customer))
        facts.resolved = True
        facts.resolution = calendar.seconds_between(facts.opened_at, conv.resolved_at)
    return facts


def _walk(facts: Facts, events: Sequence[Event], calendar: BusinessCalendar) -> None:
    waiting_from: datetime | None = None
    resolved_at: datetime | None = None
    for event in events:
        what = event.meta.get("operations")
        if what in _RESOLUTIONS:
            resolved_at = event.occurred_at
            continue
        if what == "transfer":
            facts.transfers += 1
        elif what == "sla_breach":
            facts.breaches += 1
        _survey(facts, event)
        if not is_conversational(event):
            continue
        if event.direction is Direction.IN:
            if resolved_at is not None:
                facts.reopened = True
                resolved_at = None
            if waiting_from is None:
                waiting_from = event.occurred_at
        elif is_reply(event):
            facts.replies += 1
            macro = event.meta.get("macro")
            if isinstance(macro, str) and macro not in facts.macros:
                facts.macros = (*facts.macros, macro)
            if facts.first_response is None:
                facts.first_response = calendar.seconds_between(facts.opened_at, event.occurred_at)
            if waiting_from is not None:
                facts.handle += calendar.seconds_between(waiting_from, event.occurred_at)
                waiting_from = None
    if resolved_at is not None:
        facts.resolved = True
        facts.resolution = calendar.seconds_between(facts.opened_at, resolved_at)


def _survey(facts: Facts, event: Event) -> None:
    sent = event.meta.get("survey_sent")
    if isinstance(sent, dict) and isinstance(sent.get("kind"), str):
        facts.surveyed.append(sent["kind"])
    answer = event.meta.get("survey")
    if not isinstance(answer, dict) or not isinstance(answer.get("score"), int):
        return
    kind, score = answer.get("kind"), int(answer["score"])
    if kind == "csat":
        facts.csat = score
    elif kind == "ces":
        facts.ces = score
    elif kind == "nps":
        facts.nps = score
