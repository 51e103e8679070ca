"""One SQLite connection on one thread; a unit of work is one hop to it.

The standard library's ``sqlite3`` blocks, so the connection lives on a
dedicated thread and :meth:`Engine.call` runs a whole function there: a unit
of work (reads, decisions, writes, ``COMMIT``) crosses between the event loop
and the database once, however many statements it runs. Statements are
microseconds; the hop is what costs, so the adapter counts hops, not
statements.

The helpers :func:`one`, :func:`rows` and :func:`run` are for code running on
that thread.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["BUSY_TIMEOUT_SECONDS", "Engine", "Params", "Row", "one", "rows", "run"]

T = TypeVar("T")
Row = dict[str, Any]
Params = Sequence[Any]

BUSY_TIMEOUT_SECONDS = 10.0
MEMORY = ":memory:"


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


class Engine:
    """The connection to one SQLite file, owned by one worker thread.

    ``call(fn, *args)`` runs ``fn(conn, *args)`` on that thread and returns its
    result: one hop. Calls run one at a time in the order made.
    ``on_statement`` (tests, benchmarks) sees every statement the connection runs.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        self.on_statement: Callable[[str], None] | None = None

    @property
    def is_open(self) -> bool:
        return self._conn is not None

    async def open(self) -> None:
        if self._conn is not None:
            return
        if str(self.path) != MEMORY:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="omnihub-sqlite")
        loop = asyncio.get_running_loop()
        try:
            self._conn = await loop.run_in_executor(self._executor, self._connect)
        except BaseException:
            self._executor.shutdown(wait=False)
            self._executor = None
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
            conn.execute("PRAGMA foreign_keys = OFF")
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
        conn, executor = self._conn, self._executor
        if conn is None or executor is None:
            raise RuntimeError("SQLiteStore is not open; call open() first")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(executor, functools.partial(fn, conn, *args))

    async def close(self) -> None:
        conn, executor = self._conn, self._executor
        self._conn = self._executor = None
        if conn is None or executor is None:
            return
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(executor, conn.close)
        finally:
            executor.shutdown(wait=True)
