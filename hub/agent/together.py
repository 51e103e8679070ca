"""Working together: @mentions in notes and transfers with a note.

**Mentions.** ``@ana`` in an internal note (an agent's email local part or first
name, any case) notifies that agent: their open agent pages get an alert
linking to the conversation, and the note records ``meta.mentions`` (agent ids).

**Transfers.** ``POST /agent/conversations/{id}/transfer`` with ``agent`` or
``team`` (or ``to`` = ``agent:<id>`` / ``team:<name>``, the form's picker) and
a ``note`` (required: transferring without context escalates,
``../shared/SUPPORT.md``) reassigns the conversation (to the agent; to the team:
its ``team:`` tag, unassigned) and writes the note with ``meta.transfer``
``{"from", "agent"?, "team"?}``. The conversation page counts them and shows the
latest as a context card at the top; a receiving agent is alerted.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from starlette.responses import Response

from hub.agent.actions import actionable, assignee_of, done, team_tags
from hub.agent.web import Ctx, action
from hub.bus import BusMessage
from hub.errors import InvalidInput
from hub.operations.service import ALERT
from hub.operations.triage import tier_of
from hub.timeline.model import Agent, Conversation, to_json
from hub.timeline.store import ConversationUpdate

if TYPE_CHECKING:
    from hub.app import Hub

__all__ = ["mentioned", "note", "transfer"]

MENTION = re.compile(r"(?<![\w@])@([\w][\w.-]{0,63})")


def mentioned(text: str, agents: list[Agent]) -> list[Agent]:
    """The active agents ``text`` mentions, each once, by email local part or an
    unambiguous first name."""
    handles: dict[str, list[Agent]] = {}
    for agent in agents:
        if agent.disabled:
            continue
        names = {agent.email.split("@")[0].lower()}
        if agent.name.split():
            names.add(agent.name.split()[0].lower())
        for name in names:
            handles.setdefault(name, []).append(agent)
    out: dict[str, Agent] = {}
    for handle in MENTION.findall(text):
        found = handles.get(handle.lower().rstrip(".-"), [])
        if len(found) == 1:
            out.setdefault(found[0].id, found[0])
    return list(out.values())


def alert(hub: Hub, agent_id: str, conv: Conversation, reason: str, text: str) -> None:
    """An alert on ``agent_id``'s open agent pages, linking to ``conv``."""
    data = {"agent": agent_id, "conversation_id": conv.id, "reason": reason, "text": text}
    hub.bus.publish(BusMessage(ALERT, conv.customer_id, data=data))


@action
async def note(ctx: Ctx) -> Response:
    """An internal note; the agents it @mentions are alerted."""
    conv = await ctx.hub.store.get_conversation(ctx.request.path_params["conversation_id"])
    text = ctx.field("text")
    agents = [a for a in mentioned(text, await ctx.hub.store.list_agents()) if a.id != ctx.agent.id]
    meta: dict[str, object] = {"mentions": [a.id for a in agents]} if agents else {}
    if ctx.field("follow_up"):
        meta["follow_up"] = True
    event = await ctx.hub.pipeline.note(conv.id, text, author=ctx.agent.name, meta=meta)
    for agent in agents:
        alert(ctx.hub, agent.id, conv, "mention", f"{ctx.agent.name}: {text.strip()[:160]}")
    return done(ctx, conv.id, {"event": to_json(event)}, 201)


@action
async def transfer(ctx: Ctx) -> Response:
    """Hand the conversation to an agent or a team, with a note for them."""
    conv = await actionable(ctx)
    note = ctx.field("note").strip()
    to_agent, to_team = ctx.field("agent").strip(), ctx.field("team").strip()
    kind, _, target = ctx.field("to").strip().partition(":")
    if kind == "agent" and not to_team:
        to_agent = to_agent or target
    elif kind == "team" and not to_agent:
        to_team = to_team or target
    if not note:
        raise InvalidInput("note", "say what the next person needs to know")
    if bool(to_agent) == bool(to_team):
        raise InvalidInput("agent", "transfer to an agent or to a team")
    record: dict[str, str] = {"from": ctx.agent.id}
    if to_agent:
        assignee = await assignee_of(ctx.hub, ctx.agent, to_agent)
        if assignee is None or assignee == conv.assignee:
            raise InvalidInput("agent", "transfer to another agent")
        change = ConversationUpdate(assignee=assignee)
        record["agent"] = assignee
    else:
        change = ConversationUpdate(
            tags=team_tags(conv.tags, to_team, tier_of(conv.tags) or ""), assignee=None
        )
        record["team"] = to_team
    updated = await ctx.hub.pipeline.update_conversation(
        conv.id, change, by=ctx.agent.id, before=conv
    )
    event = await ctx.hub.pipeline.note(
        conv.id, note, author=ctx.agent.name, meta={"transfer": record}
    )
    if "agent" in record:
        alert(ctx.hub, record["agent"], updated, "transfer", f"{ctx.agent.name}: {note[:160]}")
    body = {"conversation": to_json(updated), "event": to_json(event)}
    return done(ctx, conv.id, body, 201)
