"""The ``omnihub`` command as a user runs it: tokens, then serve on the default SQLite store."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.servers import serve

OMNIHUB = str(Path(sys.executable).with_name("omnihub"))


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("OMNIHUB_")}


async def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        OMNIHUB,
        *args,
        cwd=cwd,
        env={**clean_env(), **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_tokens_create_list_revoke(tmp_path: Path) -> None:
    code, out, err = await run("tokens", "create", "ci-bot", cwd=tmp_path)
    assert code == 0, err
    token = out.strip().splitlines()[-1]
    assert token.startswith("omh_")
    code, out, _ = await run("tokens", "list", cwd=tmp_path)
    [line] = out.strip().splitlines()
    token_id, name, _, state = line.split("\t")
    assert (name, state) == ("ci-bot", "active")
    assert token not in out
    code, out, _ = await run("tokens", "revoke", token_id, cwd=tmp_path)
    assert code == 0
    code, _, err = await run("tokens", "revoke", "tok_missing", cwd=tmp_path)
    assert code == 1 and "tok_missing" in err


async def test_serve_runs_on_embedded_sqlite_with_nothing_else(tmp_path: Path) -> None:
    code, out, err = await run("tokens", "create", "admin", cwd=tmp_path)
    assert code == 0, err
    token = out.strip().splitlines()[-1]
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        OMNIHUB,
        "serve",
        "--port",
        str(port),
        cwd=tmp_path,
        env=clean_env(),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stderr is not None
        async with asyncio.timeout(30):
            while b"Uvicorn running" not in (line := await proc.stderr.readline()):
                assert line, "omnihub serve exited before it was ready"
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            health = (
                await client.get("/healthz", headers={"Authorization": f"Bearer {token}"})
            ).json()
            assert health["ok"] and health["store"]["store"] == "sqlite"
            r = await client.get(
                "/api/v1/conversations", headers={"Authorization": f"Bearer {token}"}
            )
            assert r.status_code == 200 and r.json()["items"] == []
        assert (tmp_path / "var" / "omnihub.db").exists()
    finally:
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 30) == 0


BOT_TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ0123"


async def test_connectors_setup_telegram_registers_the_webhook(tmp_path: Path) -> None:
    calls: list[tuple[str, dict[str, object]]] = []

    async def bot_api(request: Request) -> JSONResponse:
        calls.append((request.url.path, await request.json()))
        return JSONResponse({"ok": True, "result": True})

    double = Starlette(routes=[Route("/{path:path}", bot_api, methods=["POST"])])
    async with serve(double) as api_url:
        env = {
            "OMNIHUB_PUBLIC_URL": "https://hub.example.com",
            "OMNIHUB_CONNECTORS__TELEGRAM__BOT_TOKEN": BOT_TOKEN,
            "OMNIHUB_CONNECTORS__TELEGRAM__API_URL": api_url,
        }
        code, out, err = await run("connectors", "setup", "telegram", cwd=tmp_path, env=env)
    assert code == 0, err
    [(path, body)] = calls
    assert path == f"/bot{BOT_TOKEN}/setWebhook"
    assert body["url"] == "https://hub.example.com/connectors/telegram/webhook"
    assert isinstance(body["secret_token"], str) and len(body["secret_token"]) >= 32
    assert "https://hub.example.com/connectors/telegram/webhook" in out
    assert BOT_TOKEN not in out + err


async def test_connectors_setup_names_what_is_wrong(tmp_path: Path) -> None:
    code, _, err = await run("connectors", "setup", "nope", cwd=tmp_path)
    assert code != 0 and "nope" in err
    env = {"OMNIHUB_CONNECTORS__TELEGRAM__BOT_TOKEN": "not-a-token"}
    code, _, err = await run("connectors", "setup", "telegram", cwd=tmp_path, env=env)
    assert code != 0 and "connectors.telegram.bot_token" in err
