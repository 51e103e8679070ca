"""The agent view's request plumbing: templates, the caller's context, and the
three kinds of handler (``page``, ``fragment``, ``action``).

* ``page``: a full HTML page; without a session, a redirect to the sign-in page.
* ``fragment``: HTML or JSON fetched by the page's script; without a session, 401.
* ``action``: a state change (POST); without a session 401 (or the sign-in
  page for a plain form post), without this session's CSRF token 403.

Hub errors map to answers in one place: NotFound 404, Forbidden 403,
Conflict 409, InvalidInput 422. Scripts that ask for JSON
(``Accept: application/json``) get ``{"error", "field"}``; forms get an error page.
Every response carries a strict Content-Security-Policy (scripts and styles
from ``/agent/static`` only) and is never cached.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import jinja2
from starlette.datastructures import FormData
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from hub.agent import filters, i18n
from hub.agent.sessions import Session, read_session, write_session
from hub.errors import Conflict, HubError, InvalidInput, NotFound
from hub.timeline.store import InvalidCursor

if TYPE_CHECKING:
    from starlette.requests import Request

    from hub.app import Hub
    from hub.timeline.model import Agent

__all__ = ["Ctx", "Forbidden", "action", "fragment", "page", "render", "templates"]

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self'; frame-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class Forbidden(HubError):
    """The signed-in agent may not do this (an admin may)."""


templates = jinja2.Environment(
    loader=jinja2.PackageLoader("hub.agent", "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)
filters.install(templates)
i18n.install(templates)


def secure(response: Response) -> Response:
    """Add the agent view's security headers to ``response``."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


@dataclass
class Ctx:
    """What a handler works with: the request, the hub, the session and its agent."""

    request: Request
    hub: Hub
    session: Session
    form: FormData | None = None

    @property
    def agent(self) -> Agent:
        assert self.session.agent is not None
        return self.session.agent

    def render(self, name: str, code: int = 200, **values: Any) -> HTMLResponse:
        """Render template ``name`` with the session's agent and CSRF token."""
        return render(self.request, name, code, session=self.session, **values)

    def wants_json(self) -> bool:
        return self.request.headers.get("accept", "").startswith("application/json")

    def field(self, name: str, default: str = "") -> str:
        """A submitted form field as text."""
        value = self.form.get(name) if self.form is not None else None
        return value if isinstance(value, str) else default


def render(
    request: Request, name: str, code: int = 200, *, session: Session | None, **values: Any
) -> HTMLResponse:
    """An HTML response from template ``name`` (autoescaped), in the agent's language."""
    agent = session.agent if session else None
    hub = getattr(request.app.state, "hub", None)
    operations_on = getattr(hub, "operations", None) is not None
    with speaking(request):
        html = templates.get_template(name).render(
            request=request,
            me=agent,
            csrf=session.csrf if session else "",
            lang=i18n.current(),
            strings=script_strings(),
            operations_on=operations_on,
            **values,
        )
    return HTMLResponse(html, status_code=code)


@contextlib.contextmanager
def speaking(request: Request) -> Iterator[str]:
    """Render and answer in the language the agent's browser asks for (``Accept-Language``)."""
    token = i18n.use(i18n.language_for(request.headers.get("accept-language")))
    try:
        yield i18n.current()
    finally:
        i18n.reset(token)


