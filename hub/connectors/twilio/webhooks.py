"""Twilio webhook plumbing: the signature check, form fields, answers.

Every Twilio request is checked with the SDK's ``RequestValidator`` against
the URL Twilio called — rebuilt from the configured public base URL plus the
request's own path and raw query string, never from the request's host or
scheme (behind a TLS proxy those are the proxy's). Nothing in the form is read
before the signature holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.datastructures import FormData, UploadFile
from starlette.responses import JSONResponse, Response
from twilio.request_validator import RequestValidator

if TYPE_CHECKING:
    from starlette.requests import Request

__all__ = [
    "SIGNATURE_HEADER",
    "BadForm",
    "Form",
    "error",
    "public_url_of",
    "read_signed_form",
    "twiml",
]

SIGNATURE_HEADER = "X-Twilio-Signature"
MAX_FIELD_CHARS = 16_384


class BadForm(Exception):
    """A request we refuse: ``status`` and a message naming ``field``."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field

    def response(self) -> JSONResponse:
        return error(self.status, self.message, self.field)


def error(status: int, message: str, field: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if field:
        body["field"] = field
    return JSONResponse(body, status_code=status)


def twiml(document: object) -> Response:
    """A TwiML answer (``str()`` of a ``VoiceResponse`` / ``MessagingResponse``)."""
    return Response(str(document), media_type="application/xml")


def public_url_of(request: Request, public_base: str) -> str:
    """The URL Twilio called: ``public_base`` + the path below the app root + raw query."""
    path: str = request.scope["path"]
    root: str = request.scope.get("app_root_path", "") or ""
    if root and path.startswith(root):
        path = path[len(root) :]
    query = request.scope.get("query_string", b"").decode("latin-1")
    return public_base.rstrip("/") + path + (f"?{query}" if query else "")


@dataclass(frozen=True, slots=True)
class Form:
    """A signed Twilio form: every field Twilio sent, each a string."""

    fields: dict[str, str]

    def get(self, name: str) -> str | None:
        value = self.fields.get(name)
        return value if value else None

    def require(self, name: str) -> str:
        """The field's value; a 400 naming it when missing or empty."""
        value = self.fields.get(name, "").strip()
        if not value:
            raise BadForm(400, f"missing required field {name}", name)
        return value

    def integer(self, name: str, default: int = 0) -> int:
        raw = self.fields.get(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise BadForm(422, f"{name} must be an integer", name) from None


async def read_signed_form(request: Request, validator: RequestValidator, public_base: str) -> Form:
    """Parse the form and check ``X-Twilio-Signature`` over it; raise :class:`BadForm`.

    403 when the signature is missing or wrong, or the body is not a form it
    could cover (nothing in it is used); 413 for an oversized field.
    """
    signature = request.headers.get(SIGNATURE_HEADER)
    if not signature:
        raise BadForm(403, "missing X-Twilio-Signature")
    content_type = request.headers.get("content-type", "")
    if content_type and not content_type.startswith("application/x-www-form-urlencoded"):
        raise BadForm(403, "invalid X-Twilio-Signature")
    try:
        form: FormData = await request.form(max_files=0, max_fields=1000)
    except Exception:  # malformed bodies surface as several starlette/multipart errors
        raise BadForm(403, "invalid X-Twilio-Signature") from None
    try:
        if any(isinstance(v, UploadFile) for _, v in form.multi_items()):
            raise BadForm(403, "invalid X-Twilio-Signature")
        url = public_url_of(request, public_base)
        if not validator.validate(url, form, signature):
            raise BadForm(403, "invalid X-Twilio-Signature")
        fields: dict[str, str] = {}
        for name, value in form.multi_items():
            assert isinstance(value, str)
            if len(value) > MAX_FIELD_CHARS:
                raise BadForm(413, f"field {name} is too long", name)
            fields.setdefault(name, value)
        return Form(fields)
    finally:
        await form.close()
