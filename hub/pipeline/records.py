"""Links, suggestions, expected replies, merges and conversation changes: the rest of
what the pipeline writes besides ingest and send."""

from __future__ import annotations

import functools
from collections.abc import Callable, Generator
from datetime import timedelta
from typing import Any

from hub.bus import BusMessage, Topic
from hub.errors import Conflict, IdentityTaken
from hub.pipeline.base import PipelineBase
from hub.pipeline.types import HUB_CHANNEL
from hub.timeline.handoff import LinkSuggestion, SuggestionStatus
from hub.timeline.merges import survivor
from hub.timeline.model import (
    Conversation,
    Customer,
    Direction,
    Event,
    EventKind,
    Identity,
    new_id,
    utcnow,
)
from hub.timeline.store import ConversationUpdate
from hub.timeline.work import Expectation, Plan, Read, Sender, Writes, writes_only

__all__ = ["Records", "link_event"]


def link_event(customer_id: str, identity: Identity, *, by: str, evidence: str) -> Event:
    """The ``link`` event recording that ``identity`` was attached to ``customer_id``."""
    now = utcnow()
    return Event(
        id=new_id("evt"),
        customer_id=customer_id,
        conversation_id=None,
        channel=HUB_CHANNEL,
        direction=Direction.INTERNAL,
        kind=EventKind.LINK,
        author=by,
        text=f"{by} linked {identity} ({evidence})",
        occurred_at=now,
        received_at=now,
        meta={"identity": str(identity), "by": by, "evidence": evidence},
    )


_LINK_ATTEMPTS = 5


