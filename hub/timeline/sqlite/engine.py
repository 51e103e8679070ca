"""One SQLite connection on one thread; a unit of work is one hop to it, and units
that arrive together share one commit.

The standard library's ``sqlite3`` blocks, so the connection lives on a
dedicated thread. :meth:`Engine.call` runs a function there (a read) and
:meth:`Engine.unit` runs one as a unit of work: the whole function — reads,
decisions, writes — crosses between the event loop and the database once,
however many statements it runs. (Running the same work on the event loop
itself measured no faster, and would stall every socket during a slow query.)

**Group commit.** The thread takes every call waiting in its queue at once.
The units among them run inside one ``BEGIN IMMEDIATE`` … ``COMMIT``, each in a
savepoint of its own: a unit that raises is rolled back alone, and every unit
is answered only after the commit that made it durable. Under load, one commit
(the expensive part: the WAL write) serves many messages; a lone message still
gets its own transaction at once. Reads in the batch see the writes queued
before them, as they would one by one.

The helpers :func:`one`, :func:`rows` and :func:`run` are for code running on
that thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["BUSY_TIMEOUT_SECONDS", "Engine", "Params", "Row", "one", "rows", "run"]

T = TypeVar("T")
Row = dict[str, Any]
Params = Sequence[Any]

BUSY_TIMEOUT_SECONDS = 10.0
MEMORY = ":memory:"
MAX_BATCH = 256


def _row(cursor: sqlite3.Cursor, values: tuple[Any, ...]) -> Row:
    return {column[0]: value for column, value in zip(cursor.description, values, strict=True)}


def one(conn: sqlite3.Connection, sql: str, params: Params = ()) -> Row | None:
    """The first row of ``sql``, or ``None``."""
    found: Row | None = conn.execute(sql, params).fetchone()
    return found


def rows(conn: sqlite3.Connection, sql: str, params: Params = ()) -> list[Row]:
    """Every row of ``sql``."""
    found: list[Row] = conn.execute(sql, params).fetchall()
    return found


def run(conn: sqlite3.Connection, sql: str, params: Params = ()) -> int:
    """Run a statement; the number of rows it changed."""
    return conn.execute(sql, params).rowcount


@dataclass(slots=True)
class _Call:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    write: bool
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    result: Any = None
    error: BaseException | None = None
    done: bool = False


_STOP = object()


class Engine:
    """The connection to one SQLite file, owned by one worker thread.

    ``call(fn, *args)`` runs ``fn(conn, *args)`` there and returns its result;
    ``unit(fn, *args)`` does the same inside a transaction (shared with the
    units queued beside it, see the module docstring). Calls run in the order
    made. ``on_statement`` (tests, benchmarks) sees every statement the
    connection runs; ``on_commit`` every commit (with how many units it held).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._queue: queue.SimpleQueue[_Call | object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.on_statement: Callable[[str], None] | None = None
        self.on_commit: Callable[[int], None] | None = None

    @property
    def is_open(self) -> bool:
        return self._thread is not None

    async def open(self) -> None:
        if self._thread is not None:
            return
        if str(self.path) != MEMORY:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._queue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name="omnihub-sqlite", daemon=True)
        self._thread.start()
        try:
            await self.call(lambda _conn: None)
        except BaseException:
            await self.close()
            raise

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path,
            timeout=BUSY_TIMEOUT_SECONDS,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            conn.row_factory = _row
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.set_trace_callback(self._trace)
        except BaseException:
            conn.close()
            raise
        return conn

    def _trace(self, sql: str) -> None:
        if self.on_statement is not None:
            self.on_statement(sql)

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(conn, *args)`` on the database thread (one hop)."""
        return await self._submit(fn, args, write=False)

    async def unit(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(conn, *args)`` as a unit of work: committed before it answers,
        rolled back alone if it raises."""
        return await self._submit(fn, args, write=True)

    async def _submit(self, fn: Callable[..., T], args: tuple[Any, ...], *, write: bool) -> T:
        if self._thread is None:
            raise RuntimeError("SQLiteStore is not open; call open() first")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Call(fn, args, write, loop, future))
        return await future

    # -- the database thread ------------------------------------------------------

    def _work(self) -> None:
        conn: sqlite3.Connection | None = None
        connect_error: BaseException | None = None
        try:
            conn = self._connect()
        except BaseException as exc:
            connect_error = exc
        while True:
            first = self._queue.get()
            if first is _STOP:
                break
            assert isinstance(first, _Call)
            batch = [first]
            stop = False
            while len(batch) < MAX_BATCH:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stop = True
                    break
                assert isinstance(nxt, _Call)
                batch.append(nxt)
            if conn is None:
                for item in batch:
                    item.error = connect_error or RuntimeError("no database connection")
            else:
                self._run_batch(conn, batch)
            self._answer(batch)
            if stop:
                break
        if conn is not None:
            conn.close()

    def _run_batch(self, conn: sqlite3.Connection, batch: list[_Call]) -> None:
        writes = [item for item in batch if item.write]
        began = False
        if writes:
            try:
                conn.execute("BEGIN IMMEDIATE")
                began = True
            except BaseException as exc:
                for item in writes:
                    item.error = exc
                    item.done = True
        for index, item in enumerate(batch):
            if item.done:
                continue
            if item.write:
                savepoint = f"u{index}"
                conn.execute(f"SAVEPOINT {savepoint}")
                try:
                    item.result = item.fn(conn, *item.args)
                except BaseException as exc:
                    item.error = exc
                    conn.execute(f"ROLLBACK TO {savepoint}")
                conn.execute(f"RELEASE {savepoint}")
            else:
                try:
                    item.result = item.fn(conn, *item.args)
                except BaseException as exc:
                    item.error = exc
        if began:
            try:
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                for item in writes:
                    if item.error is None:
                        item.error = exc
            else:
                if self.on_commit is not None:
                    self.on_commit(len(writes))

    @staticmethod
    def _answer(batch: list[_Call]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[_Call]] = {}
        for item in batch:
            by_loop.setdefault(item.loop, []).append(item)
        for loop, items in by_loop.items():
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting
                loop.call_soon_threadsafe(_settle, items)

    async def close(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._queue.put(_STOP)
        await asyncio.get_running_loop().run_in_executor(None, thread.join)


def _settle(items: list[_Call]) -> None:
    for item in items:
        if item.future.done():
            continue
        if item.error is not None:
            item.future.set_exception(item.error)
        else:
            item.future.set_result(item.result)
