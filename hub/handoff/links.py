"""Continuation links: signed, expiring, single-use tokens that move a conversation.

A link token (``Signer`` purpose ``handoff.link``) names one conversation, the
customer it belongs to, the address it was sent to, the session that asked for
it and a unique id. Opening ``/c/<token>`` (:meth:`Links.open`) proves control of
that address; it links the address only when the session that asked opens it
(else a suggestion, and nothing shown), or restores the conversation when the
address is already the customer's own. The browser then gets a session (cookie
``omnihub_handoff``, purpose ``handoff.session``) scoped to that one
conversation. Tampered, expired, reused and foreign tokens get a plain page that
shows nothing; opening is rate-limited per client.

The actions that send links are in :mod:`.sending`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from hub.errors import BadToken, ExpiredToken, NotFound
from hub.handoff.context import build_packet
from hub.handoff.continuity import UNVERIFIED_FROM, handoff_event
from hub.handoff.sending import (
    CHANNEL_OF_KIND,
    LinkSenders,
    ascii_text,
    customer_text,
)
from hub.pipeline.types import HUB_CHANNEL
from hub.ratelimit import SlidingWindow
from hub.timeline.model import Direction, Event, EventKind, Identity, to_json, utcnow
from hub.timeline.work import Read, Sender, SenderInfo, drive

if TYPE_CHECKING:
    from hub.handoff.identity import Identities
    from hub.pipeline import Pipeline
    from hub.settings import HandoffSettings
    from hub.signing import Signer
    from hub.timeline.model import Conversation

__all__ = [
    "LINK_PURPOSE",
    "SESSION_PURPOSE",
    "LinkRefused",
    "Links",
    "Opened",
    "Withheld",
    "ascii_text",
    "customer_text",
]

LINK_PURPOSE = "handoff.link"
SHORT_PURPOSE = "handoff.short"
SESSION_PURPOSE = "handoff.session"
VISIBLE_KINDS = (EventKind.MESSAGE, EventKind.CALL, EventKind.VOICEMAIL)
LINK_ELSEWHERE_SCORE = 0.7


class LinkRefused(Exception):
    """A link or session that proves nothing; ``status`` and a customer-safe ``reason``."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Opened:
    """A link opened: the conversation, its customer and the browser's session
    (``reused``: the browser's own chat identity, not a new one)."""

    conversation: Conversation
    customer_id: str
    visitor: Identity
    session: str
    reused: bool = False


@dataclass(frozen=True, slots=True)
class Withheld:
    """A link opened where it proves nothing: a suggestion for an agent, nothing shown."""

    conversation_id: str


def visible(event: Event) -> bool:
    """Whether the customer may see ``event`` (their messages and ours, never internals,
    never a message from an address nobody has proved theirs)."""
    return (
        event.channel != HUB_CHANNEL
        and event.direction in (Direction.IN, Direction.OUT)
        and event.kind in VISIBLE_KINDS
        and not event.meta.get(UNVERIFIED_FROM)
    )


def _sender(identity: Identity) -> Generator[Read, Any, SenderInfo]:
    info: SenderInfo = yield Sender(identity)
    return info


