"""Broken plugins are listed with their name and reason; the hub starts without them.

A throwaway distribution (``broken-plugins``, a ``.dist-info`` on ``sys.path``)
registers four connectors under ``omnihub.connectors``: one whose import fails,
one that leaves ``send`` unimplemented, one claiming the built-in ``api`` name,
and one that is fine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from hub.app import build_app
from hub.connectors import Registry
from hub.settings import Settings
from hub.testing import serve
from hub.tokens import issue_token

ENTRY_POINTS = """\
[omnihub.connectors]
kaput = kaput_connector:KaputConnector
halfdone = halfdone_connector:HalfDone
api = impostor_connector:Impostor
fine = fine_connector:Fine
"""

MODULES = {
    "kaput_connector": "import omnihub_sdk_that_does_not_exist  # noqa\n",
    "halfdone_connector": """
        from hub.connectors import Connector

        class HalfDone(Connector):
            name = "halfdone"
            identity_kind = "halfdone"
    """,
    "impostor_connector": """
        from hub.connectors import Connector, SendResult

        class Impostor(Connector):
            name = "api"
            identity_kind = None

            async def send(self, message):
                return SendResult()
    """,
    "fine_connector": """
        from hub.connectors import Connector, SendResult

        class Fine(Connector):
            name = "fine"
            identity_kind = "fine"

            async def send(self, message):
                return SendResult(provider_id=message.event_id)
    """,
}


@pytest.fixture
def broken_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = tmp_path / "site"
    info = site / "broken_plugins-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugins\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    for module, source in MODULES.items():
        (site / f"{module}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(site))
    for module in MODULES:
        monkeypatch.delitem(sys.modules, module, raising=False)
    return site


def test_each_broken_plugin_is_disabled_with_its_reason(broken_plugins: Path) -> None:
    registry = Registry.discover()
    assert "fine" in registry.available
    assert registry.available["api"].__module__ == "hub.connectors.api"
    assert "cannot import kaput_connector:KaputConnector" in registry.disabled["kaput"]
    assert "omnihub_sdk_that_does_not_exist" in registry.disabled["kaput"]
    assert registry.disabled["halfdone"].endswith("does not implement send")
    assert "two connectors named 'api'" in registry.disabled["api"]


def test_connectors_list_reports_name_and_reason(broken_plugins: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIHUB_")}
    env["PYTHONPATH"] = str(broken_plugins)
    result = subprocess.run(
        [sys.executable, "-m", "hub.cli", "connectors", "list"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=True,
    )
    lines = result.stdout.splitlines()
    assert any(line.startswith("fine\tavailable") for line in lines), result.stdout
    disabled = {line.split("\t")[0]: line for line in lines if "\tdisabled\t" in line}
    assert "ModuleNotFoundError" in disabled["kaput"]
    assert "does not implement send" in disabled["halfdone"]
    assert "two connectors named 'api'" in disabled["api"]


async def test_the_hub_starts_without_the_broken_plugins(
    broken_plugins: Path, tmp_path: Path
) -> None:
    settings = Settings(
        store=str(tmp_path / "hub.db"),
        blobs=str(tmp_path / "blobs"),
        secret_key_file=str(tmp_path / "secret_key"),
        connectors={
            "api": {"secret": "api-secret-0123456789"},
            "fine": {},
            "halfdone": {},
            "kaput": {},
        },
    )
    app = build_app(settings, registry=Registry.discover())
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        _, token = await issue_token(app.state.hub.store, "tests")
        health = (await client.get("/healthz", headers={"Authorization": f"Bearer {token}"})).json()
    assert health["ok"] is True
    assert health["connectors"] == ["api", "chat", "fine"]


def test_check_reports_each_disabled_connector_once(broken_plugins: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNIHUB_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(broken_plugins), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-m", "hub.cli", "check"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    for name in ("kaput", "halfdone"):
        assert len([line for line in out.splitlines() if name in line]) == 1, out
