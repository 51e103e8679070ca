"""``/api/v1`` routes of the handoff module (mounted beside :mod:`hub.api`).

* ``GET /conversations/{id}/handoffs`` — the conversation's handoff events
  (``meta.card`` is the agent card, ``meta.short`` the short text);
* ``GET /conversations/{id}/context`` — a fresh packet:
  ``{"card", "short", "email_header"}``;
* ``POST /conversations/{id}/handoff/{action}`` ``{"to": "phone:+1…", "channel"?}`` —
  ``text_me``, ``email_transcript``, ``call_me``, ``verify`` or ``chat_link``
  (a "continue in the web chat" link on the address's channel, or ``channel``)
  (202, the queued event);
* ``GET /suggestions?customer_id=&status=`` — suggested links (JSON in :mod:`.identity`);
* ``POST /suggestions/{id}/confirm`` / ``…/dismiss`` ``{"reason"}`` — decide one
  (confirm links the identity or merges its owner, with an audit event).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.api import endpoint, json_body
from hub.errors import InvalidInput
from hub.handoff.context import build_packet
from hub.timeline.handoff import SuggestionStatus
from hub.timeline.model import EventKind, Identity, to_json

if TYPE_CHECKING:
    from starlette.requests import Request

    from hub.app import Hub
    from hub.handoff import Handoff
    from hub.timeline.model import ApiToken

__all__ = ["routes"]


def _handoff(hub: Hub) -> Handoff:
    assert hub.handoff is not None
    return hub.handoff


@endpoint
async def conversation_handoffs(request: Request, hub: Hub, token: ApiToken) -> Response:
    conv = await hub.store.get_conversation(request.path_params["conversation_id"])
    items = []
    cursor: str | None = None
    for _ in range(20):
        page = await hub.store.events(
            conversation_id=conv.id, cursor=cursor, direction="newer", limit=200
        )
        items += [to_json(e) for e in page.items if e.kind is EventKind.HANDOFF]
        if not page.has_newer:
            break
        cursor = page.newer
    return JSONResponse({"items": items})


@endpoint
async def conversation_context(request: Request, hub: Hub, token: ApiToken) -> Response:
    conv = await hub.store.get_conversation(request.path_params["conversation_id"])
    packet = await build_packet(hub.store, conv)
    return JSONResponse(
        {
            "card": to_json(packet.agent_card()),
            "short": packet.short_text(),
            "email_header": packet.email_header(),
        }
    )


class ActionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: str = Field(min_length=3, max_length=300)
    channel: str | None = Field(None, min_length=2, max_length=64)


@endpoint
async def conversation_action(request: Request, hub: Hub, token: ApiToken) -> Response:
    body = ActionBody.model_validate(await json_body(request))
    to = Identity.parse(body.to, default_region=hub.settings.default_region)
    event = await _handoff(hub).act(
        request.path_params["action"],
        request.path_params["conversation_id"],
        to,
        by=f"token:{token.name}",
        channel=body.channel,
    )
    return JSONResponse(to_json(event), status_code=202)


@endpoint
async def list_suggestions(request: Request, hub: Hub, token: ApiToken) -> Response:
    raw = request.query_params.get("status")
    try:
        status = SuggestionStatus(raw) if raw else None
    except ValueError:
        raise InvalidInput(
            "status", f"status must be one of {[s.value for s in SuggestionStatus]}"
        ) from None
    items = await hub.store.list_suggestions(
        customer_id=request.query_params.get("customer_id") or None, status=status
    )
    return JSONResponse({"items": to_json(items)})


class DecisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(None, max_length=1000)


@endpoint
async def confirm_suggestion(request: Request, hub: Hub, token: ApiToken) -> Response:
    body = DecisionBody.model_validate(await json_body(request))
    suggestion, customer = await _handoff(hub).identities.confirm(
        request.path_params["suggestion_id"], by=f"token:{token.name}", reason=body.reason
    )
    return JSONResponse({"suggestion": to_json(suggestion), "customer": to_json(customer)})


@endpoint
async def dismiss_suggestion(request: Request, hub: Hub, token: ApiToken) -> Response:
    body = DecisionBody.model_validate(await json_body(request))
    suggestion = await _handoff(hub).identities.dismiss(
        request.path_params["suggestion_id"], by=f"token:{token.name}", reason=body.reason
    )
    return JSONResponse({"suggestion": to_json(suggestion)})


routes = [
    Route("/conversations/{conversation_id}/handoffs", conversation_handoffs, methods=["GET"]),
    Route("/conversations/{conversation_id}/context", conversation_context, methods=["GET"]),
    Route(
        "/conversations/{conversation_id}/handoff/{action}", conversation_action, methods=["POST"]
    ),
    Route("/suggestions", list_suggestions, methods=["GET"]),
    Route("/suggestions/{suggestion_id}/confirm", confirm_suggestion, methods=["POST"]),
    Route("/suggestions/{suggestion_id}/dismiss", dismiss_suggestion, methods=["POST"]),
]
