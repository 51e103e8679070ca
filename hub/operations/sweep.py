"""The sweep: SLA thresholds and time rules over every open conversation.

State lives in the store, not in timers: each sweep recomputes every clock from
the conversations and their events, so a restart loses nothing and a rule that
came due while the hub was down fires on the next sweep. Each decision is
stored once (see :meth:`Operations.record`), so two hubs sweeping together act
once.

* An opening message nobody triaged (its hub stopped first) is handled now:
  triage, assignment, acknowledgement, escalation.
* SLA (:mod:`hub.operations.sla`): at ``assign_at`` (50 %) an unassigned
  conversation goes to an available agent; at ``escalate_at`` (80 %) the team
  lead is notified and the priority raised a step; at 100 % the breach is
  recorded.
* Waiting on the customer: a warning at ``warn_hours`` and the conversation
  closed at ``close_hours`` since our last reply (wall-clock hours).
* Promises (``meta.follow_up``) still open after ``promise_hours``: the assignee
  (else the lead) is reminded once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from hub.errors import NotFound
from hub.handoff.context import promises_of
from hub.operations.service import pending_opening
from hub.operations.sla import Clock, resolution_clock, response_clock, sla_priority
from hub.operations.staffing import choose_agent
from hub.operations.triage import from_priority, raise_priority
from hub.pipeline import SendRejected
from hub.timeline.fold import is_conversational, is_reply
from hub.timeline.model import Conversation, ConversationStatus, Customer, Direction, Event
from hub.timeline.store import ConversationUpdate, InboxFilter

if TYPE_CHECKING:
    from hub.operations.service import Operations

__all__ = ["tick"]

OPEN = InboxFilter(status=(ConversationStatus.OPEN, ConversationStatus.PENDING))
_LABEL = {"first_response": "first response", "update": "update", "resolution": "resolution"}


async def tick(ops: Operations, now: datetime | None = None) -> list[Event]:
    """One sweep at ``now`` (default: the operations clock); the decisions it stored."""
    now = now or ops.clock()
    stored: list[Event] = []
    cursor: str | None = None
    while True:
        page = await ops.store.list_conversations(OPEN, cursor=cursor, limit=200)
        customers = await ops.store.get_customers([c.customer_id for c in page.items])
        for conv in page.items:
            stored += await _conversation(ops, conv, customers.get(conv.customer_id), now)
        cursor = page.next
        if cursor is None or not page.items:
            return stored


async def _conversation(
    ops: Operations, conv: Conversation, customer: Customer | None, now: datetime
) -> list[Event]:
    events = (await ops.store.events(conversation_id=conv.id, limit=200)).items
    missed = pending_opening(conv, events)
    if missed is not None:
        await ops.on_inbound(missed)
        conv = await _fresh(ops, conv)
        events = (await ops.store.events(conversation_id=conv.id, limit=200)).items
    policy = ops.policies.policy_for(conv, customer)
    calendar = ops.policies.calendar(policy)
    out: list[Event] = []
    clocks = [response_clock(conv, policy, calendar, now)]
    clocks.append(resolution_clock(conv, events, policy, calendar, now))
    for clock in clocks:
        if clock is not None and clock.running:
            out += await _thresholds(ops, conv, customer, clock, now)
            conv = await _fresh(ops, conv)
    out += await _waiting_on_customer(ops, conv, events, now)
    out += await _promises(ops, conv, events, now)
    return out


async def _fresh(ops: Operations, conv: Conversation) -> Conversation:
    try:
        return await ops.store.get_conversation(conv.id)
    except NotFound:
        return conv


async def _thresholds(
    ops: Operations, conv: Conversation, customer: Customer | None, clock: Clock, now: datetime
) -> list[Event]:
    sla = ops.settings.sla
    label = _LABEL[clock.name]
    key = f"{clock.name}:{clock.cycle}"
    pct = round(clock.fraction * 100)
    meta = {"clock": clock.name, "cycle": clock.cycle, "elapsed": round(clock.elapsed_seconds)}
    out: list[Event] = []
    if clock.fraction >= sla.assign_at and conv.assignee is None:
        agent = await choose_agent(ops.store, ops.settings, ops.online(), conv, customer)
        if agent is not None:
            event = await ops.record(
                conv,
                "sla_assign",
                key,
                f"SLA {label} at {pct} %: assigned to {agent.name}",
                rule=f"sla.{clock.name}.assign",
                now=now,
                agent=agent.id,
                **meta,
            )
            if event is not None:
                out.append(event)
                await ops.pipeline.update_conversation(
                    conv.id, ConversationUpdate(assignee=agent.id)
                )
                ops.alert(agent.id, conv, "sla_assign", f"{label} due soon")
    if clock.fraction >= sla.escalate_at:
        raised = raise_priority(conv.priority)
        lead = await ops.lead_for(conv)
        event = await ops.record(
            conv,
            "sla_warning",
            key,
            f"SLA {label} at {pct} %: priority {from_priority(conv.priority)} → "
            f"{from_priority(raised)}, {lead.name if lead else 'team lead'} notified",
            rule=f"sla.{clock.name}.escalate",
            now=now,
            lead=lead.id if lead else None,
            **meta,
        )
        if event is not None:
            out.append(event)
            tags = conv.tags
            if not any(t.startswith("sla:") for t in tags):
                tags = [*tags, f"sla:{sla_priority(conv).lower()}"]
            await ops.pipeline.update_conversation(
                conv.id, ConversationUpdate(priority=raised, tags=tags)
            )
            if lead is not None:
                ops.alert(lead.id, conv, "sla_warning", f"{label} at {pct} %")
    if clock.breached:
        event = await ops.record(
            conv,
            "sla_breach",
            key,
            f"SLA {label} breached ({sla_priority(conv)} target "
            f"{clock.target_seconds / 60:g} business minutes)",
            rule=f"sla.{clock.name}.breach",
            now=now,
            priority=sla_priority(conv),
            assignee=conv.assignee,
            **meta,
        )
        if event is not None:
            out.append(event)
    return out


def _last_reply(events: list[Event]) -> Event | None:
    """Our latest real reply, if the customer has not written since."""
    for event in reversed(events):
        if not is_conversational(event):
            continue
        if event.direction is Direction.IN:
            return None
        if is_reply(event):
            return event
    return None


async def _waiting_on_customer(
    ops: Operations, conv: Conversation, events: list[Event], now: datetime
) -> list[Event]:
    rules = ops.settings.time_rules
    reply = _last_reply(events)
    if reply is None or conv.waiting_since is not None:
        return []
    quiet = now - reply.occurred_at
    key = reply.id
    if quiet >= timedelta(hours=rules.close_hours):
        event = await ops.record(
            conv,
            "auto_close",
            key,
            f"Closed after {rules.close_hours:g} h without a customer reply",
            rule="time.close",
            now=now,
        )
        if event is not None:
            await ops.pipeline.update_conversation(
                conv.id, ConversationUpdate(status=ConversationStatus.RESOLVED, snoozed_until=None)
            )
            return [event]
        return []
    if quiet >= timedelta(hours=rules.warn_hours):
        if any(e.meta.get("operations") == "close_warning" for e in events if e.seq > reply.seq):
            return []
        try:
            sent = await ops.pipeline.send(
                conv.id,
                text=rules.warn_text,
                author="Support team (automatic)",
                client_ref=f"ops-warn:{conv.id}:{key}",
                meta={"automated": True, "operations": "close_warning", "rule": "time.warn"},
            )
        except SendRejected as exc:
            skipped = await ops.record(
                conv, "warn_skipped", key, f"No closing warning: {exc}", rule="time.warn", now=now
            )
            return [skipped] if skipped else []
        return [sent]
    return []


async def _promises(
    ops: Operations, conv: Conversation, events: list[Event], now: datetime
) -> list[Event]:
    out: list[Event] = []
    due = timedelta(hours=ops.settings.time_rules.promise_hours)
    for promise in promises_of(events):
        if now - promise.occurred_at < due:
            continue
        event = await ops.record(
            conv,
            "promise_reminder",
            promise.id,
            f"Reminder: a promise from {promise.occurred_at:%d %b %H:%M} UTC is still open",
            rule="time.promise",
            now=now,
            promise=promise.id,
        )
        if event is None:
            continue
        out.append(event)
        who = conv.assignee
        if who is None:
            lead = await ops.lead_for(conv)
            who = lead.id if lead else None
        if who is not None:
            ops.alert(who, conv, "promise_reminder", promise.text or "a promise is still open")
    return out
