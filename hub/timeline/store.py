"""The ``TimelineStore`` port: everything the hub persists, behind one protocol.

Two adapters implement it, :mod:`hub.timeline.sqlite` (embedded default) and
:mod:`hub.timeline.mongo` (production), and both pass one contract suite
(``tests/timeline/test_store_contract.py``). Only :mod:`hub.pipeline`, the
outbox, the API and the CLI use a store; connectors never do.

Rules every adapter follows:

* Timeline writes are **units of work** (:mod:`hub.timeline.work`): ``run``
  takes a plan, answers its reads and applies what it returns atomically, in
  the fewest round trips the engine allows. A unit is idempotent on its last
  event's ``dedupe_key`` (``channel`` + ``external_id``): a duplicate writes
  nothing and answers with the stored event. Appending assigns ``Event.seq``
  and ``origin_customer_id`` and folds each event into its conversation's
  summary (:mod:`hub.timeline.fold`). ``append_event`` is a unit of one event.
* A customer's events take effect in ``seq`` order: a reader paging a timeline
  by cursor never passes an event whose unit has not committed.
* Timelines page by opaque cursors over ``seq``; pages hold items oldest first.
* Merge and unmerge use single-document atomic operations only (no
  multi-document transactions), are idempotent, and are safe to re-run after a
  crash half-way. Unmerge restores every identity, conversation and event whose
  ``origin_customer_id`` is the unmerged customer (or a customer merged into it).
* Outbox: ``claim_outbound`` hands each due message to exactly one claimant
  under a lease (renewable while the send runs) and fails a message whose last
  allowed attempt never finished; ``record_delivery`` with the lease token ends
  the claim, and the outcome of a send whose lease ran out is still recorded
  if nobody recorded one since; provider callbacks (``report_status``) only
  move a status forward, and one that arrives before its provider id is known
  is kept and applied when the id is recorded.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from hub.timeline.handoff import HandoffRecords
from hub.timeline.model import (
    Agent,
    AgentRole,
    ApiToken,
    Conversation,
    ConversationStatus,
    Customer,
    DeliveryStatus,
    Event,
    Identity,
    Priority,
    ReadMark,
)
from hub.timeline.quarantine import QuarantineRecords
from hub.timeline.search import SearchPage, SearchQuery
from hub.timeline.webhooks import WebhookRecords
from hub.timeline.work import Outcome, PlanFactory, Read

__all__ = [
    "AgentUpdate",
    "ConversationPage",
    "ConversationUpdate",
    "DeliveryUpdate",
    "EventPage",
    "InboxFilter",
    "InvalidCursor",
    "TimelineStore",
    "decode_cursor",
    "encode_cursor",
]

Direction = Literal["older", "newer"]
InboxSort = Literal["last_activity", "waiting"]


class InvalidCursor(ValueError):
    """A cursor this store did not issue."""


def encode_cursor(*parts: Any) -> str:
    """Pack cursor parts (JSON-able) into an opaque URL-safe string."""
    raw = json.dumps(list(parts), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    """Unpack a cursor made by :func:`encode_cursor`; raise :class:`InvalidCursor`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidCursor("cursor: not a cursor issued by this hub") from None
    if not isinstance(parts, list) or len(parts) != arity:
        raise InvalidCursor("cursor: not a cursor issued by this hub")
    return parts


@dataclass(frozen=True, slots=True)
class EventPage:
    """A page of events, oldest first.

    ``older`` continues towards the past (``None`` when nothing is older);
    ``newer`` is the position after the last item, always set so a client can
    resume from it later; ``has_newer`` says whether more exist right now.
    """

    items: list[Event]
    older: str | None
    newer: str
    has_newer: bool


@dataclass(frozen=True, slots=True)
class ConversationPage:
    """A page of an inbox listing in its sort order; ``next`` continues it."""

    items: list[Conversation]
    next: str | None


@dataclass(frozen=True, slots=True)
class InboxFilter:
    """Which conversations an inbox lists. Empty ``status`` means any status.

    ``assignee`` filters to one agent; ``unassigned=True`` to nobody's.
    ``channel`` matches conversations that used that channel at all.
    """

    status: tuple[ConversationStatus, ...] = (
        ConversationStatus.OPEN,
        ConversationStatus.PENDING,
    )
    assignee: str | None = None
    unassigned: bool = False
    priority: Priority | None = None
    channel: str | None = None
    customer_id: str | None = None


