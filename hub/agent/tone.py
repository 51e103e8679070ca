"""The tone coach: flags phrases in a draft that tend to escalate, with a positive rewrite.

Rules live in a data file (``tone.toml`` beside this module; its header
describes the fields), plus a team's own phrases from settings
(``[[agent.tone]]``). The composer shows the flags under the draft, like the
SMS segment counter, and asks ``/agent/conversations/{id}/tone`` as the agent
types. The coach advises: nothing here ever stops a send.

It also notices a draft asking for something the customer already gave — an
email address or phone number they hold as an identity, an order number in one
of their own messages — and says where they gave it.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, Response

from hub.agent.web import Ctx, action
from hub.errors import ConfigError, InvalidInput
from hub.operations.triage import team_of
from hub.timeline.merges import survivor
from hub.timeline.model import Customer, Direction, Event

if TYPE_CHECKING:
    from hub.settings import TonePhrase

__all__ = ["Ask", "Flag", "Known", "Rule", "coach", "known_values", "rules", "tone"]

RULES_FILE = Path(__file__).with_name("tone.toml")
MAX_DRAFT = 20_000
_SENTENCE_END = re.compile(r"[.!?\n]+")


@dataclass(frozen=True, slots=True)
class Rule:
    """One escalating pattern and what to say instead."""

    id: str
    patterns: tuple[re.Pattern[str], ...]
    reason: str
    rewrite: str
    unless: tuple[re.Pattern[str], ...] = ()
    min_count: int = 1
    replace: bool = True


@dataclass(frozen=True, slots=True)
class Ask:
    """A request for something the customer may already have given."""

    what: str
    patterns: tuple[re.Pattern[str], ...]
    identity: str | None = None
    found: re.Pattern[str] | None = None


@dataclass(frozen=True, slots=True)
class Known:
    """A value the customer gave, and on which channel."""

    what: str
    value: str
    channel: str


@dataclass(frozen=True, slots=True)
class Flag:
    """A flagged phrase: where it is, why, the suggested sentence and the draft with
    the flagged sentence replaced by it (``None`` when the rule only advises)."""

    rule: str
    phrase: str
    start: int
    end: int
    reason: str
    rewrite: str
    fixed: str | None = field(default=None)

    def as_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "phrase": self.phrase,
            "start": self.start,
            "end": self.end,
            "reason": self.reason,
            "rewrite": self.rewrite,
            "fixed": self.fixed,
        }


def _compile(items: list[str], where: str) -> tuple[re.Pattern[str], ...]:
    try:
        return tuple(re.compile(p, re.IGNORECASE) for p in items)
    except re.error as exc:
        raise ConfigError(f"{where}: bad pattern: {exc}") from None


@cache
def rules(path: Path = RULES_FILE) -> tuple[tuple[Rule, ...], tuple[Ask, ...]]:
    """The rules and asks of a rules file (the shipped one by default)."""
    with path.open("rb") as f:
        data = tomllib.load(f)
    out = tuple(
        Rule(
            id=r["id"],
            patterns=_compile(r["patterns"], r["id"]),
            reason=r["reason"],
            rewrite=r["rewrite"],
            unless=_compile(r.get("unless", []), r["id"]),
            min_count=int(r.get("min_count", 1)),
            replace=bool(r.get("replace", True)),
        )
        for r in data.get("rule", [])
    )
    asks = tuple(
        Ask(
            what=a["what"],
            patterns=_compile(a["patterns"], a["what"]),
            identity=a.get("identity"),
            found=_compile([a["found"]], a["what"])[0] if a.get("found") else None,
        )
        for a in data.get("ask", [])
    )
    return out, asks


def team_rules(phrases: tuple[TonePhrase, ...], team: str | None) -> tuple[Rule, ...]:
    """A team's own phrases (those without a team apply to everyone) as rules."""
    return tuple(
        Rule(
            id=f"team:{p.phrase}",
            patterns=(re.compile(rf"(?<!\w){re.escape(p.phrase)}(?!\w)", re.IGNORECASE),),
            reason=p.reason or "Your team asks to avoid this phrase.",
            rewrite=p.rewrite,
        )
        for p in phrases
        if p.team is None or p.team == team
    )


def _sentence(text: str, start: int, end: int) -> tuple[int, int]:
    """The span of the sentence holding ``text[start:end]`` (its end mark kept outside)."""
    begin = 0
    for m in _SENTENCE_END.finditer(text, 0, start):
        begin = m.end()
    stop = _SENTENCE_END.search(text, end)
    finish = stop.start() if stop else len(text)
    while begin < finish and text[begin].isspace():
        begin += 1
    return begin, finish


