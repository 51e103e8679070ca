"""Handoff: one customer across channels, context that travels, links that move a conversation.

:class:`Handoff` wires the parts (``build_app`` creates one per hub):

* :mod:`.identity` — resolve, link on verified evidence, suggested links, merge/unmerge;
* :mod:`.continuity` — the ingest policy: cross-channel continuity and handoff cards;
* :mod:`.context` — the context packet (agent card, short text, email header);
* :mod:`.links` — continuation links and the actions that send them;
* :mod:`.web` — ``/c/<token>`` and the customer's session routes;
* :mod:`.api` — ``/api/v1`` routes for agents;
* :mod:`.voice` — the Twilio voice greeting with the short context.
"""

from __future__ import annotations

import importlib
import secrets
from typing import TYPE_CHECKING

from hub.errors import BadToken, InvalidInput
from hub.handoff.continuity import SUPERSEDED_BY, HandoffPolicy
from hub.handoff.identity import Identities
from hub.handoff.links import Links
from hub.handoff.relay import Refused, Relay
from hub.shared import SharedState
from hub.timeline.model import ConversationStatus, Event, EventKind, Identity
from hub.timeline.store import ConversationUpdate, InboxFilter

if TYPE_CHECKING:
    from hub.connectors.base import Connector
    from hub.pipeline import Pipeline
    from hub.settings import HandoffSettings
    from hub.signing import Signer
    from hub.timeline.work import Outcome

__all__ = ["ACTIONS", "Handoff"]

ACTIONS = ("text_me", "email_transcript", "call_me", "verify", "chat_link")


class Handoff:
    """The handoff module of one hub."""

    def __init__(
        self,
        pipeline: Pipeline,
        signer: Signer,
        settings: HandoffSettings,
        *,
        public_url: str,
        default_region: str | None = None,
        shared: SharedState | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.signer = signer
        self.settings = settings
        self.public_url = public_url
        self.default_region = default_region
        self.identities = Identities(pipeline)
        self.policy = HandoffPolicy(settings)
        self.links = Links(pipeline, self.identities, signer, settings, public_url)
        relay = settings.relay
        self.relay = Relay(
            per_visitor=relay.per_visitor,
            per_destination=relay.per_destination,
            per_hub=relay.per_hub,
            window_seconds=relay.window_seconds,
            countries=relay.countries or ((default_region,) if default_region else ()),
            unverified_calls=relay.unverified_calls,
            shared=shared,
        )
        pipeline.policies.append(self.policy)
        pipeline.on_ingested.append(self.close_superseded)

    async def close_superseded(self, outcome: Outcome) -> None:
        """A returning customer's new conversation (past the window) took over the
        earlier one, which ingest marked (a ``status`` event, ``meta.superseded_by``):
        resolve it, so it is not left open with a stale promise."""
        for event in outcome.created_events:
            if event.kind is not EventKind.STATUS or not event.meta.get(SUPERSEDED_BY):
                continue
            assert event.conversation_id is not None
            earlier = await self.pipeline.store.get_conversation(event.conversation_id)
            if earlier.status is ConversationStatus.RESOLVED:
                continue
            await self.pipeline.update_conversation(
                earlier.id,
                ConversationUpdate(status=ConversationStatus.RESOLVED),
            )

    def attach(self, connectors: dict[str, Connector]) -> None:
        """Give connectors what they use from handoff (the Twilio voice greeting)."""
        twilio = connectors.get("twilio")
        if twilio is None:
            return
        # Imported only when Twilio runs: its SDK is an optional extra.
        from hub.connectors.twilio import TwilioConnector
        from hub.handoff.voice import TimelineCallers

        if isinstance(twilio, TwilioConnector):
            twilio.directory = TimelineCallers(self.pipeline.store, self.settings)

    def new_visitor(self) -> tuple[Identity, str | None]:
        """A fresh chat visitor for a browser that opened a link, and its widget token."""
        try:
            visitors = importlib.import_module("hub.connectors.chat.visitors")
        except ImportError:  # the chat connector is optional
            return Identity("chat", "v_" + secrets.token_hex(12)), None
        visitor = visitors.issue_visitor(self.signer, self.settings.widget_site)
        return Identity("chat", str(visitor.id)), str(visitor.token)

    def visitor_identity(self, token: str | None, site: str) -> Identity | None:
        """The chat identity a widget visitor token proves on ``site``, or ``None``."""
        if not token or len(token) > 2000:
            return None
        try:
            payload = self.signer.loads(
                "chat.visitor", token, max_age=self.settings.session_ttl_seconds
            )
        except BadToken:
            return None
        visitor = payload.get("v")
        if not isinstance(visitor, str) or payload.get("s") != site:
            return None
        return Identity("chat", visitor)

    async def visitor_conversation(self, token: str | None, site: str) -> tuple[str, str] | None:
        """(conversation id, who) for a chat visitor token: the visitor's most recent
        conversation, or ``None`` when the token proves nothing or they have none."""
        visitor = self.visitor_identity(token, site)
        if visitor is None:
            return None
        customer = await self.pipeline.store.find_customer(visitor)
        if customer is None:
            return None
        page = await self.pipeline.store.list_conversations(
            InboxFilter(status=(), customer_id=customer.id), limit=1
        )
        if not page.items:
            return None
        return page.items[0].id, f"customer:{visitor}"

    async def customer_act(
        self, action: str, conversation_id: str, to: Identity, *, requester: Identity
    ) -> Event:
        """An action a customer asked for themselves (the widget, a link session).

        It goes out at once to a verified address of their own customer; anything else
        is spent from the relay budgets (:mod:`.relay`) or refused with :class:`Refused`,
        noted on the conversation for the agent."""
        conv = await self.pipeline.store.get_conversation(conversation_id)
        owner = await self.pipeline.store.find_customer(to)
        if owner is None or owner.id != (await self.identities.survivor(conv.customer_id)).id:
            try:
                await self.relay.check(action, to, visitor=str(requester))
            except Refused as exc:
                await self.pipeline.note(
                    conv.id,
                    f"Refused the visitor's {action} to {to}: {exc.code}. "
                    "Send it yourself if it is theirs.",
                    author="handoff:relay",
                    meta={"relay_refused": exc.code, "action": action, "to": str(to)},
                )
                raise
        by = f"customer:{requester}"
        return await self.act(action, conversation_id, to, by=by, requester=requester)

    async def act(
        self,
        action: str,
        conversation_id: str,
        to: Identity,
        *,
        by: str,
        requester: Identity | None = None,
        channel: str | None = None,
    ) -> Event:
        """Run a link action (``text_me``, ``email_transcript``, ``call_me``, ``verify``,
        ``chat_link`` on ``channel``, default the address's own)."""
        if action == "text_me":
            return await self.links.text_me(conversation_id, to, by=by, requester=requester)
        if action == "email_transcript":
            return await self.links.email_transcript(
                conversation_id, to, by=by, requester=requester
            )
        if action == "call_me":
            return await self.links.call_me(conversation_id, to, by=by, requester=requester)
        if action == "verify":
            return await self.links.verify(conversation_id, to, by=by, requester=requester)
        if action == "chat_link":
            return await self.links.chat_link(
                conversation_id, to, by=by, channel=channel, requester=requester
            )
        raise InvalidInput("action", f"action must be one of {list(ACTIONS)}")
