"""Continuity inside ``pipeline.ingest``: one conversation across channels.

:class:`HandoffPolicy` is an :class:`~hub.pipeline.IngestPolicy`: it reads
and decides, and the pipeline's unit of work stores what it decided.

* ``resolve`` — a confirming reply ("YES") from an address the customer asked us
  to use ("text me instead") links that address to them when it belongs to
  nobody yet (the reply proves control of it; the request came from the
  customer). A reply that does not confirm (a mistyped number: "who is this?")
  stays a stranger's, and a reply from an address someone else owns, only a
  suggested link. The same holds for the exact address a handoff email went to
  ("OK" links it). An answer to our message (reply token, In-Reply-To) from an
  address nobody owns joins the conversation it answers, ``unverified_from``
  (agents see it in place; customer surfaces never), with a suggestion. A message
  from a shared address (:mod:`.shared`) goes to the person an agent said it is,
  else the one we wrote to there last, else its owner — unverified, with a
  question for the agent.
* ``route`` — a message on channel B joins the customer's most recently active
  conversation if it was active within the window (default 7 days, open or
  not) on channel A, unless continuity is off for the channel / inbox
  (``[handoff.rules]``) or the message starts a topic of its own
  (``new_thread``, e.g. a new email).
* ``extras`` — when the customer was last on another channel in that
  conversation, a ``handoff`` event carrying the context packet is appended
  just before the message; claims typed into the message (an email address, a
  phone number) become suggested links, and so does a new email customer named
  like a customer at the same email domain (:mod:`.names`). A customer back
  past the window gets a new conversation opening with a card pointing at the
  earlier one; that one's unkept promises are carried over as ``follow_up``
  notes and it is closed (:mod:`.cards`; the hub resolves it after the commit).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from hub.errors import InvalidIdentity
from hub.handoff.cards import (
    SHARED_NUMBER,
    SUPERSEDED_BY,
    carried_promise,
    handoff_event,
    shared_question,
    superseded,
)
from hub.handoff.context import packet_step
from hub.handoff.identity import (
    REPLY_SCORE,
    SIGNATURE_SCORE,
    TYPED_SCORE,
    find_claims,
    suggestion_step,
)
from hub.handoff.names import same_name_and_domain_step
from hub.pipeline.records import link_event
from hub.pipeline.types import (
    SHARED,
    SHARED_ANSWERED,
    UNVERIFIED_FROM,
    IngestContext,
    IngestPolicy,
    Step,
)
from hub.timeline.fold import CONVERSATIONAL
from hub.timeline.model import (
    Conversation,
    ConversationStatus,
    Direction,
    EventKind,
    Identity,
    normalise_identity,
    to_json,
)
from hub.timeline.work import GetConversation, GetCustomer, SharedWith, ThreadParent

if TYPE_CHECKING:
    from hub.connectors.base import InboundMessage
    from hub.settings import HandoffSettings

__all__ = [
    "SHARED_NUMBER",
    "SUPERSEDED_BY",
    "UNVERIFIED_FROM",
    "HandoffPolicy",
    "carried_promise",
    "handoff_event",
    "shared_question",
    "superseded",
]

_CLAIM_CHANNELS_SIGNATURE = ("email",)
UNCONFIRMED_SCORE = 0.3
THREAD_SCORE = 0.8
_YES = frozenset(
    [
        "yes",
        "y",
        "yeah",
        "yep",
        "yup",
        "ya",
        "ok",
        "okay",
        "sure",
        "confirm",
        "confirmed",
        "si",
        "oui",
        "ja",
        "sim",
        "da",
        "tak",
    ]
)


def confirms(text: str | None) -> bool:
    """Whether a reply to "text me" says yes (its first word: "YES", "ok", "sí"…).
    Anything else ("wrong number, who is this?") confirms nothing."""
    words = "".join(c if c.isalnum() else " " for c in (text or "").casefold()).split()
    if not words:
        return False
    first = words[0].replace("í", "i")
    return first in _YES and not any(w in ("not", "no", "wrong", "stop") for w in words[1:4])


def _answers_us(message: InboundMessage) -> bool:
    """Whether ``message`` names our message it answers (a reply token or In-Reply-To)."""
    return bool(message.conversation_id or message.in_reply_to)


class HandoffPolicy(IngestPolicy):
    """Continuity, handoff cards and claim suggestions: rules ``ingest`` consults."""

    name = "continuity"

    def __init__(self, settings: HandoffSettings) -> None:
        self.settings = settings

    # -- expected replies ("text me instead") ---------------------------------------
    def resolve(self, ctx: IngestContext) -> Step[None]:
        message, expected = ctx.message, ctx.sender.expectation
        if message.direction is not Direction.IN:
            return
        if ctx.sender.customer is not None:
            members = yield SharedWith(message.identity)
            if members:
                yield from self._shared(ctx, (ctx.sender.customer.id, *members))
                return
        if expected is not None and expected.purpose in (SHARED, SHARED_ANSWERED):
            expected = None  # the address is no longer shared
        if expected is None:
            yield from self._answer_from_elsewhere(ctx)
            return
        target = yield GetCustomer(expected.customer_id)
        seen: set[str] = set()
        while target is not None and target.merged_into and target.id not in seen:
            seen.add(target.id)
            target = yield GetCustomer(target.merged_into)
        if target is None:
            return
        detail = f"replied on {message.channel} to the offer the customer asked for"
        owner = ctx.sender.customer
        if owner is None and not confirms(message.text) and _answers_us(message):
            # An email answering our handoff message without confirming: in place,
            # unverified (the agent decides; the customer's surfaces do not show it).
            yield from self._answer_from_elsewhere(ctx)
        elif owner is None and not confirms(message.text):
            # Perhaps a mistyped number: a stranger, until an agent says otherwise.
            suggestion = yield from suggestion_step(
                target.id,
                message.identity,
                score=UNCONFIRMED_SCORE,
                evidence={
                    "kind": "text_me_reply_unconfirmed",
                    "detail": f"replied to the text the customer asked for without "
                    f"confirming: {(message.text or '')[:120]!r}",
                    "channel": message.channel,
                },
            )
            if suggestion is not None:
                ctx.suggestions.append(suggestion)
        elif owner is None:
            ctx.customer_id = target.id
            ctx.link = message.identity
            ctx.extra_events.append(
                link_event(target.id, message.identity, by="handoff", evidence=detail)
            )
        elif owner.id != target.id:
            suggestion = yield from suggestion_step(
                target.id,
                message.identity,
                score=REPLY_SCORE,
                evidence={"kind": "text_me_reply", "detail": detail, "channel": message.channel},
            )
            if suggestion is not None:
                ctx.suggestions.append(suggestion)

    def _shared(self, ctx: IngestContext, sharing: tuple[str, ...]) -> Step[None]:
        """A message from an address several customers share (a household phone): it goes
        to the one an agent said it is, else to the one we wrote to last there, else to
        its owner — unverified (no customer surface shows it) and with a question for
        the agent (:meth:`extras` adds it once the conversation is known)."""
        people: list[tuple[str, str | None]] = []
        for customer_id in sharing:
            found = yield GetCustomer(customer_id)
            seen: set[str] = set()
            while found is not None and found.merged_into and found.id not in seen:
                seen.add(found.id)
                found = yield GetCustomer(found.merged_into)
            if found is not None and found.id not in [p[0] for p in people]:
                people.append((found.id, found.name))
        ids = [p[0] for p in people]
        expected = ctx.sender.expectation
        chosen = expected.customer_id if expected is not None else None
        if expected is not None and expected.purpose == SHARED_ANSWERED and chosen in ids:
            ctx.customer_id = chosen  # an agent said who this is, for this exchange
            return
        texted = expected is not None and expected.purpose == SHARED and chosen in ids
        target = chosen if texted and chosen else ids[0]
        ctx.customer_id = target
        ctx.event_meta[UNVERIFIED_FROM] = str(ctx.message.identity)
        ctx.event_meta[SHARED_NUMBER] = {
            "people": [{"customer_id": i, "name": n} for i, n in people],
            "routed_to": target,
            "why": "texted_last" if texted else "owner",
        }

    def _answer_from_elsewhere(self, ctx: IngestContext) -> Step[None]:
        """An answer to our message (reply token or ``in_reply_to``) from an address
        nobody owns joins the conversation it answers, marked ``unverified_from`` (the
        agent sees it in place; the customer's surfaces never show it), and the address
        is suggested for that customer. Not linked: a thread can be forwarded to anyone."""
        message = ctx.message
        if ctx.sender.customer is not None:
            return
        owner_id = conversation_id = None
        ours: Any = False
        if message.conversation_id:
            answered = yield GetConversation(message.conversation_id)
            if answered is not None:
                owner_id, conversation_id = answered.customer_id, answered.id
        if owner_id is None and message.in_reply_to:
            parent = yield ThreadParent(tuple(message.in_reply_to))
            if parent is not None:
                owner_id, conversation_id = parent.customer_id, parent.conversation_id
                ours = parent.direction is Direction.OUT and parent.meta.get("handoff")
        if owner_id is None:
            return
        expected = ctx.sender.expectation
        ours = ours or (expected is not None and expected.conversation_id == conversation_id)
        target = yield GetCustomer(owner_id)
        seen: set[str] = set()
        while target is not None and target.merged_into and target.id not in seen:
            seen.add(target.id)
            target = yield GetCustomer(target.merged_into)
        if target is None:
            return
        suggestion = yield from suggestion_step(
            target.id,
            message.identity,
            score=REPLY_SCORE if ours else THREAD_SCORE,
            evidence={
                "kind": "handoff_reply" if ours else "thread_reply",
                "detail": f"answered our message in conversation {conversation_id} "
                "from another address",
                "channel": message.channel,
                "external_id": message.external_id,
                "conversation_id": conversation_id,
            },
        )
        if suggestion is not None:
            ctx.suggestions.append(suggestion)
        ctx.customer_id = target.id
        ctx.event_meta[UNVERIFIED_FROM] = str(message.identity)

    # -- routing -------------------------------------------------------------------------
    def _rule_window(self, message: InboundMessage) -> timedelta | None:
        if not self.settings.continuity or message.direction is not Direction.IN:
            return None
        inbox = message.meta.get("inbox")
        rule = self.settings.rules.get(f"{message.channel}:{inbox}") if inbox else None
        rule = rule or self.settings.rules.get(message.channel)
        if rule is not None and not rule.enabled:
            return None
        if message.new_thread and not (rule and rule.new_threads):
            return None
        hours = rule.window_hours if rule and rule.window_hours is not None else None
        return timedelta(hours=self.settings.window_hours if hours is None else hours)

    def route(self, ctx: IngestContext) -> Step[Conversation | None]:
        expected = ctx.sender.expectation
        if expected is not None:
            conv: Conversation | None = yield GetConversation(expected.conversation_id)
            if conv is not None and conv.customer_id == ctx.customer_id:
                return conv
        window = self._rule_window(ctx.message)
        head = ctx.head
        if window is None or head is None or head.last_activity_at < ctx.now - window:
            return None
        return head

    # -- handoff card --------------------------------------------------------------------
    def extras(self, ctx: IngestContext) -> Step[None]:
        message, conv = ctx.message, ctx.conversation
        if message.direction is not Direction.IN:
            return
        if conv is None:
            yield from self._suggest_from(ctx)
            return
        previous = conv.customer_channel
        if (
            not ctx.new_conversation
            and message.kind in CONVERSATIONAL
            and previous is not None
            and previous != message.channel
        ):
            packet = yield from packet_step(
                conv, from_channel=previous, to_channel=message.channel, now=ctx.now
            )
            ctx.extra_events.append(
                handoff_event(
                    conv,
                    from_channel=previous,
                    to_channel=message.channel,
                    via=ctx.routed_by,
                    packet=to_json(packet.agent_card()),
                    short=packet.short_text(),
                    at=ctx.now,
                )
            )
        elif (
            ctx.new_conversation
            and ctx.head is not None
            and ctx.head.id != conv.id
            and self._rule_window(message) is not None
        ):
            yield from self._earlier_card(ctx, conv, ctx.head)
        shared = ctx.event_meta.get(SHARED_NUMBER)
        if isinstance(shared, dict):
            ctx.extra_events.append(shared_question(conv, ctx.message.identity, shared, ctx.now))
        if UNVERIFIED_FROM in ctx.event_meta:
            return  # a stranger's claims say nothing about this customer
        yield from self._suggest_from(ctx)
        if ctx.new_customer and message.customer_name:
            made = yield from same_name_and_domain_step(
                ctx.customer_id or "",
                message.customer_name,
                message.identity,
                self.settings,
                channel=message.channel,
            )
            ctx.suggestions.extend(made)

    def _earlier_card(
        self, ctx: IngestContext, conv: Conversation, earlier: Conversation
    ) -> Step[None]:
        """A new conversation of a returning customer past the continuity window
        starts with a card pointing at the earlier one: what was asked, what was
        promised and not kept."""
        packet = yield from packet_step(
            earlier,
            from_channel=earlier.customer_channel,
            to_channel=ctx.message.channel,
            now=ctx.now,
        )
        if packet.first_message is None and not packet.promises:
            return
        card = to_json(packet.agent_card())
        card["earlier_conversation_id"] = earlier.id
        event = handoff_event(
            conv,
            from_channel=earlier.customer_channel,
            to_channel=ctx.message.channel,
            via="earlier",
            packet=card,
            short=packet.short_text(),
            at=ctx.now,
        )
        event.meta["earlier_conversation_id"] = earlier.id
        ctx.extra_events.append(event)
        for promise in packet.promises:
            ctx.extra_events.append(carried_promise(conv, earlier, promise, at=ctx.now))
        if earlier.status is not ConversationStatus.RESOLVED:
            ctx.extra_events.append(
                superseded(earlier, conv, carried=len(packet.promises), at=ctx.now)
            )

    def _suggest_from(self, ctx: IngestContext) -> Step[None]:
        assert ctx.customer_id is not None
        claims: list[tuple[Identity, float, dict[str, Any]]] = []
        claimed = ctx.message.meta.get("claimed_email")
        if isinstance(claimed, str):
            try:
                identity: Identity | None = normalise_identity("email", claimed)
            except InvalidIdentity:
                identity = None
            if identity is not None:
                claims.append(
                    (
                        identity,
                        TYPED_SCORE,
                        {
                            "kind": f"left_on_{ctx.message.channel}",
                            "detail": f"left {claimed} to be contacted",
                            "channel": ctx.message.channel,
                            "external_id": ctx.message.external_id,
                        },
                    )
                )
        text = ctx.message.text
        if text and ctx.message.kind is EventKind.MESSAGE:
            signature = ctx.message.channel in _CLAIM_CHANNELS_SIGNATURE
            for found, words in find_claims(text[:20_000])[:5]:
                if found == ctx.message.identity:
                    continue
                claims.append(
                    (
                        found,
                        SIGNATURE_SCORE if signature else TYPED_SCORE,
                        {
                            "kind": "signature" if signature else f"typed_in_{ctx.message.channel}",
                            "detail": words,
                            "channel": ctx.message.channel,
                            "external_id": ctx.message.external_id,
                        },
                    )
                )
        for identity, score, evidence in claims:
            made = yield from suggestion_step(
                ctx.customer_id, identity, score=score, evidence=evidence
            )
            if made is not None:
                ctx.suggestions.append(made)
