"""An internal service an attacker would like the hub to fetch from: it records every request."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route


@dataclass
class Victim:
    """Answers anything with a secret page, noting the path and ``Authorization`` it got."""

    hits: list[tuple[str, str | None]] = field(default_factory=list)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self.page, methods=["GET", "POST"])])

    async def page(self, request: Request) -> Response:
        self.hits.append((request.url.path, request.headers.get("authorization")))
        return PlainTextResponse("internal secret page", media_type="image/png")
