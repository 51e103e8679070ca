"""Raw RFC 5322 bytes → :class:`ParsedMail`, with the standard library's modern policy.

Parsing never raises for bad MIME, unknown charsets or a missing Message-ID;
only a message without a usable sender raises :class:`Unparseable` (the
connector quarantines it with its raw bytes).
"""

from __future__ import annotations

import codecs
import hashlib
import mimetypes
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from email.header import decode_header
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.policy import EmailPolicy
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from typing import Any

import charset_normalizer

from hub.connectors.email.body import (
    decode_payload,
    html_to_text,
    is_forward,
    part_text,
    sanitise_html,
    strip_html_reply,
    strip_reply,
)
from hub.connectors.email.content import (
    calendar_summary,
    encrypted_notice,
    is_calendar,
    is_tnef,
    unpack_tnef,
)
from hub.connectors.email.robots import (
    ROBOTS,
    bounce_details,
    classify,
    message_ids,
    robot_address,
)
from hub.connectors.email.topics import thread_index_root

__all__ = [
    "MailPart",
    "ParsedMail",
    "Unparseable",
    "clean_text",
    "header_text",
    "parse_headers",
    "parse_mail",
]

_RECIPIENT_HEADERS = ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To")
_MAX_REFS = 50
_MAX_TEXT = 200_000
_INLINE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
_INLINE_BUDGET = 1024 * 1024
_DECODED = {"subject"}
_SURROGATE = re.compile("[\udc80-\udcff]")
_BRACKETED = re.compile(r"^([^<>]*)<([^<>\s]+@[^<>\s]+)>$")
_NAME_ADDRESS = re.compile(r"[^\s<>@()\"',;:]+@[^\s<>@()\"',;:]+\.[^\s<>@()\"',;:]{2,}")


class _ParsePolicy(EmailPolicy):
    """``policy.default`` that parses each header value once per message.

    The modern policy builds a header object on every read, and a message's
    Content-Type is read a dozen times while walking it; the objects are
    immutable, so one message's parse shares them.
    """

    parsed_headers: dict[tuple[str, str], object] | None = None

    def header_fetch_parse(self, name: str, value: str) -> str:
        cache = self.parsed_headers
        if cache is None or hasattr(value, "name"):
            return super().header_fetch_parse(name, value)  # type: ignore[no-any-return]
        key = (name, value)
        found = cache.get(key)
        if found is None:
            found = cache[key] = super().header_fetch_parse(name, value)
        return found  # type: ignore[return-value]


_PARSE_POLICY = _ParsePolicy()


def _policy() -> EmailPolicy:
    fresh: dict[str, Any] = {"parsed_headers": {}}
    return _PARSE_POLICY.clone(**fresh)


class Unparseable(ValueError):
    """The message has no sender we can file it under."""


@dataclass(frozen=True, slots=True)
class MailPart:
    """An attachment or inline image with its bytes."""

    filename: str
    content_type: str
    data: bytes
    inline: bool = False
    content_id: str | None = None


@dataclass(slots=True)
class ParsedMail:
    """What the connector needs from one message."""

    message_id: str
    derived_id: bool
    from_address: str
    from_name: str | None
    subject: str | None
    date: datetime | None
    references: tuple[str, ...]
    recipients: tuple[str, ...]
    text: str
    full_text: str
    html: str | None
    attachments: list[MailPart] = field(default_factory=list)
    auto: str | None = None
    forwarded: bool = False
    stripped: bool = False
    bounced_ids: tuple[str, ...] = ()
    bounce_reason: str | None = None
    defects: int = 0
    thread_index: str | None = None
    thread_topic: str | None = None
    name_address: str | None = None
    """An address the display name shows that is not the sender's (``ceo@bank <x@evil>``)."""


def _declared_charsets(msg: Message) -> list[str]:
    found: list[str] = []
    for part in msg.walk():
        try:
            charset = part.get_content_charset()
        except (ValueError, LookupError):
            continue
        if charset and charset not in ("us-ascii", "utf-8", "utf8") and charset not in found:
            found.append(charset)
    return found


def header_text(value: str, msg: Message | None = None) -> str:
    """A header value as read by the parser, with raw 8-bit bytes decoded.

    The parser keeps bytes it cannot read as ASCII as lone surrogates, which no
    store can encode. They are UTF-8 (RFC 6532) if they decode as such, else in
    a charset the message declares for its text, else whatever charset-normalizer
    detects, else cp1252 — never left undecodable.
    """
    if not _SURROGATE.search(value):
        return value
    raw = value.encode("utf-8", "surrogateescape")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    for charset in _declared_charsets(msg) if msg is not None else []:
        try:
            codecs.lookup(charset)
            return raw.decode(charset)
        except (LookupError, UnicodeDecodeError, ValueError):
            continue
    best = charset_normalizer.from_bytes(raw).best()
    if best is not None:
        return str(best)
    return raw.decode("cp1252", errors="replace")


