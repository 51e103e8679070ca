"""XOAUTH2 logins against Dovecot's OAuth2 passdb and a local token endpoint.

The token endpoint (the provider's, in production) trades the refresh token
for access tokens; Dovecot asks the same local server whether a token is
active (its introspection endpoint). The hub refreshes a token the server
refuses and logs in again.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hub.connectors.email.imap import FetchedMail, MailboxWatcher
from hub.connectors.email.oauth import AccessTokens
from hub.connectors.email.settings import EmailAccount
from hub.connectors.email.smtp import OutgoingMail, build_mail, deliver
from hub.errors import TransientError
from hub.testing.serve import serve
from hub.timeline.model import Event
from tests.conftest import missing_peer
from tests.connectors.email.conftest import USER, Mailbox, SmtpSink
from tests.connectors.email.dovecot import CONFIG, Dovecot, find_dovecot
from tests.connectors.email.rig import first_mail
from tests.peers import free_port

REFRESH = "refresh-secret-1"

OAUTH_CONFIG = CONFIG.replace(
    "auth_mechanisms = plain login",
    "auth_mechanisms = plain login xoauth2 oauthbearer",
).replace(
    "passdb {{\n  driver = passwd-file",
    "passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n"
    "  args = {dir}/oauth2.conf.ext\n}}\npassdb {{\n  driver = passwd-file",
)


class OAuthDovecot(Dovecot):
    config = OAUTH_CONFIG

    def __init__(self, binary: str, workdir: Path, introspection: str) -> None:
        super().__init__(binary, workdir, {USER: "unused-password"})
        self.introspection = introspection

    def command(self) -> list[str]:
        (self.workdir / "oauth2.conf.ext").write_text(
            f"introspection_mode = post\nintrospection_url = {self.introspection}\n"
            "username_attribute = username\nactive_attribute = active\nactive_value = true\n"
        )
        return super().command()


class Provider:
    """The token endpoint and the introspection Dovecot asks."""

    def __init__(self) -> None:
        self.issued: list[str] = []
        self.revoked: set[str] = set()

    async def token(self, request: Request) -> JSONResponse:
        form = await request.form()
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != REFRESH:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        if form.get("client_id") != "hub" or form.get("client_secret") != "client-secret":
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        token = f"access-{len(self.issued) + 1}"
        self.issued.append(token)
        return JSONResponse({"access_token": token, "token_type": "Bearer", "expires_in": 3600})

    async def introspect(self, request: Request) -> JSONResponse:
        form = await request.form()
        token = str(form.get("token", ""))
        active = token in self.issued and token not in self.revoked
        return JSONResponse({"active": "true" if active else "false", "username": USER})


@pytest.fixture
async def oauth() -> AsyncIterator[tuple[Provider, str, OAuthDovecot]]:
    binary = find_dovecot()
    if binary is None:
        missing_peer("no dovecot binary: apt-get install dovecot-imapd dovecot-lmtpd")
        raise AssertionError("unreachable")
    provider = Provider()
    app = Starlette(
        routes=[
            Route("/token", provider.token, methods=["POST"]),
            Route("/introspect", provider.introspect, methods=["POST"]),
        ]
    )
    workdir = await asyncio.to_thread(_workdir)
    try:
        async with serve(app) as url:
            server = OAuthDovecot(binary, workdir, f"{url}/introspect")
            await asyncio.to_thread(server.start)
            try:
                yield provider, url, server
            finally:
                await asyncio.to_thread(server.stop)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _workdir() -> Path:
    # Not under pytest's tmp dir: Dovecot's auth and mail processes run as other users.
    workdir = Path(tempfile.mkdtemp(prefix="omnihub-dovecot-oauth-"))
    workdir.chmod(0o755)
    return workdir


class Memory:
    def __init__(self) -> None:
        self.values: dict[str, dict[str, object]] = {}

    async def get(self, key: str) -> dict[str, object] | None:
        return self.values.get(key)

    async def set(self, key: str, value: dict[str, object]) -> None:
        self.values[key] = value


async def test_xoauth2_login_refreshes_a_refused_token(
    oauth: tuple[Provider, str, OAuthDovecot],
) -> None:
    provider, url, server = oauth
    box = Mailbox(server, "INBOX")
    account = EmailAccount.model_validate(
        {
            **box.account(),
            "password": None,
            "auth": "oauth2",
            "oauth2_token_url": f"{url}/token",
            "oauth2_client_id": "hub",
            "oauth2_client_secret": "client-secret",
            "oauth2_refresh_token": REFRESH,
            "mailboxes": ["INBOX"],
        }
    )
    got = asyncio.Event()
    seen: list[FetchedMail] = []

    async def handle(mail: FetchedMail) -> Event | None:
        seen.append(mail)
        got.set()
        return None

    watcher = MailboxWatcher(
        account,
        "INBOX",
        handle,
        Memory(),
        logging.getLogger("tests.oauth2"),
        max_message_bytes=1 << 20,
    )
    client = await watcher._connect()  # logs in with access-1
    watcher._close(client)
    assert provider.issued == ["access-1"]

    provider.revoked.add("access-1")  # the provider revokes it (or it expired early)
    await asyncio.to_thread(
        box_append, server, first_mail("ana@example.com", "OAuth", "<oauth-1@c.example>")
    )
    task = asyncio.create_task(watcher.run())
    try:
        async with asyncio.timeout(20):
            await got.wait()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert provider.issued[:2] == ["access-1", "access-2"]
    assert b"Subject: OAuth" in seen[0].raw


def box_append(server: Dovecot, raw: bytes) -> None:
    """Deliver by LMTP (the test user has no password login on this server)."""
    import smtplib

    with smtplib.LMTP("127.0.0.1", server.lmtp_port) as lmtp:
        lmtp.sendmail("sender@example.com", [USER], raw)


class XOAuthSink(SmtpSink):
    """An SMTP server that takes XOAUTH2 with the provider's active tokens."""

    provider: Provider | None = None
    logins: list[str] = []

    async def auth_XOAUTH2(self, server: Any, args: list[str]) -> AuthResult:
        fields = base64.b64decode(args[1]).decode().split("\x01")
        token = next(f for f in fields if f.startswith("auth=Bearer ")).removeprefix("auth=Bearer ")
        self.logins.append(token)
        assert self.provider is not None
        ok = token in self.provider.issued and token not in self.provider.revoked
        return AuthResult(success=ok, handled=False)


