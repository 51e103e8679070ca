"""Outgoing webhooks: hub events POSTed, signed, to the systems that subscribed.

Subscriptions are ``[[webhooks.subscriptions]]`` (name, url, secret, events).
Event types:

* ``message.created`` — a message stored on a timeline, from the customer or to them;
* ``conversation.status`` — a person or automation changed a conversation's status;
* ``sla.breach`` — an SLA clock of the operations layer ran out;
* ``survey.answered`` — a customer answered a CSAT, CES or NPS survey.

Each body is ``{"id", "type", "created_at", "data"}`` signed like the api channel
(``X-Omnihub-Timestamp``, ``X-Omnihub-Signature: sha256=<hex HMAC-SHA256(secret,
"<timestamp>." + body)>``, signed afresh on every attempt) with ``Idempotency-Key``
and ``X-Omnihub-Event``. See :mod:`.service` for delivery and :mod:`.api` for the log.
"""

from hub.webhooks.service import Webhooks, classify

__all__ = ["Webhooks", "classify"]
