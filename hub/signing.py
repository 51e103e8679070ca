"""Signed, expiring tokens and MACs under the hub's one secret key.

Every token the hub hands out (widget visitor tokens, continuation links, agent
sessions, CSRF tokens) goes through a :class:`Signer`, each use under its own
``purpose`` so a token minted for one use never verifies for another. Tokens are
itsdangerous ``URLSafeTimedSerializer`` strings: a JSON payload, its issue time
and an HMAC-SHA256 signature.

The key is ``secret_key`` from the settings, else the contents of
``secret_key_file`` (``<data_dir>/secret_key`` by default; created with 32
random bytes on first start, mode 0600).
Several hub instances behind one MongoDB must share the setting.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer

from hub.errors import BadToken, ConfigError, ExpiredToken

if TYPE_CHECKING:
    from hub.settings import Settings

__all__ = ["BadToken", "ExpiredToken", "Signer", "load_secret_key"]


def load_secret_key(settings: Settings) -> bytes:
    """The configured key, else the key file (created on first use).

    Raises :class:`~hub.errors.ConfigError` when the file can be neither read
    nor created (``data_dir`` not writable by the hub's user).
    """
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    path = Path(settings.secret_key_file)
    try:
        return _read_or_create(path)
    except PermissionError as exc:
        raise ConfigError(
            f"cannot read or create the secret key file {path} ({exc.strerror}): "
            "set OMNIHUB_DATA_DIR to a directory the hub's user can write, "
            "or set OMNIHUB_SECRET_KEY"
        ) from None


def _read_or_create(path: Path) -> bytes:
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32).encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as out:
        out.write(key)
    return key


class Signer:
    """Sign and verify payloads for one hub; ``purpose`` separates the uses."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the secret key must be at least 16 bytes")
        self._key = key

    def __repr__(self) -> str:
        return "Signer(key=********)"

    def _serializer(self, purpose: str) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self._key, salt=f"omnihub.{purpose}")

    def dumps(self, purpose: str, payload: dict[str, Any]) -> str:
        """A URL-safe token carrying ``payload`` (readable, not secret: signed only)."""
        return self._serializer(purpose).dumps(payload)

    def loads(self, purpose: str, token: str, *, max_age: float | None = None) -> dict[str, Any]:
        """The payload of a genuine token for ``purpose`` no older than ``max_age`` seconds.

        Raises :class:`ExpiredToken` or :class:`BadToken`.
        """
        try:
            payload = self._serializer(purpose).loads(
                token, max_age=None if max_age is None else int(max_age)
            )
        except SignatureExpired:
            raise ExpiredToken("the token has expired") from None
        except BadData:
            raise BadToken("the token is not valid") from None
        if not isinstance(payload, dict):
            raise BadToken("the token is not valid")
        return payload

    def mac(self, purpose: str, message: str) -> str:
        """Hex HMAC-SHA256 of ``message`` under a key derived for ``purpose``."""
        key = hmac.new(self._key, f"omnihub.{purpose}".encode(), hashlib.sha256).digest()
        return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()

    def verify_mac(self, purpose: str, message: str, mac: str) -> bool:
        """Constant-time check of :meth:`mac`."""
        return hmac.compare_digest(self.mac(purpose, message), mac)
