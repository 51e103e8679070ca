"""Continuation links: signed, expiring, single-use tokens that move a conversation.

A link token (``Signer`` purpose ``handoff.link``) names one conversation, the
customer it belongs to, the address it was sent to and a unique id. Opening
``/c/<token>`` (:meth:`Links.open`) proves control of that address, so it is
verified evidence: the address and the browser's new chat identity are linked
to the customer, a ``handoff`` event is appended, and the browser gets a
session (cookie ``omnihub_handoff``, purpose ``handoff.session``) scoped to that
one conversation. Tampered, expired, reused and foreign tokens get a plain page
that shows nothing; opening is rate-limited per client.

Actions that send links (:class:`Links`): ``text_me`` ("text me instead"),
``email_transcript`` ("email me this conversation"), ``call_me`` ("call me
back": a Twilio callback through ``pipeline.send`` on ``voice``) and
``verify`` (a confirmation link to a claimed address).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from hub.errors import BadToken, ExpiredToken, InvalidInput, NotFound
from hub.handoff.context import build_packet
from hub.handoff.continuity import handoff_event
from hub.pipeline.types import HUB_CHANNEL
from hub.ratelimit import SlidingWindow
from hub.timeline.model import Direction, Event, EventKind, Identity, to_json, utcnow

if TYPE_CHECKING:
    from hub.handoff.identity import Identities
    from hub.pipeline import Pipeline
    from hub.settings import HandoffSettings
    from hub.signing import Signer
    from hub.timeline.model import Conversation

__all__ = ["LINK_PURPOSE", "SESSION_PURPOSE", "LinkRefused", "Links", "Opened"]

LINK_PURPOSE = "handoff.link"
SESSION_PURPOSE = "handoff.session"
_CHANNEL_OF_KIND = {"email": "email", "phone": "sms"}
VISIBLE_KINDS = (EventKind.MESSAGE, EventKind.CALL, EventKind.VOICEMAIL)


class LinkRefused(Exception):
    """A link or session that proves nothing; ``status`` and a customer-safe ``reason``."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Opened:
    """A link opened: the conversation, its customer and the browser's new session."""

    conversation: Conversation
    customer_id: str
    visitor: Identity
    session: str


def visible(event: Event) -> bool:
    """Whether the customer may see ``event`` (their messages and ours, never internals)."""
    return (
        event.channel != HUB_CHANNEL
        and event.direction in (Direction.IN, Direction.OUT)
        and event.kind in VISIBLE_KINDS
    )


