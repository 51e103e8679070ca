"""Structured logging: one JSON object per line, secrets redacted on the way out."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime

__all__ = ["JsonFormatter", "RedactSecrets", "configure_logging", "redact_tokens"]

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


_TOKENS = (
    # bearer-style path segments: chat file links, continuation links
    re.compile(r"(/connectors/chat/files/|/c/)[A-Za-z0-9_.~%\-]{8,}"),
    re.compile(r"([?&;](?:token|session|s|t|ref|key|user_hash|code)=)[^&\s\"']+", re.IGNORECASE),
    re.compile(r"(Bearer\s+)[A-Za-z0-9_.~+/=\-]{8,}"),
    re.compile(r"()\bomh_[A-Za-z0-9_\-]{8,}"),
)


def redact_tokens(text: str) -> str:
    """``text`` with link, file, visitor and API tokens replaced by ``********``: access lines
    carry them in paths and query strings, errors in URLs."""
    for pattern in _TOKENS:
        text = pattern.sub(r"\1********", text)
    return text


class RedactSecrets(logging.Filter):
    """Replace any configured secret, and any token (:func:`redact_tokens`), found in a log
    line with ``********``."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_tokens(message)
        for secret in self.secrets:
            redacted = redacted.replace(secret, "********")
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def configure_logging(level: str, fmt: str, secrets: Iterable[str]) -> None:
    """Route the root logger (and uvicorn's) through one redacting handler."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
