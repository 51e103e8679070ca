"""The README's configuration table is the settings model, so it cannot drift."""

from __future__ import annotations

import shutil
from pathlib import Path

from hub.cli import main
from hub.settings import Settings
from hub.settings_table import BEGIN, END, render, rows

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_table_is_the_settings_model() -> None:
    text = README.read_text(encoding="utf-8")
    table = text[text.index(BEGIN) : text.index(END) + len(END)]
    assert table == render(), "run: omnihub settings-table --write README.md"


def test_every_setting_is_in_the_table_with_a_meaning() -> None:
    listed = {variable: meaning for variable, _, meaning in rows()}
    for name in Settings.model_fields:
        assert any(
            v == f"OMNIHUB_{name.upper()}" or v.startswith(f"OMNIHUB_{name.upper()}__")
            for v in listed
        ), name
    assert {"OMNIHUB_SECRET_KEY", "OMNIHUB_DATA_DIR", "OMNIHUB_OUTBOX__CONCURRENCY"} <= set(listed)
    assert [v for v, meaning in listed.items() if not meaning] == []


def test_settings_table_write_rewrites_a_stale_table(tmp_path: Path) -> None:
    copy = tmp_path / "README.md"
    shutil.copy(README, copy)
    stale = copy.read_text().replace("| `OMNIHUB_SECRET_KEY` |", "| `OMNIHUB_SECRET` |")
    copy.write_text(stale)
    assert main(["settings-table", "--write", str(copy)]) == 0
    assert copy.read_text() == README.read_text()
    assert main(["settings-table", "--write", str(copy)]) == 0
