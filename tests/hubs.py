"""Real ``omnihub serve`` processes for tests that need more than one hub instance.

:func:`run_hubs` starts N processes sharing one store (an SQLite file or a
MongoDB database) and one secret key, each on a free loopback port, waits until
every one answers ``/healthz``, and stops them with SIGINT (then SIGKILL after a
grace period).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

OMNIHUB = str(Path(sys.executable).with_name("omnihub"))
START_TIMEOUT = 60.0
STOP_GRACE = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class HubProcess:
    """One running hub: its base URL, process and log file."""

    url: str
    process: asyncio.subprocess.Process
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


async def _wait_healthy(hub: HubProcess) -> None:
    async with httpx.AsyncClient(base_url=hub.url, timeout=5) as client:
        async with asyncio.timeout(START_TIMEOUT):
            while True:
                if hub.process.returncode is not None:
                    raise RuntimeError(f"omnihub serve exited:\n{hub.output()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get("/healthz")).status_code == 200:
                        return
                await asyncio.sleep(0.2)


async def _stop(hub: HubProcess) -> None:
    if hub.process.returncode is not None:
        return
    hub.process.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(hub.process.wait(), STOP_GRACE)
    except TimeoutError:
        hub.process.kill()
        await hub.process.wait()


@contextlib.asynccontextmanager
async def run_hubs(
    count: int, workdir: Path, env: Mapping[str, str]
) -> AsyncIterator[list[HubProcess]]:
    """``count`` hub processes with ``env`` (``OMNIHUB_*``) on free ports."""
    hubs: list[HubProcess] = []
    base = {k: v for k, v in os.environ.items() if not k.startswith("OMNIHUB_")}
    try:
        for index in range(count):
            port = free_port()
            log = workdir / f"hub-{index}.log"
            handle = log.open("wb")
            process = await asyncio.create_subprocess_exec(
                OMNIHUB,
                "serve",
                "--port",
                str(port),
                cwd=workdir,
                env={**base, **env, "OMNIHUB_PUBLIC_URL": f"http://127.0.0.1:{port}"},
                stdout=handle,
                stderr=handle,
            )
            handle.close()
            hubs.append(HubProcess(f"http://127.0.0.1:{port}", process, log))
        await asyncio.gather(*(_wait_healthy(h) for h in hubs))
        yield hubs
    finally:
        await asyncio.gather(*(_stop(h) for h in hubs))
