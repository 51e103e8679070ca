"""Service metrics over a date range: the conversations opened in ``[since, until)``,
summarised as a whole and by a dimension (agent, team, channel, priority, tier).

* ``frt`` / ``mttr`` / ``aht`` — mean first response, resolution and handle time in
  business seconds (``frt_median`` too), over the conversations that have one;
* ``fcr`` — share of resolved conversations resolved at first contact (target 70 %
  for T1); ``reopen_rate`` — share of resolved conversations that were reopened;
* ``transfers`` — transfers per conversation; ``volume`` — conversations opened;
* ``sla_compliance`` — share of conversations without an SLA breach; ``breaches``;
* ``csat`` — share of CSAT answers of 4 or 5 (``csat_avg`` the mean score),
  ``ces`` the mean CES (1-7), ``nps`` promoters (9-10) minus detractors (0-6) in
  points; ``responses`` / ``response_rate`` — survey answers per survey sent.

Shares are fractions (0-1) rounded to 4 places; ``None`` where nothing counts.
"""

from __future__ import annotations

import statistics
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.metrics.cache import FactsCache, cache_for
from hub.metrics.facts import DIMENSIONS, Facts, dress, measure
from hub.operations.calendar import BusinessCalendar
from hub.operations.settings import OperationsSettings
from hub.operations.sla import Policies
from hub.timeline.model import Conversation
from hub.timeline.store import InboxFilter, TimelineStore

__all__ = ["DIMENSIONS", "Summary", "collect", "group", "policies_for", "summarise"]


def policies_for(settings: OperationsSettings) -> Policies:
    """The SLA policies and calendars the metrics measure business time on."""
    calendars = {n: BusinessCalendar.from_settings(c) for n, c in settings.calendars.items()}
    return Policies(settings.sla, calendars)


FEW = 1000
"""Up to this many changed conversations are read one by one; more, by listing pages."""


async def collect(
    store: TimelineStore,
    policies: Policies,
    *,
    since: datetime,
    until: datetime,
    cache: FactsCache | None = None,
) -> list[Facts]:
    """The facts of every conversation opened in ``[since, until)``; only conversations
    whose marks moved since ``cache`` (default: the store's) kept them are read, and
    their events only when those changed (see :mod:`hub.metrics.cache`)."""
    cache = cache_for(store) if cache is None else cache
    names = {a.id: a.name for a in await store.list_agents()}
    marks = await store.report_marks(since)
    context = hash(
        repr((policies.settings, sorted(policies.calendars.items()), sorted(names.items())))
    )
    out: list[Facts] = []
    missing: list[str] = []
    for conv_id, (_, whole) in marks.items():
        found, facts = cache.dressed.get(conv_id, (whole, context))
        if not found:
            missing.append(conv_id)
        elif facts is not None and since <= facts.opened_at < until:
            out.append(facts)
    if missing:
        async for convs in _changed(store, set(missing), since):
            for facts in await _measure(store, policies, convs, marks, context, cache, names):
                if since <= facts.opened_at < until:
                    out.append(facts)
    return sorted(out, key=lambda f: (f.opened_at, f.conversation_id))


async def _changed(
    store: TimelineStore, wanted: set[str], since: datetime
) -> AsyncIterator[list[Conversation]]:
    """The conversations ``wanted``, 500 at a time: one by one when few, else from
    the listing of every conversation active since ``since``."""
    if len(wanted) <= FEW:
        ids = sorted(wanted)
        for start in range(0, len(ids), 500):
            yield [await store.get_conversation(i) for i in ids[start : start + 500]]
        return
    cursor: str | None = None
    while True:
        page = await store.list_conversations(InboxFilter(status=()), cursor=cursor, limit=500)
        yield [c for c in page.items if c.id in wanted]
        cursor = page.next
        if cursor is None or not page.items or page.items[-1].last_activity_at < since:
            return