def _replace_sentence(text: str, span: tuple[int, int], rewrite: str) -> str:
    begin, finish = span
    if finish < len(text) and text[finish] in ".!?" and rewrite[-1:] in (".", "!", "?", "…"):
        finish += 1
    return text[:begin] + rewrite + text[finish:]


def _rule_flags(draft: str, rule: Rule) -> list[Flag]:
    hits: list[re.Match[str]] = []
    for pattern in rule.patterns:
        hits += pattern.finditer(draft)
    hits.sort(key=lambda m: m.start())
    kept: list[re.Match[str]] = []
    for m in hits:
        if kept and m.start() < kept[-1].end():
            continue
        span = _sentence(draft, m.start(), m.end())
        sentence = draft[span[0] : span[1]]
        if any(u.search(sentence) for u in rule.unless):
            continue
        kept.append(m)
    if len(kept) < rule.min_count:
        return []
    shown = kept[rule.min_count - 1 :] if rule.min_count > 1 else kept
    return [
        Flag(
            rule=rule.id,
            phrase=m.group().strip(),
            start=m.start(),
            end=m.end(),
            reason=rule.reason,
            rewrite=rule.rewrite,
            fixed=_replace_sentence(draft, _sentence(draft, m.start(), m.end()), rule.rewrite)
            if rule.replace
            else None,
        )
        for m in shown
    ]


def _ask_flags(draft: str, asks: tuple[Ask, ...], known: list[Known]) -> list[Flag]:
    out: list[Flag] = []
    for ask in asks:
        given = next((k for k in known if k.what == ask.what), None)
        if given is None:
            continue
        for pattern in ask.patterns:
            m = pattern.search(draft)
            if m is None:
                continue
            rewrite = (
                f"I have your {ask.what} ({given.value}) from your {given.channel} message, "
                "so there's no need to send it again."
            )
            out.append(
                Flag(
                    rule=f"asked_again:{ask.what}",
                    phrase=m.group().strip(),
                    start=m.start(),
                    end=m.end(),
                    reason=(
                        f"They already gave their {ask.what} on {given.channel} "
                        f"({given.value}): don't make them repeat it."
                    ),
                    rewrite=rewrite,
                    fixed=_replace_sentence(draft, _sentence(draft, m.start(), m.end()), rewrite),
                )
            )
            break
    return out


def coach(
    draft: str,
    *,
    known: list[Known] | None = None,
    extra: tuple[Rule, ...] = (),
    path: Path = RULES_FILE,
) -> list[Flag]:
    """Every flag for ``draft``, in the order the phrases appear."""
    shipped, asks = rules(path)
    flags: list[Flag] = []
    for rule in (*shipped, *extra):
        flags += _rule_flags(draft, rule)
    flags += _ask_flags(draft, asks, known or [])
    return sorted(flags, key=lambda f: (f.start, f.rule))


def known_values(customer: Customer, events: list[Event]) -> list[Known]:
    """What the customer already gave: identities (on the channel they used them
    from) and values the asks find in their own messages (first found wins)."""
    _, asks = rules()
    inbound = [e for e in events if e.direction is Direction.IN]
    out: list[Known] = []
    for ask in asks:
        if ask.identity is not None:
            held = next((i for i in customer.identities if i.kind == ask.identity), None)
            if held is None:
                continue
            used = next((e.channel for e in reversed(inbound) if e.identity == held), None)
            out.append(Known(ask.what, held.value, used or ask.identity))
        elif ask.found is not None:
            for event in reversed(inbound):
                m = ask.found.search(event.text or "")
                if m:
                    out.append(Known(ask.what, m.group(1), event.channel))
                    break
    return out


@action
async def tone(ctx: Ctx) -> Response:
    """The coach's flags for the draft in ``text`` (JSON); it never stores anything."""
    draft = ctx.field("text")
    if len(draft) > MAX_DRAFT:
        raise InvalidInput("text", "the draft is too long to check")
    hub = ctx.hub
    conv = await hub.store.get_conversation(ctx.request.path_params["conversation_id"])
    customer = await survivor(hub.store, conv.customer_id)
    recent = await hub.store.events(customer_id=customer.id, limit=200)
    extra = team_rules(hub.settings.agent.tone, team_of(conv.tags))
    flags = coach(draft, known=known_values(customer, recent.items), extra=extra)
    return JSONResponse({"text": draft, "flags": [f.as_json() for f in flags]})
