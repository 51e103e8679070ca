"""Email: IMAP in (aioimaplib), SMTP out (aiosmtplib), threads that hold.

* :mod:`~hub.connectors.email.imap` — one watcher per (account, mailbox):
  IDLE or polling, checkpoints advanced only after ingest, reconnect with
  backoff and jitter.
* :mod:`~hub.connectors.email.parse` / :mod:`~hub.connectors.email.body` —
  MIME, charsets, sanitised HTML, quote and signature stripping, auto-reply /
  bounce / list classification.
* :mod:`~hub.connectors.email.threading` — signed reply tokens and Message-IDs.
* :mod:`~hub.connectors.email.smtp` — threaded outbound mail, SMTP errors mapped.

Needs the optional dependency: ``pip install 'omnihub[email]'``.
"""

from __future__ import annotations

from hub.connectors.email.connector import EmailConnector
from hub.connectors.email.settings import EmailAccount, EmailSettings
from hub.connectors.email.threading import ReplyTokens

__all__ = ["EmailAccount", "EmailConnector", "EmailSettings", "ReplyTokens"]
