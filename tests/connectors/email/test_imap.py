"""The email channel against a real Dovecot (IMAP) and a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import httpx

from hub.app import Hub, build_app
from hub.bus import BusMessage, Subscription, Topic
from hub.connectors.base import InboundMessage, IngestResult
from hub.connectors.email import EmailConnector
from hub.settings import OutboxSettings, Settings
from hub.timeline.model import Direction, Event, utcnow
from hub.timeline.store import TimelineStore
from hub.tokens import issue_token
from tests.connectors.email.conftest import Mailbox, SmtpSink, fixture
from tests.connectors.email.rig import SECRET, Ingest, email_settings, first_mail, make_rig
from tests.servers import serve


def numbered(n: int, body: str = "Hello") -> bytes:
    return first_mail(f"customer{n}@example.com", f"Question {n}", f"<q{n}@c.example>", body)


class Counter:
    """Wraps ``ingest``: counts committed messages, can hang after the n-th (a crash)."""

    def __init__(self, hang_after: int | None = None) -> None:
        self.hang_after = hang_after
        self.ingested: list[str] = []
        self.changed = asyncio.Event()

    def wrap(self, ingest: Ingest) -> Ingest:
        async def counted(message: InboundMessage) -> IngestResult:
            result = await ingest(message)
            self.ingested.append(message.external_id)
            self.changed.set()
            if self.hang_after is not None and len(self.ingested) >= self.hang_after:
                await asyncio.Event().wait()  # killed here: committed, not acknowledged
            return result

        return counted

    async def reach(self, count: int, within: float = 15.0) -> None:
        async with asyncio.timeout(within):
            while len(self.ingested) < count:
                self.changed.clear()
                await self.changed.wait()


async def stored_external_ids(store: TimelineStore, event_ids: list[str]) -> list[str]:
    return [str((await store.get_event(e)).external_id) for e in event_ids]


async def test_end_to_end_mail_in_reply_out_reply_back(
    store: TimelineStore, tmp_path: Path, mailbox: Mailbox, smtp_sink: SmtpSink
) -> None:
    settings = Settings(
        store=str(tmp_path / "unused.db"),
        blobs=str(tmp_path / "blobs"),
        outbox=OutboxSettings(poll_interval=0.05),
        connectors={
            "email": {"secret": SECRET, "accounts": [mailbox.account(**smtp_sink.account())]}
        },
    )
    app = build_app(settings, store=store)
    hub: Hub = app.state.hub
    connector = hub.connectors["email"]
    assert isinstance(connector, EmailConnector)
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        _, token = await issue_token(store, "agent")
        auth = {"Authorization": f"Bearer {token}"}
        inbound = hub.bus.subscribe(
            lambda m: (
                m.topic == Topic.EVENT_CREATED
                and m.event is not None
                and m.event.direction is Direction.IN
            )
        )
        async with asyncio.timeout(10):
            await connector.watchers[0].idling.wait()

        await mailbox.append(
            first_mail("Ana Lima <ana@example.com>", "Where is my order?", "<e2e-1@c.example>")
        )
        # Polling is off (IDLE) and the IDLE renews every 29 minutes: mail that arrives
        # within this generous wait was pushed by the server, whatever the machine's speed.
        first = await _next_event(inbound, 60)
        assert first.thread_ref == "<e2e-1@c.example>" and first.subject == "Where is my order?"

        r = await client.post(
            f"/api/v1/conversations/{first.conversation_id}/reply",
            json={"text": "It ships tomorrow.", "html": "<p>It ships <b>tomorrow</b>.</p>"},
            headers=auth,
        )
        assert r.status_code == 202, r.text
        [out] = await smtp_sink.wait_for(1)
        assert smtp_sink.received[0][0] == ["ana@example.com"]
        assert out["In-Reply-To"] == "<e2e-1@c.example>"
        assert out["References"] == "<e2e-1@c.example>"
        assert out["Subject"] == "Re: Where is my order?"
        assert str(out["From"]) == "Omnihub Support <support@example.org>"
        assert str(out["Reply-To"]).startswith("reply+")
        assert out.get_body(("html",)) is not None and out.get_body(("plain",)) is not None

        answer = EmailMessage()
        answer["From"] = "Ana Lima <ana@example.com>"
        answer["To"] = str(out["Reply-To"])
        answer["Subject"] = "Re: Where is my order?"
        answer["Date"] = format_datetime(utcnow())
        answer["Message-ID"] = "<e2e-2@c.example>"
        answer["In-Reply-To"] = str(out["Message-ID"])
        answer["References"] = f"<e2e-1@c.example> {out['Message-ID']}"
        answer.set_content("Great, thanks!\n\nOn Monday, Support wrote:\n> It ships tomorrow.\n")
        await mailbox.append(answer.as_bytes())
        second = await _next_event(inbound, 5)
        assert second.conversation_id == first.conversation_id
        assert second.text == "Great, thanks!"


async def _next_event(sub: Subscription, within: float) -> Event:
    async with asyncio.timeout(within):
        message = await sub.get()
    assert isinstance(message, BusMessage) and message.event is not None
    return message.event


async def test_restart_and_kill_mid_fetch_import_every_message_exactly_once(
    store: TimelineStore, tmp_path: Path, mailbox: Mailbox, smtp_sink: SmtpSink
) -> None:
    await mailbox.append(*(numbered(n) for n in range(1, 41)))
    settings = email_settings(smtp_sink.port, mailbox.account(fetch_batch=7))
    for hang_after in (12, 9):  # a stop after some messages, then a kill mid-batch
        counter = Counter(hang_after=hang_after)
        async with make_rig(store, tmp_path, settings, counter.wrap) as rig:
            await rig.connector.start()
            await counter.reach(hang_after)
    counter = Counter()
    async with make_rig(store, tmp_path, settings, counter.wrap) as rig:
        await rig.connector.start()
        async with asyncio.timeout(15):
            await rig.connector.watchers[0].idling.wait()
    page = await _all_email_events(store)
    assert sorted(page) == sorted(f"<q{n}@c.example>" for n in range(1, 41))
    assert len(page) == len(set(page)) == 40


async def _all_email_events(store: TimelineStore) -> list[str]:
    ids: list[str] = []
    for n in range(1, 41):
        event = await store.find_event("email", f"<q{n}@c.example>")
        if event is not None:
            ids.append(str(event.external_id))
    return ids


@contextlib.asynccontextmanager
async def severing_proxy(port: int, cut_after: int) -> AsyncIterator[int]:
    """A TCP proxy to ``port`` that cuts its first connection after ``cut_after`` bytes
    from the server (mid-literal in a FETCH); later connections pass untouched."""
    connections = 0

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, limit: int) -> None:
        sent = 0
        try:
            while data := await reader.read(4096):
                if limit and sent + len(data) > limit:
                    writer.write(data[: limit - sent])
                    break
                writer.write(data)
                sent += len(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        limit = cut_after if connections == 1 else 0
        server_r, server_w = await asyncio.open_connection("127.0.0.1", port)
        down = asyncio.create_task(pipe(server_r, client_w, limit))
        up = asyncio.create_task(pipe(client_r, server_w, 0))
        await asyncio.wait({down, up}, return_when=asyncio.FIRST_COMPLETED)
        client_w.close()
        server_w.close()
        for t in (down, up):
            t.cancel()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def test_server_dropping_the_connection_mid_fetch_loses_nothing(
    store: TimelineStore, tmp_path: Path, mailbox: Mailbox, smtp_sink: SmtpSink
) -> None:
    await mailbox.append(*(numbered(n, "x" * 3000) for n in range(1, 21)))
    counter = Counter()
    async with severing_proxy(mailbox.server.imap_port, cut_after=20_000) as port:
        account = mailbox.account(imap_port=port, fetch_batch=20)
        settings = email_settings(smtp_sink.port, account)
        async with make_rig(store, tmp_path, settings, counter.wrap) as rig:
            await rig.connector.start()
            await counter.reach(20)
            assert rig.connector.watchers[0].failures == 0 or len(counter.ingested) == 20
    assert sorted(counter.ingested) == sorted({f"<q{n}@c.example>" for n in range(1, 21)})


async def test_uidvalidity_change_resyncs_without_duplicates(
    store: TimelineStore, tmp_path: Path, mailbox: Mailbox, smtp_sink: SmtpSink
) -> None:
    await mailbox.append(numbered(1), numbered(2))
    settings = email_settings(smtp_sink.port, mailbox.account())
    counter = Counter()
    async with make_rig(store, tmp_path, settings, counter.wrap) as rig:
        await rig.connector.start()
        await counter.reach(2)
    before = await store.get_checkpoint("email", f"imap:support:{mailbox.name}")
    await asyncio.to_thread(_recreate, mailbox)
    await mailbox.append(numbered(1), numbered(2), numbered(3))
    counter = Counter()
    async with make_rig(store, tmp_path, settings, counter.wrap) as rig:
        await rig.connector.start()
        await counter.reach(3)
    after = await store.get_checkpoint("email", f"imap:support:{mailbox.name}")
    assert before is not None and after is not None
    assert before["uidvalidity"] != after["uidvalidity"] and after["last_uid"] == 3
    assert await _all_email_events(store) == [f"<q{n}@c.example>" for n in (1, 2, 3)]


def _recreate(mailbox: Mailbox) -> None:
    client = mailbox._imap()
    try:
        assert client.delete(mailbox.name)[0] == "OK"
    finally:
        client.logout()
    mailbox.create()


async def test_polling_when_idle_is_off_and_idle_renewal(
    store: TimelineStore, tmp_path: Path, mailbox: Mailbox, smtp_sink: SmtpSink
) -> None:
    polled = email_settings(smtp_sink.port, mailbox.account(idle=False, poll_seconds=0.1))
    counter = Counter()
    async with make_rig(store, tmp_path, polled, counter.wrap) as rig:
        await rig.connector.start()
        await mailbox.append(numbered(1))
        await counter.reach(1)
        assert rig.connector.watchers[0].idles == 0

    renewing = email_settings(smtp_sink.port, mailbox.account(idle_renew_seconds=0.2))
    async with make_rig(store, tmp_path, renewing, counter.wrap) as rig:
        await rig.connector.start()
        watcher = rig.connector.watchers[0]
        async with asyncio.timeout(5):
            while watcher.idles < 3:  # re-issued IDLE twice without any mail
                watcher.idling.clear()
                await watcher.idling.wait()
        await mailbox.append(numbered(2))
        await counter.reach(2)


async def test_bad_messages_never_stop_the_loop(
    store: TimelineStore, tmp_path: Path, mailbox: Mailbox, smtp_sink: SmtpSink
) -> None:
    await mailbox.append(
        fixture("no_sender.eml"),
        fixture("broken_charset_no_message_id.eml"),
        fixture("malformed_mime.eml"),
        numbered(1, "y" * 5000),
        numbered(2),
    )
    settings = email_settings(smtp_sink.port, mailbox.account())
    settings = settings.model_copy(update={"max_message_bytes": 4000})
    counter = Counter()
    async with make_rig(store, tmp_path, settings, counter.wrap) as rig:
        await rig.connector.start()
        await counter.reach(4)
    big = await store.find_event("email", "<q1@c.example>")
    assert big is not None and big.meta["too_large"] is True and big.subject == "Question 1"
    [junk] = await store.list_quarantined()
    assert junk.reason == "no From address" and junk.source["uid"] == 1
    assert await store.find_event("email", "<q2@c.example>") is not None
