"""Search from the agent view: every customer's timeline, words, phrases and filters.

``/agent/search?q=…&channel=…&tag=…&from=…&to=…&customer=…`` lists the
matching events newest first, each with its customer, channel, time and the
text with the matched words marked; a hit opens the conversation's timeline at
that event (``/agent/conversations/{id}?at={event}#ev-{event}``).
"""

from __future__ import annotations

import dataclasses
import re

from starlette.responses import Response

from hub.agent.visitors import customer_label
from hub.agent.web import Ctx, page
from hub.errors import InvalidInput, NotFound
from hub.timeline.merges import survivor
from hub.timeline.model import Event
from hub.timeline.search import SearchQuery, query_from_params, terms

__all__ = ["highlight", "search_page"]

SNIPPET = 240
_WORD = re.compile(r"[^\W_]+")
PAGE = 25


def highlight(text: str, query: SearchQuery) -> list[tuple[str, bool]]:
    """``text`` (cut around the first hit) as (piece, is a matched word) pairs."""
    wanted = set(query.all_terms)
    pieces: list[tuple[str, bool]] = []
    words = _words(text)
    first = next((start for start, _, term in words if term in wanted), 0)
    begin = max(0, first - SNIPPET // 3)
    end_at = min(len(text), begin + SNIPPET)
    at = begin
    if begin:
        pieces.append(("…", False))
    for start, end, term in words:
        if start < begin or end > end_at:
            continue
        if term in wanted:
            pieces.append((text[at:start], False))
            pieces.append((text[start:end], True))
            at = end
    pieces.append((text[at:end_at], False))
    if end_at < len(text):
        pieces.append(("…", False))
    return [p for p in pieces if p[0]]


def _words(text: str) -> list[tuple[int, int, str]]:
    """Each word of ``text``: its span and its term."""
    return [(m.start(), m.end(), (terms(m.group()) or [""])[0]) for m in _WORD.finditer(text)]


@dataclasses.dataclass(frozen=True, slots=True)
class Hit:
    """One result as the page shows it."""

    event: Event
    customer: str
    pieces: list[tuple[str, bool]]
    href: str | None


@page
async def search_page(ctx: Ctx) -> Response:
    params = ctx.request.query_params
    form = {k: params.get(k, "") for k in ("q", "channel", "tag", "from", "to", "customer")}
    hits: list[Hit] = []
    error: str | None = None
    error_field: str | None = None
    next_cursor: str | None = None
    customer_name: str | None = None
    if form["q"].strip():
        try:
            query = query_from_params(params)
            if query.customer_id is not None:
                found = await survivor(ctx.hub.store, query.customer_id)
                customer_name = customer_label(found)
                query = dataclasses.replace(query, customer_id=found.id)
            result = await ctx.hub.store.search(
                query, cursor=params.get("cursor") or None, limit=PAGE
            )
        except (InvalidInput, NotFound) as exc:
            error = exc.reason if isinstance(exc, InvalidInput) else str(exc)
            error_field = exc.field if isinstance(exc, InvalidInput) else "customer"
        else:
            next_cursor = result.next
            customers = await ctx.hub.store.get_customers(
                sorted({e.customer_id for e in result.items})
            )
            for e in result.items:
                owner = customers.get(e.customer_id)
                hits.append(
                    Hit(
                        event=e,
                        customer=customer_label(owner),
                        pieces=highlight(e.text or e.subject or "", query),
                        href=f"/agent/conversations/{e.conversation_id}?at={e.id}#ev-{e.id}"
                        if e.conversation_id
                        else None,
                    )
                )
    if form["customer"] and customer_name is None and error is None:
        try:
            customer_name = customer_label(await survivor(ctx.hub.store, form["customer"]))
        except NotFound:
            error, error_field = f"no customer {form['customer']!r}", "customer"
    channels = sorted(ctx.hub.channels)
    return ctx.render(
        "search.html",
        form=form,
        hits=hits,
        error=error,
        error_field=error_field,
        next_cursor=next_cursor,
        channels=channels,
        customer_name=customer_name,
    )
