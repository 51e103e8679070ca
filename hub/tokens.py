"""API bearer tokens: generated once, shown once, stored only as a hash."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict

from hub.timeline.model import ApiToken
from hub.timeline.store import TimelineStore

__all__ = [
    "PREFIX",
    "REMEMBER_SECONDS",
    "authenticate",
    "forget_tokens",
    "hash_token",
    "issue_token",
]

PREFIX = "omh_"
REMEMBER_SECONDS = 5.0
"""How long a token found valid is trusted without asking the store again: a token
revoked on another hub instance (or by the CLI) stops working within this long."""
_REMEMBERED: OrderedDict[tuple[int, str], tuple[ApiToken, float]] = OrderedDict()
_REMEMBER_AT_MOST = 1024


def hash_token(token: str) -> str:
    """SHA-256 of the token: tokens are 256-bit random, so a fast hash is enough."""
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_token(store: TimelineStore, name: str) -> tuple[ApiToken, str]:
    """Create a token named ``name``; returns the record and the secret (shown once)."""
    token = PREFIX + secrets.token_urlsafe(32)
    record = await store.create_api_token(name, hash_token(token))
    return record, token


async def authenticate(store: TimelineStore, authorization: str | None) -> ApiToken | None:
    """The live token named by an ``Authorization: Bearer …`` header, if any."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token.startswith(PREFIX):
        return None
    key = (id(store), hash_token(token))
    now = time.monotonic()
    remembered = _REMEMBERED.get(key)
    if remembered is not None and remembered[1] > now:
        return remembered[0]
    found = await store.find_api_token(key[1])
    if found is None:
        _REMEMBERED.pop(key, None)
        return None
    _REMEMBERED[key] = (found, now + REMEMBER_SECONDS)
    _REMEMBERED.move_to_end(key)
    while len(_REMEMBERED) > _REMEMBER_AT_MOST:
        _REMEMBERED.popitem(last=False)
    return found


def forget_tokens() -> None:
    """Ask the store again for every token (after a revocation in this process)."""
    _REMEMBERED.clear()
