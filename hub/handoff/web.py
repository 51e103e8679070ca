"""Customer-facing routes: ``/c/<token>`` and the session it opens.

* ``GET /c/{token}`` — open a continuation link: the conversation restored in a
  page that hosts the chat widget (the browser's chat visitor token is handed
  to the widget as ``data-visitor-token``), plus an ``omnihub_handoff`` cookie
  scoped to that one conversation. A refused link is a plain page with the
  reason and no data (400 tampered, 410 expired or used, 404 gone, 429 too many).
* ``GET /handoff/session`` — JSON: the session's conversation and the events
  the customer may see; 401 without a session.
* ``GET /handoff/session/conversations/{id}`` — the same for ``id``; 403 when
  ``id`` is not the session's conversation.
* ``POST /handoff/session/actions/{action}`` ``{"to": "phone:+1…"}`` — ``text_me``,
  ``email_transcript``, ``call_me`` for the session's conversation.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from hub.errors import InvalidInput
from hub.handoff.links import LinkRefused
from hub.timeline.model import Identity, to_json

if TYPE_CHECKING:
    from starlette.requests import Request

    from hub.handoff import Handoff

__all__ = ["COOKIE", "routes"]

COOKIE = "omnihub_handoff"
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{title}</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}}
li{{margin:.4rem 0}} .in{{color:#333}} .out{{color:#2f6fed}}</style></head>
<body><h1>{title}</h1>{body}</body></html>
"""


def _handoff(request: Request) -> Handoff:
    handoff: Handoff | None = request.app.state.hub.handoff
    assert handoff is not None
    return handoff


def refused_page(exc: LinkRefused) -> HTMLResponse:
    """A clear page that shows nothing of anyone's data."""
    body = f"<p>{html.escape(exc.reason)}</p>"
    return HTMLResponse(
        _PAGE.format(title="Link not available", body=body),
        status_code=exc.status,
        headers={"Cache-Control": "no-store"},
    )


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def open_link(request: Request) -> Response:
    handoff = _handoff(request)
    visitor, visitor_token = handoff.new_visitor()
    try:
        opened = await handoff.links.open(
            request.path_params["token"], client=_client(request), visitor=visitor
        )
    except LinkRefused as exc:
        return refused_page(exc)
    session = handoff.links.session(opened.session)
    events = await handoff.links.transcript(session, opened.conversation.id)
    business = html.escape(handoff.settings.business_name)
    items = "".join(
        f'<li class="{e.direction.value}"><b>{"You" if e.direction.value == "in" else business}'
        f"</b> <small>({html.escape(e.channel)}, {e.occurred_at:%d %b %H:%M})</small><br>"
        f"{html.escape(e.text or '')}</li>"
        for e in events
    )
    widget = handoff.settings.widget_url or "/widget.js"
    body = (
        f"<p>Your conversation with {business} continues here.</p><ol>{items}</ol>"
        f'<script src="{html.escape(widget)}" data-site="default" '
        f'data-visitor-token="{html.escape(visitor_token or "")}" '
        f'data-conversation="{html.escape(opened.conversation.id)}" async></script>'
    )
    response = HTMLResponse(
        _PAGE.format(title=f"Your conversation with {business}", body=body),
        headers={"Cache-Control": "no-store"},
    )
    response.set_cookie(
        COOKIE,
        opened.session,
        max_age=handoff.settings.session_ttl_seconds,
        httponly=True,
        samesite="lax",
        secure=handoff.public_url.startswith("https://"),
    )
    return response


def _session(request: Request) -> dict[str, Any]:
    auth = request.headers.get("authorization", "")
    token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else None
    return _handoff(request).links.session(token or request.cookies.get(COOKIE))


async def _conversation_json(request: Request, conversation_id: str | None) -> Response:
    try:
        session = _session(request)
        wanted = conversation_id or str(session.get("c"))
        events = await _handoff(request).links.transcript(session, wanted)
    except LinkRefused as exc:
        return JSONResponse({"error": exc.reason}, status_code=exc.status)
    return JSONResponse(
        {
            "conversation_id": wanted,
            "visitor": session.get("v"),
            "items": [
                {
                    "id": e.id,
                    "channel": e.channel,
                    "direction": e.direction.value,
                    "kind": e.kind.value,
                    "text": e.text,
                    "occurred_at": to_json(e.occurred_at),
                }
                for e in events
            ],
        },
        headers={"Cache-Control": "no-store"},
    )


async def session_conversation(request: Request) -> Response:
    return await _conversation_json(request, None)


async def session_conversation_by_id(request: Request) -> Response:
    return await _conversation_json(request, request.path_params["conversation_id"])


async def session_action(request: Request) -> Response:
    handoff = _handoff(request)
    try:
        session = _session(request)
    except LinkRefused as exc:
        return JSONResponse({"error": exc.reason}, status_code=exc.status)
    if not handoff.links.rate.allow(f"action:{_client(request)}"):
        return JSONResponse({"error": "too many requests"}, status_code=429)
    try:
        body = await request.json()
        to = Identity.parse(str(body.get("to", "")), default_region=handoff.default_region)
        event = await handoff.act(
            request.path_params["action"], str(session["c"]), to, by=f"customer:{session['v']}"
        )
    except InvalidInput as exc:
        return JSONResponse({"error": exc.reason, "field": exc.field}, status_code=422)
    except (ValueError, AttributeError):
        return JSONResponse({"error": "body must be JSON with a to field"}, status_code=400)
    return JSONResponse({"event_id": event.id, "status": "queued"}, status_code=202)


routes = [
    Route("/c/{token}", open_link, methods=["GET"]),
    Route("/handoff/session", session_conversation, methods=["GET"]),
    Route(
        "/handoff/session/conversations/{conversation_id}",
        session_conversation_by_id,
        methods=["GET"],
    ),
    Route("/handoff/session/actions/{action}", session_action, methods=["POST"]),
]
