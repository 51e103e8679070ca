"""State changes from the agent view: reply, note, assign / status / priority / snooze,
continue on another channel (the handoff link actions), merge / unmerge, read marks.
Every one is an ``action`` (session + CSRF token).

Permissions: any agent may read everything and add internal notes; replying
and changing a conversation need it to be unassigned or assigned to the agent
(admins may act on every conversation); merge and unmerge are for admins.
Scripts ask for JSON; plain form posts are answered with a redirect back.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, Response

from hub.agent.conversation import macro_values
from hub.agent.macros import PLACEHOLDER, fill, library, problem
from hub.agent.presence import publish_read
from hub.agent.web import Ctx, Forbidden, action, back
from hub.errors import Conflict, InvalidInput, NotFound
from hub.handoff import ACTIONS
from hub.operations.triage import team_of
from hub.timeline.merges import survivor
from hub.timeline.model import (
    Agent,
    Attachment,
    Conversation,
    ConversationStatus,
    Identity,
    Priority,
    to_json,
    utcnow,
)
from hub.timeline.store import ConversationUpdate

if TYPE_CHECKING:
    from hub.app import Hub

__all__ = ["can_act", "continue_elsewhere", "merge", "reply", "unmerge", "update"]

SNOOZE_HOURS = {"1": 1, "4": 4, "24": 24, "72": 72}


def can_act(agent: Agent, conv: Conversation) -> bool:
    """Whether ``agent`` may reply on or change ``conv``."""
    return agent.is_admin or conv.assignee in (None, agent.id)


async def actionable(ctx: Ctx) -> Conversation:
    """The path's conversation, if this agent may act on it (else Forbidden)."""
    conv = await ctx.hub.store.get_conversation(ctx.request.path_params["conversation_id"])
    if not can_act(ctx.agent, conv):
        raise Forbidden("this conversation is assigned to another agent; ask an admin")
    return conv


def done(ctx: Ctx, conv_id: str, body: dict[str, object], status: int = 200) -> Response:
    """JSON for the script, else back to the conversation page."""
    if ctx.wants_json():
        return JSONResponse(body, status_code=status)
    return back(ctx, f"/agent/conversations/{conv_id}")


MAX_FILES = 10


async def _template(
    ctx: Ctx, conv: Conversation, chosen: str | None
) -> tuple[dict[str, Any], str] | None:
    """A template picked from the catalogue (``name|language``) with its parameters:
    the ``template`` meta to send and the filled text the timeline shows."""
    if not chosen or "|" not in chosen:
        return None
    name, _, language = chosen.partition("|")
    channel = ctx.field("channel") or conv.last_channel or ""
    connector = ctx.hub.channels.get(channel)
    offered = await connector.templates(channel) if connector is not None else ()
    found = next((t for t in offered if t.name == name and t.language == language), None)
    if found is None or not found.approved:
        raise InvalidInput("template", f"{name} ({language}) is not an approved template")
    given = ctx.form.getlist("template_param") if ctx.form is not None else []
    values = [v.strip() for v in given if isinstance(v, str)]
    if len(values) < found.parameters or any(not v for v in values[: found.parameters]):
        raise InvalidInput("template", f"{name} needs {found.parameters} parameters")
    values = values[: found.parameters]
    spec = {"name": name, "language": language, "parameters": values}
    return spec, found.fill(values)


async def _uploads(ctx: Ctx) -> list[Attachment]:
    """The composer's files (``files`` parts), stored as blobs."""
    found: list[Attachment] = []
    for value in ctx.form.getlist("files") if ctx.form is not None else []:
        if isinstance(value, str):
            continue
        data = await value.read()
        if not data:
            continue  # an empty file input submits one empty part
        if len(found) == MAX_FILES:
            raise InvalidInput("files", f"at most {MAX_FILES} files per reply")
        filename = (value.filename or "file").replace("/", "_")[-200:]
        content_type = value.content_type or "application/octet-stream"
        blob_id = await ctx.hub.blobs.put(data)
        found.append(Attachment(blob_id, filename, content_type, len(data)))
    return found


