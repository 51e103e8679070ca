"""Reports: each triage rule's accuracy against what agents finally set, and SLA breaches.

A rule's decision on a field (priority, team, tier) counts as correct unless an
agent later changed that field to something else (an ``override`` event); the
80 % rule raising a priority is the hub's own doing and is not a correction.
The monthly target is ``accuracy_target`` (85 %).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from hub.operations.sla import sla_priority
from hub.timeline.model import Conversation, Direction, Event
from hub.timeline.store import InboxFilter, TimelineStore

__all__ = ["BreachReport", "RuleAccuracy", "breaches", "rule_accuracy"]


@dataclass(slots=True)
class RuleAccuracy:
    """How often a rule's decisions stood: ``correct`` of ``decisions`` field decisions."""

    rule: str
    decisions: int = 0
    correct: int = 0
    target: float = 0.85

    @property
    def accuracy(self) -> float:
        return self.correct / self.decisions if self.decisions else 1.0

    @property
    def meets_target(self) -> bool:
        return self.accuracy >= self.target

    def as_json(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "decisions": self.decisions,
            "correct": self.correct,
            "accuracy": round(self.accuracy, 4),
            "target": self.target,
            "meets_target": self.meets_target,
        }


@dataclass(slots=True)
class BreachReport:
    """SLA breaches in a period, by priority and by assignee (``"unassigned"``), and
    compliance per priority: the share of conversations opened in the period (by the
    priority whose policy applies) that had no breach, beside its target."""

    by_priority: Counter[str] = field(default_factory=Counter)
    by_agent: Counter[str] = field(default_factory=Counter)
    opened: Counter[str] = field(default_factory=Counter)
    breached: Counter[str] = field(default_factory=Counter)
    targets: dict[str, float] = field(default_factory=dict)

    def compliance(self, priority: str) -> float:
        total = self.opened[priority]
        return 1.0 - self.breached[priority] / total if total else 1.0

    def as_json(self) -> dict[str, object]:
        return {
            "by_priority": dict(self.by_priority),
            "by_agent": dict(self.by_agent),
            "compliance": {
                p: {
                    "conversations": self.opened[p],
                    "breached": self.breached[p],
                    "compliance": round(self.compliance(p), 4),
                    "target": self.targets.get(p),
                    "meets_target": self.compliance(p) >= self.targets.get(p, 0.0),
                }
                for p in sorted(self.opened)
            },
        }


async def _conversation_events(
    store: TimelineStore, since: datetime
) -> list[tuple[Conversation, list[Event]]]:
    out: list[tuple[Conversation, list[Event]]] = []
    cursor: str | None = None
    while True:
        page = await store.list_conversations(InboxFilter(status=()), cursor=cursor, limit=200)
        for conv in page.items:
            if conv.last_activity_at < since:
                continue
            events = await store.events(conversation_id=conv.id, limit=500)
            out.append((conv, events.items))
        cursor = page.next
        if cursor is None or not page.items:
            return out


def _in(event: Event, since: datetime, until: datetime) -> bool:
    return since <= event.occurred_at < until


async def rule_accuracy(
    store: TimelineStore, *, since: datetime, until: datetime, target: float = 0.85
) -> list[RuleAccuracy]:
    """Each rule's accuracy over triage decisions made in ``[since, until)``."""
    rules: dict[str, RuleAccuracy] = {}
    for _, events in await _conversation_events(store, since):
        for i, event in enumerate(events):
            if event.meta.get("operations") != "triage" or not _in(event, since, until):
                continue
            decision = event.meta.get("decision") or {}
            later = [e for e in events[i + 1 :] if e.meta.get("operations") == "override"]
            for name, rule in (decision.get("by") or {}).items():
                stats = rules.setdefault(rule, RuleAccuracy(rule, target=target))
                stats.decisions += 1
                final = [e.meta.get("value") for e in later if e.meta.get("field") == name]
                if not final or final[-1] == decision.get(name):
                    stats.correct += 1
    return sorted(rules.values(), key=lambda r: r.rule)


async def breaches(
    store: TimelineStore,
    *,
    since: datetime,
    until: datetime,
    targets: dict[str, float] | None = None,
) -> BreachReport:
    """SLA breaches recorded in ``[since, until)`` and compliance for conversations opened then."""
    report = BreachReport(targets=dict(targets or {}))
    for conv, events in await _conversation_events(store, since):
        first_in = next((e for e in events if e.direction is Direction.IN), None)
        opened_here = first_in is not None and _in(first_in, since, until)
        if opened_here:
            report.opened[sla_priority(conv)] += 1
        breached = False
        for event in events:
            if event.meta.get("operations") == "sla_breach" and _in(event, since, until):
                report.by_priority[str(event.meta.get("priority"))] += 1
                report.by_agent[str(event.meta.get("assignee") or "unassigned")] += 1
                breached = True
        if opened_here and breached:
            report.breached[sla_priority(conv)] += 1
    return report
