"""TLS and STARTTLS logins against Dovecot with a throwaway certificate."""

from __future__ import annotations

import asyncio
import logging
import ssl
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from hub.connectors.email.imap import FetchedMail, MailboxWatcher
from hub.connectors.email.settings import EmailAccount
from hub.connectors.email.smtp import OutgoingMail, build_mail, deliver
from hub.errors import TransientError
from hub.timeline.model import Event
from tests.connectors.email.conftest import Mailbox, SmtpSink
from tests.connectors.email.dovecot import Dovecot
from tests.connectors.email.rig import first_mail
from tests.peers import free_port


class Memory:
    def __init__(self) -> None:
        self.values: dict[str, dict[str, object]] = {}

    async def get(self, key: str) -> dict[str, object] | None:
        return self.values.get(key)

    async def set(self, key: str, value: dict[str, object]) -> None:
        self.values[key] = value


def _account(mailbox: Mailbox, security: str, ca: Path | None) -> EmailAccount:
    port = mailbox.server.imaps_port if security == "tls" else mailbox.server.imap_port
    settings = mailbox.account(imap_security=security, imap_port=port)
    if ca is not None:
        settings["tls_ca_file"] = str(ca)
    return EmailAccount.model_validate(settings)


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_mail_is_read_over_tls_with_the_accounts_ca(mailbox: Mailbox, security: str) -> None:
    await mailbox.append(first_mail("ana@example.com", "Over TLS", "<tls-1@c.example>"))
    seen: list[FetchedMail] = []
    got = asyncio.Event()

    async def handle(mail: FetchedMail) -> Event | None:
        seen.append(mail)
        got.set()
        return None

    account = _account(mailbox, security, mailbox.server.cert)
    watcher = MailboxWatcher(
        account,
        mailbox.name,
        handle,
        Memory(),
        logging.getLogger("tests.tls"),
        max_message_bytes=1 << 20,
    )
    task = asyncio.create_task(watcher.run())
    try:
        async with asyncio.timeout(15):
            await got.wait()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert b"Subject: Over TLS" in seen[0].raw


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_an_untrusted_certificate_is_refused(mailbox: Mailbox, security: str) -> None:
    account = _account(mailbox, security, None)

    async def handle(mail: FetchedMail) -> Event | None:
        raise AssertionError("no mail over an unverified connection")

    watcher = MailboxWatcher(
        account,
        mailbox.name,
        handle,
        Memory(),
        logging.getLogger("tests.tls"),
        max_message_bytes=1 << 20,
    )
    with pytest.raises(ssl.SSLCertVerificationError):
        await watcher._connect()


async def test_replies_go_out_over_starttls_with_the_accounts_ca(dovecot: Dovecot) -> None:
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(dovecot.cert, dovecot.workdir / "key.pem")
    sink = SmtpSink(port=free_port(), loop=asyncio.get_running_loop())
    controller = Controller(
        sink, hostname="127.0.0.1", port=sink.port, tls_context=server_tls, require_starttls=True
    )
    await asyncio.to_thread(controller.start)
    try:
        account = EmailAccount.model_validate(
            {
                "name": "support",
                "address": "support@example.org",
                "smtp_host": "127.0.0.1",
                "smtp_port": sink.port,
                "smtp_security": "starttls",
                "tls_ca_file": str(dovecot.cert),
                "timeout_seconds": 5,
            }
        )
        mail = OutgoingMail("<tls-out@example.org>", "ana@example.com", "Hi", "Over STARTTLS")
        await deliver(account, build_mail(account, mail), ["ana@example.com"])
        [received] = await sink.wait_for(1)
        assert received["Message-ID"] == "<tls-out@example.org>"

        untrusted = account.model_copy(update={"tls_ca_file": None})
        with pytest.raises(TransientError, match=r"CERTIFICATE_VERIFY_FAILED|certificate"):
            await deliver(untrusted, build_mail(untrusted, mail), ["ana@example.com"])
    finally:
        await asyncio.to_thread(controller.stop)
