"""``TwilioConnector``: one Twilio account, two channels (``sms`` and ``voice``).

Routes (under ``/connectors/twilio``), every one signature-checked:

====================  ==============================================
``POST /sms``         inbound SMS / MMS (the number's messaging webhook)
``POST /sms/status``  delivery status of messages we sent
``POST /voice``       inbound call (the number's voice webhook) → TwiML
``POST /voice/status``  call progress (number status callback, agent legs)
``POST /voice/dial``  the ``<Dial>`` / ``<Enqueue>`` outcome → voicemail if missed
``POST /voice/recording``      the voicemail ``<Record>`` action
``POST /voice/transcription``  the voicemail transcript
``POST /voice/callback``       outcome of a "call me back" (``send`` on ``voice``)
====================  ==============================================
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlencode

from starlette.responses import Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator

from hub.connectors.base import (
    Capabilities,
    Channel,
    Connector,
    ConnectorContext,
    ConnectorSettings,
    InboundMessage,
    IngestResult,
    OutboundMessage,
    SendResult,
)
from hub.connectors.twilio import sms, voice
from hub.connectors.twilio.client import Download, Rest
from hub.connectors.twilio.memory import CallerDirectory, Memory, RememberedCallers
from hub.connectors.twilio.settings import TwilioNumber, TwilioSettings
from hub.connectors.twilio.webhooks import BadForm, Form, read_signed_form
from hub.errors import ConnectorError, InvalidIdentity, PermanentError
from hub.timeline.model import (
    Attachment,
    DeliveryStatus,
    EventKind,
    Identity,
    normalise_identity,
)

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.routing import BaseRoute

__all__ = ["SMS", "VOICE", "TwilioConnector"]

SMS = "sms"
VOICE = "voice"
WHATSAPP = "whatsapp"
WINDOW = timedelta(hours=24)
"""WhatsApp's customer service window: free-form replies only this long after their message."""
_LATE_REPORT_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
_MAX_LATE_REPORTS = 1000

Handler = Callable[["TwilioConnector", "Request", Form], Awaitable[Response]]


