"""Graph API errors, mapped into the hub's exception tree in one place.

Graph errors come as ``{"error": {"message", "type", "code", "error_subcode",
"is_transient", "fbtrace_id"}}``. :func:`graph_error` turns an unsuccessful
response into :class:`~hub.errors.TransientError` (HTTP 429 / 5xx, rate limits,
``is_transient``; ``Retry-After`` honoured) or :class:`~hub.errors.PermanentError`
(everything else: closed reply window, bad recipient, expired token…), with the
provider's own words as the reason the agent sees.
"""

from __future__ import annotations

from typing import Any

import httpx

from hub.connectors.http import retry_after as header_delay
from hub.errors import ConnectorError, PermanentError, TransientError

__all__ = ["graph_error", "json_object", "retry_after"]

# Throttling and "try again" codes (Graph, Messenger, WhatsApp Cloud).
TRANSIENT_CODES = frozenset({1, 2, 4, 17, 32, 613, 80006, 130429, 131016, 131056})


def retry_after(response: httpx.Response) -> float | None:
    """The ``Retry-After`` delay in seconds (a number or an HTTP date), if any."""
    return header_delay(response.headers.get("retry-after"))


def json_object(response: httpx.Response) -> dict[str, Any]:
    """The response body as a JSON object, or ``{}``."""
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def graph_error(response: httpx.Response) -> ConnectorError:
    """The hub error for an unsuccessful Graph API response."""
    error = json_object(response).get("error")
    error = error if isinstance(error, dict) else {}
    code = error.get("code")
    subcode = error.get("error_subcode")
    message = str(error.get("message") or response.reason_phrase or "no message")[:300]
    label = f"{code}/{subcode}" if subcode else str(code if code is not None else "-")
    reason = f"Graph API {response.status_code} (code {label}): {message}"
    transient = (
        response.status_code == 429
        or response.status_code >= 500
        or code in TRANSIENT_CODES
        or error.get("is_transient") is True
    )
    if transient:
        return TransientError(reason, retry_after=retry_after(response))
    return PermanentError(reason)
