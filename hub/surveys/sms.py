"""An SMS of just ``1``-``5`` from a customer we sent the SMS survey to (and who has not
answered) is their answer: stored as a ``status`` event (``meta.survey_reply``) in the
surveyed conversation, so it never reopens it; :class:`~hub.surveys.service.Surveys`
then records the answer."""

from __future__ import annotations

import re
from datetime import timedelta

from hub.pipeline import HUB_CHANNEL, IngestContext, IngestPolicy
from hub.pipeline.types import Step
from hub.timeline.model import Conversation, ConversationStatus, Direction
from hub.timeline.work import FindEvent, GetConversation, Head

__all__ = ["SmsAnswers", "score_of"]

_SCORE = re.compile(r"^\s*([1-5])\s*[.!]?\s*$")


def score_of(text: str | None) -> int | None:
    """``"4"``, ``" 4 "``, ``"4!"`` → 4; anything else ``None``."""
    found = _SCORE.match(text or "")
    return int(found.group(1)) if found else None


class SmsAnswers(IngestPolicy):
    """The ingest policy taking an SMS survey's reply as the answer."""

    name = "survey"

    def __init__(self, answer_days: float) -> None:
        self.answer_days = answer_days

    def resolve(self, ctx: IngestContext) -> Step[None]:
        message, owner = ctx.message, ctx.sender.customer
        if message.direction is not Direction.IN or message.channel != "sms" or owner is None:
            return
        score = score_of(message.text)
        if score is None:
            return
        head: Conversation | None = yield Head(owner.id)
        if head is None or head.status is not ConversationStatus.RESOLVED:
            return
        sent = yield FindEvent(HUB_CHANNEL, f"survey:{head.id}:csat")
        if sent is None or (sent.meta.get("survey_sent") or {}).get("channel") != "sms":
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