class Links(LinkSenders):
    """Mint, send and open continuation links (the senders: :class:`.sending.LinkSenders`)."""

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
    def mint(
        self,
        conversation: Conversation,
        sent_to: Identity,
        *,
        action: str,
        requester: Identity | None = None,
        channel: str | None = None,
    ) -> str:
        """The URL of a new single-use link to ``conversation``, sent to ``sent_to``.

        ``requester`` is the session that asked for it (a widget visitor); opening
        the link from that session proves one person at both ends."""
        token = self.signer.dumps(
            LINK_PURPOSE,
            {
                "c": conversation.id,
                "u": conversation.customer_id,
                "t": str(sent_to),
                "a": action,
                "r": str(requester) if requester else "",
                "j": secrets.token_urlsafe(12),
                **({"ch": channel} if channel else {}),
            },
        )
        return f"{self.public_url}/c/{token}"

    # -- opening -------------------------------------------------------------------
    def mint_short(self, phone: Identity) -> str:
        """A short link for an SMS (two GSM-7 segments): it names only the number and a
        unique id; the conversation comes from the reply we expect from that number."""
        token = self.signer.dumps(SHORT_PURPOSE, {"p": phone.value, "j": secrets.token_urlsafe(6)})
        return f"{self.public_url}/c/{token}"

    async def _unshorten(self, payload: dict[str, Any]) -> dict[str, Any]:
        if "p" not in payload:
            return payload
        phone = Identity("phone", str(payload["p"]))
        info = await drive(self.store, _sender(phone))
        expected = info.expectation
        if expected is None or expected.until < utcnow():
            raise LinkRefused(410, "This link has expired. Ask us for a new one.")
        return {
            "c": expected.conversation_id,
            "u": expected.customer_id,
            "t": str(phone),
            "a": "text_me",
            "r": "",
            "j": str(payload.get("j")),
        }

    def check(self, token: str, *, client: str) -> dict[str, Any]:
        """The payload of a genuine, unexpired link token (rate-limited); LinkRefused if not.

        Whether it was used already is only known (and recorded) by :meth:`open`.
        """
        if not self.rate.allow(client):
            raise LinkRefused(429, "Too many links opened from here. Try again in a minute.")
        if len(token) > 2000:
            raise LinkRefused(400, "This link is not valid.")
        for purpose in (LINK_PURPOSE, SHORT_PURPOSE):
            try:
                return self.signer.loads(purpose, token, max_age=self.settings.link_ttl_seconds)
            except ExpiredToken:
                raise LinkRefused(410, "This link has expired. Ask us for a new one.") from None
            except BadToken:
                continue
        raise LinkRefused(400, "This link is not valid.")

    async def open(
        self,
        token: str,
        *,
        client: str,
        opener: Identity | None,
        new_visitor: Callable[[], Identity],
        payload: dict[str, Any] | None = None,
    ) -> Opened | Withheld:
        """Open a link from ``client``; ``opener`` is the browser's own chat identity
        (from its visitor token), if it has one.

        * opened by the session that asked (``opener`` is the requester, or already
          one of the link's customer's identities): the address is linked to the
          customer — one person at both ends (an address another customer owns
          merges them: their history is restored here);
        * the address is already the customer's own: whoever controls it is the
          customer, so the conversation is restored for a new browser identity
          (``new_visitor()``);
        * otherwise: a suggestion with its evidence for an agent, and nothing is
          linked or shown (:class:`Withheld`).

        ``payload`` is the token's, when :meth:`check` read it already. Raises
        :class:`LinkRefused` (429 rate-limited, 400 tampered, 410 expired or used, 404
        its conversation is gone) before anything is read or written.
        """
        payload = payload if payload is not None else self.check(token, client=client)
        payload = await self._unshorten(payload)
        try:
            conv_id, customer_id = str(payload["c"]), str(payload["u"])
            sent_to = Identity.parse(str(payload["t"]))
            requester = Identity.parse(str(payload["r"])) if payload.get("r") else None
            action, jti = str(payload["a"]), str(payload["j"])
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
        same_session = opener is not None and (
            opener == requester or await self._belongs(opener, owner.id)
        )
        address_owner = await self.identities.resolve(sent_to)
        theirs = address_owner is not None and address_owner.id == owner.id
        if not same_session and not theirs:
            await self.identities.suggest(
                owner.id,
                sent_to,
                score=LINK_ELSEWHERE_SCORE,
                evidence={
                    "kind": "link_opened_elsewhere",
                    "detail": (
                        f"a {action} link sent to {sent_to} was opened in a browser "
                        "other than the session that asked for it"
                    ),
                    "channel": CHANNEL_OF_KIND.get(sent_to.kind, sent_to.kind),
                },
            )
            return Withheld(conv.id)
        visitor = opener if same_session and opener is not None else new_visitor()
        evidence = f"opened a link sent to {sent_to} for conversation {conv.id} " + (
            "in the session that asked for it" if same_session else "(their own address)"
        )
        customer = await self.identities.link_verified(
            owner.id, sent_to, by="handoff:link", evidence=evidence
        )
        customer = await self.identities.link_verified(
            customer.id, visitor, by="handoff:link", evidence=evidence
        )
        conv = await self.store.get_conversation(conv.id)
        from_channel = str(payload.get("ch") or CHANNEL_OF_KIND.get(sent_to.kind, sent_to.kind))
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
        return Opened(conv, customer.id, visitor, session, reused=visitor == opener)

    async def _belongs(self, identity: Identity, customer_id: str) -> bool:
        found = await self.identities.resolve(identity)
        return found is not None and found.id == customer_id

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
