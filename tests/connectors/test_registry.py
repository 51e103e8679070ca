"""Connector discovery: entry points, duplicates fail loudly, broken plugins are disabled."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from typing import ClassVar

import pytest

from hub.connectors.api import ApiConnector
from hub.connectors.base import Connector, OutboundMessage, SendResult
from hub.connectors.registry import Registry
from hub.errors import DuplicateConnector


class Echo(Connector):
    name: ClassVar[str] = "echo"
    identity_kind: ClassVar[str | None] = "echo"

    async def send(self, message: OutboundMessage) -> SendResult:
        return SendResult(provider_id=message.event_id)


class AnotherApi(Echo):
    name: ClassVar[str] = "api"


class SmsClash(Echo):
    name: ClassVar[str] = "cheap-sms"
    channels: ClassVar[tuple[str, ...]] = ("sms",)


class Sms(Echo):
    name: ClassVar[str] = "sms-provider"
    channels: ClassVar[tuple[str, ...]] = ("sms", "voice")


def test_built_in_api_connector_registers_through_the_entry_point_group() -> None:
    registry = Registry.discover()
    assert registry.available["api"] is ApiConnector


def test_two_connectors_with_one_name_fail_loudly() -> None:
    registry = Registry.discover()
    with pytest.raises(DuplicateConnector, match="two connectors named 'api'"):
        registry.add(AnotherApi)


def test_two_connectors_claiming_one_channel_fail_loudly() -> None:
    registry = Registry()
    registry.add(Sms)
    with pytest.raises(DuplicateConnector, match="channel 'sms'"):
        registry.add(SmsClash)


def test_entry_point_name_must_match_the_connector() -> None:
    registry = Registry()
    ep = EntryPoint("mislabelled", f"{__name__}:Echo", "omnihub.connectors")
    registry.load(ep)
    assert registry.available == {}
    assert "loads a connector named 'echo'" in registry.disabled["mislabelled"]


def test_connector_whose_dependency_is_missing_is_disabled_with_the_reason() -> None:
    registry = Registry()
    registry.load(EntryPoint("line", "omnihub_line_sdk_not_installed:Line", "omnihub.connectors"))
    assert "line" not in registry.available
    assert "omnihub_line_sdk_not_installed" in registry.disabled["line"]