class TwilioConnector(Connector):
    """SMS/MMS and voice through one Twilio account; customers are ``phone:<E.164>``.

    ``directory`` answers "who is calling" for the voice greeting; by default
    it only knows whether the number reached us before. The handoff module
    replaces it with one that knows the customer's name and context.
    """

    name: ClassVar[str] = "twilio"
    identity_kind: ClassVar[str | None] = "phone"
    channels: ClassVar[tuple[str | Channel, ...]] = (
        Channel(SMS, "phone", Capabilities(text_limit=1600)),
        Channel(VOICE, "phone", Capabilities(text_limit=500)),
        Channel(WHATSAPP, "phone", Capabilities(text_limit=1600, reply_window=WINDOW), shared=True),
    )
    settings_model: ClassVar[type[ConnectorSettings]] = TwilioSettings

    def __init__(self, settings: ConnectorSettings, context: ConnectorContext) -> None:
        super().__init__(settings, context)
        assert isinstance(settings, TwilioSettings)
        self.config = settings
        self.log = context.logger
        self.validator = RequestValidator(settings.auth_token.get_secret_value())
        self.memory = Memory(context.checkpoints)
        self.directory: CallerDirectory = RememberedCallers(self.memory)
        self.rest = Rest(
            settings.account_sid,
            settings.auth_token.get_secret_value(),
            base_url=settings.api_base_url,
            timeout=settings.request_timeout,
        )
        self._tasks: set[asyncio.Task[None]] = set()
        self._late: set[tuple[str, str, DeliveryStatus]] = set()

    # -- plumbing ------------------------------------------------------------
    def url(self, path: str, **query: str | None) -> str:
        """The public URL of one of our routes, with ``query`` (Twilio signs it too)."""
        base = f"{self.context.public_url.rstrip('/')}/connectors/{self.name}{path}"
        params = {k: v for k, v in query.items() if v is not None}
        return f"{base}?{urlencode(params)}" if params else base

    def routes(self) -> Sequence[BaseRoute]:
        table: list[tuple[str, Handler]] = [
            ("/sms", sms.inbound),
            ("/sms/status", sms.status),
            ("/voice", voice.inbound),
            ("/voice/status", voice.status),
            ("/voice/dial", voice.dial_outcome),
            ("/voice/recording", voice.recording),
            ("/voice/transcription", voice.transcription),
            ("/voice/callback", voice.callback_outcome),
        ]
        return [Route(path, self._webhook(handler), methods=["POST"]) for path, handler in table]

    def _webhook(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                form = await read_signed_form(request, self.validator, self.context.public_url)
                return await handler(self, request, form)
            except BadForm as exc:
                if exc.status == 403:
                    self.log.warning(
                        "twilio webhook refused: %s (%s)", exc.message, request.url.path
                    )
                return exc.response()

        return endpoint

    def inbox(self, to: str) -> TwilioNumber:
        """The configured number a webhook was addressed to; 404 (logged) if none."""
        try:
            number = normalise_identity("phone", to).value
        except InvalidIdentity:
            number = to
        found = self.config.number(number)
        if found is None:
            self.log.warning("twilio webhook for a number this hub does not serve: %s", to)
            raise BadForm(404, f"{to} is not a number this hub serves", "To")
        return found

    def phone(self, value: str, field: str) -> Identity:
        """The ``phone:`` identity of a number Twilio sent (national formats read in
        the hub's ``default_region``); 422 naming ``field`` if it is none."""
        try:
            return normalise_identity("phone", value, default_region=self.context.default_region)
        except InvalidIdentity as exc:
            raise BadForm(422, f"{field} is not a phone number: {exc.reason}", field) from None

    def spawn(self, coro: Awaitable[None], name: str) -> None:
        async def run() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                self.log.exception("twilio background task %s failed", name)

        task = asyncio.create_task(run(), name=f"omnihub-twilio-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- lifecycle -------------------------------------------------------------
    async def start(self) -> None:
        await self.rest.open()
        for key in await self.memory.pending():
            self.spawn(self._retry_download(key), f"retry-{key}")

    async def stop(self) -> None:
        tasks, self._tasks = set(self._tasks), set()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.rest.close()

    # -- inbound helpers -------------------------------------------------------
    async def ingest(self, message: InboundMessage, *, our_number: str) -> IngestResult:
        """Ingest, then remember the number's conversation (which of our numbers replies).

        Continuity across channels (a call after a text) is the hub's: the
        handoff hook in ``pipeline.ingest`` joins the customer's recent conversation.
        """
        result = await self.context.ingest(message)
        if result.created and message.identity.kind == "phone":
            await self.memory.remember_contact(
                message.identity.value,
                conversation_id=result.event.conversation_id,
                channel=message.channel,
                our_number=our_number,
            )
        return result

    async def fetch(
        self, media: Sequence[tuple[str, str]], *, prefix: str
    ) -> tuple[list[Attachment], list[dict[str, Any]]]:
        """Download ``(url, content_type)`` pairs into the blob store.

        Downloads run together, each within ``fetch_timeout``, so Twilio's 15 s
        budget holds. Returns the attachments and, for each failure, ``{url,
        content_type, filename, error, retry}`` (``retry`` false when permanent).
        """
        results = await asyncio.gather(*(self._fetch_one(url, declared) for url, declared in media))
        attachments: list[Attachment] = []
        failures: list[dict[str, Any]] = []
        for i, ((url, declared), got) in enumerate(zip(media, results, strict=True)):
            filename = f"{prefix}-{i}{_extension(declared)}"
            if isinstance(got, ConnectorError):
                failures.append(
                    {
                        "url": url,
                        "content_type": declared,
                        "filename": filename,
                        "error": str(got),
                        "retry": not isinstance(got, PermanentError),
                    }
                )
                continue
            blob_id = await self.context.blobs.put(got.data)
            content_type = declared or got.content_type
            attachments.append(Attachment(blob_id, filename, content_type, len(got.data)))
        return attachments, failures

    async def _fetch_one(self, url: str, declared: str) -> Download | ConnectorError:
        try:
            return await self.rest.download(
                url, max_bytes=self.config.media_max_bytes, within=self.config.fetch_timeout
            )
        except ConnectorError as exc:
            return exc

    async def retry_later(
        self, original: InboundMessage, failures: list[dict[str, Any]], conversation_id: str | None
    ) -> None:
        """Keep failed downloads (durably, in the connector's checkpoints) and retry them in
        the background, also after a restart; a success lands as a follow-up event (same
        kind) carrying the attachments. A webhook replayed while its retry is pending
        changes nothing; one replayed after it settled retries again, and the follow-up
        event is stored once (same external id)."""
        retryable = [f for f in failures if f["retry"]]
        if not retryable:
            return
        key = f"{original.channel}:{original.external_id}"
        if key in await self.memory.pending():
            return
        await self.memory.add_pending(
            key,
            {
                "channel": original.channel,
                "external_id": original.external_id,
                "identity": str(original.identity),
                "kind": original.kind.value,
                "conversation_id": conversation_id,
                "media": [{"url": f["url"], "content_type": f["content_type"]} for f in retryable],
                "attempt": 0,
            },
        )
        self.spawn(self._retry_download(key), f"retry-{key}")

    async def _retry_download(self, key: str) -> None:
        delays = self.config.retry_delays
        while True:
            item = (await self.memory.pending()).get(key)
            if item is None:
                return
            attempt = int(item.get("attempt", 0))
            if attempt >= len(delays):
                await self._give_up(key, item, f"gave up after {attempt} attempts")
                return
            await asyncio.sleep(delays[attempt])
            media = [(str(m["url"]), str(m["content_type"])) for m in item["media"]]
            attachments, failures = await self.fetch(media, prefix=item["external_id"])
            if not failures:
                await self._recovered(item, attachments)
                await self.memory.drop_pending(key)
                return
            if not any(f["retry"] for f in failures):
                await self._give_up(key, item, failures[0]["error"])
                return
            item["attempt"] = attempt + 1
            item["last_error"] = failures[0]["error"]
            await self.memory.add_pending(key, item)

    async def _recovered(self, item: dict[str, Any], attachments: list[Attachment]) -> None:
        kind = EventKind(item["kind"])
        noun = "Voicemail recording" if kind is EventKind.VOICEMAIL else "Media"
        await self.context.ingest(
            InboundMessage(
                channel=item["channel"],
                external_id=f"{item['external_id']}:media",
                identity=Identity.parse(item["identity"]),
                kind=kind,
                text=f"{noun} retrieved after an earlier failure",
                attachments=tuple(attachments),
                conversation_id=item.get("conversation_id"),
                meta={"recovered_for": item["external_id"]},
            )
        )

    async def _give_up(self, key: str, item: dict[str, Any], reason: str) -> None:
        await self.context.ingest(
            InboundMessage(
                channel=item["channel"],
                external_id=f"{item['external_id']}:media",
                identity=Identity.parse(item["identity"]),
                kind=EventKind.STATUS,
                text=f"Could not retrieve media: {reason}",
                conversation_id=item.get("conversation_id"),
                meta={"media_error": reason, "recovered_for": item["external_id"]},
            )
        )
        await self.memory.drop_pending(key)

    # -- delivery reports ------------------------------------------------------
    async def report(
        self, channel: str, sid: str, status: DeliveryStatus, error: str | None = None
    ) -> None:
        """Record a status callback (never backwards, see ``report_delivery``).

        A callback can beat the outbox recording the SID that :meth:`send`
        returned; a final status that found nothing to update is re-applied a
        few times in the background (each retry is a no-op once it holds).
        """
        applied = await self.context.report_delivery(channel, sid, status, error=error)
        late = (channel, sid, status)
        if (
            applied is None
            and status.rank > DeliveryStatus.SENT.rank
            and late not in self._late
            and len(self._late) < _MAX_LATE_REPORTS
        ):
            self._late.add(late)
            self.spawn(self._late_report(channel, sid, status, error), f"report-{sid}")

    async def _late_report(
        self, channel: str, sid: str, status: DeliveryStatus, error: str | None
    ) -> None:
        try:
            for delay in _LATE_REPORT_DELAYS:
                await asyncio.sleep(delay)
                if await self.context.report_delivery(channel, sid, status, error=error):
                    return
        finally:
            self._late.discard((channel, sid, status))

    # -- outbound ----------------------------------------------------------------
    def serves(self, channel: str) -> bool:
        """``whatsapp`` only when a number is marked as a WhatsApp sender."""
        return channel != WHATSAPP or self.config.whatsapp

    async def send(self, message: OutboundMessage) -> SendResult:
        if message.channel in (SMS, WHATSAPP):
            return await sms.send(self, message)
        if message.channel == VOICE:
            return await voice.send(self, message)
        raise PermanentError(f"the twilio connector does not serve channel {message.channel!r}")

    async def our_number_for(self, customer: str, requested: object = None) -> TwilioNumber:
        """Which of our numbers talks to ``customer``: the one asked for, else the one
        they last used, else the first configured."""
        if isinstance(requested, str) and requested:
            found = self.config.number(requested)
            if found is None:
                raise PermanentError(f"{requested} is not one of this hub's Twilio numbers")
            return found
        contact = await self.memory.contact(customer)
        if contact is not None:
            found = self.config.number(contact.our_number)
            if found is not None:
                return found
        return self.config.numbers[0]


def _extension(content_type: str) -> str:
    return {
        "image/jpeg": ".jpg",
        "image/png": ".png",
        "image/gif": ".gif",
        "audio/mpeg": ".mp3",
        "audio/x-wav": ".wav",
        "audio/wav": ".wav",
        "video/mp4": ".mp4",
        "application/pdf": ".pdf",
        "text/plain": ".txt",
        "text/vcard": ".vcf",
    }.get(content_type.split(";")[0].strip().lower(), "")
