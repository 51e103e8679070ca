"""The hub's one signing scheme: purposes kept apart, expiry, tampering, key file."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import itsdangerous.timed
import pytest

from hub.settings import Settings
from hub.signing import BadToken, ExpiredToken, Signer, load_secret_key

KEY = b"k" * 32


def test_a_token_round_trips_for_its_purpose() -> None:
    signer = Signer(KEY)
    token = signer.dumps("visitor", {"v": "vis_1"})
    assert signer.loads("visitor", token, max_age=60) == {"v": "vis_1"}


def test_a_token_for_one_purpose_is_refused_for_another() -> None:
    signer = Signer(KEY)
    token = signer.dumps("visitor", {"v": "vis_1"})
    with pytest.raises(BadToken):
        signer.loads("link", token)


def test_a_tampered_token_or_another_key_is_refused() -> None:
    token = Signer(KEY).dumps("visitor", {"v": "vis_1"})
    head, _, sig = token.rpartition(".")
    with pytest.raises(BadToken):
        Signer(KEY).loads("visitor", f"{head}.{sig[:-2]}xx")
    with pytest.raises(BadToken):
        Signer(b"other-key-0123456789").loads("visitor", token)
    with pytest.raises(BadToken):
        Signer(KEY).loads("visitor", "not a token")


def test_an_old_token_is_expired(monkeypatch: pytest.MonkeyPatch) -> None:
    now = time.time()
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: now - 600)
    token = Signer(KEY).dumps("visitor", {"v": "vis_1"})
    monkeypatch.undo()
    with pytest.raises(ExpiredToken):
        Signer(KEY).loads("visitor", token, max_age=60)
    assert Signer(KEY).loads("visitor", token, max_age=3600) == {"v": "vis_1"}


def test_macs_are_per_purpose_and_checked_in_constant_time() -> None:
    signer = Signer(KEY)
    mac = signer.mac("user_hash", "user-42")
    assert signer.verify_mac("user_hash", "user-42", mac)
    assert not signer.verify_mac("user_hash", "user-43", mac)
    assert not signer.verify_mac("other", "user-42", mac)


def test_the_key_never_shows_in_repr() -> None:
    assert "k" * 8 not in repr(Signer(KEY))


def test_the_key_file_is_created_once_private_and_reused(tmp_path: Path) -> None:
    settings = Settings(secret_key_file=str(tmp_path / "var" / "secret_key"))
    first = load_secret_key(settings)
    path = tmp_path / "var" / "secret_key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_secret_key(settings) == first
    assert len(first) >= 32


def test_a_configured_key_wins_over_the_file(tmp_path: Path) -> None:
    settings = Settings(secret_key="configured-key-0123456789", secret_key_file=str(tmp_path / "k"))
    assert load_secret_key(settings) == b"configured-key-0123456789"
    assert not (tmp_path / "k").exists()
