#!/usr/bin/env python
"""Import a mailbox backlog over IMAP into the timeline and print messages/s.

Starts a throwaway Dovecot (``dovecot-imapd``), appends N messages (a mix of
plain replies with quotes and HTML mail with an attachment) to a fresh folder,
then measures in the same run:

* baseline: raw aioimaplib ``UID FETCH … BODY.PEEK[]`` of the same folder in the
  same batches — what the IMAP stack does with nothing of ours in the way;
* omnihub: the email connector importing the folder into an SQLite store
  (parse, strip, sanitise, blobs, ingest, checkpoint per message).

Figures are printed, never asserted; compare the ratio, not absolute numbers.

    python benchmarks/email_backlog.py                  # 2,000 messages
    python benchmarks/email_backlog.py --messages 500 --batch 100
"""

from __future__ import annotations

import argparse
import asyncio
import imaplib
import logging
import shutil
import sys
import tempfile
import time
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aioimaplib

from hub.connectors.email.imap import parse_fetch, parse_search
from hub.timeline.model import utcnow
from hub.timeline.sqlite import SQLiteStore
from tests.connectors.email.dovecot import Dovecot, find_dovecot
from tests.connectors.email.rig import email_settings, make_rig

USER, PASSWORD, FOLDER = "bench", "bench-secret", "Backlog"


def mail(n: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Customer {n % 300} <customer{n % 300}@example.com>"
    msg["To"] = "support@example.org"
    msg["Subject"] = f"Re: Order {n}"
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = f"<backlog-{n}@client.example>"
    msg["In-Reply-To"] = f"<earlier-{n}@client.example>"
    body = f"Any news on order {n}? It was due on Monday.\n\nThanks,\nCustomer\n\n"
    quote = "On Mon, 5 Jan 2026 at 10:00, Support <support@example.org> wrote:\n"
    msg.set_content(body + quote + "> Your order is on its way.\n" * 20)
    if n % 4 == 0:
        msg.add_alternative(f"<p>Any news on order <b>{n}</b>?</p><blockquote>old</blockquote>")
        msg.add_attachment(b"%PDF-1.4 " + bytes(n % 251 for _ in range(4000)), "application", "pdf")
    return msg.as_bytes().replace(b"\n", b"\r\n")


def fill(server: Dovecot, count: int) -> None:
    client = imaplib.IMAP4("127.0.0.1", server.imap_port)
    client.login(USER, PASSWORD)
    client.create(FOLDER)
    for n in range(count):
        client.append(FOLDER, "", None, mail(n))
    client.logout()


async def baseline(server: Dovecot, batch: int) -> tuple[int, float]:
    client = aioimaplib.IMAP4("127.0.0.1", server.imap_port, timeout=60)
    await client.wait_hello_from_server()
    await client.login(USER, PASSWORD)
    await client.select(FOLDER)
    started = time.perf_counter()
    uids = parse_search((await client.uid_search("UID", "1:*", charset=None)).lines)
    fetched = 0
    for i in range(0, len(uids), batch):
        chunk = ",".join(str(u) for u in uids[i : i + batch])
        await client.uid("fetch", chunk, "(UID RFC822.SIZE)")
        response = await client.uid("fetch", chunk, "(UID BODY.PEEK[])")
        fetched += sum(1 for _, raw in parse_fetch(response.lines).values() if raw)
    elapsed = time.perf_counter() - started
    await client.logout()
    return fetched, elapsed


async def omnihub(server: Dovecot, workdir: Path, count: int, batch: int) -> float:
    store = SQLiteStore(workdir / "hub.db")
    await store.open()
    account = {
        "name": "bench",
        "address": "support@example.org",
        "imap_host": "127.0.0.1",
        "imap_port": server.imap_port,
        "imap_security": "plain",
        "username": USER,
        "password": PASSWORD,
        "mailboxes": [FOLDER],
        "fetch_batch": batch,
    }
    done = asyncio.Event()
    seen = 0
    try:
        async with make_rig(store, workdir, email_settings(1, account)) as rig:
            watcher = rig.connector.watchers[0]
            inner = watcher.handler

            async def counted(fetched: object) -> object:
                nonlocal seen
                result = await inner(fetched)  # type: ignore[arg-type]
                seen += 1
                if seen == count:
                    done.set()
                return result

            watcher.handler = counted
            started = time.perf_counter()
            await rig.connector.start()
            await asyncio.wait_for(done.wait(), timeout=600)
            return time.perf_counter() - started
    finally:
        await store.close()


async def measure(server: Dovecot, workdir: Path, count: int, batch: int) -> None:
    started = time.perf_counter()
    await asyncio.to_thread(fill, server, count)
    print(f"filled {count} messages in {time.perf_counter() - started:.1f} s")
    fetched, base = await baseline(server, batch)
    ours = await omnihub(server, workdir, count, batch)
    base_rate, our_rate = fetched / base, count / ours
    print(f"baseline  raw aioimaplib fetch : {base_rate:8.0f} msg/s ({base:.2f} s)")
    print(f"omnihub   IMAP → timeline      : {our_rate:8.0f} msg/s ({ours:.2f} s)")
    print(f"ratio                          : {our_rate / base_rate:8.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=50)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    binary = find_dovecot()
    if binary is None:
        sys.exit("dovecot not found: apt-get install dovecot-imapd dovecot-lmtpd")
    workdir = Path(tempfile.mkdtemp(prefix="omnihub-bench-"))
    workdir.chmod(0o755)  # Dovecot's auth and mail processes run as other users
    try:
        with Dovecot(binary, workdir / "dovecot", {USER: PASSWORD}) as server:
            (workdir / "dovecot").chmod(0o755)
            asyncio.run(measure(server, workdir, args.messages, args.batch))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
