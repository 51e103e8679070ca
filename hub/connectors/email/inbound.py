"""A fetched message → an :class:`InboundMessage` (or a quarantine event).

Blobs first (the raw message, attachments, inline images), then the envelope.
Threading evidence, strongest first: a signed ``reply+<token>`` recipient, one
of our signed Message-IDs in In-Reply-To / References, then every stored
Message-ID (the pipeline's ``in_reply_to`` lookup); otherwise a new
conversation (``new_thread``): email never falls into "the customer's open
conversation" by default, so a new topic under a new subject stays its own.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from hub.connectors.base import ConnectorContext, InboundMessage
from hub.connectors.email.imap import FetchedMail
from hub.connectors.email.parse import ParsedMail, header_text, parse_headers, parse_mail
from hub.connectors.email.settings import EmailSettings
from hub.connectors.email.threading import ReplyTokens
from hub.errors import InvalidIdentity
from hub.timeline.model import Attachment, Identity, normalise_identity
from hub.timeline.quarantine import printable

__all__ = [
    "CHANNEL",
    "Converted",
    "Unreadable",
    "convert",
    "fetched_from",
    "is_robot",
    "quarantine_event",
    "source_of",
    "summary_of",
]

CHANNEL = "email"
QUARANTINE_KIND = "quarantine"


@dataclass(frozen=True, slots=True)
class Converted:
    """The envelope to ingest, plus what the connector does after ingest."""

    message: InboundMessage
    parsed: ParsedMail | None


def _imap_meta(fetched: FetchedMail) -> dict[str, Any]:
    return {
        "account": fetched.account,
        "mailbox": fetched.mailbox,
        "uidvalidity": fetched.uidvalidity,
        "uid": fetched.uid,
        "size": fetched.size,
    }


class Unreadable(ValueError):
    """The message cannot become an event (no sender, or the parser failed on it)."""


def source_of(fetched: FetchedMail) -> dict[str, Any]:
    """Where a quarantined message came from (enough to re-read it as fetched)."""
    return {**_imap_meta(fetched), "too_large": fetched.too_large}


def fetched_from(source: dict[str, Any], raw: bytes) -> FetchedMail:
    """The :class:`FetchedMail` a quarantined message was, from its ``source``."""
    return FetchedMail(
        account=str(source.get("account", "")),
        mailbox=str(source.get("mailbox", "INBOX")),
        uidvalidity=int(source.get("uidvalidity", 0)),
        uid=int(source.get("uid", 0)),
        raw=raw,
        size=int(source.get("size", len(raw))),
        too_large=bool(source.get("too_large", False)),
    )


def summary_of(raw: bytes) -> str:
    """Sender and subject, as far as they can be read, for the agent's quarantine list."""
    try:
        headers = parse_headers(raw[:65536])
        sender = header_text(str(headers.get("From", "") or ""), headers)
        subject = header_text(str(headers.get("Subject", "") or ""), headers)
    except Exception:  # the summary is a courtesy: an unreadable header gives none
        return ""
    return printable(f"From: {sender} · Subject: {subject}", 300)


async def quarantine_event(
    fetched: FetchedMail, context: ConnectorContext, reason: str
) -> InboundMessage:
    """Without a quarantine store: an event that keeps the raw bytes of a message
    we cannot ingest, under a per-account pseudo-customer."""
    raw_blob = await context.blobs.put(fetched.raw)
    digest = hashlib.sha256(fetched.raw).hexdigest()
    return InboundMessage(
        channel=CHANNEL,
        external_id=f"quarantine:sha256-{digest}",
        identity=Identity(QUARANTINE_KIND, f"email_{fetched.account}"),
        customer_name=f"Quarantined email ({fetched.account})",
        text=f"Quarantined: this message could not be read ({reason}). The raw message is kept.",
        new_thread=True,
        meta={**_imap_meta(fetched), "quarantined": True, "error": reason, "raw_blob": raw_blob},
    )


