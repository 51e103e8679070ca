"""Configured secrets never leave in a log line: not in the message, an ``extra``
field, a traceback or a stack trace, in JSON or in text."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from hub.logs import configure_logging

SECRET = 'tok_"live"\\0123456789abcdef'


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_secrets_are_redacted_from_extras_tracebacks_and_stacks(
    fmt: str, restore_root: None, capfd: pytest.CaptureFixture[str]
) -> None:
    configure_logging("info", fmt, [SECRET])
    log = logging.getLogger("hub.connectors.example")
    log.warning("calling the provider", extra={"authorization": f"Bearer {SECRET}"})
    try:
        raise RuntimeError(f"provider refused token {SECRET}")
    except RuntimeError:
        log.exception("send failed")
    log.info("where", stack_info=True, extra={"nested": {"key": SECRET}})
    log.error("args too: %s", SECRET)
    logging.getLogger().handlers[0].flush()
    err = capfd.readouterr().err
    assert "send failed" in err and "RuntimeError" in err and "args too" in err
    assert "tok_" not in err and "0123456789abcdef" not in err
    assert err.count("********") >= (4 if fmt == "json" else 2)
