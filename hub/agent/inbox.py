"""The inbox: conversations across every channel, filtered and sorted, with unread counts.

Query parameters: ``view`` (``all``, ``mine``, ``unassigned``), ``assignee``
(an agent id), ``channel``, ``status`` (``open`` = open and pending, the
default; ``snoozed``, ``resolved``, ``any``) and ``sort`` (``waiting``:
longest-waiting first, only conversations awaiting us; ``newest``: most
recent activity first; ``due``: with operations on, the reply due soonest
first, the first 200 conversations awaiting us). The page's script re-fetches the rows fragment
whenever the live socket reports a change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from starlette.responses import HTMLResponse, Response

from hub.agent.web import Ctx, fragment, page
from hub.operations.display import SlaBadge, badges
from hub.timeline.model import Agent, Conversation, ConversationStatus, Customer
from hub.timeline.store import InboxFilter

if TYPE_CHECKING:
    from hub.app import Hub

__all__ = ["InboxQuery", "inbox_page", "inbox_rows"]

UNREAD_CAP = 99
DUE_WINDOW = 200
STATUSES = {
    "open": (ConversationStatus.OPEN, ConversationStatus.PENDING),
    "snoozed": (ConversationStatus.SNOOZED,),
    "resolved": (ConversationStatus.RESOLVED,),
    "any": (),
}


@dataclass(frozen=True, slots=True)
class InboxQuery:
    """The inbox's filters and sort, read leniently from the query string."""

    view: str = "all"
    assignee: str = ""
    channel: str = ""
    status: str = "open"
    sort: str = "newest"
    cursor: str | None = None

    @classmethod
    def parse(cls, params: dict[str, str]) -> InboxQuery:
        view = params.get("view", "all")
        status = params.get("status", "open")
        sort = params.get("sort", "newest")
        return cls(
            view=view if view in ("all", "mine", "unassigned") else "all",
            assignee=params.get("assignee", "")[:64],
            channel=params.get("channel", "")[:64],
            status=status if status in STATUSES else "open",
            sort=sort if sort in ("waiting", "newest", "due") else "newest",
            cursor=params.get("cursor") or None,
        )

    def inbox_filter(self, me: Agent) -> InboxFilter:
        assignee = me.id if self.view == "mine" else (self.assignee or None)
        return InboxFilter(
            status=STATUSES[self.status],
            assignee=None if self.view == "unassigned" else assignee,
            unassigned=self.view == "unassigned",
            channel=self.channel or None,
        )

    def query_string(self, *, page: bool = False) -> str:
        """The filters as a query string; with ``page``, the cursor of this page too
        (what the live refresh re-reads, so a later page stays that page)."""
        parts = {
            "view": self.view,
            "assignee": self.assignee,
            "channel": self.channel,
            "status": self.status,
            "sort": self.sort,
            "cursor": self.cursor if page else None,
        }
        return urlencode({k: v for k, v in parts.items() if v})


@dataclass(frozen=True, slots=True)
class Row:
    """One inbox line."""

    conversation: Conversation
    customer: Customer | None
    unread: int
    sla: SlaBadge | None = None


async def unread_counts(hub: Hub, agent: Agent, convs: list[Conversation]) -> dict[str, int]:
    """Inbound messages each conversation received since the agent last read it (≤ 99)."""
    marks = await hub.store.read_marks(agent.id, [c.id for c in convs])
    after: dict[str, int] = {}
    counts: dict[str, int] = {}
    for conv in convs:
        mark = marks.get(conv.id)
        if mark is not None and mark.at >= conv.last_activity_at:
            counts[conv.id] = 0
        else:
            after[conv.id] = mark.seq if mark is not None else 0
    counts.update(await hub.store.unread_counts(after, cap=UNREAD_CAP))
    return counts


async def load_rows(ctx: Ctx, query: InboxQuery) -> tuple[list[Row], str | None]:
    """One page of the inbox in a constant number of store round trips."""
    hub = ctx.hub
    ops = hub.operations
    due = query.sort == "due" and ops is not None
    listing = await hub.store.list_conversations(
        query.inbox_filter(ctx.agent),
        sort="waiting" if query.sort in ("waiting", "due") else "last_activity",
        cursor=None if due else query.cursor,
        limit=DUE_WINDOW if due else 50,
    )
    items, next_cursor = listing.items, listing.next
    customers = await hub.store.get_customers([c.customer_id for c in items])
    sla = badges(ops, items, customers, ops.clock()) if ops is not None else {}
    if due:
        never = datetime.max.replace(tzinfo=UTC)
        items = sorted(items, key=lambda c: getattr(sla.get(c.id), "due_at", None) or never)[:50]
        next_cursor = None
    counts = await unread_counts(hub, ctx.agent, items)
    rows = [Row(c, customers.get(c.customer_id), counts.get(c.id, 0), sla.get(c.id)) for c in items]
    return rows, next_cursor


async def agent_names(hub: Hub) -> dict[str, str]:
    """Agent id → display name, for assignee columns and selects."""
    return {a.id: a.name for a in await hub.store.list_agents()}


@page
async def inbox_page(ctx: Ctx) -> Response:
    query = InboxQuery.parse(dict(ctx.request.query_params))
    rows, next_cursor = await load_rows(ctx, query)
    return ctx.render(
        "inbox.html",
        query=query,
        rows=rows,
        next_cursor=next_cursor,
        agents=await agent_names(ctx.hub),
        channels=sorted(ctx.hub.channels),
        operations=ctx.hub.operations is not None,
    )


@fragment
async def inbox_rows(ctx: Ctx) -> Response:
    query = InboxQuery.parse(dict(ctx.request.query_params))
    rows, next_cursor = await load_rows(ctx, query)
    html = ctx.render(
        "_inbox_rows.html",
        query=query,
        rows=rows,
        next_cursor=next_cursor,
        agents=await agent_names(ctx.hub),
    ).body
    return HTMLResponse(html)
