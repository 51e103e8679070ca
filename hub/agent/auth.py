"""Sign-in and sign-out, and creating agents (``omnihub agents create``, the admin page).

A sign-in is counted before its password is checked with scrypt (off the event
loop), by :class:`~hub.security.throttle.SignInThrottle`: after
``agent.max_failed_sign_ins`` failures from one client that client is locked out
of that account (the right password does not open it either) for
``security.sign_in_backoff_seconds``, doubling per further lock up to
``agent.lockout_seconds``; a client failing across many accounts is refused
everywhere for a while. Others still sign in. Unknown emails are counted,
cost the same hashing time and give the same answer as a wrong password.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.responses import RedirectResponse, Response

from hub.agent.passwords import (
    MIN_PASSWORD_LENGTH,
    dummy_hash,
    hash_password_async,
    verify_password_async,
)
from hub.agent.sessions import clear_session, new_session, read_session, write_session
from hub.agent.web import render, secure
from hub.errors import InvalidInput
from hub.security.clients import client_of
from hub.timeline.model import Agent, AgentRole, utcnow
from hub.timeline.store import AgentUpdate

if TYPE_CHECKING:
    from starlette.requests import Request

    from hub.app import Hub
    from hub.timeline.store import TimelineStore

__all__ = ["create_agent", "login_form", "login_submit", "logout"]

BAD_CREDENTIALS = "Wrong email or password."
LOCKED = "Too many failed sign-ins: sign-in is locked for a while. Try again later."


async def create_agent(
    store: TimelineStore, *, email: str, name: str, password: str, role: AgentRole
) -> Agent:
    """Validate and store a new agent (Conflict if the email is taken)."""
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise InvalidInput("email", "an email address is needed")
    if not name.strip() or len(name) > 200:
        raise InvalidInput("name", "a name of 1-200 characters is needed")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput("password", f"use at least {MIN_PASSWORD_LENGTH} characters")
    return await store.create_agent(
        email=email, name=name.strip(), password_hash=await hash_password_async(password), role=role
    )


def _next(raw: str | None) -> str:
    if raw and raw.startswith("/agent/") and not raw.startswith("//"):
        return raw
    return "/agent/"


async def login_form(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    session = await read_session(request, hub)
    if session.agent is not None:
        return secure(RedirectResponse(_next(request.query_params.get("next")), status_code=303))
    response = render(
        request, "login.html", session=session, next=_next(request.query_params.get("next"))
    )
    if not session.issued:
        write_session(response, request, hub, session)
    return secure(response)


async def login_submit(request: Request) -> Response:
    hub: Hub = request.app.state.hub
    session = await read_session(request, hub)
    form = await request.form()
    email, password, csrf, target = (
        str(form.get(k) or "") for k in ("email", "password", "csrf", "next")
    )

    def again(message: str, status: int) -> Response:
        response = render(
            request,
            "login.html",
            status,
            session=session,
            next=_next(target),
            error=message,
            email=email,
        )
        if not session.issued:
            write_session(response, request, hub, session)
        return secure(response)

    if not session.issued or not session.csrf_ok(csrf, hub):
        return again("Your sign-in form expired; please try again.", 403)
    assert hub.agent_runtime is not None
    throttle = hub.agent_runtime.sign_ins
    account, client = email.strip().lower(), client_of(request)
    everywhere = Everywhere(hub, account, client)
    if not await everywhere.begin():
        return again(LOCKED, 429)
    attempt = throttle.begin(account, client)
    if attempt is None:
        return again(LOCKED, 429)
    ok = False
    try:
        agent = await hub.store.find_agent(email) if email else None
        if agent is None or agent.disabled:
            await verify_password_async(password, dummy_hash())
            return again(BAD_CREDENTIALS, 401)
        ok = await verify_password_async(password, agent.password_hash)
    finally:
        throttle.finish(attempt, ok=ok)
        locked = not ok and throttle.locked(account, client)  # as this attempt left it
        await everywhere.finish(ok=ok)
    if not ok:
        return again(LOCKED if locked else BAD_CREDENTIALS, 429 if locked else 401)
    conf = hub.settings.agent
    agent = await hub.store.record_sign_in(
        agent.id,
        ok=True,
        now=utcnow(),
        max_failures=conf.max_failed_sign_ins,
        lockout_seconds=conf.lockout_seconds,
    )
    response = RedirectResponse(_next(target), status_code=303)
    write_session(response, request, hub, new_session(hub, agent))
    return secure(response)


async def logout(request: Request) -> Response:
    """Sign out (POST with the CSRF token): every session of the agent ends, the cookie goes."""
    hub: Hub = request.app.state.hub
    session = await read_session(request, hub)
    form = await request.form()
    csrf = request.headers.get("x-csrf-token") or str(form.get("csrf") or "")
    if session.agent is not None and not session.csrf_ok(csrf, hub):
        response: Response = render(
            request,
            "error.html",
            403,
            session=session,
            status=403,
            message="missing or wrong CSRF token; reload the page",
        )
        return secure(response)
    if session.agent is not None:
        await hub.store.update_agent(session.agent.id, AgentUpdate(end_sessions=True))
    response = RedirectResponse("/agent/login", status_code=303)
    clear_session(response)
    return secure(response)


class Everywhere:
    """Failed sign-ins of an (account, client) pair across hub instances: once
    ``agent.max_failed_sign_ins`` failed within ``security.sign_in_backoff_seconds``,
    whichever instances they reached, every instance refuses the pair until the
    count lapses; a success clears it. One process needs none of this: its
    :class:`~hub.security.throttle.SignInThrottle` sees every attempt."""

    def __init__(self, hub: Hub, account: str, client: str) -> None:
        self.shared = hub.shared
        self.key = f"sign-in:{account}|{client}"
        self.limit = hub.settings.agent.max_failed_sign_ins
        self.seconds = hub.settings.security.sign_in_backoff_seconds

    async def begin(self) -> bool:
        """False when the pair has failed too often, on any instance."""
        if not self.shared.distributed:
            return True
        return await self.shared.used(self.key, self.seconds) < self.limit

    async def finish(self, *, ok: bool) -> None:
        """Count a failure; a success clears the count."""
        if not self.shared.distributed:
            return
        if ok:
            await self.shared.reset(self.key, self.seconds)
        else:
            await self.shared.record(self.key, self.seconds)
