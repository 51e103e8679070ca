"""Identity normalisation: E.164 phones, validated emails, opaque provider ids."""

from __future__ import annotations

import pytest

from hub.errors import InvalidIdentity
from hub.timeline.model import Identity, normalise_identity


@pytest.mark.parametrize(
    ("kind", "value", "region", "expected"),
    [
        ("phone", "(415) 555-2671", "US", "phone:+14155552671"),
        ("phone", "+1 415-555-2671", None, "phone:+14155552671"),
        ("phone", "020 7946 0958", "GB", "phone:+442079460958"),
        ("phone", "+44 20 7946 0958", "US", "phone:+442079460958"),
        ("PHONE", " +351 912 345 678 ", None, "phone:+351912345678"),
        ("email", "Ana@Example.COM", None, "email:ana@example.com"),
        ("email", "  ana.silva+refunds@example.pt ", None, "email:ana.silva+refunds@example.pt"),
        ("Messenger", "1234567890", None, "messenger:1234567890"),
        ("chat", "visitor-AbC", None, "chat:visitor-AbC"),
        ("whats_app", "x", None, "whats_app:x"),
    ],
)
def test_normalise(kind: str, value: str, region: str | None, expected: str) -> None:
    assert str(normalise_identity(kind, value, default_region=region)) == expected


@pytest.mark.parametrize(
    ("kind", "value", "region", "field"),
    [
        ("phone", "415 555 2671", None, "identity.value"),  # national number, no region
        ("phone", "call me maybe", "US", "identity.value"),
        ("phone", "+1 555", None, "identity.value"),
        ("email", "not-an-email", None, "identity.value"),
        ("email", "ana@", None, "identity.value"),
        ("email", "ana@@example.com", None, "identity.value"),
        ("chat", "has space", None, "identity.value"),
        ("chat", "x" * 257, None, "identity.value"),
        ("chat", "   ", None, "identity.value"),
        ("", "x", None, "identity.kind"),
        ("e-mail", "ana@example.com", None, "identity.kind"),
        ("bad kind", "x", None, "identity.kind"),
    ],
)
def test_invalid_input_names_the_field(
    kind: str, value: str, region: str | None, field: str
) -> None:
    with pytest.raises(InvalidIdentity) as caught:
        normalise_identity(kind, value, default_region=region)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


def test_parse() -> None:
    assert Identity.parse("email:Ana@Example.com") == Identity("email", "ana@example.com")
    assert Identity.parse("phone:4155552671", default_region="US") == Identity(
        "phone", "+14155552671"
    )
    assert Identity.parse("telegram:42:odd") == Identity("telegram", "42:odd")


def test_parse_needs_a_kind() -> None:
    with pytest.raises(InvalidIdentity) as caught:
        Identity.parse("ana@example.com")
    assert caught.value.field == "identity"


def test_identities_are_values() -> None:
    a = normalise_identity("email", "ANA@example.com")
    b = normalise_identity("email", "ana@EXAMPLE.com")
    assert a == b
    assert len({a, b}) == 1
    assert str(a) == "email:ana@example.com"
