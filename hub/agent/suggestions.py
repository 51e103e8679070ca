"""Suggested identity links in the customer panel: list, confirm, dismiss.

A suggestion (:class:`~hub.timeline.handoff.LinkSuggestion`) is unverified
evidence that an identity belongs to the customer ("my email is …" typed in
chat). The handoff module records them; an agent decides here. Confirming goes
through ``hub.handoff.identities.confirm`` — the one place that links or
merges on an agent's word and records it on the timeline — so the rules stay
in one module. Any signed-in agent may decide one that attaches an identity nobody
owns (it is the reason suggestions exist); confirming one whose identity belongs
to another customer merges the two, and merges are for admins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, Response

from hub.agent.web import Ctx, Forbidden, action, back
from hub.errors import Conflict
from hub.timeline.handoff import LinkSuggestion, SuggestionStatus

if TYPE_CHECKING:
    from hub.app import Hub
    from hub.timeline.model import Customer

__all__ = ["confirm", "dismiss", "for_customer", "share"]


async def for_customer(hub: Hub, customer: Customer) -> list[LinkSuggestion]:
    """Pending suggestions about ``customer`` (either side), newest first."""
    return await hub.store.list_suggestions(
        customer_id=customer.id, status=SuggestionStatus.PENDING, limit=20
    )


def _identities(hub: Hub) -> Any:
    handoff = getattr(hub, "handoff", None)
    if handoff is None:
        raise Conflict("the handoff module is not running: suggestions cannot be decided")
    return handoff.identities


def _answer(ctx: Ctx, suggestion: LinkSuggestion) -> Response:
    if ctx.wants_json():
        return JSONResponse({"id": suggestion.id, "status": suggestion.status.value})
    return back(ctx, "/agent/")


async def _would_merge(hub: Hub, suggestion: LinkSuggestion) -> bool:
    owner = await hub.store.find_customer(suggestion.identity)
    if owner is None:
        return False
    target = await _identities(hub).survivor(suggestion.customer_id)
    return bool(owner.id != target.id)


@action
async def confirm(ctx: Ctx) -> Response:
    suggestion = await ctx.hub.store.get_suggestion(ctx.request.path_params["suggestion_id"])
    if not ctx.agent.is_admin and await _would_merge(ctx.hub, suggestion):
        raise Forbidden("confirming this merges two customers: only admins merge customers")
    decided, _ = await _identities(ctx.hub).confirm(
        ctx.request.path_params["suggestion_id"],
        by=f"agent:{ctx.agent.name}",
        reason=ctx.field("reason") or None,
    )
    return _answer(ctx, decided)


@action
async def dismiss(ctx: Ctx) -> Response:
    decided = await _identities(ctx.hub).dismiss(
        ctx.request.path_params["suggestion_id"],
        by=f"agent:{ctx.agent.name}",
        reason=ctx.field("reason") or None,
    )
    return _answer(ctx, decided)


@action
async def share(ctx: Ctx) -> Response:
    """A shared number: the suggestion is dismissed (nothing merged) and the identity is
    shared with its customer (:mod:`hub.handoff.shared`)."""
    from hub.handoff.shared import share_suggestion

    _identities(ctx.hub)
    suggestion_id = ctx.request.path_params["suggestion_id"]
    await share_suggestion(
        ctx.hub.pipeline, suggestion_id, by=f"agent:{ctx.agent.name}", reason=None
    )
    return _answer(ctx, await ctx.hub.store.get_suggestion(suggestion_id))
