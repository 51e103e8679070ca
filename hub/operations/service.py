"""``Operations``: the support layer, fed by the bus, writing through the pipeline.

On each new inbound message it triages the conversation (new or reopened),
acknowledges it on the customer's channel and escalates words that call for a
lead; on agents' changes it records transfers and overrides of its decisions.
:meth:`Operations.tick` (run every ``check_seconds``; tests call it with their own
``now``) moves the SLA clocks and the time rules (see :mod:`hub.operations.sweep`).

Every decision is a ``status`` event on the timeline (author ``operations``,
``meta.operations`` naming what, ``meta.rule`` the rule) whose dedupe key names the
conversation, the decision and its cycle: however many hub instances see the same
message or run the same sweep, one of them stores the event, and only the one
that stored it acts on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from hub.bus import BusMessage, Resync, Subscription, Topic
from hub.errors import NotFound
from hub.handoff.context import build_packet
from hub.operations import overrides
from hub.operations.calendar import BusinessCalendar
from hub.operations.settings import OperationsSettings
from hub.operations.sla import Policies
from hub.operations.staffing import choose_agent, estimate_wait, phrase_estimate
from hub.operations.triage import Matcher, from_priority, team_of
from hub.pipeline import HUB_CHANNEL, Pipeline, SendRejected
from hub.timeline.fold import is_conversational
from hub.timeline.model import (
    Agent,
    Conversation,
    Direction,
    Event,
    EventKind,
    new_id,
    utcnow,
)
from hub.timeline.store import ConversationUpdate, InboxFilter

__all__ = ["ALERT", "AUTHOR", "Operations"]

log = logging.getLogger("hub.operations")

AUTHOR = "operations"
ALERT = "operations.alert"
"""Bus topic (ephemeral) for the agent a decision notifies:
``{"agent": id, "conversation_id", "reason", "text"}``."""

Clock = Callable[[], datetime]


class Operations:
    """Triage, SLA clocks, assignment, acknowledgements and time rules."""

    def __init__(
        self,
        pipeline: Pipeline,
        settings: OperationsSettings,
        *,
        clock: Clock = utcnow,
        online: Callable[[], set[str]] | None = None,
        everywhere: Callable[[], Awaitable[set[str]]] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.store = pipeline.store
        self.file_settings = settings
        self.clock = clock
        self.use(settings)
        self._local_online = online or set
        self._remote_online: set[str] = set()
        self._everywhere = everywhere
        self._tasks: list[asyncio.Task[None]] = []

    def use(self, settings: OperationsSettings) -> None:
        """Run on ``settings`` from now on (the file's, with admins' edits laid over)."""
        self.settings = settings
        self.matcher = Matcher(settings.rules, settings.escalations)
        calendars = {
            name: BusinessCalendar.from_settings(c) for name, c in settings.calendars.items()
        }
        self.policies = Policies(settings.sla, calendars)

    def team_names(self) -> list[str]:
        """Every team the configuration or a triage rule names, sorted."""
        return sorted(set(self.settings.teams) | {r.team for r in self.settings.rules if r.team})

    async def reload(self) -> None:
        """Lay the stored edits (teams, staff, calendars) over the file's settings."""
        self.use(overrides.apply(self.file_settings, await overrides.load(self.store)))

    async def edit(self, section: str, name: str, value: dict[str, Any] | None) -> None:
        """Store an admin's edit of a team, an agent's staffing or a calendar, and use it."""
        self.use(await overrides.save(self.store, self.file_settings, section, name, value))

    # -- lifecycle ---------------------------------------------------------------
    def online(self) -> set[str]:
        """Agents online on this instance or announced online by another."""
        return set(self._local_online()) | self._remote_online

    async def refresh_online(self) -> None:
        """Take who is online from the shared presence (an instance that died without
        a word stops counting once its entries lapse)."""
        if self._everywhere is not None:
            self._remote_online = set(await self._everywhere())

    async def start(self) -> None:
        if not self._tasks:
            await self.reload()
            await self.refresh_online()
            sub = self.pipeline.bus.subscribe(maxsize=10_000)
            self._tasks = [
                asyncio.create_task(self._consume(sub), name="operations-bus"),
                asyncio.create_task(self._sweep(), name="operations-sweep"),
            ]

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _consume(self, sub: Subscription) -> None:
        while True:
            with sub:
                async for message in sub:
                    if isinstance(message, Resync):
                        log.warning("operations fell behind the bus; the sweep catches up")
                        break
                    try:
                        await self.handle(message)
                    except Exception:  # one bad message must not stop the layer
                        log.exception("operations failed on %s", message.topic)
            sub = self.pipeline.bus.subscribe(maxsize=10_000)

    async def _sweep(self) -> None:
        from hub.operations.sweep import tick

        while True:
            await asyncio.sleep(self.settings.check_seconds)
            try:
                await self.reload()
                await self.refresh_online()
                await tick(self)
            except Exception:  # the store may be briefly unavailable: next round
                log.exception("operations sweep failed")

    async def tick(self, now: datetime | None = None) -> list[Event]:
        """Run the SLA clocks and time rules once; the decisions stored."""
        from hub.operations.sweep import tick

        return await tick(self, now)

    # -- recording ---------------------------------------------------------------
    async def record(
        self,
        conv: Conversation,
        what: str,
        key: str,
        text: str,
        *,
        rule: str | None = None,
        now: datetime | None = None,
        **meta: Any,
    ) -> Event | None:
        """Store the decision ``what`` for ``conv`` once per ``key``; the event if this
        call stored it, ``None`` if it was already decided (here or elsewhere)."""
        at = now or self.clock()
        event = Event(
            id=new_id("evt"),
            customer_id=conv.customer_id,
            conversation_id=conv.id,
            channel=HUB_CHANNEL,
            direction=Direction.INTERNAL,
            kind=EventKind.STATUS,
            author=AUTHOR,
            text=text,
            external_id=f"ops:{conv.id}:{what}:{key}",
            occurred_at=at,
            received_at=at,
            meta={"operations": what, "rule": rule, **meta},
        )
        outcome = await self.pipeline.append([event])
        return outcome.event if outcome.created else None

    def alert(self, agent_id: str, conv: Conversation, reason: str, text: str) -> None:
        """Tell ``agent_id`` (their open agent pages) about ``conv``."""
        data = {"agent": agent_id, "conversation_id": conv.id, "reason": reason, "text": text}
        self.pipeline.bus.publish(BusMessage(ALERT, conv.customer_id, data=data))

    async def lead_for(self, conv: Conversation) -> Agent | None:
        """The team lead of the conversation's team (else the hub-wide lead)."""
        team = self.settings.teams.get(team_of(conv.tags) or "")
        email = (team.lead if team is not None else None) or self.settings.lead
        return await self.store.find_agent(email) if email else None

    # -- the bus -----------------------------------------------------------------
    async def handle(self, message: BusMessage) -> None:
        """React to one bus message (what the consumer task does with each)."""
        if message.topic == Topic.AGENT_PRESENCE:
            agent = str(message.data.get("agent", ""))
            if message.data.get("online"):
                self._remote_online.add(agent)
            else:
                self._remote_online.discard(agent)
        elif message.topic == Topic.EVENT_CREATED and message.event is not None:
            event = message.event
            if event.direction is Direction.IN and is_conversational(event):
                await self.on_inbound(event)
        elif (
            message.topic == Topic.CONVERSATION_UPDATED
            and message.conversation is not None
            and message.data.get("by")
        ):
            await self.on_change(message.conversation, message.data)

    async def on_inbound(self, event: Event) -> None:
        """Triage, acknowledge and escalate for a customer's message."""
        if event.conversation_id is None:
            return
        try:
            conv = await self.store.get_conversation(event.conversation_id)
        except NotFound:
            return
        page = await self.store.events(conversation_id=conv.id, limit=200)
        opening = _opens_cycle(event, page.items)
        text = " ".join(x for x in (event.subject, event.text) if x)
        if opening:
            conv = await self.triage(conv, event, text)
            if self.settings.assign_on_arrival and conv.assignee is None:
                await self.assign(conv, "assign", event.id, "on arrival")
            await self.acknowledge(conv, event)
        reason = self.matcher.escalation(text) if text else None
        if reason is not None:
            await self.escalate(conv, reason, key=event.id, text=f"The customer wrote: {reason}")

    async def triage(self, conv: Conversation, event: Event, text: str) -> Conversation:
        customer = await self.store.get_customer(conv.customer_id)
        mine = await self.store.list_conversations(
            InboxFilter(status=(), customer_id=conv.customer_id), limit=2
        )
        decision = self.matcher.decide(
            text,
            channel=event.channel,
            customer=customer,
            conversation=conv,
            returning=len(mine.items) > 1,
        )
        parts = [f"{field} {value}" for field, value in _described(decision.as_meta())]
        summary = (
            f"Triage ({', '.join(decision.rules)}): {'; '.join(parts)}"
            if not decision.empty
            else f"Triage: no rule matched ({from_priority(conv.priority)})"
        )
        stored = await self.record(
            conv,
            "triage",
            event.id,
            summary,
            rule=decision.rules[0] if decision.rules else None,
            decision=decision.as_meta(),
        )
        if stored is None or decision.empty:
            return conv
        update = ConversationUpdate(priority=decision.priority, tags=decision.new_tags(conv.tags))
        return await self.pipeline.update_conversation(conv.id, update)

    async def assign(self, conv: Conversation, what: str, key: str, why: str) -> Event | None:
        """Give ``conv`` to the best available agent (see :func:`choose_agent`), once per
        ``key``; ``None`` when nobody is free or it was decided already."""
        customer = await self.store.get_customer(conv.customer_id)
        agent = await choose_agent(self.store, self.settings, self.online(), conv, customer)
        if agent is None:
            return None
        event = await self.record(
            conv,
            what,
            key,
            f"Assigned to {agent.name} ({why})",
            rule=what,
            now=self.clock(),
            agent=agent.id,
        )
        if event is not None:
            await self.pipeline.update_conversation(conv.id, ConversationUpdate(assignee=agent.id))
            self.alert(agent.id, conv, "sla_assign", why)
        return event

    async def acknowledge(self, conv: Conversation, event: Event) -> Event | None:
        """Tell the customer we have their message and when to expect an answer, once per
        opening message, on their own channel — never to robots or opted-out numbers."""
        ack = self.settings.ack
        if not ack.enabled or event.channel not in ack.channels:
            return None
        if event.kind is not EventKind.MESSAGE or event.identity is None:
            return None
        if event.meta.get("auto") or event.meta.get("keyword"):
            return None
        if await self._opted_out(conv, event.channel):
            return None
        now = self.clock()
        customer = await self.store.get_customer(conv.customer_id)
        policy = self.policies.policy_for(conv, customer)
        calendar = self.policies.calendar(policy)
        seconds = await estimate_wait(
            self.store, self.settings, len(self.online()), policy.first_response_minutes * 60
        )
        estimate = phrase_estimate(calendar, now, seconds)
        try:
            return await self.pipeline.send(
                conv.id,
                text=ack.text.format(estimate=estimate),
                channel=event.channel,
                author="Support team (automatic)",
                client_ref=f"ops-ack:{conv.id}:{event.id}",
                meta={"automated": True, "operations": "ack", "estimate_seconds": seconds},
            )
        except SendRejected as exc:
            await self.record(conv, "ack_skipped", event.id, f"No acknowledgement: {exc}")
            return None

    async def _opted_out(self, conv: Conversation, channel: str) -> bool:
        """Whether the customer's latest SMS consent record says STOP."""
        if channel != "sms":
            return False
        page = await self.store.events(customer_id=conv.customer_id, limit=100)
        for e in reversed(page.items):
            if "sms_opt_out" in e.meta:
                return bool(e.meta["sms_opt_out"])
        return False

    async def escalate(self, conv: Conversation, reason: str, *, key: str, text: str) -> bool:
        """Hand ``conv`` to the team lead with the context card, once per ``key``."""
        packet = await build_packet(self.store, conv)
        lead = await self.lead_for(conv)
        stored = await self.record(
            conv,
            "escalation",
            f"{reason}:{key}",
            f"Escalated to {lead.name if lead else 'the team lead'}: {text}",
            rule=reason,
            lead=lead.id if lead else None,
            card=packet.agent_card(),
        )
        if stored is None:
            return False
        if lead is not None:
            self.alert(lead.id, conv, f"escalation:{reason}", text)
        return True

    async def on_change(self, conv: Conversation, data: dict[str, Any]) -> None:
        """Record what a person changed (see :func:`hub.operations.changes.record_change`)."""
        from hub.operations.changes import record_change

        await record_change(self, conv, data)


def _described(meta: dict[str, Any]) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for field in ("priority", "team", "tier"):
        if meta.get(field):
            out.append((field, meta[field]))
    if meta.get("tags"):
        out.append(("tags", ", ".join(meta["tags"])))
    return out


_CLOSED = ("resolved", "auto_close")


def pending_opening(conv: Conversation, events: list[Event]) -> Event | None:
    """The conversation's latest opening message if it was never triaged (the instance
    that took it stopped, or fell behind the bus, before handling it)."""
    for event in reversed(events):
        if event.direction is Direction.IN and is_conversational(event):
            if not _opens_cycle(event, events):
                continue
            key = f"ops:{conv.id}:triage:{event.id}"
            done = any(e.external_id == key for e in events if e.channel == HUB_CHANNEL)
            return None if done else event
    return None


def _opens_cycle(event: Event, events: list[Event]) -> bool:
    """Whether ``event`` opens its conversation or re-opens it after a resolution."""
    before = [e for e in events if e.seq < event.seq] if event.seq else []
    for e in reversed(before):
        if e.meta.get("operations") in _CLOSED:
            return True
        if e.direction is Direction.IN and is_conversational(e):
            return False
    return True