def clean_text(value: str) -> str:
    """``value`` with any lone surrogate replaced (a last guard before storing)."""
    return _SURROGATE.sub("\ufffd", value)


def _raw_headers(msg: Message, name: str) -> list[str]:
    # raw_items() skips the header registry: parsing every header into objects
    # costs more than the rest of the message.
    wanted = name.lower()
    return [
        header_text(str(value).replace("\r", "").replace("\n", ""), msg)
        for key, value in msg.raw_items()
        if key.lower() == wanted
    ]


def _decode_words(value: str) -> str:
    """RFC 2047 encoded words decoded, whatever charset they claim."""
    if "=?" not in value:
        return value
    try:
        chunks = decode_header(value)
    except (ValueError, LookupError):
        return value
    return "".join(
        decode_payload(chunk, charset) if isinstance(chunk, bytes) else chunk
        for chunk, charset in chunks
    )


def _header(msg: Message, name: str) -> str | None:
    values = _raw_headers(msg, name)
    if not values:
        return None
    return _decode_words(values[0]) if name.lower() in _DECODED else values[0]


def _headers(msg: Message, name: str) -> list[str]:
    return [_decode_words(v) for v in _raw_headers(msg, name)]


def _date(msg: Message) -> datetime | None:
    value = _header(msg, "Date")
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    if parsed > datetime.now(UTC) + timedelta(days=1) or parsed.year < 1990:
        return None
    return parsed


def _body_parts(msg: EmailMessage) -> tuple[Message | None, Message | None]:
    try:
        plain = msg.get_body(preferencelist=("plain",))
        html = msg.get_body(preferencelist=("html",))
    except Exception:
        return None, None
    return plain, html


@dataclass(slots=True)
class Extras:
    """What attachments add to the text: invitation summaries, a winmail.dat body."""

    invites: list[str] = field(default_factory=list)
    text: str | None = None
    html: str | None = None


def _attachments(msg: Message, skip: set[int], extra: Extras) -> list[MailPart]:
    parts: list[MailPart] = []

    def visit(part: Message) -> None:
        if id(part) in skip:
            return
        ctype = part.get_content_type()
        if is_calendar(part):
            ics = part_text(part)
            summary = calendar_summary(ics)
            if summary:
                extra.invites.append(summary)
            name = _safe_name(part.get_filename() or "invite.ics")
            parts.append(MailPart(name, "text/calendar", ics.encode("utf-8")))
            return
        if is_tnef(part) and not part.is_multipart():
            data = part.get_payload(decode=True)
            unpacked = unpack_tnef(data) if isinstance(data, bytes) else None
            if unpacked is not None:
                for name, content in unpacked.files:
                    guessed = mimetypes.guess_type(name)[0] or "application/octet-stream"
                    parts.append(MailPart(_safe_name(clean_text(name)), guessed, content))
                extra.text = extra.text or unpacked.text
                extra.html = extra.html or unpacked.html
                return
        if ctype == "message/rfc822":
            inner = part.get_payload(0) if part.is_multipart() else None
            eml = inner.as_bytes(policy=policy.SMTP) if isinstance(inner, Message) else b""
            subject = _header(inner, "Subject") if isinstance(inner, Message) else None
            parts.append(MailPart(_safe_name(subject or "message") + ".eml", ctype, eml))
            return
        if part.is_multipart():
            payload = part.get_payload()
            for sub in payload if isinstance(payload, list) else []:
                if isinstance(sub, Message):
                    visit(sub)
            return
        disposition = (part.get_content_disposition() or "").lower()
        filename = part.get_filename()
        filename = clean_text(filename) if filename else filename
        maintype = part.get_content_maintype()
        if maintype in ("text", "message") and not filename and disposition != "attachment":
            return
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            return
        cid = (_header(part, "Content-ID") or "").strip().strip("<>") or None
        name = _safe_name(filename or f"{'inline' if cid else 'attachment'}-{len(parts) + 1}")
        inline = disposition == "inline" or (disposition == "" and cid is not None)
        parts.append(MailPart(name, ctype, data, inline=inline, content_id=cid))

    visit(msg)
    return parts


def _inline_images(parts: list[MailPart]) -> dict[str, tuple[str, bytes]]:
    """Images an HTML body may show inline (``cid:``), within a size budget."""
    images: dict[str, tuple[str, bytes]] = {}
    budget = _INLINE_BUDGET
    for part in parts:
        if part.content_id and part.content_type in _INLINE_TYPES and len(part.data) <= budget:
            images[part.content_id] = (part.content_type, part.data)
            budget -= len(part.data)
    return images