async def _measure(
    store: TimelineStore,
    policies: Policies,
    convs: list[Conversation],
    marks: dict[str, tuple[str, str]],
    context: int,
    cache: FactsCache,
    names: dict[str, str],
) -> list[Facts]:
    """The facts of ``convs``, kept in ``cache``; events read only where the events
    mark moved."""
    customers = await store.get_customers(sorted({c.customer_id for c in convs}))
    measured: dict[str, Facts | None] = {}
    keys: dict[str, tuple[str, BusinessCalendar]] = {}
    for conv in convs:
        calendar = policies.calendar(policies.policy_for(conv, customers.get(conv.customer_id)))
        keys[conv.id] = (marks[conv.id][0], calendar)
        found, facts = cache.measured.get(conv.id, keys[conv.id])
        if found:
            measured[conv.id] = facts
    stale = [c.id for c in convs if c.id not in measured]
    by_conversation = await store.conversation_events(stale) if stale else {}
    for conv_id in stale:
        measured[conv_id] = measure(by_conversation.get(conv_id, []), keys[conv_id][1])
        cache.measured.put(conv_id, keys[conv_id], measured[conv_id])
    out = []
    for conv in convs:
        facts = measured[conv.id]
        if facts is not None:
            customer = customers.get(conv.customer_id)
            facts = dress(facts, conv, customer, policies, names=names)
            out.append(facts)
        cache.dressed.put(conv.id, (marks[conv.id][1], context), facts)
    return out


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _mean(values: Sequence[float]) -> float | None:
    return round(statistics.fmean(values), 1) if values else None


@dataclass(frozen=True, slots=True)
class Summary:
    """The metrics of a set of conversations (see the module docstring)."""

    volume: int
    frt: float | None
    frt_median: float | None
    mttr: float | None
    aht: float | None
    fcr: float | None
    reopen_rate: float | None
    transfers: float | None
    sla_compliance: float | None
    breaches: int
    resolved: int
    csat: float | None
    csat_avg: float | None
    ces: float | None
    nps: float | None
    responses: int
    surveys: int
    response_rate: float | None

    def as_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


def summarise(facts: Sequence[Facts]) -> Summary:
    """The metrics of ``facts``."""
    n = len(facts)
    frts = [f.first_response for f in facts if f.first_response is not None]
    resolved = [f for f in facts if f.resolved]
    csat = [f.csat for f in facts if f.csat is not None]
    ces = [f.ces for f in facts if f.ces is not None]
    nps = [f.nps for f in facts if f.nps is not None]
    surveys = sum(len(f.surveyed) for f in facts)
    responses = len(csat) + len(ces) + len(nps)
    nps_score = (
        round(100 * (sum(s >= 9 for s in nps) - sum(s <= 6 for s in nps)) / len(nps), 1)
        if nps
        else None
    )
    return Summary(
        volume=n,
        frt=_mean(frts),
        frt_median=round(statistics.median(frts), 1) if frts else None,
        mttr=_mean([f.resolution for f in resolved if f.resolution is not None]),
        aht=_mean([f.handle for f in facts if f.replies]),
        fcr=_share(sum(f.fcr for f in resolved), len(resolved)),
        reopen_rate=_share(sum(f.reopened for f in resolved), len(resolved)),
        transfers=round(sum(f.transfers for f in facts) / n, 4) if n else None,
        sla_compliance=_share(sum(not f.breaches for f in facts), n),
        breaches=sum(f.breaches for f in facts),
        resolved=len(resolved),
        csat=_share(sum(s >= 4 for s in csat), len(csat)),
        csat_avg=round(statistics.fmean(csat), 2) if csat else None,
        ces=round(statistics.fmean(ces), 2) if ces else None,
        nps=nps_score,
        responses=responses,
        surveys=surveys,
        response_rate=_share(responses, surveys),
    )


def group(facts: Iterable[Facts], by: str) -> dict[str, Summary]:
    """The metrics per value of dimension ``by`` (one of :data:`DIMENSIONS`), sorted."""
    if by not in DIMENSIONS:
        raise ValueError(f"by must be one of {', '.join(DIMENSIONS)}")
    buckets: dict[str, list[Facts]] = {}
    for f in facts:
        buckets.setdefault(f.dimension(by), []).append(f)
    return {key: summarise(buckets[key]) for key in sorted(buckets)}
