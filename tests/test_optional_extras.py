"""A connector whose libraries cannot be imported is disabled; the hub still starts.

Every channel's libraries are default dependencies, but a broken or trimmed install
(or a plugin's missing dependency) must cost only that connector."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# Each connector's own libraries (nh3 is not among them: the core sanitises HTML from
# every channel with it).
EXTRAS = {
    "twilio": ["twilio"],
    "email": ["aioimaplib", "aiosmtplib", "mail_parser_reply", "quotequail"],
}

SCRIPT = """
import sys
for name in {blocked!r}:
    sys.modules[name] = None  # makes `import name` raise ImportError
from starlette.testclient import TestClient
from hub.app import build_app
from hub.connectors.registry import Registry
from hub.settings import Settings

registry = Registry.discover()
print("disabled:", sorted(registry.disabled))
settings = Settings(store={store!r}, blobs={blobs!r}, secret_key_file={key!r})
with TestClient(build_app(settings, registry=registry)) as client:
    print("healthz:", client.get("/healthz").status_code)
    print("widget:", client.get("/widget.js").status_code)
    print("agent:", client.get("/agent/", follow_redirects=False).status_code)
"""


@pytest.mark.parametrize("extra", sorted(EXTRAS))
def test_the_hub_starts_without_an_optional_extra(extra: str, tmp_path: Path) -> None:
    script = SCRIPT.format(
        blocked=EXTRAS[extra],
        store=str(tmp_path / "hub.db"),
        blobs=str(tmp_path / "blobs"),
        key=str(tmp_path / "key"),
    )
    done = subprocess.run(  # noqa: S603 - our own script
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "healthz: 200" in done.stdout
    assert "widget: 200" in done.stdout
    assert "agent: 30" in done.stdout  # a redirect to sign-in, not a crash
    assert extra in done.stdout.split("disabled:")[1].splitlines()[0]
