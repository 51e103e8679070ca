"""A known month of conversations (November 2026), built through the pipeline with
operations deciding on a clock the test moves; the expected figures are worked out
by hand in ``test_service.py``.

Business hours are the default calendar (Mon-Fri 09:00-17:00 UTC; P1 round the clock).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from hub.bus import Bus, BusMessage, Subscription
from hub.connectors.base import Capabilities, Channel, InboundMessage
from hub.handoff import Handoff
from hub.operations import Operations, OperationsSettings
from hub.pipeline import Pipeline
from hub.settings import HandoffSettings
from hub.signing import Signer
from hub.surveys.records import answer_event, sent_event
from hub.timeline.model import (
    Agent,
    Conversation,
    ConversationStatus,
    Delivery,
    DeliveryStatus,
    Direction,
    Event,
    Identity,
    Priority,
    new_id,
)
from hub.timeline.store import ConversationUpdate, TimelineStore
from tests.operations.kit import FakeClock

SINCE = datetime(2026, 11, 1, tzinfo=UTC)
UNTIL = datetime(2026, 12, 1, tzinfo=UTC)
CONFIG = {"enabled": True, "ack": {"enabled": False}, "check_seconds": 3600}
CHANNELS = [
    Channel("email", "email", Capabilities()),
    Channel("sms", "phone", Capabilities(text_limit=1600)),
    Channel("chat", "chat", Capabilities()),
]


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@dataclass
class Month:
    store: TimelineStore
    pipeline: Pipeline
    ops: Operations
    clock: FakeClock
    sub: Subscription
    sam: Agent
    kim: Agent
    convs: dict[str, str]

    async def settle(self) -> None:
        """Hand operations everything on the bus (what its consumer task does)."""
        while not self.sub._queue.empty():
            item = self.sub._queue.get_nowait()
            if isinstance(item, BusMessage):
                await self.ops.handle(item)

    async def write(self, when: datetime, identity: Identity, text: str, channel: str) -> str:
        self.clock.now = when
        result = await self.pipeline.ingest(
            InboundMessage(
                channel=channel,
                external_id=new_id("ext"),
                identity=identity,
                text=text,
                occurred_at=when,
            )
        )
        await self.settle()
        assert result.event.conversation_id is not None
        return result.event.conversation_id

    async def reply(
        self, when: datetime, conv_id: str, agent: Agent, channel: str, macro: str | None = None
    ) -> None:
        conv = await self.store.get_conversation(conv_id)
        event = Event(
            id=new_id("evt"),
            customer_id=conv.customer_id,
            conversation_id=conv_id,
            channel=channel,
            direction=Direction.OUT,
            author=agent.name,
            text="Here is what I am doing to sort it out.",
            occurred_at=when,
            received_at=when,
            delivery=Delivery(status=DeliveryStatus.SENT, attempts=1, next_attempt_at=None),
            meta={"macro": macro} if macro else {},
        )
        await self.pipeline.append([event])
        await self.settle()

    async def change(self, when: datetime, conv_id: str, update: ConversationUpdate) -> None:
        self.clock.now = when
        before = await self.store.get_conversation(conv_id)
        await self.pipeline.update_conversation(conv_id, update, by="agt_admin", before=before)
        await self.settle()

    async def resolve(self, when: datetime, conv_id: str) -> None:
        await self.change(when, conv_id, ConversationUpdate(status=ConversationStatus.RESOLVED))

    async def survey(
        self, when: datetime, conv_id: str, kind: str, score: int | None, channel: str
    ) -> None:
        conv: Conversation = await self.store.get_conversation(conv_id)
        await self.pipeline.append([sent_event(conv, kind, channel, when)])
        if score is not None:
            await self.pipeline.append([answer_event(conv, kind, score, channel, when)])
        await self.settle()


EMAIL = "email"


async def build_month(store: TimelineStore) -> Month:
    bus = Bus()
    pipeline = Pipeline(store, bus, channels={c.name: c for c in CHANNELS})
    # The month lies in the past: its continuity window is counted from now.
    handoff = HandoffSettings(window_hours=24 * 365 * 5)
    Handoff(pipeline, Signer(b"k" * 32), handoff, public_url="http://hub.test")
    clock = FakeClock(SINCE)
    ops = Operations(pipeline, OperationsSettings.model_validate(CONFIG), clock=clock)
    sam = await store.create_agent(email="sam@example.com", name="Sam", password_hash="x")
    kim = await store.create_agent(email="kim@example.com", name="Kim", password_hash="x")
    m = Month(store, pipeline, ops, clock, bus.subscribe(maxsize=10_000), sam, kim, {})

    # Out of range: October, and 1 December.
    hal = Identity("email", "hal@example.com")
    old = await m.write(at(30, 10, month=10), hal, "Old question", EMAIL)
    await m.reply(at(30, 11, month=10), old, kim, EMAIL)

    # A: Ana (enterprise), billing P2/T1, Sam answers in 30 min, resolved at first contact.
    ana = Identity("email", "ana@example.com")
    a = m.convs["A"] = await m.write(at(2, 10), ana, "I was charged twice this month", EMAIL)
    conv_a = await store.get_conversation(a)
    await store.update_customer(conv_a.customer_id, attributes={"plan": "Enterprise"})
    await m.change(at(2, 10, 5), a, ConversationUpdate(assignee=sam.id))
    await m.reply(at(2, 10, 30), a, sam, EMAIL)
    await m.resolve(at(2, 11), a)
    await m.survey(at(2, 11, 10), a, "csat", 5, EMAIL)
    await m.survey(at(2, 11, 10), a, "ces", 2, EMAIL)

    # B: Ben texts on Friday 16:30, answered Monday; he switches to chat; two replies.
    ben_phone, ben_chat = Identity("phone", "+15551230001"), Identity("chat", "vis_ben")
    await store.create_customer(name="Ben", identities=(ben_phone, ben_chat))
    b = m.convs["B"] = await m.write(at(6, 16, 30), ben_phone, "How do I export my data?", "sms")
    await m.change(at(6, 16, 31), b, ConversationUpdate(assignee=kim.id))
    await m.reply(at(9, 9, 30), b, kim, "sms")
    assert await m.write(at(9, 9, 40), ben_chat, "It says the file is empty", "chat") == b
    await m.reply(at(9, 10), b, kim, "chat")
    await m.resolve(at(9, 10, 30), b)
    await m.survey(at(9, 10, 40), b, "csat", 2, EMAIL)

    # C: Cleo in chat can't log in (access, T1), Sam → Kim (a transfer), resolved, reopened.
    cleo = Identity("chat", "vis_cleo")
    c = m.convs["C"] = await m.write(at(10, 14), cleo, "I can't log in", "chat")
    await m.change(at(10, 14, 1), c, ConversationUpdate(assignee=sam.id))
    await m.change(at(10, 14, 5), c, ConversationUpdate(assignee=kim.id))
    await m.reply(at(10, 14, 20), c, kim, "chat")
    await m.resolve(at(10, 14, 30), c)
    await m.survey(at(10, 14, 30), c, "csat", None, "chat")
    assert await m.write(at(11, 10), cleo, "Still no luck, sorry", "chat") == c
    await m.reply(at(11, 10, 15), c, kim, "chat")
    await m.resolve(at(11, 10, 30), c)

    # D: Dan's outage is made P1 (round the clock, 15 min) and breaches before Kim answers.
    dan = Identity("email", "dan@example.com")
    d = m.convs["D"] = await m.write(at(12, 9), dan, "Checkout is broken for everyone", EMAIL)
    await m.change(at(12, 9, 1), d, ConversationUpdate(priority=Priority.URGENT))
    breached = await ops.tick(at(12, 9, 20))
    # The sweep also closes October's conversation (72 h after our reply): out of range.
    assert [e.meta["operations"] for e in breached] == ["sla_warning", "sla_breach", "auto_close"]
    await m.settle()
    await m.change(at(12, 9, 25), d, ConversationUpdate(assignee=kim.id))
    await m.reply(at(12, 9, 30), d, kim, EMAIL)
    await m.resolve(at(12, 12), d)
    for kind, score in (("csat", 4), ("ces", 6), ("nps", 9)):
        await m.survey(at(12, 12, 5), d, kind, score, EMAIL)

    # E and F: Eve by text, then by email as a stranger; an admin merges the two.
    eve_phone, eve_email = Identity("phone", "+15551230002"), Identity("email", "eve@example.com")
    e = m.convs["E"] = await m.write(at(16, 10), eve_phone, "Where is my parcel?", "sms")
    await m.change(at(16, 10, 1), e, ConversationUpdate(assignee=kim.id))
    await m.reply(at(16, 11), e, kim, "sms")
    await m.resolve(at(16, 12), e)
    await m.survey(at(16, 12), e, "nps", 3, "sms")
    f = m.convs["F"] = await m.write(at(17, 11), eve_email, "Parcel question", EMAIL)
    assert f != e
    await m.change(at(17, 11, 1), f, ConversationUpdate(assignee=kim.id))
    await m.reply(at(17, 11, 30), f, kim, EMAIL)
    await m.resolve(at(17, 12), f)
    await m.survey(at(17, 12), f, "nps", 10, EMAIL)
    await m.survey(at(17, 12), f, "csat", None, EMAIL)
    source = (await store.get_conversation(f)).customer_id
    target = (await store.get_conversation(e)).customer_id
    await pipeline.merge(source, target, by="admin")

    # G: George's request on the last afternoon, unanswered.
    george = Identity("email", "george@example.com")
    m.convs["G"] = await m.write(at(30, 16), george, "Feature request: dark mode", EMAIL)
    new = Identity("email", "nia@example.com")
    await m.write(at(1, 9, month=12), new, "December question", EMAIL)
    return m