def _safe_name(name: str) -> str:
    cleaned = re.sub(r"[\x00-\x1f/\\]+", "_", name).strip(" .") or "attachment"
    return cleaned[:200]


def sender_of(value: str) -> tuple[str, str]:
    """``(display name, address)`` of a From value; the address in angle brackets wins
    over anything address-like in the name (``ceo@bank.example <x@evil.example>``)."""
    bracketed = _BRACKETED.match(value.strip())
    if bracketed:
        return bracketed.group(1).strip().strip('"').strip(), bracketed.group(2)
    return parseaddr(value)


def parse_headers(raw: bytes) -> Message:
    """Headers only (for messages over the size limit)."""
    return BytesParser(policy=_policy()).parsebytes(raw, headersonly=True)


def parse_mail(
    raw: bytes,
    *,
    languages: tuple[str, ...] = ("en",),
    max_html_chars: int = 500_000,
    headers_only: bool = False,
) -> ParsedMail:
    """Parse one message. Raises :class:`Unparseable` only when it has no usable sender."""
    msg = BytesParser(policy=_policy()).parsebytes(raw, headersonly=headers_only)
    name, address = sender_of(_header(msg, "From") or "")
    if "@" not in address:
        name, address = sender_of(_header(msg, "Sender") or _header(msg, "Return-Path") or "")
    auto = classify(msg, _header)
    if "@" not in address and auto in ROBOTS:
        address = robot_address(msg, _header, name or "mailer-daemon") or address
    if "@" not in address:
        raise Unparseable("no From address")
    name = _decode_words(name)
    shown = _NAME_ADDRESS.search(name)
    name_address = shown.group(0).lower() if shown else None
    if name_address == address.lower():
        name_address = None
    ids = message_ids(_header(msg, "Message-ID"))
    derived = not ids
    message_id = ids[0] if ids else f"<sha256-{hashlib.sha256(raw).hexdigest()}@omnihub.invalid>"
    refs = message_ids(" ".join(_headers(msg, "References")))
    refs += message_ids(" ".join(_headers(msg, "In-Reply-To")))
    references = tuple(dict.fromkeys(r for r in refs if r != message_id))[-_MAX_REFS:]
    recipients = tuple(
        addr for _, addr in getaddresses([v for h in _RECIPIENT_HEADERS for v in _headers(msg, h)])
    )
    subject = " ".join((_header(msg, "Subject") or "").split())[:998] or None
    parsed = ParsedMail(
        message_id=message_id,
        derived_id=derived,
        from_address=address,
        from_name=None if name_address else " ".join(name.split())[:200] or None,
        subject=subject,
        date=_date(msg),
        references=references,
        recipients=recipients,
        text="",
        full_text="",
        html=None,
        auto=auto,
        name_address=name_address,
        defects=len(msg.defects),
    )
    parsed.thread_index = thread_index_root(_header(msg, "Thread-Index"))
    topic = " ".join(_decode_words(_header(msg, "Thread-Topic") or "").split())
    parsed.thread_topic = topic[:998] or None
    if parsed.auto == "bounce":
        parsed.bounced_ids, parsed.bounce_reason = bounce_details(msg, _header)
    if headers_only or not isinstance(msg, EmailMessage):
        return parsed
    plain, html = _body_parts(msg)
    if plain is not None and html is not None and not part_text(plain).strip():
        plain = None  # an empty text/plain beside a real HTML body
    skip = {id(p) for p in (plain, html) if p is not None}
    extra = Extras()
    parsed.attachments = _attachments(msg, skip, extra)
    html_source = part_text(html) if html is not None else extra.html
    full = part_text(plain) if plain is not None else html_to_text(html_source or "")
    if plain is None and html is None:
        if not msg.is_multipart() and msg.get_content_maintype() == "text":
            full = part_text(msg)
        elif extra.text:
            full = extra.text
    notice = encrypted_notice(msg)
    if notice is not None:
        full = notice
    full = full.replace("\r\n", "\n").strip()[:_MAX_TEXT]
    parsed.full_text = full
    parsed.forwarded = is_forward(subject, full)
    if parsed.forwarded or parsed.auto == "bounce":
        parsed.text = full
    elif plain is None and html_source is not None:
        parsed.text = strip_reply(html_to_text(strip_html_reply(html_source)), languages)
    else:
        parsed.text = strip_reply(full, languages)
    parsed.stripped = parsed.text != full
    if html_source is not None and len(html_source) <= max_html_chars:
        top = html_source if parsed.forwarded else strip_html_reply(html_source)
        parsed.html = sanitise_html(top, _inline_images(parsed.attachments)) or None
    if extra.invites:
        invites = "\n".join(extra.invites)
        parsed.text = f"{parsed.text}\n\n{invites}".strip()
        parsed.full_text = f"{parsed.full_text}\n\n{invites}".strip()
    return parsed
