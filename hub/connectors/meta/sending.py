"""Sending on Messenger, Instagram and WhatsApp: the Meta connector's outbound half, as a mixin.

Text goes as JSON to ``/{account}/messages``; files go to Messenger as multipart
``filedata`` after the text, and to WhatsApp uploaded to ``/{account}/media`` and
then sent by id (the text as the first one's caption when it fits).
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from hub.connectors.base import ConnectorContext, OutboundMessage, SendResult
from hub.connectors.meta import bodies
from hub.connectors.meta.graph import graph_error, json_object
from hub.connectors.meta.receipts import Ledger
from hub.connectors.meta.settings import MetaSettings
from hub.errors import PermanentError, TransientError
from hub.timeline.model import Identity

__all__ = ["Sending"]


class Sending:
    """The outbound half of :class:`~hub.connectors.meta.MetaConnector`."""

    config: MetaSettings
    context: ConnectorContext
    ledger: Ledger

    def _started(self) -> httpx.AsyncClient:
        raise NotImplementedError

    def _account(self, channel: str, account: str | None) -> tuple[str, str]:
        raise NotImplementedError

    async def _route(self, channel: str, customer: Identity) -> str | None:
        raise NotImplementedError

    async def _post(
        self,
        url: str,
        token: str,
        body: dict[str, Any],
        *,
        files: dict[str, tuple[str, bytes, str]] | None = None,
    ) -> dict[str, Any]:
        """POST JSON ``body``, or with ``files`` a multipart form of ``body``'s fields."""
        client = self._started()
        headers = {"Authorization": f"Bearer {token}"}
        try:
            if files:
                fields = {k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()}
                response = await client.post(url, data=fields, files=files, headers=headers)
            else:
                response = await client.post(url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise TransientError(f"Graph API unreachable: {type(exc).__name__}") from exc
        if not response.is_success:
            raise graph_error(response)
        return json_object(response)

    async def _send_messaging(self, message: OutboundMessage) -> SendResult:
        account, token = self._account(
            message.channel, await self._route(message.channel, message.to)
        )
        base = (
            self.config.graph_url
            if message.channel == "messenger"
            else self.config.instagram_graph_url
        )
        url = f"{base}/{self.config.graph_version}/{account}/messages"
        data: dict[str, Any] = {}
        if message.text or not message.attachments:
            body = bodies.messaging_body(message, default_tag=self.config.human_agent_tag)
            data = await self._post(url, token, body)
        for attachment in message.attachments:
            form = bodies.messaging_attachment(message, attachment, self.config.human_agent_tag)
            blob = await self.context.blobs.get(attachment.blob_id)
            files = {"filedata": (attachment.filename, blob, attachment.content_type)}
            data = await self._post(url, token, form, files=files)
        mid = data.get("message_id")
        if not isinstance(mid, str):
            return SendResult()
        await self.ledger.record(message.channel, message.to, mid)
        return SendResult(provider_id=mid, thread_ref=mid)

    async def _send_whatsapp(self, message: OutboundMessage) -> SendResult:
        account, token = self._account("whatsapp", await self._route("whatsapp", message.to))
        base = f"{self.config.graph_url}/{self.config.graph_version}/{account}"
        url = f"{base}/messages"
        caption = bodies.whatsapp_caption(message)
        data: dict[str, Any] = {}
        if not message.attachments or (message.text and caption is None):
            body = bodies.whatsapp_body(message, default_language=self.config.template_language)
            data = await self._post(url, token, body)
        for attachment in message.attachments:
            blob = await self.context.blobs.get(attachment.blob_id)
            upload = await self._post(
                f"{base}/media",
                token,
                {"messaging_product": "whatsapp", "type": attachment.content_type},
                files={"file": (attachment.filename, blob, attachment.content_type)},
            )
            media_id = upload.get("id")
            if not isinstance(media_id, str):
                raise PermanentError("WhatsApp gave no media id for the upload")
            body = bodies.whatsapp_media(message, attachment, media_id, caption)
            caption = None
            data = await self._post(url, token, body)
        sent = data.get("messages")
        wamid = sent[0].get("id") if isinstance(sent, list) and sent else None
        if not isinstance(wamid, str):
            return SendResult()
        return SendResult(provider_id=wamid, thread_ref=wamid)
