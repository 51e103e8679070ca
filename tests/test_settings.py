"""Settings come from omnihub.toml and OMNIHUB_* variables; the environment wins."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from hub.app import build_app
from hub.errors import ConfigError
from hub.settings import Settings


def test_environment_overrides_the_toml_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "omnihub.toml"
    config.write_text(
        'port = 9000\npublic_url = "https://hub.example.com/"\n'
        '[connectors.api]\nsecret = "from-file-0123456789"\ncallback_url = "https://cb.example.com"\n'
    )
    monkeypatch.setenv("OMNIHUB_CONFIG", str(config))
    monkeypatch.setenv("OMNIHUB_CONNECTORS__API__SECRET", "from-env-0123456789")
    monkeypatch.setenv("OMNIHUB_DEFAULT_REGION", "gb")
    settings = Settings()
    assert settings.port == 9000
    assert settings.public_url == "https://hub.example.com"
    assert settings.default_region == "GB"
    assert settings.connectors["api"] == {
        "secret": "from-env-0123456789",
        "callback_url": "https://cb.example.com",
    }
    assert settings.connector_enabled("api") and not settings.connector_enabled("email")


def test_unknown_setting_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="prot"):
        Settings(prot=1)  # type: ignore[call-arg]


def test_invalid_connector_settings_name_the_field(tmp_path: Path) -> None:
    settings = Settings(
        store=str(tmp_path / "hub.db"),
        blobs=str(tmp_path / "blobs"),
        connectors={"api": {"secret": "short"}},
    )
    with pytest.raises(ConfigError, match=r"connectors\.api\.secret"):
        build_app(settings)


def test_enabling_an_unknown_connector_is_refused(tmp_path: Path) -> None:
    settings = Settings(
        store=str(tmp_path / "hub.db"), blobs=str(tmp_path / "b"), enabled_connectors=["fax"]
    )
    with pytest.raises(ConfigError, match="fax"):
        build_app(settings)
