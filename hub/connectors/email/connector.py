"""The ``email`` channel: IMAP in, SMTP out, threads that hold."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from typing import Any, ClassVar

from hub.connectors.base import (
    Capabilities,
    Connector,
    ConnectorContext,
    ConnectorSettings,
    OutboundMessage,
    SendResult,
)
from hub.connectors.email.body import html_to_text, sanitise_html
from hub.connectors.email.imap import FetchedMail, MailboxWatcher
from hub.connectors.email.inbound import (
    CHANNEL,
    Unreadable,
    convert,
    fetched_from,
    quarantine_event,
    source_of,
    summary_of,
)
from hub.connectors.email.parse import ParsedMail
from hub.connectors.email.settings import EmailSettings
from hub.connectors.email.smtp import OutgoingFile, OutgoingMail, build_mail, deliver
from hub.connectors.email.threading import ReplyTokens, reply_subject
from hub.errors import NotFound, PermanentError
from hub.timeline.model import DeliveryStatus, Event
from hub.timeline.quarantine import QuarantinedMessage, printable

__all__ = ["INGEST_ATTEMPTS", "EmailConnector"]

INGEST_ATTEMPTS = 3
"""Failed ingests of one message (not a data error) before it is quarantined."""
_DATA_ERRORS = (Unreadable, UnicodeError, ValueError, TypeError, RecursionError)


class EmailConnector(Connector):
    """Reads every configured mailbox over IMAP and sends replies over SMTP.

    Inbound mail is ingested with its Message-ID as the dedupe key and thread
    reference; the raw message is kept as a blob (``meta["raw_blob"]``).
    Auto-replies, bounces and list mail carry ``meta["auto"]`` and are never
    answered by automated sends (``OutboundMessage.meta["automated"]``). A
    bounce of one of our messages marks that delivery failed.

    Outbound mail gets a Message-ID derived from the event id (a retry keeps
    it), In-Reply-To / References from the conversation's thread, and
    ``Reply-To: <local>+<signed token>@<domain>`` so any reply finds its
    conversation. ``meta["email_account"]`` picks the sending account.
    """

    name: ClassVar[str] = CHANNEL
    identity_kind: ClassVar[str | None] = "email"
    capabilities: ClassVar[Capabilities] = Capabilities(
        text_limit=200_000, attachments=True, max_attachment_bytes=20 * 1024 * 1024, threads=True
    )
    settings_model: ClassVar[type[ConnectorSettings]] = EmailSettings

    def __init__(self, settings: ConnectorSettings, context: ConnectorContext) -> None:
        super().__init__(settings, context)
        assert isinstance(settings, EmailSettings)
        self.config = settings
        self.tokens = ReplyTokens(settings.secret.get_secret_value())
        self.watchers: list[MailboxWatcher] = [
            MailboxWatcher(
                account,
                mailbox,
                self.handle,
                context.checkpoints,
                context.logger,
                max_message_bytes=settings.max_message_bytes,
            )
            for account in settings.accounts
            if account.imap_host
            for mailbox in account.mailboxes
        ]
        self._tasks: list[asyncio.Task[None]] = []
        self._states: dict[str, dict[str, Any]] = {}
        self._failures: dict[tuple[str, str, int, int], int] = {}

    async def start(self) -> None:
        """Start one watcher task per (account, mailbox)."""
        if self._tasks:
            return
        self._tasks = [
            asyncio.create_task(w.run(), name=f"omnihub-imap-{w.account.name}-{w.mailbox}")
            for w in self.watchers
        ]

    async def stop(self) -> None:
        """Cancel the watchers; a message being ingested is re-read (and deduped) next time."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- inbound -----------------------------------------------------------
    async def handle(self, fetched: FetchedMail) -> Event | None:
        """Ingest one fetched message; returns its event once committed (``None``: skipped
        or quarantined).

        A message that cannot be read, or whose ingest fails with a data error
        (bytes no store can encode, a value it refuses), is quarantined at once; any
        other failure is raised (the watcher reconnects and fetches it again) until
        the same message has failed ``INGEST_ATTEMPTS`` times, then it is quarantined
        too. Either way the mailbox moves on.
        """
        key = (fetched.account, fetched.mailbox, fetched.uidvalidity, fetched.uid)
        try:
            event = await self._ingest(fetched)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failures = self._failures.pop(key, 0) + 1
            if not isinstance(exc, _DATA_ERRORS) and failures < INGEST_ATTEMPTS:
                self._failures[key] = failures
                raise
            reason = str(exc) if isinstance(exc, Unreadable) else f"{type(exc).__name__}: {exc}"
            await self._quarantine(fetched, reason, failures)
            return None
        self._failures.pop(key, None)
        return event

    async def retry_quarantined(self, record: QuarantinedMessage, raw: bytes) -> Event | None:
        """Ingest a quarantined message again, as it was fetched; raises if it still fails."""
        return await self._ingest(fetched_from(record.source, raw))

    async def _quarantine(self, fetched: FetchedMail, reason: str, attempts: int) -> None:
        reason = printable(reason, 300)
        context = self.context
        if context.quarantine is None:
            await context.ingest(await quarantine_event(fetched, context, reason))
            return
        record = QuarantinedMessage(
            channel=CHANNEL,
            key="sha256-" + hashlib.sha256(fetched.raw).hexdigest(),
            reason=reason,
            raw_blob=await context.blobs.put(fetched.raw),
            size=len(fetched.raw),
            source=source_of(fetched),
            summary=summary_of(fetched.raw) or None,
            attempts=attempts,
        )
        stored, _ = await context.quarantine(record)
        context.logger.warning(
            "email %s:%s uid %s quarantined as %s: %s",
            fetched.account,
            fetched.mailbox,
            fetched.uid,
            stored.id,
            reason,
        )

    async def _ingest(self, fetched: FetchedMail) -> Event | None:
        converted = await convert(fetched, self.config, self.tokens, self.context)
        if converted is None:
            return None
        result = await self.context.ingest(converted.message)
        parsed = converted.parsed
        event = result.event
        if parsed is not None and parsed.auto == "bounce":
            await self._report_bounce(parsed)
        if parsed is None or event.conversation_id is None:
            return event
        subject = parsed.subject
        if event.meta.get("automated"):
            subject = (await self._state(event.conversation_id)).get("subject") or subject
        await self._remember(
            event.conversation_id,
            {"account": fetched.account, "subject": subject, "auto": parsed.auto},
        )
        return event

    async def _report_bounce(self, parsed: ParsedMail) -> None:
        for ref in parsed.bounced_ids:
            if self.tokens.is_ours(ref):
                await self.context.report_delivery(
                    CHANNEL, ref, DeliveryStatus.FAILED, error=parsed.bounce_reason or "bounced"
                )

    async def _remember(self, conversation_id: str, state: dict[str, Any]) -> None:
        key = f"conversation:{conversation_id}"
        if self._states.get(key) == state:
            return
        await self.context.checkpoints.set(key, state)
        self._states[key] = state

    async def _state(self, conversation_id: str | None) -> dict[str, Any]:
        if conversation_id is None:
            return {}
        key = f"conversation:{conversation_id}"
        if key not in self._states:
            self._states[key] = await self.context.checkpoints.get(key) or {}
        return self._states[key]

    # -- outbound ----------------------------------------------------------
    async def send(self, message: OutboundMessage) -> SendResult:
        if message.to.kind != "email":
            raise PermanentError(f"cannot email {message.to}")
        state = await self._state(message.conversation_id)
        account = self.config.account(message.meta.get("email_account") or state.get("account"))
        if account is None:
            raise PermanentError("no email account can send: configure smtp_host")
        automated = bool(message.meta.get("automated"))
        if automated and state.get("auto"):
            raise PermanentError(
                f"not answering automatically: the customer's last mail was {state['auto']}"
            )
        message_id = self.tokens.message_id(
            message.event_id, message.conversation_id, account.domain
        )
        files = []
        for attachment in message.attachments:
            try:
                data = await self.context.blobs.get(attachment.blob_id)
            except NotFound:
                raise PermanentError(f"attachment {attachment.filename!r} is gone") from None
            files.append(OutgoingFile(attachment.filename, attachment.content_type, data))
        html = sanitise_html(message.html) if message.html else None
        mail = OutgoingMail(
            message_id=message_id,
            to=message.to.value,
            subject=message.subject
            or reply_subject(state.get("subject"))
            or self.config.default_subject,
            text=message.text or (html_to_text(html) if html else ""),
            html=html,
            reply_to=self.tokens.reply_address(account.reply_address, message.conversation_id)
            if message.conversation_id
            else None,
            references=message.in_reply_to,
            attachments=tuple(files),
            auto_submitted=("auto-replied" if state else "auto-generated") if automated else None,
        )
        await deliver(account, build_mail(account, mail), [message.to.value])
        return SendResult(provider_id=message_id, thread_ref=message_id)
