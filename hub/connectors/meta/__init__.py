"""Meta: Messenger, Instagram DMs and WhatsApp Cloud (one app, one webhook family).

=============  ========================  =======================================
channel        identity                  outbound
=============  ========================  =======================================
``messenger``  ``messenger:<PSID>``      Send API ``/{page-id}/messages``
``instagram``  ``instagram:<IGSID>``     ``/{ig-account-id}/messages``
``whatsapp``   ``phone:<E.164>`` (or     ``/{phone-number-id}/messages``
               ``whatsapp:<id>``)
=============  ========================  =======================================

Modules: :mod:`.settings` (``[connectors.meta]``), :mod:`.connector` (routes,
send), :mod:`.messaging` and :mod:`.whatsapp` (pure webhook parsers),
:mod:`.bodies` (pure request bodies), :mod:`.graph` (Graph API errors),
:mod:`.receipts` (watermarks).
"""

from __future__ import annotations

from hub.connectors.meta.connector import SIGNATURE_HEADER, MetaConnector, sign
from hub.connectors.meta.settings import MetaSettings

__all__ = ["SIGNATURE_HEADER", "MetaConnector", "MetaSettings", "sign"]
