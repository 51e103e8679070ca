"""Who may read ``/healthz`` details: strangers learn only whether the hub is ok."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from hub.tokens import authenticate

if TYPE_CHECKING:
    from hub.app import Hub

__all__ = ["health_details_allowed"]


async def health_details_allowed(hub: Hub, authorization: str | None) -> bool:
    """Whether ``authorization`` may see ``/healthz`` details: ``security.health_token`` or an
    API token. A store that cannot be read refuses (the probe still answers)."""
    if not authorization:
        return False
    configured = hub.settings.security.health_token
    scheme, _, given = authorization.partition(" ")
    secret = configured.get_secret_value().encode() if configured is not None else None
    if (
        secret
        and scheme.lower() == "bearer"
        and hmac.compare_digest(given.strip().encode(), secret)
    ):
        return True
    try:
        return await authenticate(hub.store, authorization) is not None
    except Exception:  # a store outage must not turn the probe into a 500
        return False