class Records(PipelineBase):
    """Identity links, suggestions, expectations, merges, conversation updates."""

    async def link(
        self, customer_id: str, identity: Identity, *, by: str, evidence: str
    ) -> Customer:
        """Attach ``identity`` to ``customer_id`` on verified ``evidence``.

        Unowned: linked, with a ``link`` event. Owned by another customer: that
        customer is merged into this one (reversible, with a ``merge`` event).
        Already this customer's: nothing changes.
        """
        for _ in range(_LINK_ATTEMPTS):
            customer = await survivor(self.store, customer_id)
            owner = await self.store.find_customer(identity)
            if owner is not None and owner.id == customer.id:
                return customer
            if owner is not None:
                return await self.merge(
                    owner.id, customer.id, by=by, reason=f"verified {identity}: {evidence}"
                )

            def plan(target: str = customer.id) -> Plan:
                sender = yield Sender(identity)
                if sender.customer is not None:
                    raise IdentityTaken(str(identity), sender.customer.id)
                event = link_event(target, identity, by=by, evidence=evidence)
                return Writes(target, [event], link=identity)

            try:
                outcome = await self.store.run(plan)
            except (IdentityTaken, Conflict):
                continue  # linked meanwhile: look again
            self.publish_outcome(outcome)
            self.bus.publish(BusMessage(Topic.CUSTOMER_UPDATED, customer.id))
            return await self.store.get_customer(customer.id)
        raise Conflict(f"{identity}: ownership kept changing; try again")

    async def customer_for(self, identity: Identity, *, name: str | None = None) -> Customer:
        """The customer owning ``identity``, created (with ``name``) if nobody does."""
        customer, _ = await self.store.get_or_create_customer(identity, name=name)
        return customer

    async def update_customer(
        self,
        customer_id: str,
        *,
        name: str | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> Customer:
        """Set a customer's name and/or merge ``attributes`` in, and announce it."""
        customer = await self.store.update_customer(customer_id, name=name, attributes=attributes)
        self.bus.publish(BusMessage(Topic.CUSTOMER_UPDATED, customer.id))
        return customer

    async def suggest(
        self, make: Callable[[], Generator[Read, Any, LinkSuggestion | None]]
    ) -> LinkSuggestion | None:
        """Store the suggestion the step ``make()`` decides on; the stored one (the
        existing one when its customer and identity pair has one), or ``None``."""
        made: list[LinkSuggestion | None] = []

        def plan() -> Plan:
            suggestion = yield from make()
            made[:] = [suggestion]
            if suggestion is None:
                return Writes("")
            return Writes(suggestion.customer_id, suggestions=[suggestion])

        outcome = await self.store.run(plan)
        if outcome.suggestions:
            return outcome.suggestions[0]
        wanted = made[0] if made else None
        if wanted is None:
            return None
        stored = await self.store.list_suggestions(customer_id=wanted.customer_id, limit=500)
        return next((s for s in stored if s.pair_key == wanted.pair_key), wanted)

    async def decide_suggestion(
        self, suggestion_id: str, status: SuggestionStatus, *, by: str, reason: str | None = None
    ) -> LinkSuggestion | None:
        """Confirm or dismiss a pending suggestion (the link itself is :meth:`link`)."""
        return await self.store.decide_suggestion(suggestion_id, status, by=by, reason=reason)

    async def expect_reply(
        self,
        identity: Identity,
        *,
        customer_id: str,
        conversation_id: str,
        hours: float,
        purpose: str = "text_me",
    ) -> None:
        """Remember that a message from ``identity`` answers our offer in ``conversation_id``."""
        expectation = Expectation(
            identity, customer_id, conversation_id, utcnow() + timedelta(hours=hours), purpose
        )
        await self.store.run(
            functools.partial(writes_only, Writes(customer_id, expect=expectation))
        )

    async def update_conversation(
        self,
        conversation_id: str,
        update: ConversationUpdate,
        *,
        by: str | None = None,
        before: Conversation | None = None,
    ) -> Conversation:
        """Change a conversation (status, assignee, priority, subject, tags, snooze)
        and announce it. ``by`` names the person who changed it and ``before`` is the
        conversation as they saw it: both travel on the bus (``data["by"]``,
        ``data["before"]``, with ``data["change"]`` naming this change) so automations
        — on every instance the bus reaches — can tell a person's change from their
        own and record it once."""
        conv = await self.store.update_conversation(conversation_id, update)
        extra: dict[str, Any] = {}
        if by is not None:
            extra["by"] = by
            extra["change"] = new_id("chg")
            if before is not None:
                extra["before"] = {
                    "assignee": before.assignee,
                    "priority": before.priority.value,
                    "status": before.status.value,
                    "tags": list(before.tags),
                }
        self.conversation_changed(conv, **extra)
        return conv

    async def merge(
        self, source_id: str, target_id: str, *, by: str, reason: str | None = None
    ) -> Customer:
        """Merge two customers (reversible) and record who did it and why."""
        if source_id == target_id:
            raise Conflict("cannot merge a customer into itself")
        target = await self.store.merge_customers(source_id, target_id)
        text = f"{by} merged customer {source_id} into {target_id}"
        meta = {"source": source_id, "target": target_id, "by": by, "reason": reason}
        await self.internal_event(target.id, None, EventKind.MERGE, text, author=by, meta=meta)
        self.bus.publish(BusMessage(Topic.CUSTOMER_UPDATED, target.id))
        return target

    async def unmerge(self, source_id: str, *, by: str, reason: str | None = None) -> Customer:
        """Undo a merge: everything the customer brought goes back to it."""
        before = await self.store.get_customer(source_id)
        restored = await self.store.unmerge_customer(source_id)
        text = f"{by} unmerged customer {source_id} from {before.merged_into}"
        meta = {"source": source_id, "target": before.merged_into, "by": by, "reason": reason}
        await self.internal_event(restored.id, None, EventKind.UNMERGE, text, author=by, meta=meta)
        if before.merged_into:
            self.bus.publish(BusMessage(Topic.CUSTOMER_UPDATED, before.merged_into))
        self.bus.publish(BusMessage(Topic.CUSTOMER_UPDATED, restored.id))
        return restored

    async def merge_conversations(
        self, source_id: str, target_id: str, *, by: str, reason: str | None = None
    ) -> Conversation:
        """Merge conversation ``source_id`` into ``target_id`` (one customer's): its events
        move, it is resolved, and both record who did it and why (undone by
        :meth:`unmerge_conversation`)."""
        source = await self.store.get_conversation(source_id)
        target = await self.store.get_conversation(target_id)
        if source.customer_id != target.customer_id:
            raise Conflict("only one customer's conversations can be merged")
        merged = await self.store.merge_conversations(source_id, target_id)
        meta: dict[str, Any] = {
            "conversation_source": source_id,
            "conversation_target": target_id,
            "by": by,
            "reason": reason,
        }
        why = f" ({reason})" if reason else ""
        await self.internal_event(
            source.customer_id,
            source_id,
            EventKind.MERGE,
            f"{by} merged this conversation into {target_id}{why}",
            author=by,
            meta=meta,
        )
        await self.internal_event(
            target.customer_id,
            target_id,
            EventKind.MERGE,
            f"{by} merged conversation {source_id} into this one{why}",
            author=by,
            meta=meta,
        )
        self.conversation_changed(await self.store.get_conversation(source_id))
        merged = await self.store.get_conversation(merged.id)
        self.conversation_changed(merged)
        return merged

    async def unmerge_conversation(
        self, source_id: str, *, by: str, reason: str | None = None
    ) -> Conversation:
        """Undo a conversation merge: the source gets its events back and reopens."""
        restored = await self.store.unmerge_conversation(source_id)
        meta = {"conversation_source": source_id, "by": by, "reason": reason}
        for conv in restored:
            text = (
                f"{by} unmerged this conversation"
                if conv.id == source_id
                else f"{by} unmerged conversation {source_id} from this one"
            )
            await self.internal_event(
                conv.customer_id, conv.id, EventKind.UNMERGE, text, author=by, meta=meta
            )
        for conv in restored:
            self.conversation_changed(await self.store.get_conversation(conv.id))
        return await self.store.get_conversation(source_id)
