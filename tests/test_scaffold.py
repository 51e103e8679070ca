"""``omnihub connectors new``: the generated package installs, is discovered, passes the
kit, and a message through it reaches the timeline."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from hub.app import build_app
from hub.cli import main
from hub.connectors import Identity, Registry
from hub.testing import serve

SECRET = "scaffold-secret-0123456789"


def run(*args: str, cwd: Path, site: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMNIHUB_", "PYTEST_"))}
    env["PYTHONPATH"] = str(site)
    return subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """``omnihub connectors new acme-sms``, then ``pip install`` of the result into a
    site directory of its own (so the shared venv is left as it was)."""
    tmp = tmp_path_factory.mktemp("scaffold")
    assert main(["connectors", "new", "acme-sms", "--dir", str(tmp)]) == 0
    package = tmp / "omnihub-acme-sms"
    site = tmp / "site"
    backend = all(importlib.util.find_spec(m) for m in ("setuptools", "wheel"))
    offline = ["--no-build-isolation"] if backend else []  # else pip fetches the backend
    pip = run(
        "-m", "pip", "install", "-q", "--no-deps", *offline, "--target", str(site), str(package),
        cwd=tmp, site=site,
    )  # fmt: skip
    assert pip.returncode == 0, pip.stderr
    return package, site


def test_new_refuses_a_bad_name_or_an_existing_folder(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="lower-case"):
        main(["connectors", "new", "Acme SMS", "--dir", str(tmp_path)])
    assert main(["connectors", "new", "acme", "--dir", str(tmp_path)]) == 0
    with pytest.raises(SystemExit, match="already exists"):
        main(["connectors", "new", "acme", "--dir", str(tmp_path)])


def test_the_installed_package_is_discovered(installed: tuple[Path, Path]) -> None:
    package, site = installed
    listed = run("-m", "hub.cli", "connectors", "list", cwd=package.parent, site=site)
    assert listed.returncode == 0, listed.stderr
    assert "acme-sms\tavailable\tchannels=acme-sms" in listed.stdout.splitlines()


def test_the_generated_package_passes_the_kit(installed: tuple[Path, Path]) -> None:
    package, site = installed
    kit = run("-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=package, site=site)
    assert kit.returncode == 0, kit.stdout[-3000:] + kit.stderr[-2000:]
    assert " passed" in kit.stdout


async def test_a_message_through_it_reaches_the_timeline(
    installed: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, site = installed
    monkeypatch.syspath_prepend(str(site))
    registry = Registry.discover()
    assert "acme-sms" in registry.available
    from omnihub_acme_sms import sign

    from hub.settings import Settings

    settings = Settings(
        store=str(tmp_path / "hub.db"),
        blobs=str(tmp_path / "blobs"),
        secret_key_file=str(tmp_path / "secret_key"),
        connectors={"acme-sms": {"secret": SECRET}},
    )
    app = build_app(settings, registry=registry)
    body = json.dumps({"id": "m-1", "from": "cust-7", "text": "Hello via acme"}).encode()
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        answer = await client.post(
            "/connectors/acme-sms/messages",
            content=body,
            headers={"X-Acme-Sms-Signature": sign(SECRET, body)},
        )
        assert answer.status_code == 200, answer.text
        store = app.state.hub.store
        customer = await store.find_customer(Identity("acme_sms", "cust-7"))
        assert customer is not None
        events = (await store.events(customer_id=customer.id)).items
    assert [(e.channel, e.text) for e in events] == [("acme-sms", "Hello via acme")]
