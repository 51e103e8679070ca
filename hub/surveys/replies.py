"""A customer's reply to a survey sent on a messaging channel is their answer: a bare
``1``-``5`` (SMS, or typed anywhere), a Messenger/Instagram quick reply
(``meta.quick_reply``) or a WhatsApp list pick (``meta.reply_id``) of
``survey:csat:<n>``. When the customer's latest conversation is resolved and got the
survey on this channel within ``answer_days``, unanswered, the message is stored as a
``status`` event (``meta.survey_reply``) in that conversation, so it never reopens it;
:class:`~hub.surveys.service.Surveys` then records the answer."""

from __future__ import annotations

import re
from datetime import timedelta

from hub.pipeline import HUB_CHANNEL, IngestContext, IngestPolicy
from hub.pipeline.types import Step
from hub.timeline.model import Conversation, ConversationStatus, Direction
from hub.timeline.work import FindEvent, GetConversation, Head

__all__ = ["CHOICE", "REPLY_CHANNELS", "ReplyAnswers", "score_of"]

_SCORE = re.compile(r"^\s*([1-5])\s*[.!]?\s*$")
CHOICE = "survey:csat:"
REPLY_CHANNELS = ("sms", "whatsapp", "messenger", "instagram")


def score_of(text: str | None) -> int | None:
    """``"4"``, ``" 4 "``, ``"4!"`` → 4; anything else ``None``."""
    found = _SCORE.match(text or "")
    return int(found.group(1)) if found else None


def _picked(meta: dict[str, object]) -> int | None:
    for key in ("quick_reply", "reply_id"):
        value = meta.get(key)
        if isinstance(value, str) and value.startswith(CHOICE):
            return score_of(value.removeprefix(CHOICE))
    return None


class ReplyAnswers(IngestPolicy):
    """The ingest policy taking a survey's reply as the answer."""

    name = "survey"

    def __init__(self, answer_days: float) -> None:
        self.answer_days = answer_days

    def resolve(self, ctx: IngestContext) -> Step[None]:
        message, owner = ctx.message, ctx.sender.customer
        if message.direction is not Direction.IN or message.channel not in REPLY_CHANNELS:
            return
        if owner is None:
            return
        score = _picked(message.meta) or score_of(message.text)
        if score is None:
            return
        head: Conversation | None = yield Head(owner.id)
        if head is None or head.status is not ConversationStatus.RESOLVED:
            return
        sent = yield FindEvent(HUB_CHANNEL, f"survey:{head.id}:csat")
        if sent is None or (sent.meta.get("survey_sent") or {}).get("channel") != message.channel:
            return
        if sent.occurred_at < ctx.now - timedelta(days=self.answer_days):
            return
        answered = yield FindEvent(HUB_CHANNEL, f"survey-answer:{head.id}:csat")
        if answered is not None:
            return
        ctx.record_as = {
            "survey_reply": {"kind": "csat", "score": score, "conversation_id": head.id}
        }

    def route(self, ctx: IngestContext) -> Step[Conversation | None]:
        reply = (ctx.record_as or {}).get("survey_reply")
        if not reply:
            return None
        conv: Conversation | None = yield GetConversation(reply["conversation_id"])
        return conv
