"""Structured logging: one JSON object per line, secrets redacted on the way out."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime

__all__ = ["JsonFormatter", "RedactSecrets", "RedactingFormatter", "configure_logging"]

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "msg", …extra fields}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def _forms(secrets: Iterable[str]) -> list[str]:
    """Each secret (6+ characters) as written and as JSON would escape it, longest first."""
    kept = {s for s in secrets if len(s) >= 6}
    escaped = {json.dumps(s)[1:-1] for s in kept}
    return sorted(kept | escaped, key=len, reverse=True)


class RedactingFormatter(logging.Formatter):
    """Wraps a formatter and redacts the whole formatted line: message, ``extra``
    fields, tracebacks and stack traces alike."""

    def __init__(self, inner: logging.Formatter, secrets: Iterable[str]) -> None:
        super().__init__()
        self.inner = inner
        self.secrets = _forms(secrets)

    def format(self, record: logging.LogRecord) -> str:
        line = self.inner.format(record)
        for secret in self.secrets:
            line = line.replace(secret, "********")
        return line


class RedactSecrets(logging.Filter):
    """Replace any configured secret found in a log record's message with ``********``
    (handlers that format the record themselves, like pytest's, see it redacted too)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = _forms(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        redacted = message
        for secret in self.secrets:
            redacted = redacted.replace(secret, "********")
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def configure_logging(level: str, fmt: str, secrets: Iterable[str]) -> None:
    """Route the root logger (and uvicorn's) through one handler that redacts every
    configured secret from whole lines."""
    secrets = list(secrets)
    handler = logging.StreamHandler()
    inner = (
        JsonFormatter()
        if fmt == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    handler.setFormatter(RedactingFormatter(inner, secrets))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
