"""The Twilio side of the tests: a local double of the REST API and a signing webhook sender.

``RestDouble`` is a real HTTP server speaking the parts of Twilio's 2010-04-01
API the connector uses (Messages, Calls, media and recordings downloads). It
checks HTTP Basic auth and the fields Twilio requires, records every request
and answers with Twilio-shaped JSON, or with scripted errors.

``TwilioSide`` posts webhooks the way Twilio does: form-encoded, signed with
the account's auth token over the *public* URL, delivered to the hub's local
address (as a TLS proxy in front of the hub would).
"""

from __future__ import annotations

import asyncio
import base64
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "twilio-auth-token-0123456789ab"
PUBLIC = "https://hub.example.com"
OUR_NUMBER = "+15005550006"
AGENT = "+15005550100"
CUSTOMER = "+15551230001"


def sign(url: str, params: dict[str, str], token: str = AUTH_TOKEN) -> str:
    """``X-Twilio-Signature`` for a POST of ``params`` to ``url`` (the SDK's algorithm)."""
    return str(RequestValidator(token).compute_signature(url, params))


def twilio_error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status_code=status,
    )


@dataclass
class RestDouble:
    """Twilio's REST API, the parts we use. ``failures`` scripts (status, code) answers."""

    messages: list[dict[str, str]] = field(default_factory=list)
    calls: list[dict[str, str]] = field(default_factory=list)
    failures: list[tuple[int, int]] = field(default_factory=list)
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    media_errors: int = 0
    downloads: list[str] = field(default_factory=list)
    unauthorised: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    gate: asyncio.Event | None = None
    """When set, message creations wait for it before answering."""

    def app(self) -> Starlette:
        base = f"/2010-04-01/Accounts/{ACCOUNT_SID}"
        return Starlette(
            routes=[
                Route(f"{base}/Messages.json", self.create_message, methods=["POST"]),
                Route(f"{base}/Calls.json", self.create_call, methods=["POST"]),
                Route("/media/{name:path}", self.download, methods=["GET"]),
            ]
        )

    @staticmethod
    def authorised(request: Request) -> bool:
        expected = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        return request.headers.get("authorization") == f"Basic {expected}"

    async def _checked(self, request: Request, required: list[str]) -> dict[str, str] | Response:
        if not self.authorised(request):
            self.unauthorised += 1
            return twilio_error(401, 20003, "Authenticate")
        form = await request.form()
        fields = {k: str(v) for k, v in form.multi_items()}
        if form.getlist("MediaUrl"):
            fields["MediaUrls"] = " ".join(str(u) for u in form.getlist("MediaUrl"))
        for name in required:
            if not fields.get(name):
                return twilio_error(400, 21604, f"A '{name}' is required")
        if self.failures:
            status, code = self.failures.pop(0)
            return twilio_error(status, code, f"scripted error {code}")
        return fields

    async def create_message(self, request: Request) -> Response:
        fields = await self._checked(request, ["To", "StatusCallback"])
        if isinstance(fields, Response):
            return fields
        if not fields.get("Body") and not fields.get("MediaUrl"):
            return twilio_error(400, 21602, "Message body is required")
        if not fields.get("From") and not fields.get("MessagingServiceSid"):
            return twilio_error(400, 21603, "A 'From' phone number is required")
        self.messages.append(fields)
        self.changed.set()
        sid = f"SM{len(self.messages):032x}"
        if self.gate is not None:
            await self.gate.wait()
        return JSONResponse(
            {
                "sid": sid,
                "account_sid": ACCOUNT_SID,
                "to": fields["To"],
                "from": fields.get("From"),
                "body": fields["Body"],
                "status": "queued",
                "num_segments": "1",
                "direction": "outbound-api",
                "api_version": "2010-04-01",
                "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json",
            },
            status_code=201,
        )

    async def create_call(self, request: Request) -> Response:
        fields = await self._checked(request, ["To", "From", "StatusCallback"])
        if isinstance(fields, Response):
            return fields
        if not fields.get("Twiml") and not fields.get("Url"):
            return twilio_error(400, 21205, "Url or Twiml is required")
        self.calls.append(fields)
        self.changed.set()
        sid = f"CA{len(self.calls):032x}"
        return JSONResponse(
            {
                "sid": sid,
                "account_sid": ACCOUNT_SID,
                "to": fields["To"],
                "from": fields["From"],
                "status": "queued",
                "direction": "outbound-api",
                "api_version": "2010-04-01",
            },
            status_code=201,
        )

    async def download(self, request: Request) -> Response:
        name = request.path_params["name"]
        self.downloads.append(name)
        if not self.authorised(request):
            return twilio_error(401, 20003, "Authenticate")
        if self.media_errors > 0:
            self.media_errors -= 1
            self.changed.set()
            return Response("upstream trouble", status_code=503)
        if name not in self.media:
            return Response(status_code=404)
        data, content_type = self.media[name]
        return Response(data, media_type=content_type)

    async def wait(self, predicate: Any, within: float = 10) -> None:
        """Wait until ``predicate()`` holds (checked whenever the double sees a request)."""
        async with asyncio.timeout(within):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()


@dataclass
class TwilioSide:
    """Sends webhooks the way Twilio does, to a hub served at ``local``."""

    local: str
    client: httpx.AsyncClient
    public: str = PUBLIC

    def url(self, path: str) -> str:
        return path if path.startswith("http") else f"{self.public}/connectors/twilio{path}"

    async def post(
        self,
        path: str,
        params: dict[str, str],
        *,
        token: str = AUTH_TOKEN,
        signature: str | None = None,
        signed_url: str | None = None,
        sent: dict[str, str] | None = None,
    ) -> httpx.Response:
        """POST ``params`` (or ``sent``, to tamper) signed over ``signed_url`` or the public URL."""
        url = self.url(path)
        assert url.startswith(self.public), url
        local = self.local + url.removeprefix(self.public)
        headers = {}
        if signature != "":
            headers["X-Twilio-Signature"] = signature or sign(signed_url or url, params, token)
        return await self.client.post(local, data=sent or params, headers=headers)

    async def sms(
        self, sid: str, body: str, *, sender: str = CUSTOMER, **extra: str
    ) -> httpx.Response:
        params = {
            "MessageSid": sid,
            "AccountSid": ACCOUNT_SID,
            "From": sender,
            "To": OUR_NUMBER,
            "Body": body,
            "NumMedia": "0",
            "ApiVersion": "2010-04-01",
            **extra,
        }
        return await self.post("/sms", params)

    def call_params(
        self, sid: str, status: str, *, caller: str = CUSTOMER, **extra: str
    ) -> dict[str, str]:
        return {
            "CallSid": sid,
            "AccountSid": ACCOUNT_SID,
            "From": caller,
            "To": OUR_NUMBER,
            "CallStatus": status,
            "Direction": "inbound",
            "ApiVersion": "2010-04-01",
            **extra,
        }


def parse_twiml(text: str) -> ET.Element:
    """The TwiML document as XML (fails the test if it is not well-formed)."""
    root = ET.fromstring(text)  # noqa: S314 - our own server's answer
    assert root.tag == "Response"
    return root


def verbs(root: ET.Element) -> list[str]:
    return [child.tag for child in root]