class Links:
    """Mint, send and open continuation links."""

    def __init__(
        self,
        pipeline: Pipeline,
        identities: Identities,
        signer: Signer,
        settings: HandoffSettings,
        public_url: str,
    ) -> None:
        self.pipeline = pipeline
        self.store = pipeline.store
        self.identities = identities
        self.signer = signer
        self.settings = settings
        self.public_url = public_url.rstrip("/")
        self.rate = SlidingWindow(settings.link_rate_limit, settings.link_rate_seconds)

    # -- minting -------------------------------------------------------------------
    def mint(self, conversation: Conversation, sent_to: Identity, *, action: str) -> str:
        """The URL of a new single-use link to ``conversation``, sent to ``sent_to``."""
        token = self.signer.dumps(
            LINK_PURPOSE,
            {
                "c": conversation.id,
                "u": conversation.customer_id,
                "t": str(sent_to),
                "a": action,
                "j": secrets.token_urlsafe(12),
            },
        )
        return f"{self.public_url}/c/{token}"

    # -- actions -------------------------------------------------------------------
    async def text_me(self, conversation_id: str, phone: Identity, *, by: str) -> Event:
        """ "Text me instead": an SMS to ``phone``; a reply from it continues the conversation."""
        conv = await self.store.get_conversation(conversation_id)
        url = self.mint(conv, phone, action="text_me")
        packet = await build_packet(self.store, conv, to_channel="sms")
        text = (
            f"{self.settings.business_name}: {packet.short_text()} Let's continue by text: "
            f"reply to this message, or pick up the chat at {url}"
        )
        await self.pipeline.expect_reply(
            phone,
            customer_id=conv.customer_id,
            conversation_id=conv.id,
            hours=self.settings.link_ttl_seconds / 3600,
        )
        return await self.pipeline.send(
            conv.id, text=text, channel="sms", to=phone, author=by, meta={"handoff": "text_me"}
        )

    async def email_transcript(self, conversation_id: str, email: Identity, *, by: str) -> Event:
        """ "Email me this conversation": the transcript and a link back into it."""
        conv = await self.store.get_conversation(conversation_id)
        packet = await build_packet(self.store, conv, to_channel="email")
        url = self.mint(conv, email, action="email_transcript")
        lines = [packet.email_header(), "", "Transcript:"]
        async for event in self._visible(conv.id):
            who = "You" if event.direction is Direction.IN else self.settings.business_name
            lines.append(f"[{event.occurred_at:%d %b %H:%M}] {who} ({event.channel}): {event.text}")
        lines += ["", f"Continue this conversation: {url}"]
        subject = f"Your conversation with {self.settings.business_name}"
        if conv.subject:
            subject += f": {conv.subject}"
        return await self.pipeline.send(
            conv.id,
            text="\n".join(lines),
            subject=subject,
            channel="email",
            to=email,
            author=by,
            meta={"handoff": "email_transcript"},
        )

    async def call_me(self, conversation_id: str, phone: Identity, *, by: str) -> Event:
        """ "Call me back": the agent is rung with a whisper of the context, then ``phone``."""
        conv = await self.store.get_conversation(conversation_id)
        packet = await build_packet(self.store, conv, to_channel="voice")
        name = (packet.customer.name or "the customer").split()[0]
        topic = packet.topic or "their conversation"
        whisper = f"{name} asked to be called back about: {topic}"[:400]
        return await self.pipeline.send(
            conv.id,
            text=whisper,
            channel="voice",
            to=phone,
            author=by,
            meta={"handoff": "call_me", "follow_up": True},
        )

    async def verify(self, conversation_id: str, claimed: Identity, *, by: str) -> Event:
        """Send a confirmation link to a claimed address; opening it links the address."""
        conv = await self.store.get_conversation(conversation_id)
        channel = _CHANNEL_OF_KIND.get(claimed.kind)
        if channel is None:
            raise InvalidInput("to", f"cannot send a confirmation to {claimed.kind} addresses")
        url = self.mint(conv, claimed, action="verify")
        text = (
            f"{self.settings.business_name}: open this link to confirm this address is yours "
            f"and continue your conversation: {url}"
        )
        return await self.pipeline.send(
            conv.id,
            text=text,
            subject="Confirm your address" if channel == "email" else None,
            channel=channel,
            to=claimed,
            author=by,
            meta={"handoff": "verify"},
        )

    # -- opening -------------------------------------------------------------------
    def check(self, token: str, *, client: str) -> dict[str, Any]:
        """The payload of a genuine, unexpired link token (rate-limited); LinkRefused if not.

        Whether it was used already is only known (and recorded) by :meth:`open`.
        """
        if not self.rate.allow(client):
            raise LinkRefused(429, "Too many links opened from here. Try again in a minute.")
        if len(token) > 2000:
            raise LinkRefused(400, "This link is not valid.")
        try:
            return self.signer.loads(LINK_PURPOSE, token, max_age=self.settings.link_ttl_seconds)
        except ExpiredToken:
            raise LinkRefused(410, "This link has expired. Ask us for a new one.") from None
        except BadToken:
            raise LinkRefused(400, "This link is not valid.") from None

    async def open(self, token: str, *, client: str, visitor: Identity) -> Opened:
        """Open a link from ``client`` as the browser identity ``visitor``.

        Raises :class:`LinkRefused` (429 rate-limited, 400 tampered, 410 expired or
        used, 404 its conversation is gone) before anything is read or written.
        """
        payload = self.check(token, client=client)
        try:
            conv_id, customer_id = str(payload["c"]), str(payload["u"])
            sent_to = Identity.parse(str(payload["t"]))
            jti = str(payload["j"])
        except (KeyError, ValueError):
            raise LinkRefused(400, "This link is not valid.") from None
        try:
            conv = await self.store.get_conversation(conv_id)
        except NotFound:
            raise LinkRefused(404, "This conversation is no longer available.") from None
        survivor = await self.identities.survivor(customer_id)
        owner = await self.identities.survivor(conv.customer_id)
        if survivor.id != owner.id:
            raise LinkRefused(400, "This link is not valid.")
        expires = utcnow() + timedelta(seconds=self.settings.link_ttl_seconds)
        if not await self.store.use_link_token(jti, expires_at=expires):
            raise LinkRefused(410, "This link was used already. Ask us for a new one.")
        evidence = f"opened a link sent to {sent_to} for conversation {conv.id}"
        customer = await self.identities.link_verified(
            owner.id, sent_to, by="handoff:link", evidence=evidence
        )
        customer = await self.identities.link_verified(
            customer.id, visitor, by="handoff:link", evidence=evidence
        )
        conv = await self.store.get_conversation(conv.id)
        from_channel = _CHANNEL_OF_KIND.get(sent_to.kind, sent_to.kind)
        packet = await build_packet(self.store, conv, from_channel=from_channel, to_channel="chat")
        card = handoff_event(
            conv,
            from_channel=from_channel,
            to_channel="chat",
            via="link",
            packet=to_json(packet.agent_card()),
            short=packet.short_text(),
        )
        await self.pipeline.append([card])
        session = self.signer.dumps(
            SESSION_PURPOSE, {"c": conv.id, "u": customer.id, "v": str(visitor)}
        )
        return Opened(conv, customer.id, visitor, session)

    def session(self, token: str | None) -> dict[str, Any]:
        """The payload of a browser session; LinkRefused(401) if it proves nothing."""
        if not token or len(token) > 2000:
            raise LinkRefused(401, "Open the link we sent you to see this conversation.")
        try:
            return self.signer.loads(
                SESSION_PURPOSE, token, max_age=self.settings.session_ttl_seconds
            )
        except BadToken:  # ExpiredToken included
            raise LinkRefused(401, "Open the link we sent you to see this conversation.") from None

    async def transcript(self, session: dict[str, Any], conversation_id: str) -> list[Event]:
        """The events of the session's conversation the customer may see; 403 for any other."""
        if session.get("c") != conversation_id:
            raise LinkRefused(403, "This conversation is not available here.")
        return [e async for e in self._visible(conversation_id)]

    async def _visible(self, conversation_id: str) -> Any:
        cursor: str | None = None
        for _ in range(50):
            page = await self.store.events(
                conversation_id=conversation_id, cursor=cursor, direction="newer", limit=200
            )
            for event in page.items:
                if visible(event):
                    yield event
            if not page.has_newer:
                return
            cursor = page.newer