_UNSET: Any = object()


@dataclass(frozen=True, slots=True)
class ConversationUpdate:
    """Fields to change on a conversation; fields left unset are untouched.

    Setting ``status`` to resolved stamps ``resolved_at``; any other status
    clears it.
    """

    status: ConversationStatus | None = None
    subject: str | None = None
    assignee: str | None = _UNSET
    priority: Priority | None = None
    tags: list[str] | None = None
    snoozed_until: datetime | None = _UNSET

    def changes(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in ("status", "subject", "priority", "tags"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        for name in ("assignee", "snoozed_until"):
            value = getattr(self, name)
            if value is not _UNSET:
                out[name] = value
        return out


@dataclass(frozen=True, slots=True)
class AgentUpdate:
    """Fields to change on an agent; ``None`` leaves a field untouched.

    A new ``password_hash``, ``disabled=True`` or ``end_sessions=True`` bumps
    ``session_epoch`` (signing everyone out of that account).
    """

    name: str | None = None
    role: AgentRole | None = None
    password_hash: str | None = None
    disabled: bool | None = None
    end_sessions: bool = False


@dataclass(frozen=True, slots=True)
class DeliveryUpdate:
    """A delivery status change. ``next_attempt_at`` only with ``QUEUED`` (a retry)."""

    status: DeliveryStatus
    provider_id: str | None = None
    error: str | None = None
    next_attempt_at: datetime | None = None
    at: datetime | None = None
    meta: dict[str, Any] = field(default_factory=dict)


class TimelineStore(HandoffRecords, QuarantineRecords, WebhookRecords, Protocol):
    """The persistence port. See the module docstring for the rules.

    The handoff section (suggested links, used link tokens) is
    :class:`~hub.timeline.handoff.HandoffRecords`.
    """

    # -- lifecycle -------------------------------------------------------
    async def open(self) -> None:
        """Connect and create schema and indexes (idempotent)."""

    async def close(self) -> None:
        """Release connections; safe to call twice."""

    async def health(self) -> dict[str, Any]:
        """A small dict for ``/healthz``: at least ``{"store": kind, "ok": bool}``."""

    # -- units of work -----------------------------------------------------
    async def run(self, plan: PlanFactory) -> Outcome:
        """Run a plan and apply its writes atomically (see :mod:`hub.timeline.work`)."""

    async def read(self, request: Read) -> Any:
        """Answer one read outside a unit (:func:`hub.timeline.work.drive`)."""

    # -- customers ---------------------------------------------------------
    async def get_customer(self, customer_id: str) -> Customer:
        """The customer as stored (merged ones included); NotFound if absent."""

    async def get_customers(self, customer_ids: list[str]) -> dict[str, Customer]:
        """The customers with these ids (absent ones left out), in one round trip or two."""

    async def find_customer(self, identity: Identity) -> Customer | None:
        """The customer owning ``identity``, following ``merged_into`` to the survivor."""

    async def create_customer(
        self,
        *,
        name: str | None = None,
        identities: tuple[Identity, ...] = (),
        attributes: dict[str, Any] | None = None,
    ) -> Customer:
        """A new customer; IdentityTaken if one of ``identities`` is owned already."""

    async def get_or_create_customer(
        self, identity: Identity, *, name: str | None = None
    ) -> tuple[Customer, bool]:
        """The owner of ``identity`` or a new customer holding it; safe under races."""

    async def update_customer(
        self,
        customer_id: str,
        *,
        name: str | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> Customer:
        """Set the name and/or merge ``attributes`` into the existing ones."""

    async def link_identity(self, customer_id: str, identity: Identity) -> Customer:
        """Attach ``identity``; no-op if already this customer's, IdentityTaken if another's."""

    async def merge_customers(self, source_id: str, target_id: str) -> Customer:
        """Fold ``source`` into ``target``: re-point identities, conversations, events.

        Returns the target. Re-running it finishes a merge interrupted half-way.
        Conflict if ``source == target`` or either is merged into something else.
        """

    async def unmerge_customer(self, source_id: str) -> Customer:
        """Undo the merge of ``source``: everything it brought goes back to it."""

    # -- conversations -----------------------------------------------------
    async def merge_conversations(self, source_id: str, target_id: str) -> Conversation:
        """Move every event of ``source_id`` into ``target_id`` (same customer; each marked
        ``meta.merged_from = source_id`` unless a merge moved it already), resolve the
        source and refold the target (status and what agents set kept); the target.
        Conflict for two customers' conversations or a conversation into itself."""

    async def unmerge_conversation(self, source_id: str) -> list[Conversation]:
        """Undo :meth:`merge_conversations`: events marked ``merged_from = source_id`` go
        back, the source reopens; the source, then the conversations they left, refolded.
        Conflict if nothing was merged from it."""

    async def open_conversation(
        self,
        customer_id: str,
        *,
        channel: str,
        subject: str | None = None,
        open_key: str | None = None,
    ) -> Conversation:
        """A new open conversation; with ``open_key``, the existing one if that key was used."""

    async def get_conversation(self, conversation_id: str) -> Conversation:
        """NotFound if absent."""

    async def update_conversation(
        self, conversation_id: str, update: ConversationUpdate
    ) -> Conversation:
        """Apply ``update``; NotFound if absent."""

    async def find_open_conversation(
        self, customer_id: str, *, channel: str | None = None
    ) -> Conversation | None:
        """The customer's most recently active conversation that is not resolved.

        With ``channel``, only conversations that used that channel.
        """

    async def list_conversations(
        self,
        inbox: InboxFilter,
        *,
        sort: InboxSort = "last_activity",
        cursor: str | None = None,
        limit: int = 50,
    ) -> ConversationPage:
        """An inbox page. ``last_activity``: most recent first. ``waiting``: only
        conversations awaiting our reply, longest-waiting first."""

    # -- events ------------------------------------------------------------
    async def append_event(self, event: Event) -> tuple[Event, bool]:
        """Append ``event`` as a unit of its own; ``(stored, created)``."""

    async def get_event(self, event_id: str) -> Event:
        """NotFound if absent."""

    async def find_event(self, channel: str, external_id: str) -> Event | None:
        """The event stored under ``(channel, external_id)``."""

    async def find_event_by_provider_id(self, channel: str, provider_id: str) -> Event | None:
        """The outbound event whose delivery got ``provider_id`` from the provider."""

    async def amend_event(
        self, event_id: str, change: Callable[[Event], Event | None]
    ) -> Event | None:
        """Replace an event's ``text``, ``html`` and ``meta`` by ``change(event)`` atomically.

        ``change`` is pure and may run more than once (a store that races
        another writer reads again); ``None`` from it changes nothing. Returns
        the changed event, ``None`` when unchanged; raises ``NotFound``.
        """

    async def find_event_by_thread_ref(self, refs: list[str]) -> Event | None:
        """The most recent event whose ``thread_ref`` is one of ``refs``."""

    async def events(
        self,
        *,
        customer_id: str | None = None,
        conversation_id: str | None = None,
        cursor: str | None = None,
        direction: Direction = "older",
        limit: int = 50,
    ) -> EventPage:
        """Page a customer's timeline or a conversation (exactly one of the two ids).

        Without a cursor, ``older`` gives the latest page and ``newer`` the first.
        With one, the events strictly before / after it.
        """

    async def macro_usage(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> dict[str, int]:
        """Replies sent from each macro (``meta.macro``) with ``occurred_at`` in
        [``since``, ``until``), by macro id."""

    async def search(
        self, query: SearchQuery, *, cursor: str | None = None, limit: int = 20
    ) -> SearchPage:
        """Events of every customer matching ``query``, newest first (``seq``
        descending); ``next`` pages on. The index is written with the append, in
        its transaction (see :mod:`hub.timeline.search`)."""

    async def conversation_events(self, conversation_ids: list[str]) -> dict[str, list[Event]]:
        """Every event of each conversation, oldest first (reports read many at once)."""

    async def report_marks(self, since: datetime) -> dict[str, tuple[str, str]]:
        """For each conversation active since ``since``: a mark of its events (their count
        and ``seq`` sum: moves when one is appended or moved in or out; an amendment —
        reaction, edit, deletion — changes no metric and leaves it) and a mark of all a
        report reads of it (its stored fields, its customer's ``updated_at``, the events
        mark). Reports cache on them."""

    # -- outbox ------------------------------------------------------------
    async def claim_outbound(
        self,
        *,
        now: datetime,
        lease_seconds: float,
        limit: int = 10,
        max_attempts: int | None = None,
    ) -> list[Event]:
        """Claim up to ``limit`` due outbound events (queued and due, or sending with
        an expired lease): status → sending, attempts + 1, a fresh lease token. One
        whose lease ran out on attempt ``max_attempts`` is failed instead (returned
        with status failed, not to be sent)."""

    async def outbox_backlog(self) -> tuple[int, datetime | None]:
        """Outbound events not yet sent (queued or sending) and when the oldest was queued."""

    async def renew_lease(self, event_id: str, lease_token: str, *, until: datetime) -> bool:
        """Extend a claim while its send runs; ``False`` if the claim is no longer held."""

    async def record_delivery(
        self, event_id: str, update: DeliveryUpdate, *, lease_token: str | None = None
    ) -> Event | None:
        """Record a delivery change. With ``lease_token``: while that claim holds (ends
        it), or — a final outcome of a send whose lease ran out — while no outcome was
        recorded since. Without: only if the status moves forward. ``None`` if not
        applied. Recording a ``provider_id`` applies a status kept for it."""

    async def report_status(
        self, channel: str, provider_id: str, update: DeliveryUpdate
    ) -> Event | None:
        """A provider's status callback for the message it knows as ``provider_id``:
        applied if it moves the status forward; kept for later (``None``) when no
        message has that provider id yet."""

    # -- connector checkpoints ---------------------------------------------
    async def get_checkpoint(self, connector: str, key: str) -> dict[str, Any] | None:
        """A connector's saved position (e.g. IMAP UIDVALIDITY + last UID)."""

    async def set_checkpoint(self, connector: str, key: str, value: dict[str, Any]) -> None:
        """Save a connector's position, replacing the previous one."""

    # -- API tokens --------------------------------------------------------
    async def create_api_token(self, name: str, token_hash: str) -> ApiToken:
        """Store a token by its hash (the token itself is never stored)."""

    async def find_api_token(self, token_hash: str) -> ApiToken | None:
        """The live (not revoked) token with this hash."""

    async def list_api_tokens(self) -> list[ApiToken]:
        """All tokens, revoked ones included."""

    async def revoke_api_token(self, token_id: str) -> None:
        """Revoke; NotFound if absent."""

    # -- agents (hub.agent) ----------------------------------------------------
    async def create_agent(
        self, *, email: str, name: str, password_hash: str, role: AgentRole = AgentRole.AGENT
    ) -> Agent:
        """A new agent; ``email`` is stored lower-case. Conflict if it is taken."""

    async def get_agent(self, agent_id: str) -> Agent:
        """NotFound if absent."""

    async def find_agent(self, email: str) -> Agent | None:
        """The agent with this email (any case), disabled ones included."""

    async def list_agents(self) -> list[Agent]:
        """Every agent, oldest first."""

    async def update_agent(self, agent_id: str, update: AgentUpdate) -> Agent:
        """Apply ``update`` (see :class:`AgentUpdate`); NotFound if absent."""

    async def record_sign_in(
        self,
        agent_id: str,
        *,
        ok: bool,
        now: datetime,
        max_failures: int,
        lockout_seconds: float,
    ) -> Agent:
        """Count a sign-in attempt, atomically.

        ``ok``: reset the failure count and the lock, stamp ``last_sign_in_at``.
        Otherwise add one failure; on reaching ``max_failures`` set
        ``locked_until = now + lockout_seconds`` and restart the count.
        """

    async def mark_read(self, agent_id: str, conversation_id: str, seq: int) -> ReadMark:
        """Record that the agent has seen the conversation up to event ``seq``.

        A mark only moves forward: an older ``seq`` leaves the stored one.
        """

    async def read_marks(self, agent_id: str, conversation_ids: list[str]) -> dict[str, ReadMark]:
        """The agent's marks for those conversations (absent: never opened)."""

    async def unread_counts(self, after: dict[str, int], *, cap: int = 99) -> dict[str, int]:
        """Inbound events of each conversation with ``seq`` above the given one (0: all),
        counted up to ``cap``; one round trip for the whole page."""
