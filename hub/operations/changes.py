"""What people change on a conversation, as operations records it: transfers (and the
escalation past ``max_transfers``), overrides of triage's priority, team and tier
(what the accuracy report compares against), and resolutions (which make the
next customer message a re-opening)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hub.errors import NotFound
from hub.operations.triage import from_priority, team_of, tier_of
from hub.timeline.model import Conversation, ConversationStatus, new_id

if TYPE_CHECKING:
    from hub.operations.service import Operations

__all__ = ["record_change"]


async def _name(ops: Operations, by: str) -> str:
    """An agent id as their name (API callers and others as given)."""
    if not by.startswith("agt_"):
        return by
    try:
        return (await ops.store.get_agent(by)).name
    except NotFound:
        return by


async def record_change(ops: Operations, conv: Conversation, data: dict[str, Any]) -> None:
    """Record the change ``data`` (a bus message's: ``by``, ``before``) made to ``conv``."""
    by = str(data["by"])
    change = str(data.get("change") or new_id("chg"))  # the same on every instance
    who = await _name(ops, by)
    before: dict[str, Any] = data.get("before") or {}
    old_assignee = before.get("assignee")
    if old_assignee and conv.assignee and old_assignee != conv.assignee:
        page = await ops.store.events(conversation_id=conv.id, limit=200)
        count = 1 + sum(1 for e in page.items if e.meta.get("operations") == "transfer")
        stored = await ops.record(
            conv,
            "transfer",
            change,
            f"Transfer {count}: {await _name(ops, old_assignee)} → "
            f"{await _name(ops, conv.assignee)}",
            by=by,
            count=count,
            previous=old_assignee,
            assignee=conv.assignee,
        )
        if stored is not None and count > ops.settings.time_rules.max_transfers:
            await ops.escalate(conv, "transfers", key=str(count), text=f"transferred {count} times")
    old_priority = before.get("priority")
    if old_priority and old_priority != conv.priority.value:
        await ops.record(
            conv,
            "override",
            f"{change}:priority",
            f"Priority set to {from_priority(conv.priority)} by {who}",
            by=by,
            field="priority",
            value=from_priority(conv.priority),
        )
    for field, now_value, old_tags in (
        ("team", team_of(conv.tags), before.get("tags")),
        ("tier", tier_of(conv.tags), before.get("tags")),
    ):
        if old_tags is None:
            continue
        old_value = team_of(old_tags) if field == "team" else tier_of(old_tags)
        if old_value != now_value:
            await ops.record(
                conv,
                "override",
                f"{change}:{field}",
                f"{field.capitalize()} set to {now_value} by {who}",
                by=by,
                field=field,
                value=now_value,
            )
    if conv.status is ConversationStatus.RESOLVED and before.get("status") != "resolved":
        stamp = conv.resolved_at.isoformat() if conv.resolved_at else new_id("rs")
        await ops.record(conv, "resolved", stamp, f"Resolved by {who}", by=by)
