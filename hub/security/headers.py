"""Browser security headers on every answer: CSP and ``frame-ancestors`` on HTML, HSTS over HTTPS.

Every ``text/html`` response gets a ``Content-Security-Policy`` (a handler's own
policy is kept, given a ``frame-ancestors`` if it has none), so no page of the
hub can be framed except by the hub itself and the origins in
``security.frame_ancestors`` (the sites that embed the widget), plus
``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer`` (link
pages carry their token in the path). When the public URL is HTTPS every
response carries ``Strict-Transport-Security``.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["HTML_POLICY", "SecurityHeaders"]

HTML_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'"
)
"""The policy of HTML pages that set none (the demo page, link pages)."""

HSTS = "max-age=31536000"


class SecurityHeaders:
    """ASGI middleware adding the headers above."""

    def __init__(
        self, app: ASGIApp, *, frame_ancestors: tuple[str, ...] = (), https: bool = False
    ) -> None:
        self.app = app
        self.ancestors = "frame-ancestors " + " ".join(("'self'", *frame_ancestors))
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if self.https:
                    headers.setdefault("Strict-Transport-Security", HSTS)
                if headers.get("content-type", "").startswith("text/html"):
                    self._html(headers)
            await send(message)

        await self.app(scope, receive, sending)

    def _html(self, headers: MutableHeaders) -> None:
        policy = headers.get("content-security-policy")
        if policy is None:
            headers["Content-Security-Policy"] = f"{HTML_POLICY}; {self.ancestors}"
        elif "frame-ancestors" not in policy:
            headers["Content-Security-Policy"] = f"{policy}; {self.ancestors}"
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "no-referrer")
