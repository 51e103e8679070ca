"""Twilio: SMS/MMS and voice for one account, as the channels ``sms`` and ``voice``.

Both channels address customers as ``phone:<E.164>``, so a customer who texts
and later calls is one customer. See :mod:`hub.connectors.twilio.connector`
for the routes, :mod:`~hub.connectors.twilio.sms` for consent keywords and
:mod:`~hub.connectors.twilio.voice` for how a call lands on the timeline.
Its dependency (``twilio``) is part of the default install.
"""

from __future__ import annotations

from hub.connectors.twilio.connector import TwilioConnector
from hub.connectors.twilio.memory import CallerDirectory, CallerInfo
from hub.connectors.twilio.segments import SegmentInfo, sms_segments
from hub.connectors.twilio.settings import TwilioNumber, TwilioSettings

__all__ = [
    "CallerDirectory",
    "CallerInfo",
    "SegmentInfo",
    "TwilioConnector",
    "TwilioNumber",
    "TwilioSettings",
    "sms_segments",
]
