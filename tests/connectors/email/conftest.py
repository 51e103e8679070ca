"""Real mail servers for the email tests: Dovecot (IMAP) and aiosmtpd (SMTP).

Without Dovecot the IMAP tests skip locally and fail under ``CI=true``.
Each test gets its own IMAP folder, so tests never see each other's mail.
"""

from __future__ import annotations

import asyncio
import imaplib
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import missing_peer
from tests.connectors.email.dovecot import Dovecot, find_dovecot
from tests.peers import free_port

USER = "support"
PASSWORD = "imap-secret-1"
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    binary = find_dovecot()
    if binary is None:
        missing_peer("no dovecot binary: apt-get install dovecot-imapd dovecot-lmtpd")
        raise AssertionError("unreachable")
    # Not under pytest's tmp dir: Dovecot's auth and mail processes run as other users.
    workdir = Path(tempfile.mkdtemp(prefix="omnihub-dovecot-"))
    workdir.chmod(0o755)
    try:
        with Dovecot(binary, workdir, {USER: PASSWORD}) as server:
            yield server
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@dataclass
class Mailbox:
    """One IMAP folder of the test user; mail is put in by IMAP APPEND."""

    server: Dovecot
    name: str

    def _imap(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.server.imap_port, timeout=10)
        try:
            client.login(USER, PASSWORD)
        except BaseException:
            client.shutdown()
            raise
        return client

    def create(self) -> None:
        client = self._imap()
        try:
            typ, data = client.create(self.name)
            assert typ == "OK", data
        finally:
            client.logout()

    def _append_many(self, messages: list[bytes]) -> None:
        client = self._imap()
        try:
            for raw in messages:
                crlf = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
                typ, data = client.append(self.name, "", None, crlf)
                assert typ == "OK", data
        finally:
            client.logout()

    async def append(self, *messages: bytes) -> None:
        await asyncio.to_thread(self._append_many, list(messages))

    def account(self, **extra: Any) -> dict[str, Any]:
        """Connector settings for an account reading this folder."""
        return {
            "name": "support",
            "address": "support@example.org",
            "display_name": "Omnihub Support",
            "reply_to": "reply@example.org",
            "imap_host": "127.0.0.1",
            "imap_port": self.server.imap_port,
            "imap_security": "plain",
            "username": USER,
            "password": PASSWORD,
            "mailboxes": [self.name],
            "backoff_base": 0.05,
            "backoff_cap": 0.2,
            "stop_grace_seconds": 0.5,
            **extra,
        }


@pytest.fixture
def mailbox(dovecot: Dovecot) -> Mailbox:
    box = Mailbox(dovecot, f"t{uuid.uuid4().hex[:12]}")
    box.create()
    return box


@dataclass
class SmtpSink:
    """What an SMTP server received; ``reply`` sets its answer to DATA."""

    port: int
    loop: asyncio.AbstractEventLoop
    received: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    reply: str = "250 OK"
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = self.reply
        if reply.startswith("250"):
            msg = message_from_bytes(envelope.content, policy=policy.default)
            assert isinstance(msg, EmailMessage)
            item = (list(envelope.rcpt_tos), msg)
            self.loop.call_soon_threadsafe(self._arrived, item)
        return reply

    def _arrived(self, item: tuple[list[str], EmailMessage]) -> None:
        self.received.append(item)
        self.changed.set()

    async def wait_for(self, count: int, within: float = 10.0) -> list[EmailMessage]:
        async with asyncio.timeout(within):
            while len(self.received) < count:
                self.changed.clear()
                await self.changed.wait()
        return [m for _, m in self.received]

    def account(self) -> dict[str, Any]:
        return {"smtp_host": "127.0.0.1", "smtp_port": self.port, "smtp_security": "plain"}


@pytest.fixture
async def smtp_sink() -> AsyncIterator[SmtpSink]:
    sink = SmtpSink(port=free_port(), loop=asyncio.get_running_loop())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    await asyncio.to_thread(controller.start)
    try:
        yield sink
    finally:
        await asyncio.to_thread(controller.stop)


def fixture(name: str, **values: str) -> bytes:
    """A fixture .eml with ``{{KEY}}`` placeholders filled in."""
    raw = (FIXTURES / name).read_bytes()
    for key, value in values.items():
        raw = raw.replace(b"{{" + key.encode() + b"}}", value.encode())
    return raw
