""":class:`Surveys`: ask after a resolution, on the customer's channel, once.

* **chat**, **sms**, **whatsapp**, **messenger**, **instagram** — at once when the
  conversation is resolved: the widget shows stars (the message's
  ``meta.survey_request`` carries the signed answer URL); the text asks for a reply of
  1-5; WhatsApp and Messenger add the scores as a list / quick replies
  (``meta.choices``), and the pick is the answer (:mod:`hub.surveys.replies`). A
  closed reply window refuses the send: no survey then.
* **email** — by the sweep, ``email_delay_minutes`` after the resolution and within
  the hour: one link per score, signed, answered once (:mod:`hub.surveys.web`). The
  effort question (CES) joins where ``ces_channels`` names ``email`` or the account
  (``email:<account>``); an NPS question when the customer has not had one in
  ``nps_days``. Other channels ask CSAT only (one tap or one digit).

Never twice for one conversation: the ``sent`` record (``survey:<conv>:csat``) is
stored before anything goes out, and only the instance that stored it sends. Never
on a conversation tagged ``spam``, closed by the 72 h rule, or that we never answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from hub.bus import BusMessage, Resync, Subscription, Topic
from hub.errors import NotFound
from hub.pipeline import Pipeline, SendRejected
from hub.signing import Signer
from hub.surveys.records import QUESTIONS, SCALES, answer_event, sent_event
from hub.surveys.replies import CHOICE, ReplyAnswers
from hub.surveys.settings import SurveySettings
from hub.timeline.fold import is_conversational, is_reply
from hub.timeline.model import Conversation, ConversationStatus, Direction, Event, utcnow
from hub.timeline.store import InboxFilter

__all__ = ["PURPOSE", "Surveys"]

log = logging.getLogger("hub.surveys")

PURPOSE = "survey"
AUTHOR = "Survey (automatic)"
RESOLVED = InboxFilter(status=(ConversationStatus.RESOLVED,))
_WORDS = {5: "great", 4: "good", 3: "okay", 2: "poor", 1: "bad"}
_LABELS = {"csat": ("poor", "great"), "ces": ("very hard", "very easy"), "nps": ("not", "very")}


class Surveys:
    """Surveys for one hub (see the module docstring)."""

    def __init__(
        self,
        pipeline: Pipeline,
        signer: Signer,
        settings: SurveySettings,
        *,
        public_url: str,
        business_name: str,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.pipeline = pipeline
        self.store = pipeline.store
        self.signer = signer
        self.settings = settings
        self.public_url = public_url.rstrip("/")
        self.business_name = business_name
        self.clock = clock
        self._tasks: list[asyncio.Task[None]] = []
        pipeline.policies.append(ReplyAnswers(settings.answer_days))

    # -- lifecycle ---------------------------------------------------------------
    async def start(self) -> None:
        if not self._tasks:
            sub = self.pipeline.bus.subscribe(maxsize=10_000)
            self._tasks = [
                asyncio.create_task(self._consume(sub), name="surveys-bus"),
                asyncio.create_task(self._sweep(), name="surveys-sweep"),
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
                        break  # the sweep covers email; chat and SMS wait for the next one
                    try:
                        await self.handle(message)
                    except Exception:
                        log.exception("surveys failed on %s", message.topic)
            sub = self.pipeline.bus.subscribe(maxsize=10_000)

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.settings.check_seconds)
            try:
                await self.sweep()
            except Exception:
                log.exception("survey sweep failed")

    # -- the bus -----------------------------------------------------------------
    async def handle(self, message: BusMessage) -> None:
        """React to one bus message: a resolution, or a reply to a survey."""
        if message.topic == Topic.EVENT_CREATED and message.event is not None:
            reply = message.event.meta.get("survey_reply")
            if isinstance(reply, dict):
                await self._reply_answer(message.event, reply)
        elif message.topic == Topic.CONVERSATION_UPDATED and message.conversation is not None:
            conv = message.conversation
            if conv.status is ConversationStatus.RESOLVED:
                channel = await self.channel_of(conv)
                if channel is not None and channel != "email":
                    await self.survey(conv, channel)

    async def sweep(self, now: datetime | None = None) -> list[str]:
        """Send the email surveys now due; the conversations surveyed."""
        now = now or self.clock()
        due_from = now - timedelta(hours=1)
        due_until = now - timedelta(minutes=self.settings.email_delay_minutes)
        out: list[str] = []
        cursor: str | None = None
        while True:
            page = await self.store.list_conversations(RESOLVED, cursor=cursor, limit=200)
            for conv in page.items:
                at = conv.resolved_at
                if at is None or not due_from <= at <= due_until:
                    continue
                if await self.channel_of(conv) == "email" and await self.survey(
                    conv, "email", now=now
                ):
                    out.append(conv.id)
            cursor = page.next
            if cursor is None or not page.items or page.items[-1].last_activity_at < due_from:
                return out

    # -- asking ------------------------------------------------------------------
    async def channel_of(self, conv: Conversation) -> str | None:
        """The channel to ask on: the customer's in this conversation, if we survey it."""
        channel = conv.customer_channel or conv.last_channel
        return channel if channel in self.settings.channels else None

    async def survey(
        self, conv: Conversation, channel: str, *, now: datetime | None = None
    ) -> bool:
        """Ask the customer of ``conv`` on ``channel``, once; whether this call asked."""
        if not self.settings.enabled or "spam" in conv.tags:
            return False
        events = (await self.store.events(conversation_id=conv.id, limit=200)).items
        if not _worth_asking(events):
            return False
        at = now or self.clock()
        stored = await self.pipeline.append([sent_event(conv, "csat", channel, at)])
        if not stored.created:
            return False
        kinds = ["csat"]
        if channel == "email" and _asks_effort(self.settings.ces_channels, channel, events):
            kinds.append("ces")
        if channel == "email" and await self._nps_due(conv, at):
            kinds.append("nps")
        for kind in kinds[1:]:
            await self.pipeline.append([sent_event(conv, kind, channel, at)])
        extra: dict[str, Any] = {}
        if channel in ("whatsapp", "messenger", "instagram"):
            extra["choices"] = [
                {"id": f"{CHOICE}{n}", "title": f"{n} - {_WORDS[n]}"} for n in range(5, 0, -1)
            ]
            extra["choices_button"] = "Rate us"
        try:
            await self.pipeline.send(
                conv.id,
                text=self.text(conv, channel, kinds),
                channel=channel,
                author=AUTHOR,
                client_ref=f"survey:{conv.id}",
                meta={
                    **extra,
                    "automated": True,
                    "survey_request": {
                        "kind": "csat",
                        "scale": list(SCALES["csat"]),
                        "url": f"/s/{self.token(conv, 'csat', channel)}",
                        "question": QUESTIONS["csat"],
                    },
                },
            )
        except SendRejected as exc:
            log.info("no survey for %s on %s: %s", conv.id, channel, exc)
        return True

    def token(self, conv: Conversation, kind: str, channel: str) -> str:
        return self.signer.dumps(PURPOSE, {"c": conv.id, "k": kind, "ch": channel})

    def answer_url(self, conv: Conversation, kind: str, channel: str) -> str:
        return f"{self.public_url}/s/{self.token(conv, kind, channel)}"

    def text(self, conv: Conversation, channel: str, kinds: list[str]) -> str:
        """The survey as the customer reads it (nothing of what agents wrote)."""
        name = self.business_name
        if channel == "sms":
            return f"{name}: how did we do? Reply 1 (poor) to 5 (great)."
        if channel in ("whatsapp", "messenger", "instagram"):
            return f"{name}: how did we do? Choose (or reply) 1 (poor) to 5 (great)."
        if channel != "email":
            return QUESTIONS["csat"]
        parts = [f"Thank you for contacting {name}. One click tells us how we did."]
        for kind in kinds:
            low, high = SCALES[kind]
            words = _LABELS[kind]
            parts.append(f"\n{QUESTIONS[kind]} ({low} {words[0]} ... {high} {words[1]})")
            url = self.answer_url(conv, kind, channel)
            parts += [f"  {score}: {url}?score={score}" for score in range(low, high + 1)]
        return "\n".join(parts)

    async def _nps_due(self, conv: Conversation, now: datetime) -> bool:
        since = now - timedelta(days=self.settings.nps_days)
        page = await self.store.events(customer_id=conv.customer_id, limit=500)
        for event in page.items:
            sent = event.meta.get("survey_sent")
            if isinstance(sent, dict) and sent.get("kind") == "nps" and event.occurred_at > since:
                return False
        return True

    # -- answers -----------------------------------------------------------------
    async def answer(
        self, conversation_id: str, kind: str, score: int, channel: str, comment: str | None
    ) -> tuple[Event, bool]:
        """Record an answer (once per conversation and kind): the event, and whether new."""
        conv = await self.store.get_conversation(conversation_id)
        event = answer_event(conv, kind, score, channel, self.clock(), comment=comment)
        outcome = await self.pipeline.append([event])
        assert outcome.event is not None
        return outcome.event, outcome.created

    async def answered(self, conversation_id: str, kind: str) -> bool:
        from hub.pipeline import HUB_CHANNEL

        found = await self.store.find_event(HUB_CHANNEL, f"survey-answer:{conversation_id}:{kind}")
        return found is not None

    async def _reply_answer(self, event: Event, reply: dict[str, Any]) -> None:
        try:
            await self.answer(
                str(reply["conversation_id"]), "csat", int(reply["score"]), event.channel, None
            )
        except NotFound:
            return


def _asks_effort(wanted: tuple[str, ...], channel: str, events: list[Event]) -> bool:
    """Whether ``ces_channels`` names the channel, or ``channel:inbox`` for the inbox
    (an SMS number's label, an email account's name) the customer last wrote to."""
    if channel in wanted:
        return True
    for event in reversed(events):
        if event.direction is Direction.IN and event.channel == channel:
            inbox = event.meta.get("inbox") or event.meta.get("account")
            return bool(inbox) and f"{channel}:{inbox}" in wanted
    return False


def _worth_asking(events: list[Event]) -> bool:
    """The customer wrote, we answered, and the 72 h rule did not close it."""
    wrote = any(e.direction is Direction.IN and is_conversational(e) for e in events)
    answered = any(e.direction is Direction.OUT and is_reply(e) for e in events)
    closed = [e.meta.get("operations") for e in events if e.meta.get("operations")]
    closed = [c for c in closed if c in ("resolved", "auto_close")]
    return wrote and answered and (not closed or closed[-1] != "auto_close")
