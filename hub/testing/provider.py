"""Provider doubles: the far side of a connector's outbound traffic, on loopback.

The kit talks to a double through :class:`ProviderDouble`: where it listens
(``url``, for the connector's settings), what it accepted (``received``) and
:meth:`~ProviderDouble.fail` to make it refuse transiently or for good.
:class:`HttpProvider` is the ready-made double for HTTP APIs: it serves the
author's ASGI app (the provider's API in its own shapes) behind a recorder
that can answer with scripted failures instead.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import json
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import unquote_plus

from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.testing.serve import serve

__all__ = ["Failure", "HttpProvider", "ProviderDouble", "Recorded"]

Failure = Literal["transient", "permanent"]


class ProviderDouble(Protocol):
    """What the kit needs from a provider double (HTTP API, SMTP server, …)."""

    url: str
    """Where the double listens; hand it to the connector in ``ConnectorKit.settings``."""

    @property
    def received(self) -> list[bytes]:
        """Raw payloads the provider accepted, oldest first (request bodies, mail data)."""
        ...

    def fail(self, failure: Failure | None, *, times: int | None = None) -> None:
        """Refuse the next ``times`` calls (``None``: every call) transiently
        (rate limited, unavailable) or permanently (bad recipient); ``None`` heals."""
        ...


@dataclass
class Recorded:
    """One request the HTTP double saw and the status it answered."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 0


def _json(status: int, body: Any) -> Response:
    return JSONResponse(body, status_code=status)


@dataclass
class HttpProvider:
    """An HTTP API double: ``app`` answers, every request is recorded.

    ``transient`` and ``permanent`` are the ``(status, JSON body)`` answers the
    provider gives when it is unavailable / when it refuses a message for good,
    in the provider's own shapes (the connector's error mapping is under test).
    Keep the transient one free of long ``Retry-After`` hints.
    Use as ``async with HttpProvider(app) as double:``.
    """

    app: ASGIApp
    transient: tuple[int, Any] = (503, {"error": "service unavailable"})
    permanent: tuple[int, Any] = (400, {"error": "invalid recipient"})
    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    _failure: Failure | None = None
    _times: int | None = None
    _stack: contextlib.AsyncExitStack | None = None

    @property
    def received(self) -> list[bytes]:
        """Bodies of the requests the app answered with a 2xx."""
        return [r.body for r in self.requests if 200 <= r.status < 300 and r.body]

    def fail(self, failure: Failure | None, *, times: int | None = None) -> None:
        """See :meth:`ProviderDouble.fail`."""
        self._failure, self._times = failure, times

    def _scripted(self) -> Response | None:
        if self._failure is None:
            return None
        status, body = self.transient if self._failure == "transient" else self.permanent
        if self._times is not None:
            self._times -= 1
            if self._times <= 0:
                self._failure, self._times = None, None
        return _json(status, body)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = bool(message.get("more_body"))
        record = Recorded(
            method=scope["method"],
            path=scope["path"],
            headers={k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]},
            body=b"".join(chunks),
        )
        self.requests.append(record)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return {"type": "http.disconnect"}
            delivered = True
            return {"type": "http.request", "body": record.body, "more_body": False}

        async def recording(message: Message) -> None:
            if message["type"] == "http.response.start":
                record.status = int(message["status"])
            await send(message)

        scripted = self._scripted()
        if scripted is not None:
            await scripted(scope, replay, recording)
        else:
            await self.app(scope, replay, recording)

    async def __aenter__(self) -> HttpProvider:
        self._stack = contextlib.AsyncExitStack()
        self.url = await self._stack.enter_async_context(serve(self, lifespan="off"))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._stack is not None:
            await self._stack.aclose()


def decoded(body: bytes) -> str:
    """A recorded payload as text, with form, JSON and MIME encodings undone (for
    ``in`` checks): a mail message gives its text parts, decoded."""
    if body[:4096].lower().find(b"\nmime-version:") >= 0 or body.lower().startswith(
        b"mime-version:"
    ):
        message = email.message_from_bytes(body, policy=email.policy.default)
        parts = [
            part.get_content()
            for part in message.walk()
            if part.get_content_maintype() == "text" and not part.is_multipart()
        ]
        return "\n".join(str(p) for p in parts)
    text = body.decode("utf-8", "replace")
    try:
        return json.dumps(json.loads(text), ensure_ascii=False)
    except ValueError:
        return unquote_plus(text)
