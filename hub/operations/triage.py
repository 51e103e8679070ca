"""Triage: which rules match a conversation's opening message, and what they set.

Priorities P1-P4 are the conversation's :class:`~hub.timeline.model.Priority`
(P1 urgent, P2 high, P3 normal, P4 low); the team and tier are tags
(``team:billing``, ``tier:t2``) beside the rules' own tags, so every store and
inbox filter already carries them and agents change them like any tag.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hub.operations.settings import EscalationRule, PriorityName, TriageRule
from hub.timeline.model import Conversation, Customer, Priority

__all__ = [
    "Decision",
    "Matcher",
    "from_priority",
    "raise_priority",
    "team_of",
    "tier_of",
    "to_priority",
]

_TO_PRIORITY = {
    "P1": Priority.URGENT,
    "P2": Priority.HIGH,
    "P3": Priority.NORMAL,
    "P4": Priority.LOW,
}
_FROM_PRIORITY: dict[Priority, PriorityName] = {
    Priority.URGENT: "P1",
    Priority.HIGH: "P2",
    Priority.NORMAL: "P3",
    Priority.LOW: "P4",
}
_RANK = {"P1": 1, "P2": 2, "P3": 3, "P4": 4}


def to_priority(name: str) -> Priority:
    """``"P2"`` → :attr:`Priority.HIGH`."""
    return _TO_PRIORITY[name]


def from_priority(priority: Priority) -> PriorityName:
    """:attr:`Priority.HIGH` → ``"P2"``."""
    return _FROM_PRIORITY[priority]


def raise_priority(priority: Priority) -> Priority:
    """One step more urgent (P1 stays P1)."""
    rank = _RANK[from_priority(priority)]
    return to_priority(f"P{max(1, rank - 1)}")


def team_of(tags: Sequence[str]) -> str | None:
    """The team a conversation's tags name (``team:billing`` → ``billing``)."""
    return next((t.removeprefix("team:") for t in tags if t.startswith("team:")), None)


def tier_of(tags: Sequence[str]) -> str | None:
    """The support tier a conversation's tags name (``tier:t2`` → ``T2``)."""
    return next((t.removeprefix("tier:").upper() for t in tags if t.startswith("tier:")), None)


def _fold(text: str) -> str:
    return " ".join(text.lower().replace("\u2019", "'").replace("\u2018", "'").split())


def _phrase(keywords: Sequence[str]) -> re.Pattern[str] | None:
    if not keywords:
        return None
    alts = "|".join(re.escape(_fold(k)) for k in sorted(keywords, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alts})(?!\w)")


@dataclass(slots=True)
class Decision:
    """What the matching rules set, and which rule set each field."""

    rules: list[str] = field(default_factory=list)
    priority: Priority | None = None
    tier: str | None = None
    team: str | None = None
    tags: list[str] = field(default_factory=list)
    by: dict[str, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.rules

    def new_tags(self, current: Sequence[str]) -> list[str]:
        """``current`` with this decision's tags, team and tier added (team/tier replaced)."""
        out = [
            t
            for t in current
            if not (self.team and t.startswith("team:"))
            and not (self.tier and t.startswith("tier:"))
        ]
        extra = [*self.tags]
        if self.team:
            extra.append(f"team:{self.team}")
        if self.tier:
            extra.append(f"tier:{self.tier.lower()}")
        out.extend(t for t in extra if t not in out)
        return out

    def as_meta(self) -> dict[str, Any]:
        return {
            "rules": list(self.rules),
            "priority": from_priority(self.priority) if self.priority else None,
            "tier": self.tier,
            "team": self.team,
            "tags": list(self.tags),
            "by": dict(self.by),
        }


class Matcher:
    """Compiled triage and escalation rules."""

    def __init__(self, rules: Sequence[TriageRule], escalations: Sequence[EscalationRule]) -> None:
        self.rules = [
            (r, _phrase(r.keywords), re.compile(r.pattern, re.I) if r.pattern else None)
            for r in rules
        ]
        self.escalations = [(e, _phrase(e.keywords)) for e in escalations]

    def _matches(
        self,
        rule: TriageRule,
        phrase: re.Pattern[str] | None,
        pattern: re.Pattern[str] | None,
        text: str,
        channel: str,
        customer: Customer | None,
        returning: bool,
    ) -> bool:
        if rule.channels and channel not in rule.channels:
            return False
        attrs = customer.attributes if customer is not None else {}
        if any(str(attrs.get(k, "")).lower() != v.lower() for k, v in rule.attributes.items()):
            return False
        if rule.returning is not None and rule.returning != returning:
            return False
        if phrase is not None and not phrase.search(text):
            return False
        return pattern is None or pattern.search(text) is not None

    def decide(
        self,
        text: str,
        *,
        channel: str,
        customer: Customer | None,
        conversation: Conversation,
        returning: bool = False,
    ) -> Decision:
        """Apply every matching rule in order; the first to set a field wins it, except
        ``min_priority``, which only ever makes the result more urgent."""
        folded = _fold(text)
        decision = Decision()
        floor: Priority | None = None
        for rule, phrase, pattern in self.rules:
            if not self._matches(rule, phrase, pattern, folded, channel, customer, returning):
                continue
            decision.rules.append(rule.name)
            if rule.priority and decision.priority is None:
                decision.priority = to_priority(rule.priority)
                decision.by["priority"] = rule.name
            if rule.min_priority:
                wanted = to_priority(rule.min_priority)
                if floor is None or _more_urgent(wanted, floor):
                    floor = wanted
                    decision.by.setdefault("min_priority", rule.name)
            if rule.tier and decision.tier is None:
                decision.tier, decision.by["tier"] = rule.tier, rule.name
            if rule.team and decision.team is None:
                decision.team, decision.by["team"] = rule.team, rule.name
            decision.tags.extend(t for t in rule.tags if t not in decision.tags)
        if floor is not None:
            base = decision.priority or conversation.priority
            if _more_urgent(floor, base):
                decision.priority = floor
                decision.by["priority"] = decision.by["min_priority"]
        decision.by.pop("min_priority", None)
        return decision

    def escalation(self, text: str) -> str | None:
        """The name of the first escalation rule the customer's words match."""
        folded = _fold(text)
        return next(
            (e.name for e, phrase in self.escalations if phrase and phrase.search(folded)), None
        )


def _more_urgent(a: Priority, b: Priority) -> bool:
    return _RANK[from_priority(a)] < _RANK[from_priority(b)]
