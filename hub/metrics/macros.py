"""CSAT per macro: how the customers rated conversations a macro was used in.

A conversation counts for every macro one of our replies in it was written from
(``meta.macro``), and its CSAT answer (the last one, as in the service metrics) counts
for each of them: a macro is credited with the conversations it took part in, not
with a share of them. The cohort is the report's: conversations opened in the period.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from hub.metrics.facts import Facts
from hub.timeline.model import utcnow

if TYPE_CHECKING:
    from hub.app import Hub

__all__ = ["MacroCsat", "csat_by_macro", "macro_rows"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class MacroCsat:
    """``conversations`` a macro was used in; ``responses`` of them with a CSAT answer;
    ``csat`` the share of answers of 4 or 5, ``csat_avg`` the mean score."""

    conversations: int
    responses: int
    csat: float | None
    csat_avg: float | None

    def as_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


def csat_by_macro(facts: Iterable[Facts]) -> dict[str, MacroCsat]:
    """CSAT per macro id over ``facts``, sorted by macro id."""
    used: dict[str, list[Facts]] = {}
    for f in facts:
        for macro in f.macros:
            used.setdefault(macro, []).append(f)
    out: dict[str, MacroCsat] = {}
    for macro in sorted(used):
        scores = [f.csat for f in used[macro] if f.csat is not None]
        out[macro] = MacroCsat(
            conversations=len(used[macro]),
            responses=len(scores),
            csat=round(sum(s >= 4 for s in scores) / len(scores), 4) if scores else None,
            csat_avg=round(statistics.fmean(scores), 2) if scores else None,
        )
    return out


async def macro_rows(
    hub: Hub, since: datetime | None, until: datetime | None, facts: list[Facts] | None = None
) -> list[dict[str, Any]]:
    """One row per macro: replies sent from it in ``[since, until)`` (any time where a
    bound is ``None``) and the CSAT of the conversations opened then that used it
    (``facts``, collected here when not given); most used first."""
    from hub.agent.macros import every_macro
    from hub.metrics.report import collect_for

    used = await hub.store.macro_usage(since=since, until=until)
    if facts is None:
        facts = await collect_for(hub, since or EPOCH, until or utcnow() + timedelta(days=1))
    rated = csat_by_macro(facts)
    titles = {m.id: m.title for m in every_macro(hub.settings.agent)}
    rows = []
    for macro in sorted(used.keys() | rated.keys(), key=lambda m: (-used.get(m, 0), m)):
        csat = rated.get(macro, MacroCsat(0, 0, None, None))
        rows.append(
            {
                "macro": macro,
                "title": titles.get(macro),
                "replies": used.get(macro, 0),
                "conversations": csat.conversations,
                "csat_responses": csat.responses,
                "csat": csat.csat,
                "csat_avg": csat.csat_avg,
            }
        )
    return rows
