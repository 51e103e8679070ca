"""Visitor tokens, ``user_hash`` checks and the per-visitor rate limit.

A visitor token is a :class:`~hub.signing.Signer` token (purpose
``chat.visitor``) carrying the visitor id and the site; the widget keeps it in
``localStorage``. A token that is forged, expired or minted for another site is
worth nothing: its bearer becomes a fresh anonymous visitor.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field

from hub.errors import BadToken
from hub.signing import Signer
from hub.timeline.model import Identity

__all__ = [
    "CHAT_KIND",
    "USER_KIND",
    "RateLimiter",
    "Visitor",
    "email_subject",
    "issue_visitor",
    "read_visitor",
    "user_hash",
    "user_hash_ok",
]

CHAT_KIND = "chat"
USER_KIND = "chat_user"
TOKEN_PURPOSE = "chat.visitor"  # noqa: S105 - a signing purpose, not a secret


@dataclass(frozen=True, slots=True)
class Visitor:
    """A widget visitor: ``chat:<id>`` on ``site``; ``token`` proves it."""

    id: str
    site: str
    token: str

    @property
    def identity(self) -> Identity:
        return Identity(CHAT_KIND, self.id)


def issue_visitor(signer: Signer, site: str) -> Visitor:
    """A fresh anonymous visitor and its token."""
    visitor_id = "v_" + secrets.token_hex(12)
    return Visitor(visitor_id, site, signer.dumps(TOKEN_PURPOSE, {"v": visitor_id, "s": site}))


def read_visitor(signer: Signer, site: str, token: str | None, max_age: float) -> Visitor | None:
    """The visitor ``token`` proves on ``site``, or ``None`` if it proves nothing."""
    if not token or len(token) > 1000:
        return None
    try:
        payload = signer.loads(TOKEN_PURPOSE, token, max_age=max_age)
    except BadToken:
        return None
    visitor_id, token_site = payload.get("v"), payload.get("s")
    if not isinstance(visitor_id, str) or token_site != site:
        return None
    return Visitor(visitor_id, site, token)


def user_hash(secret: str, subject: str) -> str:
    """What the host site's server computes: hex HMAC-SHA256 of the user id (or email)."""
    return hmac.new(secret.encode(), subject.encode(), hashlib.sha256).hexdigest()


def email_subject(user_id: str, email: str) -> str:
    """What the host site signs to vouch for a signed-in user's email (``email_hash``):
    ``"<user_id>|<email>"``, the email lower-cased."""
    return f"{user_id}|{email.lower()}"


def user_hash_ok(secret: str, subject: str, given: str) -> bool:
    """Constant-time check of a ``user_hash``."""
    return hmac.compare_digest(user_hash(secret, subject), given.strip().lower())


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


@dataclass
class RateLimiter:
    """Token buckets per key (visitor id): ``burst`` frames at once, then ``rate`` a second.

    Shared by every connection of a visitor, so opening more tabs does not
    raise the limit.
    """

    burst: int
    rate: float
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def allow(self, key: str, now: float | None = None) -> bool:
        """Take one token for ``key``; False when the bucket is empty."""
        now = time.monotonic() if now is None else now
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) > 100_000:
                self._prune(now)
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        return True

    def _prune(self, now: float) -> None:
        full = self.burst / self.rate
        for key in [k for k, b in self._buckets.items() if now - b.at > full]:
            del self._buckets[key]
