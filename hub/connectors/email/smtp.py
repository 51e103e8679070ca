"""Outbound mail: build a correctly threaded message and hand it to SMTP (aiosmtplib).

SMTP errors are mapped once, here: 4xx replies and connection problems are
:class:`~hub.errors.TransientError` (the outbox retries), 5xx replies are
:class:`~hub.errors.PermanentError` carrying the server's own text.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

import aiosmtplib

from hub.connectors.email.oauth import AccessTokens
from hub.connectors.email.settings import EmailAccount
from hub.errors import PermanentError, TransientError
from hub.timeline.model import utcnow

__all__ = ["OutgoingMail", "build_mail", "deliver"]

_MAX_REFERENCES = 20


@dataclass(frozen=True, slots=True)
class OutgoingFile:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class OutgoingMail:
    """Everything that goes into one outbound message."""

    message_id: str
    to: str
    subject: str
    text: str
    html: str | None = None
    reply_to: str | None = None
    references: tuple[str, ...] = ()
    attachments: tuple[OutgoingFile, ...] = ()
    auto_submitted: str | None = None
    thread_index: str | None = None
    thread_topic: str | None = None


def build_mail(account: EmailAccount, mail: OutgoingMail) -> EmailMessage:
    """The RFC 5322 message: threading headers, text + HTML alternatives, attachments."""
    msg = EmailMessage()
    local, _, domain = account.address.rpartition("@")
    msg["From"] = Address(display_name=account.display_name or "", username=local, domain=domain)
    msg["To"] = mail.to
    msg["Subject"] = mail.subject
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = mail.message_id
    if mail.reply_to:
        msg["Reply-To"] = mail.reply_to
    refs = [r for r in mail.references if r != mail.message_id]
    if len(refs) > _MAX_REFERENCES:
        refs = [refs[0], *refs[-(_MAX_REFERENCES - 1) :]]
    if refs:
        msg["In-Reply-To"] = refs[-1]
        msg["References"] = " ".join(refs)
    if mail.thread_index:
        msg["Thread-Index"] = mail.thread_index
    if mail.thread_topic:
        msg["Thread-Topic"] = mail.thread_topic
    if mail.auto_submitted:
        msg["Auto-Submitted"] = mail.auto_submitted
        msg["X-Auto-Response-Suppress"] = "All"
    msg.set_content(mail.text or "")
    if mail.html:
        msg.add_alternative(mail.html, subtype="html")
    for f in mail.attachments:
        maintype, _, subtype = f.content_type.partition("/")
        if not subtype:
            maintype, subtype = "application", "octet-stream"
        msg.add_attachment(f.data, maintype=maintype, subtype=subtype, filename=f.filename)
    return msg


async def _send_xoauth2(
    account: EmailAccount,
    message: EmailMessage,
    recipients: Sequence[str],
    tokens: AccessTokens,
    context: ssl.SSLContext | None,
) -> None:
    assert account.smtp_host is not None
    smtp = aiosmtplib.SMTP(
        hostname=account.smtp_host,
        port=account.smtp_port_or_default,
        use_tls=account.smtp_security == "tls",
        start_tls=account.smtp_security == "starttls",
        tls_context=context,
        timeout=account.timeout_seconds,
    )
    async with smtp:
        try:
            await smtp.auth_xoauth2(
                account.smtp_username or account.username or "", await tokens.get()
            )
        except aiosmtplib.SMTPAuthenticationError as exc:
            tokens.invalidate()  # expired or revoked: the retry logs in with a fresh one
            raise TransientError(f"XOAUTH2 refused: SMTP {exc.code}: {exc.message}") from None
        await smtp.send_message(message, recipients=list(recipients))


async def deliver(
    account: EmailAccount,
    message: EmailMessage,
    recipients: Sequence[str],
    tokens: AccessTokens | None = None,
) -> None:
    """Send over SMTP; raise TransientError (retry) or PermanentError (give up).

    ``tokens`` log in with XOAUTH2 (an ``auth = "oauth2"`` account)."""
    if not account.smtp_host:
        raise PermanentError(f"email account {account.name!r} has no smtp_host")
    password = account.smtp_password.get_secret_value() if account.smtp_password else None
    context = account.tls_context() if account.smtp_security != "plain" else None
    try:
        if tokens is not None:
            await _send_xoauth2(account, message, recipients, tokens, context)
            return
        _, reply = await aiosmtplib.send(
            message,
            recipients=list(recipients),
            hostname=account.smtp_host,
            port=account.smtp_port_or_default,
            use_tls=account.smtp_security == "tls",
            start_tls=account.smtp_security == "starttls",
            tls_context=context,
            username=account.smtp_username,
            password=password,
            timeout=account.timeout_seconds,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [r.code for r in exc.recipients]
        detail = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
        if codes and all(500 <= c < 600 for c in codes):
            raise PermanentError(f"recipient refused: {detail}") from None
        raise TransientError(f"recipient deferred: {detail}") from None
    except aiosmtplib.SMTPResponseException as exc:
        detail = f"SMTP {exc.code}: {exc.message}"
        if 500 <= exc.code < 600:
            raise PermanentError(detail) from None
        raise TransientError(detail) from None
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise TransientError(f"SMTP unreachable: {type(exc).__name__}: {exc}") from None
    del reply
