"""Modules a plugin, a benchmark or a tool imports first load on their own (no import cycle)."""

from __future__ import annotations

import subprocess
import sys

import pytest

FIRST_IMPORTS = [
    "hub.settings",
    "hub.signing",
    "hub.pipeline",
    "hub.agent.auth",
    "hub.connectors",
    "hub.testing",
    "hub.timeline.sqlite",
    "hub.timeline.mongo",
]


@pytest.mark.parametrize("module", FIRST_IMPORTS)
def test_the_module_imports_first_in_a_fresh_interpreter(module: str) -> None:
    done = subprocess.run(  # noqa: S603 - our own interpreter and module names
        [sys.executable, "-c", f"import {module}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
