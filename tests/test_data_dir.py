"""The hub laid out as the Docker image lays it out: a read-only working directory
owned by someone else, an unprivileged user, and everything it writes under
``OMNIHUB_DATA_DIR``.

As root (CI machines, containers) the hub runs as ``nobody`` through
``setpriv``; as any other user the working directory is made read-only (mode
0555), which that user cannot write either.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import missing_peer
from tests.test_cli import OMNIHUB, clean_env, free_port

AS_ROOT = os.geteuid() == 0


def unprivileged(command: list[str]) -> list[str]:
    if not AS_ROOT:
        return command
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) is needed to drop root"
    return [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--", *command]


@pytest.fixture
def layout() -> Iterator[tuple[Path, Path]]:
    """``(app, data)``: a read-only cwd with an ``omnihub.toml``, and a writable data dir."""
    reach = subprocess.run(unprivileged(["test", "-x", OMNIHUB]), check=False)  # noqa: S603
    if reach.returncode != 0:
        missing_peer(f"user nobody cannot run {OMNIHUB} (its checkout or venv is private)")
    root = Path(tempfile.mkdtemp(prefix="omnihub-image-"))
    root.chmod(0o755)  # nobody must reach the two folders inside
    app, data = root / "app", root / "data"
    app.mkdir()
    data.mkdir()
    (app / "omnihub.toml").write_text('log_format = "text"\n')
    app.chmod(0o555)
    if AS_ROOT:
        nobody = pwd.getpwnam("nobody")
        os.chown(data, nobody.pw_uid, nobody.pw_gid)
    try:
        yield app, data
    finally:
        app.chmod(0o755)
        shutil.rmtree(root)


async def test_serve_writes_only_under_the_data_dir(layout: tuple[Path, Path]) -> None:
    app, data = layout
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        *unprivileged([OMNIHUB, "serve", "--port", str(port)]),
        cwd=app,
        env={**clean_env(), "OMNIHUB_DATA_DIR": str(data)},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stderr is not None
        seen = b""
        async with asyncio.timeout(30):
            while b"Uvicorn running" not in (line := await proc.stderr.readline()):
                seen += line
                assert line, f"omnihub serve exited at start:\n{seen.decode()}"
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            health = (await client.get("/healthz")).json()
            assert health["ok"]
            assert (await client.get("/demo")).status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    assert sorted(p.name for p in app.iterdir()) == ["omnihub.toml"]
    written = {p.name for p in data.iterdir()}
    assert {"omnihub.db", "blobs", "secret_key"} <= written
    assert written <= {"omnihub.db", "omnihub.db-wal", "omnihub.db-shm", "blobs", "secret_key"}
    key = (data / "secret_key").stat()
    assert stat.S_IMODE(key.st_mode) == 0o600
    if AS_ROOT:
        assert key.st_uid == pwd.getpwnam("nobody").pw_uid


async def test_a_data_dir_the_user_cannot_write_is_named(layout: tuple[Path, Path]) -> None:
    app, _ = layout
    proc = await asyncio.create_subprocess_exec(
        *unprivileged([OMNIHUB, "serve", "--port", str(free_port())]),
        cwd=app,
        env={**clean_env(), "OMNIHUB_DATA_DIR": str(app / "var")},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1
    message = err.decode()
    assert "OMNIHUB_DATA_DIR" in message and str(app / "var") in message
    assert "Traceback" not in message
