"""Agent sessions and CSRF tokens.

The session is a cookie (``omnihub_agent``) holding a token signed by the
hub's :class:`~hub.signing.Signer` under the ``agent.session`` purpose:
``{"sid": <random>, "aid": <agent id>, "ep": <session epoch>}``, or just a
``sid`` before sign-in. It is ``HttpOnly``, ``SameSite=Lax``, ``Path=/agent``
and ``Secure`` when the request came over HTTPS; it expires after
``agent.session_hours``. Signing in issues a fresh ``sid`` (no fixation); a
password change or disabling the agent bumps the agent's epoch, which ends
every older session.

The CSRF token is an HMAC of the ``sid`` (purpose ``agent.csrf``): forms carry
it as ``csrf``, scripts as the ``X-CSRF-Token`` header. Every state-changing
request must present the token of its own session.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hub.errors import BadToken, NotFound

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection
    from starlette.responses import Response

    from hub.app import Hub
    from hub.timeline.model import Agent

__all__ = ["COOKIE", "Session", "clear_session", "read_session", "write_session"]

COOKIE = "omnihub_agent"
PATH = "/agent"
SESSION = "agent.session"
CSRF = "agent.csrf"


@dataclass(frozen=True, slots=True)
class Session:
    """The caller's session: ``agent`` is ``None`` until signed in.

    ``issued`` is False when the request carried no valid cookie, so the
    response must set one (see :func:`write_session`).
    """

    sid: str
    csrf: str
    agent: Agent | None
    issued: bool

    def csrf_ok(self, submitted: str | None, hub: Hub) -> bool:
        """Whether ``submitted`` is this session's CSRF token."""
        return bool(submitted) and hub.signer.verify_mac(CSRF, self.sid, submitted or "")


def _max_age(hub: Hub) -> int:
    return int(hub.settings.agent.session_hours * 3600)


async def read_session(conn: HTTPConnection, hub: Hub) -> Session:
    """The session the request's cookie names; a new anonymous one if none is valid."""
    raw = conn.cookies.get(COOKIE)
    if raw:
        try:
            payload = hub.signer.loads(SESSION, raw, max_age=_max_age(hub))
        except BadToken:
            payload = {}
        sid = payload.get("sid")
        if isinstance(sid, str) and sid:
            agent = await _agent(hub, payload)
            return Session(sid, hub.signer.mac(CSRF, sid), agent, issued=True)
    sid = secrets.token_urlsafe(24)
    return Session(sid, hub.signer.mac(CSRF, sid), None, issued=False)


async def _agent(hub: Hub, payload: dict[str, object]) -> Agent | None:
    agent_id, epoch = payload.get("aid"), payload.get("ep")
    if not isinstance(agent_id, str) or not isinstance(epoch, int):
        return None
    try:
        agent = await hub.store.get_agent(agent_id)
    except NotFound:
        return None
    if agent.disabled or agent.session_epoch != epoch:
        return None
    return agent


def new_session(hub: Hub, agent: Agent | None) -> Session:
    """A session with a fresh ``sid`` (issue on sign-in and sign-out)."""
    sid = secrets.token_urlsafe(24)
    return Session(sid, hub.signer.mac(CSRF, sid), agent, issued=False)


def write_session(response: Response, conn: HTTPConnection, hub: Hub, session: Session) -> None:
    """Set the cookie for ``session`` on ``response``."""
    payload: dict[str, object] = {"sid": session.sid}
    if session.agent is not None:
        payload.update(aid=session.agent.id, ep=session.agent.session_epoch)
    response.set_cookie(
        COOKIE,
        hub.signer.dumps(SESSION, payload),
        max_age=_max_age(hub),
        path=PATH,
        httponly=True,
        samesite="lax",
        secure=conn.url.scheme in ("https", "wss"),
    )


def clear_session(response: Response) -> None:
    """Remove the cookie."""
    response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="lax")
