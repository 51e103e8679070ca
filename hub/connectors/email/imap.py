"""One IMAP mailbox, read without loss or duplicates (aioimaplib).

The loop per mailbox::

    connect (TLS | STARTTLS | plain) → LOGIN → SELECT → compare UIDVALIDITY
    → UID SEARCH UID last+1:* → per batch: UID FETCH sizes, then BODY.PEEK[] → handle each
      → advance the checkpoint after the handler returned (ingest committed)
      → search again if the server reported new mail (``* n EXISTS``) meanwhile
    → IDLE (re-issued before 29 minutes) or poll → fetch again …

Any error closes the connection and reconnects after a capped exponential
backoff with jitter. The checkpoint is ``{"uidvalidity", "last_uid"}`` under
``imap:<account>:<mailbox>``; a UIDVALIDITY change restarts from UID 1 and the
hub's ingest dedupe (keyed by Message-ID) drops what it already has.

The server reports new mail once, with whichever command is running (see
:mod:`.wire`): mail that lands after a catch-up search is reported during the
FETCHes that follow it or when IDLE starts. The watcher searches again until
a round ends with no such report, so it never idles with mail waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import aioimaplib

from hub.connectors.base import CheckpointStore
from hub.connectors.email.oauth import AccessTokens
from hub.connectors.email.settings import EmailAccount
from hub.connectors.email.wire import WatchedIMAP4, parse_fetch, parse_search

__all__ = [
    "FetchedMail",
    "ImapError",
    "MailboxWatcher",
    "checkpoint_key",
    "parse_fetch",
    "parse_search",
]

T = TypeVar("T")

_UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d+)")
_UIDNEXT = re.compile(rb"UIDNEXT (\d+)")


class ImapError(Exception):
    """The server refused a command or the connection broke."""


@dataclass(frozen=True, slots=True)
class FetchedMail:
    """One message as fetched: its bytes (or only its headers when over the limit)."""

    account: str
    mailbox: str
    uidvalidity: int
    uid: int
    raw: bytes
    size: int
    too_large: bool = False


Handler = Callable[[FetchedMail], Awaitable[object]]


def checkpoint_key(account: str, mailbox: str) -> str:
    return f"imap:{account}:{mailbox}"


class MailboxWatcher:
    """Keeps one mailbox of one account imported, for as long as it runs."""

    def __init__(
        self,
        account: EmailAccount,
        mailbox: str,
        handler: Handler,
        checkpoints: CheckpointStore,
        logger: logging.Logger,
        *,
        max_message_bytes: int,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.account = account
        self.mailbox = mailbox
        self.handler = handler
        self.checkpoints = checkpoints
        self.log = logger
        self.max_message_bytes = max_message_bytes
        self.rng = rng
        self.key = checkpoint_key(account.name, mailbox)
        self.idling = asyncio.Event()
        """Set while an IDLE is active (tests and health checks wait on it)."""
        self.failures = 0
        self.idles = 0
        """How many IDLE commands were issued (one per wake-up or renewal)."""
        self.searched: Callable[[list[int]], Awaitable[object]] | None = None
        """Awaited after each catch-up ``UID SEARCH`` with the UIDs it found, before
        they are fetched (tests land mail in the window before IDLE with it)."""
        self._lost = asyncio.Event()
        self._grew = False
        self._client: aioimaplib.IMAP4 | None = None
        self.tokens = AccessTokens(account) if account.auth == "oauth2" else None

    def __repr__(self) -> str:
        return f"<MailboxWatcher {self.account.name}:{self.mailbox}>"

    def backoff(self) -> float:
        """Seconds to wait after the ``failures``-th consecutive failure (equal jitter)."""
        ceiling = min(self.account.backoff_cap, self.account.backoff_base * 2.0**self.failures)
        return ceiling / 2 + self.rng() * ceiling / 2

    async def run(self) -> None:
        """Import, then follow the mailbox until cancelled; reconnect on any failure."""
        while True:
            try:
                await self.session()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.failures += 1
                delay = self.backoff()
                self.log.warning(
                    "imap %s:%s failed (%s: %s); reconnecting in %.1fs",
                    self.account.name,
                    self.mailbox,
                    type(exc).__name__,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)

    async def session(self) -> None:
        """One connection's life: returns only by raising (or cancellation)."""
        client = await self._connect()
        try:
            uidvalidity, uidnext = await self._select(client)
            last = await self._start_position(uidvalidity, uidnext)
            self.failures = 0
            idle = self.account.idle and client.has_capability("IDLE")
            while True:
                last = await self.catch_up(client, uidvalidity, last)
                if idle:
                    await self._idle(client)
                else:
                    await asyncio.sleep(self.account.poll_seconds)
                    await self._ok(client.noop(), "NOOP")
        finally:
            self.idling.clear()
            self._close(client)

    # -- connection --------------------------------------------------------
    async def _connect(self) -> aioimaplib.IMAP4:
        account = self.account
        if not (account.imap_host and account.username and (account.password or self.tokens)):
            raise ImapError(f"account {account.name!r} has no IMAP login configured")
        self._lost = asyncio.Event()
        lost = self._lost
        context = account.tls_context() if account.imap_security == "tls" else None
        client = WatchedIMAP4(
            on_exists=self._mail_reported,
            host=account.imap_host,
            port=account.imap_port_or_default,
            timeout=account.timeout_seconds,
            conn_lost_cb=lambda _exc: lost.set(),
            ssl_context=context,
        )
        self._client = client
        try:
            await self._call(client.wait_hello_from_server())
            if account.imap_security == "starttls":
                await self._starttls(client)
            if self.tokens is not None:
                token = await self.tokens.get()
                response = await self._call(client.xoauth2(account.username, token))
                if response.result != "OK":
                    self.tokens.invalidate()  # expired or revoked: a fresh one next time
                    raise ImapError(f"XOAUTH2 refused for {account.name!r}")
            else:
                assert account.password is not None
                response = await self._call(
                    client.login(account.username, account.password.get_secret_value())
                )
                if response.result != "OK":
                    raise ImapError(f"LOGIN refused for {account.name!r}")
        except BaseException:  # a refused login or a stop() mid-handshake: close the socket
            self._close(client)
            raise
        return client

    def _mail_reported(self) -> None:
        self._grew = True

    async def _starttls(self, client: aioimaplib.IMAP4) -> None:
        if not client.has_capability("STARTTLS"):
            raise ImapError("server does not offer STARTTLS")
        protocol = client.protocol
        command = aioimaplib.Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)
        await self._ok(protocol.execute(command), "STARTTLS")
        loop = asyncio.get_running_loop()
        transport = await loop.start_tls(
            protocol.transport,
            protocol,
            self.account.tls_context(),
            server_hostname=self.account.imap_host,
        )
        protocol.transport = transport
        await self._call(protocol.capability())

    def _close(self, client: aioimaplib.IMAP4) -> None:
        self._client = None
        transport = getattr(client.protocol, "transport", None)
        if transport is not None:
            transport.close()

    async def _call(self, awaitable: Awaitable[T]) -> T:
        """Await an IMAP command, failing at once if the connection drops."""
        task = asyncio.ensure_future(awaitable)
        lost = asyncio.ensure_future(self._lost.wait())
        try:
            done, _ = await asyncio.wait({task, lost}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost.cancel()
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if task in done and not task.cancelled():
            return task.result()
        raise ImapError("connection lost")

    async def _ok(self, awaitable: Awaitable[Any], what: str) -> Any:
        response = await self._call(awaitable)
        if response.result != "OK":
            raise ImapError(f"{what} answered {response.result}: {response.lines[-1:]!r}")
        return response

    # -- position ----------------------------------------------------------
    async def _select(self, client: aioimaplib.IMAP4) -> tuple[int, int | None]:
        response = await self._ok(client.select(self.mailbox), f"SELECT {self.mailbox}")
        text = b" ".join(bytes(line) for line in response.lines)
        validity = _UIDVALIDITY.search(text)
        if validity is None:
            raise ImapError("SELECT gave no UIDVALIDITY")
        uidnext = _UIDNEXT.search(text)
        return int(validity.group(1)), int(uidnext.group(1)) if uidnext else None

    async def _start_position(self, uidvalidity: int, uidnext: int | None) -> int:
        saved = await self.checkpoints.get(self.key)
        if saved is not None and saved.get("uidvalidity") == uidvalidity:
            return int(saved.get("last_uid", 0))
        if saved is not None:
            self.log.warning(
                "imap %s: UIDVALIDITY changed %s → %s; resyncing (deduped by Message-ID)",
                self.key,
                saved.get("uidvalidity"),
                uidvalidity,
            )
            last = 0
        else:
            last = 0 if self.account.start_from == "all" or uidnext is None else uidnext - 1
        await self.checkpoints.set(self.key, {"uidvalidity": uidvalidity, "last_uid": last})
        return last

    # -- fetching ----------------------------------------------------------
    async def catch_up(self, client: aioimaplib.IMAP4, uidvalidity: int, last: int) -> int:
        """Import every message with a UID above ``last``, and what lands meanwhile;
        returns the new last UID."""
        self._grew = True
        while self._grew:
            self._grew = False
            last = await self._import_new(client, uidvalidity, last)
        return last

    async def _import_new(self, client: aioimaplib.IMAP4, uidvalidity: int, last: int) -> int:
        # SEARCH answers in one line; a FETCH over the whole range would answer in
        # one line per message, and aioimaplib recurses once per line it parses.
        response = await self._ok(
            client.uid_search("UID", f"{last + 1}:*", charset=None), "UID SEARCH"
        )
        pending = sorted(uid for uid in parse_search(response.lines) if uid > last)
        if self.searched is not None:
            await self.searched(pending)
        batch = self.account.fetch_batch
        for start in range(0, len(pending), batch):
            chunk = pending[start : start + batch]
            listed = await self._fetch(client, chunk, "RFC822.SIZE")
            sizes = {uid: listed.get(uid, (None, None))[0] or 0 for uid in chunk}
            small = [u for u in chunk if sizes[u] <= self.max_message_bytes]
            large = [u for u in chunk if sizes[u] > self.max_message_bytes]
            fetched: dict[int, tuple[int | None, bytes | None]] = {}
            if small:
                fetched.update(await self._fetch(client, small, "BODY.PEEK[]"))
            if large:
                fetched.update(await self._fetch(client, large, "BODY.PEEK[HEADER]"))
            for uid in chunk:
                raw = fetched.get(uid, (None, None))[1]
                mail = None
                if raw is not None:
                    mail = FetchedMail(
                        account=self.account.name,
                        mailbox=self.mailbox,
                        uidvalidity=uidvalidity,
                        uid=uid,
                        raw=raw,
                        size=sizes[uid],
                        too_large=uid in large,
                    )
                await self._commit(mail, uidvalidity, uid)
                last = uid
        return last

    async def _commit(self, mail: FetchedMail | None, uidvalidity: int, uid: int) -> None:
        """Ingest, then advance the checkpoint. A stop lets this finish (for up to
        ``stop_grace_seconds``) so no store write is cut in half."""

        async def work() -> None:
            if mail is not None:
                await self.handler(mail)
            await self.checkpoints.set(self.key, {"uidvalidity": uidvalidity, "last_uid": uid})

        task = asyncio.ensure_future(work())
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(task, self.account.stop_grace_seconds)
            raise

    async def _fetch(
        self, client: aioimaplib.IMAP4, uids: list[int], part: str
    ) -> dict[int, tuple[int | None, bytes | None]]:
        uid_set = ",".join(str(u) for u in uids)
        response = await self._ok(client.uid("fetch", uid_set, f"(UID {part})"), "UID FETCH")
        return parse_fetch(response.lines)

    async def _idle(self, client: aioimaplib.IMAP4) -> None:
        renew = self.account.idle_renew_seconds
        idle = await self._call(client.idle_start(timeout=renew))
        self.idles += 1
        self.idling.set()
        try:
            while True:
                push = await self._call(client.wait_server_push(timeout=renew + 10))
                if push == aioimaplib.STOP_WAIT_SERVER_PUSH:
                    return
                if any(b"EXISTS" in bytes(line) for line in push):
                    return
        finally:
            self.idling.clear()
            with contextlib.suppress(Exception):  # never mask a cancellation or the real error
                if client.has_pending_idle():
                    client.idle_done()
                await self._call(asyncio.wait_for(idle, self.account.timeout_seconds))
