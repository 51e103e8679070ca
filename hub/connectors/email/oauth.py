"""OAuth2 access tokens for XOAUTH2 logins (Google Workspace, Microsoft 365).

An account with ``auth = "oauth2"`` names its provider's token endpoint, its
client and a refresh token; :class:`AccessTokens` trades the refresh token for
an access token (RFC 6749 §6), keeps it until shortly before it expires, and
fetches a new one when a server refuses it. Errors are
:class:`~hub.errors.TransientError` (the watcher and the outbox retry).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from hub.connectors.email.settings import EmailAccount
from hub.errors import TransientError

__all__ = ["AccessTokens"]

_EARLY = 60.0


class AccessTokens:
    """The account's current access token, refreshed when it expires or is refused."""

    def __init__(
        self,
        account: EmailAccount,
        *,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.account = account
        self.clock = clock
        self.transport = transport
        self._token: str | None = None
        self._until = 0.0
        self.refreshes = 0

    def __repr__(self) -> str:
        return f"<AccessTokens {self.account.name}>"

    def invalidate(self) -> None:
        """Forget the token (the server refused it): the next :meth:`get` refreshes."""
        self._token = None

    async def get(self) -> str:
        """A valid access token."""
        if self._token is not None and self.clock() < self._until:
            return self._token
        account = self.account
        if not (account.oauth2_token_url and account.oauth2_refresh_token):
            raise TransientError(f"account {account.name!r} has no OAuth2 refresh token")
        form = {
            "grant_type": "refresh_token",
            "refresh_token": account.oauth2_refresh_token.get_secret_value(),
            "client_id": account.oauth2_client_id or "",
        }
        if account.oauth2_client_secret is not None:
            form["client_secret"] = account.oauth2_client_secret.get_secret_value()
        if account.oauth2_scope:
            form["scope"] = account.oauth2_scope
        try:
            async with httpx.AsyncClient(
                transport=self.transport, timeout=account.timeout_seconds
            ) as client:
                response = await client.post(account.oauth2_token_url, data=form)
        except httpx.HTTPError as exc:
            raise TransientError(f"OAuth2 token endpoint unreachable: {exc}") from None
        if response.status_code != 200:
            raise TransientError(f"OAuth2 token endpoint answered {response.status_code}")
        try:
            body = response.json()
            token = str(body["access_token"])
            lifetime = float(body.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError):
            raise TransientError("OAuth2 token endpoint gave no access_token") from None
        self._token = token
        self._until = self.clock() + max(lifetime - _EARLY, 0.0)
        self.refreshes += 1
        return token