def is_robot(parsed: ParsedMail, conversation_id: str | None) -> bool:
    """Whether a robot answered: a bounce or an auto-reply, or auto-generated mail
    that reacts to a conversation (a notification that starts one is kept as a
    message: someone's system may be asking for help)."""
    if parsed.auto in ("bounce", "auto-replied"):
        return True
    return parsed.auto == "auto-generated" and bool(conversation_id or parsed.references)


async def convert(
    fetched: FetchedMail, settings: EmailSettings, tokens: ReplyTokens, context: ConnectorContext
) -> Converted | None:
    """The envelope for ``fetched``; ``None`` for an echo of our own outbound mail.

    Raises :class:`Unreadable` for a message that can never be ingested as it is.
    """
    try:
        parsed = parse_mail(
            fetched.raw,
            languages=settings.languages,
            max_html_chars=settings.max_html_chars,
            headers_only=fetched.too_large,
        )
        identity = normalise_identity("email", parsed.from_address)
    except (ValueError, InvalidIdentity) as exc:
        raise Unreadable(str(exc)[:300]) from exc
    except Exception as exc:  # the parser itself failed on these bytes
        raise Unreadable(f"{type(exc).__name__}: {exc}"[:300]) from exc
    if tokens.is_ours(parsed.message_id):
        return None

    meta: dict[str, Any] = {**_imap_meta(fetched), "message_id": parsed.message_id}
    meta["raw_blob"] = await context.blobs.put(fetched.raw)
    attachments: list[Attachment] = []
    skipped: list[dict[str, Any]] = []
    inline: dict[str, str] = {}
    for part in parsed.attachments:
        if len(part.data) > settings.max_attachment_bytes:
            skipped.append({"filename": part.filename, "size": len(part.data), "why": "too large"})
            continue
        blob_id = await context.blobs.put(part.data)
        attachments.append(Attachment(blob_id, part.filename, part.content_type, len(part.data)))
        if part.content_id:
            inline[part.content_id] = blob_id
    if skipped:
        meta["skipped_attachments"] = skipped
    if inline:
        meta["inline"] = inline
    if parsed.auto:
        meta["auto"] = parsed.auto
    if parsed.auto == "bounce":
        quoted = tokens.ours_in(parsed.full_text + "\n" + fetched.raw.decode("latin-1"))
        parsed.bounced_ids = tuple(dict.fromkeys((*parsed.bounced_ids, *quoted)))
        meta["bounce"] = {"message_ids": list(parsed.bounced_ids), "reason": parsed.bounce_reason}
    if parsed.forwarded:
        meta["forwarded"] = True
    if parsed.stripped:
        meta["stripped"] = True
    if parsed.derived_id:
        meta["derived_message_id"] = True
    if parsed.defects:
        meta["mime_defects"] = parsed.defects
    text = parsed.text or None
    if fetched.too_large:
        meta["too_large"] = True
        text = (
            f"This message is {fetched.size} bytes, over the {settings.max_message_bytes}-byte "
            "limit: only its headers were kept."
        )

    conversation_id = None
    for account in settings.accounts:
        conversation_id = tokens.from_recipients(account.reply_address, parsed.recipients)
        if conversation_id:
            meta["threaded_by"] = "reply-token"
            break
    if conversation_id is None:
        conversation_id = tokens.from_references(parsed.references)
        if conversation_id:
            meta["threaded_by"] = "message-id"

    if is_robot(parsed, conversation_id):
        meta["automated"] = True

    message = InboundMessage(
        channel=CHANNEL,
        external_id=parsed.message_id,
        identity=identity,
        customer_name=parsed.from_name,
        text=text,
        html=parsed.html,
        subject=parsed.subject,
        attachments=tuple(attachments),
        occurred_at=parsed.date,
        thread_ref=parsed.message_id,
        in_reply_to=parsed.references,
        conversation_id=conversation_id,
        new_thread=True,
        meta=meta,
    )
    return Converted(message, parsed)
