"""Shared addresses: a phone that belongs to two customers (a household, a front desk).

An identity has one owner; an agent may say that other customers use it too
(:func:`share`, or deciding a suggestion that way: :func:`share_suggestion`).
From then on (:mod:`.continuity`, :mod:`.voice`, the pipeline's ``send``):

* a call from it is greeted neutrally — no name, no topic;
* a message from it goes to the person we wrote to there last (else its owner),
  unverified — no customer surface shows it — with a question for the agent:
  which person is it? (:func:`answer`: the rest of that exchange then goes to them);
* replies to either person may go to it; nobody's words are read to the other.

``/api/v1`` routes (mounted with :mod:`.api`):

* ``POST /customers/{id}/shared-identities`` ``{"identity", "reason"?}`` — share;
* ``POST /suggestions/{id}/share`` ``{"reason"?}`` — decide a suggestion as a shared
  number (dismissed, nothing merged, the identity shared);
* ``POST /events/{id}/shared-sender`` ``{"customer_id"}`` — answer the question
  (``id``: the question, or the message it asks about).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.api import endpoint, json_body
from hub.errors import Conflict, InvalidInput
from hub.pipeline.types import SHARED_ANSWERED, SHARED_REPLY_HOURS
from hub.timeline.handoff import SuggestionStatus
from hub.timeline.merges import survivor
from hub.timeline.model import EventKind, Identity, to_json
from hub.timeline.store import InboxFilter

if TYPE_CHECKING:
    from starlette.requests import Request

    from hub.app import Hub
    from hub.pipeline import Pipeline
    from hub.timeline.model import ApiToken, Event

__all__ = ["answer", "routes", "share", "share_suggestion"]


async def share(
    pipeline: Pipeline, customer_id: str, identity: Identity, *, by: str, reason: str | None
) -> None:
    """Record that ``customer_id`` also uses ``identity`` (owned by another customer), with
    a ``link`` event on both timelines naming who said so."""
    store = pipeline.store
    owner = await store.find_customer(identity)
    member = await survivor(store, customer_id)
    if owner is None:
        raise InvalidInput("identity", f"nobody owns {identity}: link it instead")
    if owner.id == member.id:
        raise InvalidInput("identity", f"{identity} is this customer's own")
    if not await store.share_identity(identity, member.id):
        return
    why = f" ({reason})" if reason else ""
    meta = {"shared_identity": str(identity), "owner": owner.id, "member": member.id, "by": by}
    await pipeline.internal_event(
        member.id,
        None,
        EventKind.LINK,
        f"{by}: {identity}, {owner.name or owner.id}'s, is shared with this customer{why}",
        author=by,
        meta=meta,
    )
    await pipeline.internal_event(
        owner.id,
        None,
        EventKind.LINK,
        f"{by}: {identity} is shared with {member.name or member.id}{why}",
        author=by,
        meta=meta,
    )


async def share_suggestion(
    pipeline: Pipeline, suggestion_id: str, *, by: str, reason: str | None
) -> None:
    """Decide a suggestion as a shared number: dismissed (nothing merged), then shared."""
    suggestion = await pipeline.store.get_suggestion(suggestion_id)
    if suggestion.other_customer_id is None:
        raise Conflict("nobody else owns this identity: confirm the link instead")
    decided = await pipeline.decide_suggestion(
        suggestion_id, SuggestionStatus.DISMISSED, by=by, reason=reason or "shared number"
    )
    if decided is None:
        raise Conflict(f"suggestion {suggestion_id} was decided already")
    await share(pipeline, decided.customer_id, decided.identity, by=by, reason=reason)


async def _question(pipeline: Pipeline, event_id: str) -> tuple[Event, Event | None]:
    """The question event and the message it asks about (the next one in its conversation)."""
    event = await pipeline.store.get_event(event_id)
    if event.conversation_id is None:
        raise InvalidInput("event_id", "not a message from a shared address")
    page = await pipeline.store.events(conversation_id=event.conversation_id, limit=200)
    items = page.items
    if "shared_number" in event.meta:
        before = [e for e in items if e.seq < event.seq and e.meta.get("shared_question")]
        if not before:
            raise InvalidInput("event_id", "not a message from a shared address")
        return before[-1], event
    if not event.meta.get("shared_question"):
        raise InvalidInput("event_id", "not a message from a shared address")
    after = [e for e in items if e.seq > event.seq and "shared_number" in e.meta]
    return event, after[0] if after else None


async def answer(pipeline: Pipeline, event_id: str, customer_id: str, *, by: str) -> Event:
    """An agent says which person wrote from a shared address: recorded on the
    conversation (and, when it is the other person, a pointer in theirs); the rest of
    that exchange goes to them. Returns the recorded note."""
    question, message = await _question(pipeline, event_id)
    shared: dict[str, Any] = question.meta["shared_question"]
    people = {str(p["customer_id"]): p.get("name") for p in shared.get("people", [])}
    if customer_id not in people:
        raise InvalidInput("customer_id", "not one of the people who share this address")
    identity = Identity.parse(str(question.meta["identity"]))
    assert question.conversation_id is not None
    conversation_id = question.conversation_id
    name = people[customer_id] or customer_id
    if customer_id != question.customer_id:
        listing = await pipeline.store.list_conversations(
            InboxFilter(status=(), customer_id=customer_id), limit=1
        )
        if listing.items:
            conversation_id = listing.items[0].id
            said = " ".join(((message.text if message else None) or "").split())[:300]
            await pipeline.note(
                conversation_id,
                f"A message from the shared {identity} in conversation "
                f"{question.conversation_id} was from this customer: {said}",
                author=by,
                meta={"shared_from": message.id if message else question.id},
            )
    await pipeline.expect_reply(
        identity,
        customer_id=customer_id,
        conversation_id=conversation_id,
        hours=SHARED_REPLY_HOURS,
        purpose=SHARED_ANSWERED,
    )
    return await pipeline.note(
        question.conversation_id,
        f"{by}: this was {name}",
        author=by,
        meta={"shared_answer": customer_id, "question": question.id},
    )


class ShareBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    identity: str = Field(min_length=3, max_length=300)
    reason: str | None = Field(None, max_length=1000)


class ReasonBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(None, max_length=1000)


class AnswerBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    customer_id: str = Field(min_length=1, max_length=64)


@endpoint
async def share_identity(request: Request, hub: Hub, token: ApiToken) -> Response:
    body = ShareBody.model_validate(await json_body(request))
    identity = Identity.parse(body.identity, default_region=hub.settings.default_region)
    await share(
        hub.pipeline,
        request.path_params["customer_id"],
        identity,
        by=f"token:{token.name}",
        reason=body.reason,
    )
    shared = await hub.store.shared_of(request.path_params["customer_id"])
    return JSONResponse({"shared": [str(i) for i in shared]})


@endpoint
async def share_from_suggestion(request: Request, hub: Hub, token: ApiToken) -> Response:
    body = ReasonBody.model_validate(await json_body(request))
    suggestion_id = request.path_params["suggestion_id"]
    await share_suggestion(
        hub.pipeline, suggestion_id, by=f"token:{token.name}", reason=body.reason
    )
    return JSONResponse({"suggestion": to_json(await hub.store.get_suggestion(suggestion_id))})


@endpoint
async def shared_sender(request: Request, hub: Hub, token: ApiToken) -> Response:
    body = AnswerBody.model_validate(await json_body(request))
    note = await answer(
        hub.pipeline, request.path_params["event_id"], body.customer_id, by=f"token:{token.name}"
    )
    return JSONResponse(to_json(note))


routes = [
    Route("/customers/{customer_id}/shared-identities", share_identity, methods=["POST"]),
    Route("/suggestions/{suggestion_id}/share", share_from_suggestion, methods=["POST"]),
    Route("/events/{event_id}/shared-sender", shared_sender, methods=["POST"]),
]
