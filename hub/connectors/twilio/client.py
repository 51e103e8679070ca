"""Twilio's REST API through the official SDK's async client, and media downloads.

Every SDK and network error is translated into the hub's tree here, once
(:func:`translate`): rate limits, Twilio-side and network failures are
:class:`~hub.errors.TransientError`; everything Twilio refuses for good is a
:class:`~hub.errors.PermanentError` whose reason the agent sees.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from hub.connectors.media import FetchPolicy, MediaError, MediaRefused, fetch_stream
from hub.errors import ConnectorError, PermanentError, TransientError

__all__ = ["MEDIA_HOSTS", "Download", "Rest", "delivery_error", "translate"]

MEDIA_HOSTS = ("twilio.com", "twiliocdn.com")
"""Where Twilio serves MMS media and recordings (``api.twilio.com`` redirects to its CDN)."""

OPTED_OUT = 21610

# Codes a helpdesk agent meets, with what they mean in plain words.
_REASONS = {
    20003: "Twilio rejected the account credentials",
    21211: "the number is not a valid phone number",
    21408: "sending to this country is not enabled on the Twilio account",
    21606: "our number cannot send SMS to this destination",
    21608: "a trial account can only send to verified numbers",
    21610: "the customer opted out by texting STOP; they must text START first",
    21612: "Twilio cannot route a message from our number to this one",
    21614: "the number is not a mobile number",
    21617: "the message is longer than 1600 characters",
    30003: "the handset is unreachable",
    30004: "the message was blocked by the recipient or the carrier",
    30005: "unknown destination handset",
    30006: "the number is a landline or unreachable carrier",
    30007: "the carrier filtered the message as spam",
    30008: "unknown delivery error",
    30034: "our number is not registered for A2P 10DLC",
}


def delivery_error(code: str | int | None, fallback: str = "delivery failed") -> str:
    """The agent-facing reason for a Twilio error code (status callbacks, API errors)."""
    if code in (None, ""):
        return fallback
    try:
        number = int(code)
    except ValueError:
        return f"Twilio error {code}"
    reason = _REASONS.get(number)
    return f"Twilio error {number}: {reason}" if reason else f"Twilio error {number}"


def translate(exc: BaseException) -> ConnectorError:
    """Map an SDK or network error to TransientError (retry) or PermanentError."""
    if isinstance(exc, TwilioRestException | TwilioServiceException):
        status = int(getattr(exc, "status", 0) or 0)
        code = getattr(exc, "code", None)
        detail = getattr(exc, "msg", None) or getattr(exc, "detail", None) or ""
        reason = delivery_error(code, f"Twilio answered {status}")
        if code not in _REASONS and detail:
            reason = f"{reason}: {str(detail)[:200]}"
        if status == 429 or code == 20429:
            return TransientError(f"rate limited by Twilio ({reason})", retry_after=5.0)
        if status >= 500 or status == 0:
            return TransientError(f"Twilio is unavailable ({reason})")
        return PermanentError(reason)
    if isinstance(exc, aiohttp.ClientError | httpx.HTTPError | TimeoutError | OSError):
        return TransientError(f"Twilio unreachable: {type(exc).__name__}")
    return TransientError(f"{type(exc).__name__}: {exc}")


@dataclass(frozen=True, slots=True)
class Download:
    """Bytes fetched from Twilio (MMS media, a recording)."""

    data: bytes
    content_type: str


class Rest:
    """The SDK client, created inside the running loop (``open``) and closed on stop."""

    def __init__(
        self, account_sid: str, auth_token: str, *, base_url: str | None, timeout: float
    ) -> None:
        self.policy = FetchPolicy.for_provider(
            MEDIA_HOSTS, configured=(base_url,), credential_hosts=("twilio.com",)
        )
        self._sid = account_sid
        self._token = auth_token
        self._base_url = base_url
        self._timeout = timeout
        self._http: Any = None
        self._client: Any = None
        self._downloads: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        return f"<Rest {self._sid}>"

    async def open(self) -> None:
        if self._client is not None:
            return
        self._http = AsyncTwilioHttpClient(timeout=self._timeout)
        self._client = Client(self._sid, self._token, http_client=self._http)
        if self._base_url:
            self._client.api.base_url = self._base_url.rstrip("/")
        self._downloads = httpx.AsyncClient(timeout=self._timeout)

    async def close(self) -> None:
        http, self._http, self._client = self._http, None, None
        downloads, self._downloads = self._downloads, None
        if http is not None:
            await http.close()
        if downloads is not None:
            await downloads.aclose()

    def _api(self) -> Any:
        if self._client is None:
            raise TransientError("the Twilio connector is not started")
        return self._client

    async def send_message(self, **kwargs: Any) -> str:
        """``messages.create_async``; the new message's SID."""
        try:
            message = await self._api().messages.create_async(**kwargs)
        except Exception as exc:
            raise translate(exc) from exc
        return str(message.sid)

    async def create_call(self, **kwargs: Any) -> str:
        """``calls.create_async``; the new call's SID."""
        try:
            call = await self._api().calls.create_async(**kwargs)
        except Exception as exc:
            raise translate(exc) from exc
        return str(call.sid)

    async def download(self, url: str, *, max_bytes: int, within: float) -> Download:
        """Fetch ``url`` from Twilio's hosts only (:data:`MEDIA_HOSTS`, every redirect checked),
        with the account's credentials only to Twilio's own API host.

        Raises :class:`TransientError` (retry later) or :class:`PermanentError`
        (too large, gone).
        """
        if self._downloads is None:
            raise TransientError("the Twilio connector is not started")
        try:
            async with asyncio.timeout(within):
                return await self._download(self._downloads, url, max_bytes)
        except ConnectorError:
            raise
        except MediaRefused as exc:
            raise PermanentError(str(exc)) from None
        except MediaError as exc:
            raise TransientError(str(exc)) from None
        except Exception as exc:
            raise translate(exc) from exc

    async def _download(self, client: httpx.AsyncClient, url: str, max_bytes: int) -> Download:
        auth = httpx.BasicAuth(self._sid, self._token)
        async with fetch_stream(client, url, policy=self.policy, auth=auth) as response:
            if response.status_code in (404, 410):
                raise PermanentError(f"media gone ({response.status_code})")
            if response.status_code != 200:
                raise TransientError(f"media fetch answered {response.status_code}")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise PermanentError(f"media larger than {max_bytes} bytes")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise PermanentError(f"media larger than {max_bytes} bytes")
                chunks.append(chunk)
            content_type = response.headers.get("content-type", "application/octet-stream")
            return Download(b"".join(chunks), content_type.split(";")[0].strip())
