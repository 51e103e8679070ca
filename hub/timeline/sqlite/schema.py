"""The SQLite schema: tables, unique constraints and indexes, and its upgrades.

Times are ISO-8601 UTC text with microseconds (they sort lexically); lists and
dicts are JSON text. ``events.seq`` is the rowid, so it only ever increases.

``SCHEMA`` is the current shape (idempotent DDL: a fresh database gets it
whole). The database's ``PRAGMA user_version`` says which shape it has;
:data:`MIGRATIONS` are the ordered steps from one version to the next (release
0.1.0 wrote version 1). :func:`create_schema` runs the steps a database lacks,
then the idempotent DDL (new tables and indexes), in one transaction; a
database from a newer release is refused rather than guessed at.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from hub.errors import ConfigError
from hub.timeline.sqlite.handoff import HANDOFF_SCHEMA
from hub.timeline.sqlite.outbox import OUTBOX_SCHEMA
from hub.timeline.sqlite.quarantine import QUARANTINE_SCHEMA
from hub.timeline.sqlite.search import BACKFILL, SEARCH_SCHEMA
from hub.timeline.sqlite.webhooks import WEBHOOK_SCHEMA


@dataclass(frozen=True, slots=True)
class Migration:
    """One upgrade step: the statements that take schema ``version - 1`` to ``version``.

    Steps only alter what exists (``ALTER TABLE … ADD COLUMN``, data fixes);
    new tables and indexes come from the idempotent ``SCHEMA`` that runs after them.
    """

    version: int
    summary: str
    statements: tuple[str, ...]


FIRST_VERSION = 1
"""The version release 0.1.0 wrote, where the steps start."""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        2,
        "conversations remember the channel the customer is on; expected replies get a table",
        (
            "ALTER TABLE conversations ADD COLUMN customer_channel TEXT",
            """
            UPDATE conversations SET customer_channel = (
                SELECT CASE WHEN e.kind = 'handoff' THEN json_extract(e.meta, '$.to')
                            ELSE e.channel END
                FROM events e
                WHERE e.conversation_id = conversations.id AND (
                    e.kind = 'handoff'
                    OR (e.direction = 'in' AND e.kind IN ('message', 'call', 'voicemail'))
                )
                ORDER BY e.seq DESC LIMIT 1
            )
            """,
            """
            CREATE TABLE IF NOT EXISTS expectations (
                identity TEXT PRIMARY KEY,
                customer_id TEXT NOT NULL,
                conversation_id TEXT NOT NULL,
                until TEXT NOT NULL,
                purpose TEXT NOT NULL
            )
            """,
            """
            INSERT OR REPLACE INTO expectations
                (identity, customer_id, conversation_id, until, purpose)
            SELECT substr(key, 8), json_extract(value, '$.customer_id'),
                   json_extract(value, '$.conversation_id'),
                   strftime('%Y-%m-%dT%H:%M:%f000+00:00', json_extract(value, '$.until')),
                   'text_me'
            FROM checkpoints WHERE connector = 'handoff' AND key LIKE 'expect:%'
            """,
            "DELETE FROM checkpoints WHERE connector = 'handoff' AND key LIKE 'expect:%'",
        ),
    ),
    Migration(3, "search: the events' text and subject get a full-text index", BACKFILL),
)
"""Every upgrade step, in order (versions ``FIRST_VERSION + 1`` onwards)."""

SCHEMA_VERSION = FIRST_VERSION + len(MIGRATIONS)

SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS customers (
        id TEXT PRIMARY KEY,
        name TEXT,
        attributes TEXT NOT NULL DEFAULT '{}',
        merged_into TEXT,
        pending TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS customers_merged_into ON customers (merged_into)",
    "CREATE INDEX IF NOT EXISTS customers_pending ON customers (pending) WHERE pending IS NOT NULL",
    """
    CREATE TABLE IF NOT EXISTS identities (
        n INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL UNIQUE,
        customer_id TEXT NOT NULL,
        origin_customer_id TEXT NOT NULL,
        linked_at TEXT NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS identities_customer ON identities (customer_id, n)",
    "CREATE INDEX IF NOT EXISTS identities_origin ON identities (origin_customer_id)",
    """
    CREATE TABLE IF NOT EXISTS conversations (
        id TEXT PRIMARY KEY,
        customer_id TEXT NOT NULL,
        origin_customer_id TEXT NOT NULL,
        status TEXT NOT NULL,
        subject TEXT,
        assignee TEXT,
        priority TEXT NOT NULL,
        tags TEXT NOT NULL DEFAULT '[]',
        channels TEXT NOT NULL DEFAULT '[]',
        last_channel TEXT,
        opened_at TEXT NOT NULL,
        last_activity_at TEXT NOT NULL,
        last_message_preview TEXT,
        waiting_since TEXT,
        first_response_at TEXT,
        resolved_at TEXT,
        snoozed_until TEXT,
        open_key TEXT UNIQUE,
        customer_channel TEXT
    )
    """,
    """CREATE INDEX IF NOT EXISTS conversations_customer
        ON conversations (customer_id, last_activity_at)""",
    """CREATE INDEX IF NOT EXISTS conversations_activity
        ON conversations (last_activity_at, id)""",
    """CREATE INDEX IF NOT EXISTS conversations_waiting
        ON conversations (waiting_since, id) WHERE waiting_since IS NOT NULL""",
    "CREATE INDEX IF NOT EXISTS conversations_origin ON conversations (origin_customer_id)",
    """
    CREATE TABLE IF NOT EXISTS events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        dedupe_key TEXT NOT NULL UNIQUE,
        customer_id TEXT NOT NULL,
        origin_customer_id TEXT NOT NULL,
        conversation_id TEXT,
        channel TEXT NOT NULL,
        direction TEXT NOT NULL,
        kind TEXT NOT NULL,
        author TEXT,
        text TEXT,
        html TEXT,
        subject TEXT,
        attachments TEXT NOT NULL DEFAULT '[]',
        external_id TEXT,
        thread_ref TEXT,
        identity TEXT,
        occurred_at TEXT NOT NULL,
        received_at TEXT NOT NULL,
        meta TEXT NOT NULL DEFAULT '{}',
        delivery_status TEXT,
        delivery_attempts INTEGER,
        next_attempt_at TEXT,
        lease_until TEXT,
        lease_token TEXT,
        provider_id TEXT,
        delivery_error TEXT,
        delivery_updated_at TEXT
    )
    """,
    "CREATE INDEX IF NOT EXISTS events_customer ON events (customer_id, seq)",
    "CREATE INDEX IF NOT EXISTS events_conversation ON events (conversation_id, seq)",
    "CREATE INDEX IF NOT EXISTS events_origin ON events (origin_customer_id)",
    """CREATE INDEX IF NOT EXISTS events_thread_ref
        ON events (thread_ref, seq) WHERE thread_ref IS NOT NULL""",
    """CREATE INDEX IF NOT EXISTS events_provider_id
        ON events (channel, provider_id) WHERE provider_id IS NOT NULL""",
    """
    CREATE TABLE IF NOT EXISTS expectations (
        identity TEXT PRIMARY KEY,
        customer_id TEXT NOT NULL,
        conversation_id TEXT NOT NULL,
        until TEXT NOT NULL,
        purpose TEXT NOT NULL
    )
    """,
    """CREATE INDEX IF NOT EXISTS events_outbox
        ON events (delivery_status, next_attempt_at, seq) WHERE delivery_status IS NOT NULL""",
    """
    CREATE TABLE IF NOT EXISTS checkpoints (
        connector TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (connector, key)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS api_tokens (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        revoked_at TEXT
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS agents (
        id TEXT PRIMARY KEY,
        email TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0,
        session_epoch INTEGER NOT NULL DEFAULT 0,
        failed_sign_ins INTEGER NOT NULL DEFAULT 0,
        locked_until TEXT,
        last_sign_in_at TEXT,
        created_at TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS read_marks (
        agent_id TEXT NOT NULL,
        conversation_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (agent_id, conversation_id)
    )
    """,
)


def pending_steps(version: int) -> tuple[Migration, ...]:
    """The steps a database at ``version`` still needs (a fresh one, 0, needs none)."""
    if version > SCHEMA_VERSION:
        raise ConfigError(
            f"the database has schema version {version}, from a newer release of Omnihub "
            f"(this one knows up to {SCHEMA_VERSION}); upgrade Omnihub or use another database"
        )
    if version == 0:
        return ()
    return tuple(m for m in MIGRATIONS if m.version > version)


def create_schema(conn: sqlite3.Connection) -> None:
    """Upgrade an existing database and create what is missing, in one transaction.

    The version is read inside the write transaction, so two processes opening
    one file at once upgrade it once.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        row = conn.execute("PRAGMA user_version").fetchone()
        version = int(row["user_version"]) if row else 0
        for step in pending_steps(version):
            for statement in step.statements:
                conn.execute(statement)
        for statement in (
            *SCHEMA,
            *HANDOFF_SCHEMA,
            *OUTBOX_SCHEMA,
            *QUARANTINE_SCHEMA,
            *SEARCH_SCHEMA,
            *WEBHOOK_SCHEMA,
        ):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
