"""Customer-facing routes: ``/c/<token>`` and the session it opens.

* ``GET /c/{token}`` — a page asking the customer to continue (no data; nothing
  used, so a mail scanner prefetching the link consumes nothing). It sets an
  ``omnihub_open`` cookie (``SameSite=Strict``) and puts a signed token of it, and
  the browser's own widget visitor token if it has one, in the form;
* ``POST /c/{token}`` — open the continuation link, only from that page (same
  origin, the cookie and its token: 403 otherwise, so another site cannot plant a
  conversation in someone's browser). Proven (:meth:`Links.open`): the
  conversation restored in a page that hosts the chat widget (its visitor token
  as ``data-visitor-token``), plus an ``omnihub_handoff`` cookie scoped to that
  one conversation; not proven: a thank-you page with no data and a suggestion
  for an agent. A refused link is a plain page with the reason and no data (400
  tampered, 410 expired or used, 404 gone, 429 too many).
* ``GET /handoff/session`` — JSON: the session's conversation and the events
  the customer may see; 401 without a session.
* ``GET /handoff/session/conversations/{id}`` — the same for ``id``; 403 when
  ``id`` is not the session's conversation.
* ``POST /handoff/actions/{action}`` ``{"to": "phone:+1…", "site"?}`` — ``text_me``,
  ``email_transcript``, ``call_me`` for the caller's conversation: the link
  session's, or with ``Authorization: Bearer <chat visitor token>`` the
  visitor's latest conversation (202; 401 without either; rate-limited). To an
  address that is not verified as the customer's own it is spent from the relay
  budgets (403/429 ``{"error", "refused"}`` when refused).
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from hub.errors import BadToken, InvalidInput
from hub.handoff.links import LinkRefused, Withheld
from hub.handoff.relay import Refused
from hub.handoff.sending import SENT_NOTICE, customer_text
from hub.timeline.model import Identity, to_json

if TYPE_CHECKING:
    from starlette.requests import Request

    from hub.handoff import Handoff

__all__ = ["COOKIE", "OPEN_COOKIE", "routes"]

COOKIE = "omnihub_handoff"
OPEN_COOKIE = "omnihub_open"
CONFIRM_PURPOSE = "handoff.confirm"
CUSTOMER_ACTIONS = ("text_me", "email_transcript", "call_me")
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


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def _same_origin(request: Request, public_url: str) -> bool:
    """Whether a POST came from the hub's own page: its ``Origin`` is the hub's public
    origin or the origin the request was sent to; when the page withholds it (our
    pages send no referrer, so ``Origin: null``), the browser's ``Sec-Fetch-Site``."""
    origin = request.headers.get("origin")
    if origin in (None, "null"):
        return request.headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")
    own = f"{request.url.scheme}://{request.headers.get('host', '')}"
    public = urlsplit(public_url)
    return origin in (own, f"{public.scheme}://{public.netloc}")