async def test_smtp_xoauth2_with_a_refreshed_token(
    oauth: tuple[Provider, str, OAuthDovecot],
) -> None:
    provider, url, _ = oauth
    sink = XOAuthSink(port=free_port(), loop=asyncio.get_running_loop())
    sink.provider, sink.logins = provider, []
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port, auth_require_tls=False)
    await asyncio.to_thread(controller.start)
    try:
        account = EmailAccount.model_validate(
            {
                "name": "support",
                "address": "support@example.org",
                "smtp_host": "127.0.0.1",
                "smtp_port": sink.port,
                "smtp_security": "plain",
                "smtp_username": "support@example.org",
                "auth": "oauth2",
                "oauth2_token_url": f"{url}/token",
                "oauth2_client_id": "hub",
                "oauth2_client_secret": "client-secret",
                "oauth2_refresh_token": REFRESH,
                "timeout_seconds": 5,
            }
        )
        tokens = AccessTokens(account)
        mail = OutgoingMail("<x-out@example.org>", "ana@example.com", "Hi", "Over XOAUTH2")
        await deliver(account, build_mail(account, mail), ["ana@example.com"], tokens)
        provider.revoked.add(provider.issued[-1])
        with pytest.raises(TransientError):  # refused: the token is dropped, the outbox retries…
            await deliver(account, build_mail(account, mail), ["ana@example.com"], tokens)
        await deliver(account, build_mail(account, mail), ["ana@example.com"], tokens)  # …renewed
        assert len(await sink.wait_for(2)) == 2
        assert sink.logins == ["access-1", "access-1", "access-2"]
    finally:
        await asyncio.to_thread(controller.stop)
