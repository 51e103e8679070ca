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
from hub.handoff.continuity import HandoffPolicy
from hub.handoff.identity import Identities
from hub.handoff.links import Links
from hub.timeline.model import Event, Identity
from hub.timeline.store import InboxFilter

if TYPE_CHECKING:
    from hub.connectors.base import Connector
    from hub.pipeline import Pipeline
    from hub.settings import HandoffSettings
    from hub.signing import Signer

__all__ = ["ACTIONS", "Handoff"]

ACTIONS = ("text_me", "email_transcript", "call_me", "verify")


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
    ) -> None:
        self.pipeline = pipeline
        self.signer = signer
        self.settings = settings
        self.public_url = public_url
        self.default_region = default_region
        self.identities = Identities(pipeline)
        self.policy = HandoffPolicy(settings)
        self.links = Links(pipeline, self.identities, signer, settings, public_url)
        pipeline.policies.append(self.policy)

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

    async def visitor_conversation(self, token: str | None, site: str) -> tuple[str, str] | None:
        """(conversation id, who) for a chat visitor token: the visitor's most recent
        conversation, or ``None`` when the token proves nothing or they have none."""
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
        customer = await self.pipeline.store.find_customer(Identity("chat", visitor))
        if customer is None:
            return None
        page = await self.pipeline.store.list_conversations(
            InboxFilter(status=(), customer_id=customer.id), limit=1
        )
        if not page.items:
            return None
        return page.items[0].id, f"customer:chat:{visitor}"

    async def act(self, action: str, conversation_id: str, to: Identity, *, by: str) -> Event:
        """Run a link action (``text_me``, ``email_transcript``, ``call_me``, ``verify``)."""
        if action == "text_me":
            return await self.links.text_me(conversation_id, to, by=by)
        if action == "email_transcript":
            return await self.links.email_transcript(conversation_id, to, by=by)
        if action == "call_me":
            return await self.links.call_me(conversation_id, to, by=by)
        if action == "verify":
            return await self.links.verify(conversation_id, to, by=by)
        raise InvalidInput("action", f"action must be one of {list(ACTIONS)}")
