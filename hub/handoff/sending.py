"""The actions that send continuation links (mixed into :class:`~hub.handoff.links.Links`).

``text_me`` ("text me instead"), ``email_transcript`` ("email me this
conversation"), ``call_me`` ("call me back": a Twilio callback through
``pipeline.send`` on ``voice``), ``chat_link`` ("continue in the web chat" on the
address's own channel) and ``verify`` (a confirmation link to a claimed address).
Each message carrying a link has ``meta.notice`` ("We sent you a link."), which
customer surfaces other than its recipient show instead of its text.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from hub.errors import InvalidInput
from hub.handoff.context import build_packet
from hub.timeline.model import Direction, Event, Identity

if TYPE_CHECKING:
    from hub.pipeline import Pipeline
    from hub.settings import HandoffSettings
    from hub.timeline.model import Conversation
    from hub.timeline.store import TimelineStore

__all__ = [
    "CALL_NOTICE",
    "CHANNEL_OF_KIND",
    "SENT_NOTICE",
    "LinkSenders",
    "ascii_text",
    "customer_text",
]

CHANNEL_OF_KIND = {"email": "email", "phone": "sms"}
SENT_NOTICE = "We sent you a link."
EMAIL_REPLY_HINT = "Or reply OK to this email to continue by email."
CALL_NOTICE = "We will call you back."
_ASCII = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u2014": "-",
    "\u2013": "-",
    "\u2026": "...",
    "\u00a0": " ",
}


def customer_text(event: Event) -> str:
    """What a customer surface shows for ``event``: its ``meta.notice`` when it has one
    (a message carrying a link is for its recipient only), else its text."""
    notice = event.meta.get("notice")
    return notice if isinstance(notice, str) else (event.text or "")


def ascii_text(text: str) -> str:
    """``text`` in plain ASCII (typographic punctuation replaced, other letters dropped),
    so an SMS stays in GSM-7."""
    out = "".join(_ASCII.get(ch, ch) for ch in text)
    return out.encode("ascii", "ignore").decode()


class LinkSenders:
    """Send continuation links; needs ``mint`` and ``_visible`` from its subclass."""

    pipeline: Pipeline
    store: TimelineStore
    settings: HandoffSettings

    def mint(
        self,
        conversation: Conversation,
        sent_to: Identity,
        *,
        action: str,
        requester: Identity | None = None,
        channel: str | None = None,
    ) -> str:
        raise NotImplementedError

    def mint_short(self, phone: Identity) -> str:
        raise NotImplementedError

    def _visible(self, conversation_id: str) -> AsyncIterator[Event]:
        raise NotImplementedError

    async def _expect(self, conv: Conversation, email: Identity, purpose: str) -> None:
        """A reply from ``email`` answers this handoff: one that confirms ("OK") is
        verified evidence, as a reply to "text me" is."""
        await self.pipeline.expect_reply(
            email,
            customer_id=conv.customer_id,
            conversation_id=conv.id,
            hours=self.settings.link_ttl_seconds / 3600,
            purpose=purpose,
        )

    async def text_me(
        self, conversation_id: str, phone: Identity, *, by: str, requester: Identity | None = None
    ) -> Event:
        """ "Text me instead": an SMS to ``phone`` carrying nothing personal (the number may
        be mistyped); a confirming reply from it continues the conversation."""
        conv = await self.store.get_conversation(conversation_id)
        url = self.mint_short(phone)
        text = (
            f"{ascii_text(self.settings.business_name)}: you asked us to text you here. "
            f"Reply OK to continue by text, or open {url}"
        )
        await self.pipeline.expect_reply(
            phone,
            customer_id=conv.customer_id,
            conversation_id=conv.id,
            hours=self.settings.link_ttl_seconds / 3600,
        )
        return await self.pipeline.send(
            conv.id,
            text=text,
            channel="sms",
            to=phone,
            author=by,
            meta={"handoff": "text_me", "notice": SENT_NOTICE},
        )

    async def email_transcript(
        self, conversation_id: str, email: Identity, *, by: str, requester: Identity | None = None
    ) -> Event:
        """ "Email me this conversation": the transcript and a link back into it."""
        conv = await self.store.get_conversation(conversation_id)
        packet = await build_packet(self.store, conv, to_channel="email")
        url = self.mint(conv, email, action="email_transcript", requester=requester)
        lines = [packet.email_header(), "", "Transcript:"]
        async for event in self._visible(conv.id):
            who = "You" if event.direction is Direction.IN else self.settings.business_name
            lines.append(
                f"[{event.occurred_at:%d %b %H:%M}] {who} ({event.channel}): {customer_text(event)}"
            )
        lines += ["", f"Continue this conversation: {url}", EMAIL_REPLY_HINT]
        await self._expect(conv, email, "email_transcript")
        return await self.pipeline.send(
            conv.id,
            text="\n".join(lines),
            subject=f"Your conversation with {self.settings.business_name}",
            channel="email",
            to=email,
            author=by,
            meta={"handoff": "email_transcript", "notice": SENT_NOTICE},
        )

    async def call_me(
        self, conversation_id: str, phone: Identity, *, by: str, requester: Identity | None = None
    ) -> Event:
        """ "Call me back": the agent is rung with a whisper of the context, then ``phone``."""
        conv = await self.store.get_conversation(conversation_id)
        packet = await build_packet(self.store, conv, to_channel="voice")
        first = (packet.customer.name or "").split()
        name = first[0] if first else "A customer"
        topic = packet.topic
        whisper = (
            f"{name} asked to be called back about: {topic}"
            if topic
            else f"{name} asked to be called back."
        )
        return await self.pipeline.send(
            conv.id,
            text=whisper[:400],
            channel="voice",
            to=phone,
            author=by,
            meta={"handoff": "call_me", "follow_up": True, "notice": CALL_NOTICE},
        )

    async def chat_link(
        self,
        conversation_id: str,
        to: Identity,
        *,
        by: str,
        channel: str | None = None,
        requester: Identity | None = None,
    ) -> Event:
        """ "Continue in the web chat": a link sent on ``to``'s own channel (Telegram,
        Messenger, Instagram, WhatsApp with ``channel="whatsapp"``, SMS, email). When
        ``to`` is already the customer's, opening it restores the conversation in the
        browser's widget."""
        conv = await self.store.get_conversation(conversation_id)
        channel = channel or CHANNEL_OF_KIND.get(to.kind, to.kind)
        url = self.mint(conv, to, action="chat_link", requester=requester, channel=channel)
        text = (
            f"{ascii_text(self.settings.business_name)}: continue this conversation in "
            f"your browser: {url}"
        )
        if channel == "email":
            text += f"\n\n{EMAIL_REPLY_HINT}"
            await self._expect(conv, to, "chat_link")
        return await self.pipeline.send(
            conv.id,
            text=text,
            subject="Continue your conversation" if channel == "email" else None,
            channel=channel,
            to=to,
            author=by,
            meta={"handoff": "chat_link", "notice": SENT_NOTICE},
        )

    async def verify(
        self,
        conversation_id: str,
        claimed: Identity,
        *,
        by: str,
        requester: Identity | None = None,
    ) -> Event:
        """Send a confirmation link to a claimed address; opening it from the customer's
        own session links the address (anywhere else it only becomes a suggestion)."""
        conv = await self.store.get_conversation(conversation_id)
        channel = CHANNEL_OF_KIND.get(claimed.kind)
        if channel is None:
            raise InvalidInput("to", f"cannot send a confirmation to {claimed.kind} addresses")
        url = self.mint(conv, claimed, action="verify", requester=requester)
        text = (
            f"{ascii_text(self.settings.business_name)}: open this link to confirm this "
            f"address is yours and continue your conversation: {url}"
        )
        if channel == "email":
            text += f"\n\n{EMAIL_REPLY_HINT}"
            await self._expect(conv, claimed, "verify")
        return await self.pipeline.send(
            conv.id,
            text=text,
            subject="Confirm your address" if channel == "email" else None,
            channel=channel,
            to=claimed,
            author=by,
            meta={"handoff": "verify", "notice": SENT_NOTICE},
        )
