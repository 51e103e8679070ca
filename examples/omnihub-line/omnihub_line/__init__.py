"""LINE Messaging API as an Omnihub channel: ``line:<userId>`` customers."""

from __future__ import annotations

from omnihub_line.connector import SIGNATURE_HEADER, LineConnector, LineSettings, sign

__all__ = ["SIGNATURE_HEADER", "LineConnector", "LineSettings", "sign"]