async def confirm_link(request: Request) -> Response:
    """GET: a page that only asks the customer to continue (a POST). Nothing is read,
    used or linked, so mail scanners that fetch links consume nothing. The page binds
    the confirm to this browser: a ``SameSite=Strict`` cookie and a signed token of it
    in the form, so another site cannot open the link in someone's browser."""
    handoff = _handoff(request)
    token = request.path_params["token"]
    try:
        handoff.links.check(token, client=_client(request))
    except LinkRefused as exc:
        return refused_page(exc)
    nonce = request.cookies.get(OPEN_COOKIE) or ""
    if not 16 <= len(nonce) <= 64:
        nonce = secrets.token_urlsafe(24)
    confirm = handoff.signer.dumps(CONFIRM_PURPOSE, {"n": _digest(nonce), "k": _digest(token)})
    business = html.escape(handoff.settings.business_name)
    key = json.dumps(f"omnihub:{handoff.settings.widget_site}:token")
    body = (
        f"<p>Continue your conversation with {business} here?</p>"
        f'<form method="post" action="/c/{html.escape(token)}">'
        f'<input type="hidden" name="confirm" value="{html.escape(confirm)}">'
        '<input type="hidden" name="visitor" id="omnihub-visitor" value="">'
        '<button type="submit">Continue</button></form>'
        "<script>try{document.getElementById('omnihub-visitor').value="
        f"localStorage.getItem({key})||''}}catch(e){{}}</script>"
    )
    response = HTMLResponse(
        _PAGE.format(title=f"Continue with {business}", body=body),
        headers={"Cache-Control": "no-store"},
    )
    response.set_cookie(
        OPEN_COOKIE,
        nonce,
        max_age=3600,
        path="/c/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


def _confirmed(request: Request, form: Any, token: str) -> bool:
    handoff = _handoff(request)
    nonce = request.cookies.get(OPEN_COOKIE)
    confirm = form.get("confirm")
    if not nonce or not isinstance(confirm, str) or len(confirm) > 1000:
        return False
    if not _same_origin(request, handoff.public_url):
        return False
    try:
        payload = handoff.signer.loads(CONFIRM_PURPOSE, confirm, max_age=3600)
    except BadToken:
        return False
    return bool(
        hmac.compare_digest(str(payload.get("n")), _digest(nonce))
        and hmac.compare_digest(str(payload.get("k")), _digest(token))
    )


async def open_link(request: Request) -> Response:
    handoff = _handoff(request)
    token = request.path_params["token"]
    try:
        payload = handoff.links.check(token, client=_client(request))
    except LinkRefused as exc:
        return refused_page(exc)
    try:
        form = await request.form(max_files=0, max_fields=10)
    except Exception:
        form = None
    if form is None or not _confirmed(request, form, token):
        return refused_page(
            LinkRefused(403, "Open this link from the message we sent you, then press Continue.")
        )
    raw = form.get("visitor")
    opener_token = raw if isinstance(raw, str) and raw else None
    site = handoff.settings.widget_site
    opener = handoff.visitor_identity(opener_token, site)
    fresh: list[str | None] = []

    def new_visitor() -> Identity:
        visitor, visitor_token = handoff.new_visitor()
        fresh.append(visitor_token)
        return visitor

    try:
        opened = await handoff.links.open(
            token, client=_client(request), opener=opener, new_visitor=new_visitor, payload=payload
        )
    except LinkRefused as exc:
        return refused_page(exc)
    if isinstance(opened, Withheld):
        business = html.escape(handoff.settings.business_name)
        body = (
            "<p>Thank you. This link was opened in a different browser from the one it was "
            f"asked for in, so we have passed it to the {business} team; they will "
            "confirm it with you. Nothing from the conversation is shown here.</p>"
        )
        return HTMLResponse(
            _PAGE.format(title="Thank you", body=body), headers={"Cache-Control": "no-store"}
        )
    visitor_token = opener_token if opened.reused else (fresh[0] if fresh else None)
    session = handoff.links.session(opened.session)
    events = await handoff.links.transcript(session, opened.conversation.id)
    business = html.escape(handoff.settings.business_name)
    items = "".join(
        f'<li class="{e.direction.value}"><b>{"You" if e.direction.value == "in" else business}'
        f"</b> <small>({html.escape(e.channel)}, {e.occurred_at:%d %b %H:%M})</small><br>"
        f"{html.escape(customer_text(e))}</li>"
        for e in events
    )
    widget = handoff.settings.widget_url or "/widget.js"
    remember = ""
    if visitor_token:
        # The widget resumes as the visitor this link was opened for (its localStorage key).
        pair = json.dumps([f"omnihub:{site}:token", visitor_token]).replace("<", "\\u003c")
        remember = (
            f"<script>try{{localStorage.setItem.apply(localStorage,{pair})}}catch(e){{}}</script>"
        )
    body = (
        f"<p>Your conversation with {business} continues here.</p><ol>{items}</ol>{remember}"
        f'<script src="{html.escape(widget)}" data-site="{html.escape(site)}" '
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
    response.delete_cookie(OPEN_COOKIE, path="/c/")
    return response


def _bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    return auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else None


def _session(request: Request) -> dict[str, Any]:
    return _handoff(request).links.session(_bearer(request) or request.cookies.get(COOKIE))


async def _actor(request: Request, body: dict[str, Any]) -> tuple[str, Identity]:
    """(conversation id, requester) for an action: a link session, or a chat visitor
    token (``Authorization: Bearer <visitor token>``, ``site`` in the body) acting on
    the visitor's own conversation."""
    handoff = _handoff(request)
    try:
        session = _session(request)
        return str(session["c"]), Identity.parse(str(session["v"]))
    except (LinkRefused, ValueError, KeyError):
        pass
    site = str(body.get("site") or handoff.settings.widget_site)
    found = await handoff.visitor_conversation(_bearer(request), site)
    if found is None:
        raise LinkRefused(401, "Start a chat first.")
    return found[0], Identity.parse(found[1].removeprefix("customer:"))


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
                    "text": customer_text(e),
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
    if not handoff.links.rate.allow(f"action:{_client(request)}"):
        return JSONResponse({"error": "too many requests"}, status_code=429)
    try:
        body = await request.json()
        if not isinstance(body, dict):
            raise ValueError("not an object")
    except ValueError:
        return JSONResponse({"error": "body must be JSON with a to field"}, status_code=400)
    try:
        conversation_id, requester = await _actor(request, body)
    except LinkRefused as exc:
        return JSONResponse({"error": exc.reason}, status_code=exc.status)
    action = request.path_params["action"]
    if action not in CUSTOMER_ACTIONS:
        return JSONResponse({"error": f"action must be one of {list(CUSTOMER_ACTIONS)}"}, 404)
    try:
        to = Identity.parse(str(body.get("to", "")), default_region=handoff.default_region)
        event = await handoff.customer_act(action, conversation_id, to, requester=requester)
    except InvalidInput as exc:
        return JSONResponse({"error": exc.reason, "field": exc.field}, status_code=422)
    except Refused as exc:
        return JSONResponse({"error": exc.reason, "refused": exc.code}, status_code=exc.status)
    return JSONResponse(
        {"event_id": event.id, "status": "queued", "notice": SENT_NOTICE}, status_code=202
    )


routes = [
    Route("/c/{token}", confirm_link, methods=["GET"]),
    Route("/c/{token}", open_link, methods=["POST"]),
    Route("/handoff/session", session_conversation, methods=["GET"]),
    Route(
        "/handoff/session/conversations/{conversation_id}",
        session_conversation_by_id,
        methods=["GET"],
    ),
    Route("/handoff/actions/{action}", session_action, methods=["POST"]),
]
