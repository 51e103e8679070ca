"""The website chat channel: a websocket behind the embeddable widget.

* :mod:`.settings` — ``[connectors.chat]``: sites (allowed origins, identity
  secret), frame/text/upload limits, rate limit, availability.
* :mod:`.protocol` — the JSON frames (documented there and in the README).
* :mod:`.visitors` — signed visitor tokens, ``user_hash`` checks, rate limiter.
* :mod:`.session` — one websocket: hello, history and catch-up, client frames.
* :mod:`.connector` — routes, the bus fan-out to sockets, identify, ``send``.
* :mod:`.files` — uploads (size and type checked by content) and file serving.
* :mod:`.widget` — ``/widget.js`` and ``/demo``.

Trust: a visitor is ``chat:<visitor id>``, proven by a signed token. A site's
signed-in user (``Omnihub.identify``) is linked only on a valid ``user_hash``
(HMAC-SHA256 of the user id with the site's ``identity_secret``); an email
left while offline is an unverified claim (event ``meta.claimed_email``), never
a link. Every read a socket makes is scoped to its own customer.
"""

from __future__ import annotations

from hub.connectors.chat.connector import ChatConnector
from hub.connectors.chat.settings import ChatSettings, SiteSettings
from hub.connectors.chat.visitors import user_hash

__all__ = ["ChatConnector", "ChatSettings", "SiteSettings", "user_hash"]
