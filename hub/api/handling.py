"""Authentication, error mapping and request helpers shared by every ``/api/v1`` route."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError
from starlette.responses import JSONResponse, Response

from hub.errors import Conflict, InvalidInput, NotFound
from hub.payloads import parse_json
from hub.timeline.store import InvalidCursor
from hub.tokens import authenticate

if TYPE_CHECKING:
    from starlette.requests import Request

    from hub.app import Hub
    from hub.timeline.model import ApiToken

__all__ = ["Handler", "direction_param", "endpoint", "error", "json_body", "limit_param"]

Handler = Callable[["Request", "Hub", "ApiToken"], Awaitable[Response]]


def error(status: int, message: str, field: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if field:
        body["field"] = field
    return JSONResponse(body, status_code=status)


def endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Authenticate, then map the hub's errors to HTTP answers in one place."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        hub: Hub = request.app.state.hub
        token = await authenticate(hub.store, request.headers.get("authorization"))
        if token is None:
            response = error(401, "missing or invalid API token")
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        try:
            return await handler(request, hub, token)
        except NotFound as exc:
            return error(404, str(exc))
        except InvalidInput as exc:
            return error(exc.status, exc.reason, exc.field)
        except InvalidCursor as exc:
            return error(400, str(exc), "cursor")
        except ValidationError as exc:
            first = exc.errors()[0]
            return error(422, first["msg"], ".".join(str(p) for p in first["loc"]) or "body")
        except Conflict as exc:
            return error(409, str(exc))

    return wrapped


async def json_body(request: Request) -> Any:
    body = await request.body()
    if not body:
        return {}
    return parse_json(body)


def limit_param(request: Request, default: int = 50) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= 500:
        raise InvalidInput("limit", "limit must be an integer from 1 to 500")
    return int(raw)


def direction_param(request: Request) -> Literal["older", "newer"]:
    value = request.query_params.get("direction", "older")
    if value not in ("older", "newer"):
        raise InvalidInput("direction", "direction must be older or newer")
    return "older" if value == "older" else "newer"
