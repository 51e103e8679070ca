"""Password hashing for agents: stdlib ``hashlib.scrypt``, no extra dependency.

A hash is stored as ``scrypt$<n>$<r>$<p>$<salt>$<key>`` (salt and key
URL-safe base64), so the cost can be raised later and old hashes still verify.
Hashing takes tens of milliseconds on purpose: call it off the event loop
(:func:`hash_password_async`, :func:`verify_password_async`).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import secrets

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "dummy_hash",
    "hash_password",
    "hash_password_async",
    "verify_password",
    "verify_password_async",
]

MIN_PASSWORD_LENGTH = 10
N, R, P = 2**14, 8, 1
KEY_BYTES = 32
MAX_PASSWORD_BYTES = 1024


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    data = password.encode()[:MAX_PASSWORD_BYTES]
    return hashlib.scrypt(data, salt=salt, n=n, r=r, p=p, dklen=KEY_BYTES, maxmem=64 * 1024 * 1024)


def hash_password(password: str) -> str:
    """A salted scrypt hash of ``password`` in the storable format."""
    salt = secrets.token_bytes(16)
    return f"scrypt${N}${R}${P}${_b64(salt)}${_b64(_derive(password, salt, N, R, P))}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (constant-time; False for a malformed hash)."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        derived = _derive(password, _unb64(salt), int(n), int(r), int(p))
        return hmac.compare_digest(derived, _unb64(key))
    except (ValueError, TypeError):
        return False


@functools.cache
def dummy_hash() -> str:
    """A hash to verify against when the account does not exist, so a sign-in
    for an unknown email takes as long as one for a known email."""
    return hash_password(secrets.token_urlsafe(16))


async def hash_password_async(password: str) -> str:
    """:func:`hash_password` in a worker thread."""
    return await asyncio.to_thread(hash_password, password)


async def verify_password_async(password: str, stored: str) -> bool:
    """:func:`verify_password` in a worker thread."""
    return await asyncio.to_thread(verify_password, password, stored)
