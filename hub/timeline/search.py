"""Search across every customer's timeline: the query, its terms, the result page.

Both stores index the same **terms** of an event (its text and subject): runs of
letters and digits, lower-cased, accents removed (``Zürich`` → ``zurich``), the
way SQLite's FTS5 ``unicode61 remove_diacritics 2`` tokenizer splits them.
SQLite keeps them in an FTS5 table maintained by triggers on ``events`` (same
statement, same transaction as the append); MongoDB keeps them in the event
document's ``terms`` array under a multikey index (written by the same insert:
FerretDB v1.24 has no text indexes, so ``$text`` is not an option, and this
works the same on MongoDB). A query matches events holding every word and every
phrase (its words consecutive). Only what people wrote is searched: messages,
notes, calls and voicemails (transcripts), never status, merge or link records.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hub.errors import InvalidInput
from hub.timeline.model import Event, EventKind

__all__ = [
    "SEARCHABLE",
    "SearchPage",
    "SearchQuery",
    "has_phrase",
    "parse_query",
    "query_day",
    "query_from_params",
    "terms",
]

SEARCHABLE = (EventKind.MESSAGE, EventKind.NOTE, EventKind.CALL, EventKind.VOICEMAIL)
"""The event kinds search looks at."""

MAX_TERMS = 12
_TOKEN = re.compile(r"[^\W_]+")
_QUOTED = re.compile(r'"([^"]*)"')


def terms(text: str | None) -> list[str]:
    """The searchable terms of ``text``, in order (duplicates kept)."""
    if not text:
        return []
    folded = unicodedata.normalize("NFD", text.lower())
    bare = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return _TOKEN.findall(bare)


def event_terms(event: Event) -> list[str]:
    """The distinct terms an event is indexed under (text, then subject)."""
    if event.kind not in SEARCHABLE:
        return []
    return list(dict.fromkeys(terms(event.text) + terms(event.subject)))


def has_phrase(haystack: list[str], phrase: tuple[str, ...]) -> bool:
    """True when ``phrase`` occurs in ``haystack`` as consecutive terms."""
    n = len(phrase)
    return any(tuple(haystack[i : i + n]) == phrase for i in range(len(haystack) - n + 1))


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """What to look for. Every given filter must hold.

    ``words`` and ``phrases`` are already terms (see :func:`parse_query`);
    ``since``/``until`` bound ``occurred_at`` (``until`` exclusive); ``tag`` is a
    tag of the event's conversation.
    """

    words: tuple[str, ...] = ()
    phrases: tuple[tuple[str, ...], ...] = ()
    channel: str | None = None
    customer_id: str | None = None
    tag: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    @property
    def all_terms(self) -> list[str]:
        """Every term an event must hold (words and the words of phrases)."""
        out = list(self.words)
        for phrase in self.phrases:
            out += phrase
        return list(dict.fromkeys(out))

    def matches_phrases(self, event: Event) -> bool:
        """True when every phrase occurs in the event's text or subject."""
        if not self.phrases:
            return True
        text, subject = terms(event.text), terms(event.subject)
        return all(has_phrase(text, p) or has_phrase(subject, p) for p in self.phrases)


def parse_query(
    text: str,
    *,
    channel: str | None = None,
    customer_id: str | None = None,
    tag: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> SearchQuery:
    """A query from what an agent types: words, and ``"quoted phrases"``, plus filters.

    Raises :class:`~hub.errors.InvalidInput` (field ``q``) when there is nothing
    to search for or too much.
    """
    phrases = [tuple(terms(quoted)) for quoted in _QUOTED.findall(text)]
    rest = _QUOTED.sub(" ", text).replace('"', " ")
    single = [p[0] for p in phrases if len(p) == 1]
    query = SearchQuery(
        words=tuple(dict.fromkeys([*single, *terms(rest)])),
        phrases=tuple(dict.fromkeys(p for p in phrases if len(p) > 1)),
        channel=channel or None,
        customer_id=customer_id or None,
        tag=tag or None,
        since=since,
        until=until,
    )
    if not query.all_terms:
        raise InvalidInput("q", "give at least one word to search for")
    if len(query.all_terms) > MAX_TERMS:
        raise InvalidInput("q", f"at most {MAX_TERMS} words in a search")
    return query


@dataclass(frozen=True, slots=True)
class SearchPage:
    """Matching events, newest first; ``next`` continues towards older ones."""

    items: list[Event] = field(default_factory=list)
    next: str | None = None


def query_day(field: str, raw: str, *, end: bool) -> datetime:
    """A date (its start; with ``end``, the next day's) or an ISO 8601 time, aware UTC."""
    try:
        if len(raw) == 10:
            start = datetime.fromisoformat(raw).replace(tzinfo=UTC)
            return start + timedelta(days=1) if end else start
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(field, "give a date (2026-12-03) or an ISO 8601 time") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def query_from_params(params: Mapping[str, str]) -> SearchQuery:
    """A query from request parameters: ``q`` (words and ``"phrases"``), ``channel``,
    ``customer`` (an id), ``tag``, ``from`` and ``to`` (dates, both inclusive, or
    ISO 8601 times, UTC unless they say). Raises InvalidInput naming the field."""
    since = query_day("from", params["from"], end=False) if params.get("from") else None
    until = query_day("to", params["to"], end=True) if params.get("to") else None
    for name in ("channel", "customer", "tag"):
        if len(params.get(name, "")) > 200:
            raise InvalidInput(name, f"{name} is too long")
    if len(params.get("q", "")) > 1000:
        raise InvalidInput("q", "the search is too long")
    return parse_query(
        params.get("q", ""),
        channel=params.get("channel", "").strip() or None,
        customer_id=params.get("customer", "").strip() or None,
        tag=params.get("tag", "").strip() or None,
        since=since,
        until=until,
    )
