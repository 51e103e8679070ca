"""API bearer tokens: generated once, shown once, stored only as a hash."""

from __future__ import annotations

import hashlib
import secrets

from hub.timeline.model import ApiToken
from hub.timeline.store import TimelineStore

__all__ = ["PREFIX", "authenticate", "hash_token", "issue_token"]

PREFIX = "omh_"


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
    return await store.find_api_token(hash_token(token))