@action
async def reply(ctx: Ctx) -> Response:
    conv = await actionable(ctx)
    text = ctx.field("text").strip()
    if ctx.field("canned"):
        missing = PLACEHOLDER.findall(text)
        if missing:
            raise InvalidInput("text", f"fill in the placeholders first: {', '.join(missing)}")
    meta: dict[str, Any] = {
        k: ctx.field(k).strip() for k in ("tag", "template") if ctx.field(k).strip()
    }
    picked = await _template(ctx, conv, meta.get("template"))
    if picked is not None:
        meta["template"], filled = picked
        text = text or filled
    meta["agent_id"] = ctx.agent.id
    if ctx.field("follow_up"):
        meta["follow_up"] = True
    if ctx.field("macro"):
        meta["macro"] = await _macro_checked(ctx, conv, text)
    key = ctx.field("idempotency_key")[:100]
    attachments = await _uploads(ctx)
    event = await ctx.hub.pipeline.send(
        conv.id,
        text=text,
        attachments=attachments,
        channel=ctx.field("channel") or None,
        author=ctx.agent.name,
        client_ref=f"{ctx.agent.id}:{key}" if key else None,
        meta=meta,
    )
    return done(ctx, conv.id, {"event": to_json(event)}, 202)


async def _macro_checked(ctx: Ctx, conv: Conversation, text: str) -> str:
    """The macro id of a reply written from one; InvalidInput while it is untouched."""
    wanted = ctx.field("macro")
    macro = next(
        (m for m in library(ctx.hub.settings.agent, team_of(conv.tags)) if m.id == wanted), None
    )
    if macro is None:
        raise InvalidInput("macro", f"no macro {wanted!r} for this conversation")
    customer = await survivor(ctx.hub.store, conv.customer_id)
    filled = fill(macro.text, await macro_values(ctx.hub, customer, ctx.agent))
    why = problem(text, filled)
    if why is not None:
        raise InvalidInput("text", why)
    return macro.id


def _address(raw: str, default_region: str | None) -> Identity:
    """``kind:value``, or a bare address (``@`` makes it an email, else a phone number)."""
    raw = raw.strip()
    if not 3 <= len(raw) <= 300:
        raise InvalidInput("to", "give an address, e.g. email:ana@example.com")
    if ":" not in raw:
        raw = f"email:{raw}" if "@" in raw else f"phone:{raw}"
    return Identity.parse(raw, default_region=default_region)


@action
async def continue_elsewhere(ctx: Ctx) -> Response:
    """Run a handoff link action (``action``: text_me, email_transcript, call_me, verify)
    to the address ``to`` through the handoff module, as ``POST /api/v1/…/handoff`` does."""
    conv = await actionable(ctx)
    handoff = ctx.hub.handoff
    if handoff is None:
        raise Conflict("the handoff module is not running")
    name = ctx.field("action")
    if name not in ACTIONS:
        raise InvalidInput("action", f"action must be one of {list(ACTIONS)}")
    to = _address(ctx.field("to"), ctx.hub.settings.default_region)
    event = await handoff.act(name, conv.id, to, by=ctx.agent.name)
    return done(ctx, conv.id, {"event": to_json(event)}, 202)


async def assignee_of(hub: Hub, me: Agent, raw: str) -> str | None:
    """The agent id a form names ("", "none": nobody; "me"; an id of an enabled agent)."""
    if raw in ("", "none"):
        return None
    if raw == "me":
        return me.id
    try:
        agent = await hub.store.get_agent(raw)
    except NotFound:
        raise InvalidInput("assignee", "no such agent") from None
    if agent.disabled:
        raise InvalidInput("assignee", f"{agent.name} is disabled")
    return agent.id


MAX_LABELS = 20


def team_tags(tags: list[str], team: str, tier: str) -> list[str]:
    """``tags`` with the ``team:``/``tier:`` ones set to ``team`` and ``tier`` (validated)."""
    team, tier = team.strip(), tier.strip().upper()
    if len(team) > 64 or not all(c.isalnum() or c in "-_" for c in team):
        raise InvalidInput("team", "a team name: letters, digits, - and _")
    if tier not in ("", "T1", "T2", "T3"):
        raise InvalidInput("tier", "tier must be T1, T2 or T3")
    kept = [t for t in tags if not t.startswith(("team:", "tier:"))]
    return kept + ([f"team:{team}"] if team else []) + ([f"tier:{tier.lower()}"] if tier else [])


