"""What the watcher reads off the IMAP wire: FETCH and SEARCH answers, and
every ``* n EXISTS`` the server sends.

A refused XOAUTH2 token arrives as a SASL challenge (``+ <error>``) that
must be answered before the server's ``NO``; aioimaplib would wait for ever.

A server reports each new message once, in an untagged ``EXISTS`` attached to
whatever command is running when it notices the message (a FETCH, a SEARCH,
the start of IDLE). aioimaplib hands such a line to a command only when one
claims it (IDLE, NOOP, a sync command) and drops it otherwise, so mail landing
while the watcher fetches would go unnoticed until the next push.
:class:`WatchedIMAP4` tells the watcher about every one it receives.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Callable
from typing import Any

import aioimaplib

__all__ = ["WatchedIMAP4", "parse_fetch", "parse_search"]

_FETCH_LINE = re.compile(rb"^\d+ FETCH \(")
_UID = re.compile(rb"UID (\d+)")
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")
_SEARCH = re.compile(rb"(?:SEARCH)?[\d ]*")
_EXISTS = re.compile(rb"(?:\* )?\d+ EXISTS")


def parse_fetch(lines: list[Any]) -> dict[int, tuple[int | None, bytes | None]]:
    """``UID FETCH`` response lines → ``{uid: (size, literal bytes)}``."""
    out: dict[int, tuple[int | None, bytes | None]] = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        if isinstance(line, bytes | bytearray) and _FETCH_LINE.match(bytes(line)):
            head = bytes(line)
            literal: bytes | None = None
            if i + 1 < len(lines) and isinstance(lines[i + 1], bytearray):
                literal = bytes(lines[i + 1])
                i += 1
                if i + 1 < len(lines) and isinstance(lines[i + 1], bytes):
                    head += b" " + lines[i + 1]
                    i += 1
            uid = _UID.search(head)
            size = _SIZE.search(head)
            if uid:
                out[int(uid.group(1))] = (int(size.group(1)) if size else None, literal)
        i += 1
    return out


def parse_search(lines: list[Any]) -> list[int]:
    """``UID SEARCH`` response lines → the UIDs."""
    uids: list[int] = []
    for line in lines[:-1]:  # the last line is the tagged status text
        if isinstance(line, bytes | bytearray) and _SEARCH.fullmatch(bytes(line).strip()):
            uids += [int(tok) for tok in bytes(line).split() if tok.isdigit()]
    return uids


class _Protocol(aioimaplib.IMAP4ClientProtocol):  # type: ignore[misc]
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        conn_lost_cb: Callable[[Exception | None], None] | None,
        on_exists: Callable[[], None],
    ) -> None:
        super().__init__(loop, conn_lost_cb)
        self.on_exists = on_exists

    def _continuation(self, line: bytes) -> None:
        pending = self.pending_sync_command
        if pending is not None and pending.name == "AUTHENTICATE":
            # A refused XOAUTH2/OAUTHBEARER token comes as a "+ <error>" challenge the
            # client must answer with an empty line before the server says NO.
            self.transport.write(b"\r\n")
            return
        super()._continuation(line)

    def _untagged_response(self, line: bytes) -> Any:
        if _EXISTS.fullmatch(line.strip()):
            self.on_exists()
        return super()._untagged_response(line)


class WatchedIMAP4(aioimaplib.IMAP4):  # type: ignore[misc]
    """``aioimaplib.IMAP4`` that calls ``on_exists()`` for every untagged
    ``EXISTS`` it receives, whichever command it came with."""

    def __init__(self, *, on_exists: Callable[[], None], **kwargs: Any) -> None:
        self._on_exists = on_exists
        super().__init__(**kwargs)

    def create_client(
        self,
        host: str,
        port: int,
        loop: asyncio.AbstractEventLoop | None,
        conn_lost_cb: Callable[[Exception | None], None] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        local_loop = loop if loop is not None else asyncio.get_running_loop()
        self.protocol = _Protocol(local_loop, conn_lost_cb, self._on_exists)
        self._client_task = local_loop.create_task(
            local_loop.create_connection(lambda: self.protocol, host, port, ssl=ssl_context)
        )
