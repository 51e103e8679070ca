"""One issue, one conversation: merging a customer's conversations, and promises.

* :func:`merge_suggestions` — the customer's other open conversations that look like
  the same issue: in the customer's own words (their messages and subjects, never
  an agent's), they share a reference number (three or more digits: an order, an
  invoice) or most of their significant words. A suggestion only: an agent merges.
* :func:`open_promises` — the conversation's promises not yet kept
  (:func:`~hub.handoff.context.promises_of`), for the agent's side panel.
* ``/api/v1`` routes (mounted with :mod:`.api`):

  - ``GET /conversations/{id}/merge-suggestions`` —
    ``{"items": [{"conversation_id", "subject", "status", "reason"}]}``;
  - ``POST /conversations/{id}/merge`` ``{"into": conversation id, "reason"?}`` — merge
    this conversation into ``into`` (one customer's; its events move, it is resolved;
    recorded on both); the merged conversation;
  - ``POST /conversations/{id}/unmerge`` ``{"reason"?}`` — undo; this conversation;
  - ``GET /conversations/{id}/promises`` — ``{"items": [event, …]}`` not yet kept;
    a reply or note with ``"fulfils": <event id>`` keeps one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.api import endpoint, json_body
from hub.handoff.context import promises_of
from hub.pipeline.types import HUB_CHANNEL, UNVERIFIED_FROM
from hub.timeline.model import (
    Conversation,
    ConversationStatus,
    Direction,
    Event,
    EventKind,
    to_json,
)
from hub.timeline.store import InboxFilter

if TYPE_CHECKING:
    from starlette.requests import Request

    from hub.app import Hub
    from hub.timeline.model import ApiToken
    from hub.timeline.store import TimelineStore

__all__ = ["MergeSuggestion", "merge_suggestions", "open_promises", "routes"]

_WORD = re.compile(r"[^\W\d_]{4,}")
_NUMBER = re.compile(r"\d{3,}")
_COMMON = frozenset(
    [
        "that",
        "this",
        "with",
        "have",
        "from",
        "your",
        "about",
        "when",
        "what",
        "will",
        "just",
        "please",
        "thanks",
        "thank",
        "hello",
        "there",
        "they",
        "them",
        "their",
        "would",
        "could",
        "should",
        "been",
        "still",
        "also",
        "here",
        "need",
        "want",
        "know",
        "like",
        "some",
        "time",
        "again",
        "today",
        "tomorrow",
        "yesterday",
    ]
)
_OTHERS = 10
_READ = 200


@dataclass(frozen=True, slots=True)
class MergeSuggestion:
    """Another open conversation of the customer that looks like the same issue."""

    conversation: Conversation
    reason: str


async def own_words(store: TimelineStore, conversation_id: str) -> str:
    """The customer's own words in a conversation: their subjects and messages."""
    page = await store.events(conversation_id=conversation_id, direction="newer", limit=_READ)
    return " ".join(
        f"{e.subject or ''} {e.text or ''}"
        for e in page.items
        if e.direction is Direction.IN
        and e.kind is EventKind.MESSAGE
        and e.channel != HUB_CHANNEL
        and not e.meta.get(UNVERIFIED_FROM)
    )


def same_issue(one: str, other: str) -> str | None:
    """Why two texts look like one issue, or ``None``."""
    numbers = set(_NUMBER.findall(one)) & set(_NUMBER.findall(other))
    if numbers:
        return "both mention " + ", ".join(sorted(numbers)[:3])
    words = [{w for w in _WORD.findall(t.casefold()) if w not in _COMMON} for t in (one, other)]
    shared = words[0] & words[1]
    smaller = min(len(words[0]), len(words[1]))
    if len(shared) >= 2 and len(shared) * 2 >= smaller:
        return "the same words: " + ", ".join(sorted(shared)[:5])
    return None


async def merge_suggestions(store: TimelineStore, conv: Conversation) -> list[MergeSuggestion]:
    """The customer's other open conversations that look like ``conv``'s issue."""
    if conv.status is ConversationStatus.RESOLVED:
        return []
    page = await store.list_conversations(
        InboxFilter(
            status=(
                ConversationStatus.OPEN,
                ConversationStatus.PENDING,
                ConversationStatus.SNOOZED,
            ),
            customer_id=conv.customer_id,
        ),
        limit=_OTHERS,
    )
    mine = await own_words(store, conv.id)
    found: list[MergeSuggestion] = []
    for other in page.items:
        if other.id == conv.id:
            continue
        reason = same_issue(mine, await own_words(store, other.id))
        if reason is not None:
            found.append(MergeSuggestion(other, reason))
    return found


async def open_promises(store: TimelineStore, conv: Conversation) -> list[Event]:
    """The conversation's promises not yet kept (none once it is resolved)."""
    if conv.status is ConversationStatus.RESOLVED:
        return []
    page = await store.events(conversation_id=conv.id, limit=1000)
    return promises_of(page.items)


@endpoint
async def list_merge_suggestions(request: Request, hub: Hub, token: ApiToken) -> Response:
    conv = await hub.store.get_conversation(request.path_params["conversation_id"])
    items = [
        {
            "conversation_id": s.conversation.id,
            "subject": s.conversation.subject,
            "status": s.conversation.status.value,
            "reason": s.reason,
        }
        for s in await merge_suggestions(hub.store, conv)
    ]
    return JSONResponse({"items": items})


class MergeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    into: str = Field(min_length=1, max_length=64)
    reason: str | None = Field(None, max_length=1000)


class UnmergeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(None, max_length=1000)


@endpoint
async def merge_conversation(request: Request, hub: Hub, token: ApiToken) -> Response:
    body = MergeBody.model_validate(await json_body(request))
    merged = await hub.pipeline.merge_conversations(
        request.path_params["conversation_id"],
        body.into,
        by=f"token:{token.name}",
        reason=body.reason,
    )
    return JSONResponse(to_json(merged))


@endpoint
async def unmerge_conversation(request: Request, hub: Hub, token: ApiToken) -> Response:
    body = UnmergeBody.model_validate(await json_body(request))
    restored = await hub.pipeline.unmerge_conversation(
        request.path_params["conversation_id"], by=f"token:{token.name}", reason=body.reason
    )
    return JSONResponse(to_json(restored))


@endpoint
async def list_promises(request: Request, hub: Hub, token: ApiToken) -> Response:
    conv = await hub.store.get_conversation(request.path_params["conversation_id"])
    return JSONResponse({"items": to_json(await open_promises(hub.store, conv))})


routes = [
    Route(
        "/conversations/{conversation_id}/merge-suggestions",
        list_merge_suggestions,
        methods=["GET"],
    ),
    Route("/conversations/{conversation_id}/merge", merge_conversation, methods=["POST"]),
    Route("/conversations/{conversation_id}/unmerge", unmerge_conversation, methods=["POST"]),
    Route("/conversations/{conversation_id}/promises", list_promises, methods=["GET"]),
]