def script_strings() -> dict[str, str]:
    """The texts the page's script shows, translated (``data-strings`` on ``<body>``)."""
    _ = i18n.gettext
    return {
        "live": _("live"),
        "offline": _("offline"),
        "inbox": _("Inbox"),
        "quotedFailed": _("Could not load the quoted text."),
        "smsOne": _("SMS: %(units)s characters, %(segments)s segment (%(encoding)s)"),
        "smsMany": _("SMS: %(units)s characters, %(segments)s segments (%(encoding)s)"),
        "count": _("%(label)s: %(n)s / %(limit)s characters"),
        "tooLong": _("too long for %(label)s"),
        "windowClosed": _("The %(label)s reply window closed: a %(needs)s is needed to reply"),
        "windowClosedAt": _(
            "The %(label)s reply window closed at %(at)s: a %(needs)s is needed to reply"
        ),
        "fillIn": _("Fill in before sending: %(fields)s"),
        "macroPersonal": _("Write the personal part in your own words before sending"),
        "macroVerbatim": _("The macro is unchanged: make it yours before sending"),
        "othersViewing": _("Also viewing: %(names)s"),
        "othersTyping": _("%(names)s is typing a reply"),
        "toneTry": _("Try:"),
        "toneUse": _("Use this"),
        "filesUpTo": _("%(label)s: files up to %(mb)s MB"),
        "noFiles": _("%(label)s cannot carry files"),
        "fileTooBig": _("%(name)s is over %(label)s's %(mb)s MB limit"),
        "sendFailed": _("Could not send (%(status)s)"),
        "slaDue": _("%(clock)s due in %(left)s"),
        "slaOverdue": _("%(clock)s overdue by %(left)s"),
        "sla_first_response": _("First response"),
        "sla_update": _("Update"),
        "sla_resolution": _("Resolution"),
        "alertMention": _("Mentioned you"),
        "alertTransfer": _("Transferred to you"),
        "alertAssigned": _("Assigned to you"),
        "alertSla": _("SLA warning"),
        "alertPromise": _("Promise reminder"),
        "alertEscalation": _("Escalation"),
        "alert": _("Alert"),
    }


Handler = Callable[[Ctx], Awaitable[Response]]


def _sign_in_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/agent/login?next={quote(target, safe='')}", status_code=303)


def _error(ctx: Ctx, status: int, message: str, field: str | None = None) -> Response:
    if ctx.wants_json() or ctx.session.agent is None:
        body: dict[str, Any] = {"error": message}
        if field:
            body["field"] = field
        return JSONResponse(body, status_code=status)
    return ctx.render("error.html", status, status=status, message=message)


async def _run(handler: Handler, ctx: Ctx) -> Response:
    with speaking(ctx.request):
        return await _answer(handler, ctx)


async def _answer(handler: Handler, ctx: Ctx) -> Response:
    try:
        return await handler(ctx)
    except NotFound as exc:
        return _error(ctx, 404, str(exc))
    except Forbidden as exc:
        return _error(ctx, 403, str(exc))
    except InvalidInput as exc:
        return _error(ctx, exc.status, exc.reason, exc.field)
    except InvalidCursor as exc:
        return _error(ctx, 400, str(exc), "cursor")
    except Conflict as exc:
        return _error(ctx, 409, str(exc))


def _finish(response: Response, ctx: Ctx) -> Response:
    if not ctx.session.issued:
        write_session(response, ctx.request, ctx.hub, ctx.session)
    return secure(response)


def page(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A full page for a signed-in agent; others are sent to the sign-in page."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        hub: Hub = request.app.state.hub
        session = await read_session(request, hub)
        if session.agent is None:
            return secure(_sign_in_redirect(request))
        ctx = Ctx(request, hub, session)
        return _finish(await _run(handler, ctx), ctx)

    return wrapped


def fragment(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A piece of a page fetched by script; 401 without a session."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        hub: Hub = request.app.state.hub
        session = await read_session(request, hub)
        if session.agent is None:
            return secure(JSONResponse({"error": "sign in first"}, status_code=401))
        return secure(await _run(handler, Ctx(request, hub, session)))

    return wrapped


def action(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A state change: needs a session and its CSRF token (form ``csrf`` or ``X-CSRF-Token``)."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        hub: Hub = request.app.state.hub
        session = await read_session(request, hub)
        form = await request.form()
        try:
            ctx = Ctx(request, hub, session, form)
            submitted = request.headers.get("x-csrf-token") or ctx.field("csrf")
            if session.agent is None:
                if ctx.wants_json():
                    return secure(JSONResponse({"error": "sign in first"}, status_code=401))
                return secure(RedirectResponse("/agent/login", status_code=303))
            if not session.csrf_ok(submitted, hub):
                return secure(_error(ctx, 403, "missing or wrong CSRF token; reload the page"))
            return secure(await _run(handler, ctx))
        finally:
            await form.close()  # uploaded files are spooled to temporary files

    return wrapped


def back(ctx: Ctx, default: str) -> Response:
    """After a plain form post: 303 to the page it came from (same origin only)."""
    target = ctx.field("next") or default
    if not target.startswith("/agent/") or target.startswith("//"):
        target = default
    return RedirectResponse(target, status_code=303)
