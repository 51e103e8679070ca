"""Who can take a conversation now (skills, language, load, online), and an honest
estimate of when a new one will be answered."""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta

from hub.operations.calendar import BusinessCalendar
from hub.operations.settings import OperationsSettings, StaffMember
from hub.operations.triage import team_of
from hub.timeline.model import Agent, Conversation, ConversationStatus, Customer
from hub.timeline.store import InboxFilter, TimelineStore

__all__ = ["choose_agent", "estimate_wait", "load_of", "phrase_estimate"]

_DEFAULT_STAFF = StaffMember()
_OPEN = InboxFilter(status=(ConversationStatus.OPEN, ConversationStatus.PENDING))


async def load_of(store: TimelineStore, agent_id: str, cap: int) -> int:
    """How many open conversations ``agent_id`` holds (counted up to ``cap``)."""
    page = await store.list_conversations(
        InboxFilter(status=_OPEN.status, assignee=agent_id), limit=cap
    )
    return len(page.items)


async def choose_agent(
    store: TimelineStore,
    settings: OperationsSettings,
    online: set[str],
    conv: Conversation,
    customer: Customer | None,
) -> Agent | None:
    """The least-loaded online agent with the team's skill and the customer's language
    who is below their capacity; ``None`` when nobody can take it."""
    team = settings.teams.get(team_of(conv.tags) or "")
    skill = team.skill if team is not None else None
    language = (customer.attributes.get("language") if customer else None) or None
    best: tuple[int, str, Agent] | None = None
    for agent in await store.list_agents():
        if agent.disabled or agent.id not in online:
            continue
        staff = settings.staff.get(agent.email, _DEFAULT_STAFF)
        if skill and skill not in staff.skills:
            continue
        if language and str(language).lower() not in {x.lower() for x in staff.languages}:
            continue
        load = await load_of(store, agent.id, staff.capacity)
        if load >= staff.capacity:
            continue
        if best is None or (load, agent.id) < best[:2]:
            best = (load, agent.id, agent)
    return best[2] if best else None


async def estimate_wait(
    store: TimelineStore,
    settings: OperationsSettings,
    online: int,
    fallback_seconds: float,
) -> float:
    """Seconds (of business time) until a new conversation is likely answered: the median
    first-response time of the latest answered conversations, stretched by the queue
    when more customers wait than the online agents can hold; the SLA target when
    there is no history yet."""
    recent = await store.list_conversations(InboxFilter(status=()), limit=settings.ack.sample * 3)
    samples = [
        (c.first_response_at - c.opened_at).total_seconds()
        for c in recent.items
        if c.first_response_at is not None and c.first_response_at >= c.opened_at
    ][: settings.ack.sample]
    base = statistics.median(samples) if samples else fallback_seconds
    waiting = await store.list_conversations(_OPEN, sort="waiting", limit=200)
    capacity = max(1, online) * max(
        (s.capacity for s in settings.staff.values()), default=_DEFAULT_STAFF.capacity
    )
    stretch = max(1.0, len(waiting.items) / capacity)
    return max(60.0, base * stretch)


def phrase_estimate(calendar: BusinessCalendar, now: datetime, seconds: float) -> str:
    """ "within about 2 hours", or "by Monday 09:30 (Europe/Paris)" when business hours
    push the answer past today."""
    due = calendar.add(now, seconds)
    wall = due - now
    if wall <= timedelta(hours=12) and (calendar.always or wall.total_seconds() <= seconds + 60):
        minutes = max(1, round(wall.total_seconds() / 60))
        if minutes < 90:
            rounded = max(5, 5 * round(minutes / 5)) if minutes > 5 else minutes
            return f"within about {rounded} minute{'s' if rounded != 1 else ''}"
        hours = round(minutes / 60)
        return f"within about {hours} hours"
    local = due.astimezone(calendar.zone)
    return f"by {local:%A %H:%M} ({calendar.zone.key})"