def _label_tags(tags: list[str], raw: str) -> list[str]:
    """The conversation's tags with its labels (every tag but ``team:``/``tier:``)
    replaced by the comma-separated ``raw``."""
    labels = list(dict.fromkeys(" ".join(p.split()) for p in raw.split(",") if p.strip()))
    if len(labels) > MAX_LABELS:
        raise InvalidInput("labels", f"at most {MAX_LABELS} labels")
    for label in labels:
        if len(label) > 40 or not all(c.isalnum() or c in " -_" for c in label):
            raise InvalidInput("labels", "a label: up to 40 letters, digits, spaces, - and _")
    return [t for t in tags if t.startswith(("team:", "tier:"))] + labels


@action
async def update(ctx: Ctx) -> Response:
    """One change per post: ``op`` is assign, status, priority, team (with ``tier``:
    the ``team:``/``tier:`` tags operations uses), labels (the other tags) or snooze."""
    conv = await actionable(ctx)
    op = ctx.field("op")
    if op == "assign":
        assignee = await assignee_of(ctx.hub, ctx.agent, ctx.field("assignee"))
        change = ConversationUpdate(assignee=assignee)
    elif op == "status":
        try:
            status = ConversationStatus(ctx.field("status"))
        except ValueError:
            raise InvalidInput("status", "unknown status") from None
        change = ConversationUpdate(status=status, snoozed_until=None)
    elif op == "priority":
        try:
            change = ConversationUpdate(priority=Priority(ctx.field("priority")))
        except ValueError:
            raise InvalidInput("priority", "unknown priority") from None
    elif op == "team":
        change = ConversationUpdate(tags=team_tags(conv.tags, ctx.field("team"), ctx.field("tier")))
    elif op == "labels":
        change = ConversationUpdate(tags=_label_tags(conv.tags, ctx.field("labels")))
    elif op == "snooze":
        hours = SNOOZE_HOURS.get(ctx.field("hours"))
        if hours is None:
            raise InvalidInput("hours", f"snooze for one of {sorted(SNOOZE_HOURS, key=int)} hours")
        change = ConversationUpdate(
            status=ConversationStatus.SNOOZED, snoozed_until=utcnow() + timedelta(hours=hours)
        )
    else:
        raise InvalidInput("op", "op must be assign, status, priority, team, labels or snooze")
    updated = await ctx.hub.pipeline.update_conversation(
        conv.id, change, by=ctx.agent.id, before=conv
    )
    return done(ctx, conv.id, {"conversation": to_json(updated)})


@action
async def mark_read(ctx: Ctx) -> Response:
    conv = await ctx.hub.store.get_conversation(ctx.request.path_params["conversation_id"])
    raw = ctx.field("seq")
    if not raw.isdigit():
        raise InvalidInput("seq", "seq must be a number")
    mark = await ctx.hub.store.mark_read(ctx.agent.id, conv.id, int(raw))
    customer = await survivor(ctx.hub.store, conv.customer_id)
    await publish_read(ctx.hub, ctx.agent, conv, customer.id, mark.seq)
    return JSONResponse({"seq": mark.seq})


def _admin(ctx: Ctx) -> None:
    if not ctx.agent.is_admin:
        raise Forbidden("only admins merge and unmerge customers")


@action
async def merge(ctx: Ctx) -> Response:
    """Fold the customer owning ``identity`` into this one (admins)."""
    _admin(ctx)
    target = await survivor(ctx.hub.store, ctx.request.path_params["customer_id"])
    identity = Identity.parse(ctx.field("identity"), default_region=ctx.hub.settings.default_region)
    source = await ctx.hub.store.find_customer(identity)
    if source is None:
        raise InvalidInput("identity", f"no customer has {identity}")
    if source.id == target.id:
        raise InvalidInput("identity", f"{identity} is already this customer's")
    await ctx.hub.pipeline.merge(
        source.id, target.id, by=f"agent:{ctx.agent.name}", reason=ctx.field("reason") or None
    )
    if ctx.wants_json():
        return JSONResponse({"customer_id": target.id})
    return back(ctx, "/agent/")


@action
async def unmerge(ctx: Ctx) -> Response:
    """Undo the merge of the customer in the path (admins)."""
    _admin(ctx)
    restored = await ctx.hub.pipeline.unmerge(
        ctx.request.path_params["customer_id"],
        by=f"agent:{ctx.agent.name}",
        reason=ctx.field("reason") or None,
    )
    if ctx.wants_json():
        return JSONResponse({"customer_id": restored.id})
    return back(ctx, "/agent/")
