"""Telegram Bot API: a webhook in, ``sendMessage`` out (plain httpx, no bot framework).

Setup: :func:`setup_webhook` (``omnihub connectors setup telegram``) calls
``setWebhook`` with ``<public_url>/connectors/telegram/webhook``, a secret token,
``allowed_updates = ["message", "edited_message"]`` and ``max_connections = 1``,
so Telegram delivers updates one at a time, in ``update_id`` order. The secret
is ``webhook_secret`` if configured, else derived from the bot token
(HMAC-SHA256), so nothing has to be stored: whoever holds the bot token can
re-register the webhook anyway.

Inbound: ``X-Telegram-Bot-Api-Secret-Token`` is compared in constant time
(403 on mismatch, nothing read). Updates are applied one at a time; the
checkpoint ``updates`` keeps the highest ``update_id`` applied and the ids
below it not seen yet, so a redelivered update is answered at once and a late
one (after a gap) is still applied. Private chats only: ``telegram:<user id>``;
text, captions, photos (largest size), documents, voice, audio and video
(files fetched with ``getFile`` into the blob store; a failed fetch keeps the
message and records the error). Edits are new events.

Outbound: ``sendMessage`` to the customer's chat. 429 retries after the given
``retry_after``; 5xx and network errors retry; other errors (bot blocked,
chat not found) fail the delivery with Telegram's description.

The bot token is part of every Bot API URL; the connector's HTTP client writes
it in only on the wire, so logs and errors show ``botTOKEN`` instead.

Modules: :mod:`.settings`, :mod:`.botapi` (HTTP calls, errors, ``setWebhook``),
:mod:`.connector` (routes, update ordering, media, sends).
"""

from __future__ import annotations

from hub.connectors.telegram.botapi import setup_webhook
from hub.connectors.telegram.connector import SECRET_HEADER, TelegramConnector
from hub.connectors.telegram.settings import TelegramSettings, webhook_secret

__all__ = [
    "SECRET_HEADER",
    "TelegramConnector",
    "TelegramSettings",
    "setup_webhook",
    "webhook_secret",
]
