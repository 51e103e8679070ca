"""Agent view actions for one issue, one conversation: merge a conversation into
another of the customer's (and undo it), keep a promise, and say which person wrote
from a shared address.

Merging needs the agent to be able to act on both conversations (unassigned or
theirs; admins everywhere); it moves nothing between customers, so it is not an
admin's decision. A promise is kept with a note that names it (``meta.fulfils``).
"""

from __future__ import annotations

from starlette.responses import JSONResponse, Response

from hub.agent.actions import can_act
from hub.agent.web import Ctx, Forbidden, action, back
from hub.errors import InvalidInput
from hub.handoff.threads import open_promises
from hub.timeline.model import to_json

__all__ = ["keep_promise", "merge_into", "shared_sender", "unmerge_conversation"]


async def _acting(ctx: Ctx, conversation_id: str) -> None:
    conv = await ctx.hub.store.get_conversation(conversation_id)
    if not can_act(ctx.agent, conv):
        raise Forbidden("this conversation is assigned to another agent; ask an admin")


def _answer(ctx: Ctx, conversation_id: str, body: dict[str, object]) -> Response:
    if ctx.wants_json():
        return JSONResponse(body)
    return back(ctx, f"/agent/conversations/{conversation_id}")


@action
async def merge_into(ctx: Ctx) -> Response:
    """Merge the conversation in the path into ``into`` (both the customer's)."""
    source = ctx.request.path_params["conversation_id"]
    target = ctx.field("into").strip()
    if not target or len(target) > 64:
        raise InvalidInput("into", "name the conversation to merge into")
    await _acting(ctx, source)
    await _acting(ctx, target)
    merged = await ctx.hub.pipeline.merge_conversations(
        source, target, by=f"agent:{ctx.agent.name}", reason=ctx.field("reason") or None
    )
    return _answer(ctx, merged.id, {"conversation": to_json(merged)})


@action
async def unmerge_conversation(ctx: Ctx) -> Response:
    """Undo the merge of the conversation in the path."""
    source = ctx.request.path_params["conversation_id"]
    await _acting(ctx, source)
    restored = await ctx.hub.pipeline.unmerge_conversation(
        source, by=f"agent:{ctx.agent.name}", reason=ctx.field("reason") or None
    )
    return _answer(ctx, restored.id, {"conversation": to_json(restored)})


@action
async def keep_promise(ctx: Ctx) -> Response:
    """Mark a promise of the conversation kept (a note naming it)."""
    conv = await ctx.hub.store.get_conversation(ctx.request.path_params["conversation_id"])
    wanted = ctx.request.path_params["event_id"]
    promise = next((p for p in await open_promises(ctx.hub.store, conv) if p.id == wanted), None)
    if promise is None:
        raise InvalidInput("event_id", "not an open promise of this conversation")
    shown = " ".join((promise.text or "").split())[:200]
    event = await ctx.hub.pipeline.note(
        conv.id, f"Promise kept: {shown}", author=ctx.agent.name, meta={"fulfils": promise.id}
    )
    return _answer(ctx, conv.id, {"event": to_json(event)})


@action
async def shared_sender(ctx: Ctx) -> Response:
    """Say which person wrote from a shared address (the question on the timeline)."""
    from hub.handoff.shared import answer

    event = await ctx.hub.store.get_event(ctx.request.path_params["event_id"])
    if event.conversation_id is None:
        raise InvalidInput("event_id", "not a message from a shared address")
    await _acting(ctx, event.conversation_id)
    note = await answer(
        ctx.hub.pipeline, event.id, ctx.field("customer_id"), by=f"agent:{ctx.agent.name}"
    )
    return _answer(ctx, event.conversation_id, {"event": to_json(note)})
