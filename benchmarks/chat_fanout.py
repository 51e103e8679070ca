"""Chat fan-out: agent reply → widget receipt latency, and server memory per connection.

Starts the hub (SQLite, chat connector) in a subprocess, opens N widget
websockets (one visitor each, each sends one message so it has a
conversation), then has an agent answer every visitor through
``POST /api/v1/conversations/{id}/reply`` (50 in flight) and times each reply
from the request to its arrival on the visitor's socket. The same run measures
a bare Starlette websocket server with the same client and the same HTTP
trigger (``POST /send/{i}``: no store, no bus), and its one-shot broadcast to
all N sockets. Memory per connection is the server's RSS growth while the N
sockets connect (and, for the hub, say hello), divided by N; CPU per reply is
the server process's user+system time during the replies, divided by N. The
hub runs as ``omnihub serve`` does (no permessage-deflate); the bare server
with uvicorn's default (deflate on when the client offers it, as browsers do).

    python benchmarks/chat_fanout.py                   # N = 100
    python benchmarks/chat_fanout.py --connections 1000
    python benchmarks/chat_fanout.py --connections 5000

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin

ROOT = Path(__file__).resolve().parents[1]
CONCURRENCY = 50

BARE_SERVER = textwrap.dedent(
    """
    import sys, uvicorn
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route, WebSocketRoute

    sockets = {}

    async def ws(websocket):
        await websocket.accept()
        key = websocket.query_params["id"]
        sockets[key] = websocket
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
        finally:
            sockets.pop(key, None)

    async def send(request):
        body = await request.body()
        await sockets[request.path_params["key"]].send_text(body.decode())
        return JSONResponse({"ok": True}, status_code=202)

    async def broadcast(request):
        text = (await request.body()).decode()
        for s in list(sockets.values()):
            await s.send_text(text)
        return JSONResponse({"sent": len(sockets)})

    async def health(request):
        return JSONResponse({"ok": True})

    app = Starlette(routes=[
        WebSocketRoute("/ws", ws),
        Route("/send/{key}", send, methods=["POST"]),
        Route("/broadcast", broadcast, methods=["POST"]),
        Route("/healthz", health),
    ])
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
                ws="websockets-sansio")
    """
)

HUB_SERVER = textwrap.dedent(
    """
    import sys
    from hub.cli import main
    sys.exit(main(["serve", "--port", sys.argv[1]]))
    """
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all threads."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@dataclass
class Server:
    """A server subprocess on a free port."""

    code: str
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> Server:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", self.code, str(self.port), env=self.env, cwd=ROOT
        )
        async with httpx.AsyncClient(base_url=self.url) as client:
            for _ in range(300):
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        return self
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
        raise RuntimeError("server did not start")

    async def __aexit__(self, *exc: object) -> None:
        assert self.proc is not None
        self.proc.terminate()
        async with asyncio.timeout(30):
            await self.proc.wait()


@dataclass
class Client:
    """One websocket; ``arrived`` maps message markers to receipt times."""

    ws: ClientConnection
    visitor: str = ""
    arrived: dict[str, float] = field(default_factory=dict)
    waiters: dict[str, asyncio.Future[float]] = field(default_factory=dict)

    def expect(self, marker: str) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiters[marker] = future
        return future

    async def read(self, marker_of: Callable[[dict[str, Any]], str | None]) -> None:
        async for raw in self.ws:
            now = time.perf_counter()
            marker = marker_of(json.loads(raw))
            if marker is not None and marker in self.waiters:
                self.waiters.pop(marker).set_result(now)


async def bounded(n: int, make: Callable[[int], Awaitable[Any]]) -> list[Any]:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(i: int) -> Any:
        async with gate:
            return await make(i)

    return await asyncio.gather(*(one(i) for i in range(n)))


async def timed_sends(
    clients: list[Client], trigger: Callable[[int, str], Awaitable[None]]
) -> list[float]:
    async def one(i: int) -> float:
        marker = f"bench-{i}-{time.perf_counter_ns()}"
        arrival = clients[i].expect(marker)
        start = time.perf_counter()
        await trigger(i, marker)
        async with asyncio.timeout(60):
            return (await arrival - start) * 1000

    return await bounded(len(clients), one)


def hub_marker(frame: dict[str, Any]) -> str | None:
    if frame.get("type") == "event" and frame["event"]["direction"] == "out":
        return str(frame["event"]["text"])
    return None


async def run_hub(n: int, tmp: Path) -> dict[str, float]:
    env = {
        **os.environ,
        "OMNIHUB_STORE": str(tmp / "hub.db"),
        "OMNIHUB_BLOBS": str(tmp / "blobs"),
        "OMNIHUB_SECRET_KEY_FILE": str(tmp / "secret"),
        "OMNIHUB_CONNECTORS__CHAT__AVAILABILITY": "online",
        "OMNIHUB_CONNECTORS__CHAT__RATE_BURST": "100",
        "OMNIHUB_SECURITY__VISITORS_PER_CLIENT": "1000000",  # every socket is a new visitor
        "OMNIHUB_SECURITY__VISITOR_MESSAGES_PER_CLIENT": "1000000",
        "OMNIHUB_LOG_LEVEL": "warning",
    }
    env.pop("OMNIHUB_CONFIG", None)
    server = Server(HUB_SERVER, env)
    env["OMNIHUB_PUBLIC_URL"] = server.url
    made = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hub.cli",
        "tokens",
        "create",
        "bench",
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    stdout, _ = await made.communicate()
    token = next(w for w in stdout.decode().split() if w.startswith("omh_"))
    async with (
        server,
        httpx.AsyncClient(
            base_url=server.url,
            headers={"Authorization": f"Bearer {token}"},
            limits=httpx.Limits(max_connections=CONCURRENCY),
            timeout=60,
        ) as api,
    ):
        assert server.proc is not None
        before = rss_kib(server.proc.pid)
        url = server.url.replace("http", "ws") + "/connectors/chat/ws?site=default"

        async def open_one(i: int) -> Client:
            ws = await connect(url, origin=Origin(server.url), max_size=2**20)
            await ws.send(json.dumps({"type": "hello"}))
            welcome = json.loads(await ws.recv())
            await ws.recv()  # events (none yet)
            return Client(ws, visitor=welcome["visitor"])

        clients = await bounded(n, open_one)
        after = rss_kib(server.proc.pid)

        async def first_message(i: int) -> None:
            ws = clients[i].ws
            await ws.send(json.dumps({"type": "message", "id": f"m{i}", "text": "hi"}))
            while True:
                frame = json.loads(await ws.recv())
                if frame["type"] == "ack":
                    return

        await bounded(n, first_message)
        conversations = await bounded(n, lambda i: conversation_of(api, clients[i].visitor))
        readers = [asyncio.create_task(c.read(hub_marker)) for c in clients]

        async def reply(i: int, marker: str) -> None:
            response = await api.post(
                f"/api/v1/conversations/{conversations[i]}/reply",
                json={"text": marker, "channel": "chat"},
            )
            response.raise_for_status()

        cpu = cpu_seconds(server.proc.pid)
        latencies = await timed_sends(clients, reply)
        cpu = cpu_seconds(server.proc.pid) - cpu
        for task in readers:
            task.cancel()
        await asyncio.gather(*(c.ws.close() for c in clients), return_exceptions=True)
    return summary(latencies, before, after, n, cpu)


async def conversation_of(api: httpx.AsyncClient, visitor: str) -> str:
    """The visitor's conversation, as an agent finds it through the API."""
    found = await api.get("/api/v1/customers", params={"identity": f"chat:{visitor}"})
    customer = found.json()["items"][0]
    timeline = (await api.get(f"/api/v1/customers/{customer['id']}/timeline")).json()
    return str(next(e["conversation_id"] for e in timeline["items"] if e["conversation_id"]))


def bare_marker(frame: dict[str, Any]) -> str | None:
    return str(frame.get("m")) if "m" in frame else None


async def run_bare(n: int) -> tuple[dict[str, float], dict[str, float]]:
    async with (
        Server(BARE_SERVER, dict(os.environ)) as server,
        httpx.AsyncClient(
            base_url=server.url, limits=httpx.Limits(max_connections=CONCURRENCY), timeout=60
        ) as http,
    ):
        assert server.proc is not None
        before = rss_kib(server.proc.pid)
        url = server.url.replace("http", "ws") + "/ws"

        async def open_one(i: int) -> Client:
            return Client(await connect(f"{url}?id={i}", origin=Origin(server.url)))

        clients = await bounded(n, open_one)
        await http.get("/healthz")
        after = rss_kib(server.proc.pid)
        readers = [asyncio.create_task(c.read(bare_marker)) for c in clients]

        async def send(i: int, marker: str) -> None:
            response = await http.post(f"/send/{i}", content=json.dumps({"m": marker}))
            response.raise_for_status()

        cpu = cpu_seconds(server.proc.pid)
        targeted = await timed_sends(clients, send)
        cpu = cpu_seconds(server.proc.pid) - cpu
        arrivals = [c.expect("all") for c in clients]
        start = time.perf_counter()
        (await http.post("/broadcast", content=json.dumps({"m": "all"}))).raise_for_status()
        async with asyncio.timeout(60):
            broadcast = [(t - start) * 1000 for t in await asyncio.gather(*arrivals)]
        for task in readers:
            task.cancel()
        await asyncio.gather(*(c.ws.close() for c in clients), return_exceptions=True)
    return summary(targeted, before, after, n, cpu), summary(broadcast, before, after, n, 0.0)


def summary(
    latencies: list[float], before: int, after: int, n: int, cpu: float
) -> dict[str, float]:
    return {
        "cpu_ms": cpu / len(latencies) * 1000,
        "p50": statistics.median(latencies),
        "p99": pct(latencies, 99),
        "max": max(latencies),
        "kib_per_conn": (after - before) / n,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", "-n", type=int, default=100)
    args = parser.parse_args()
    n = args.connections
    with tempfile.TemporaryDirectory() as tmp:
        hub = await run_hub(n, Path(tmp))
    targeted, broadcast = await run_bare(n)
    print(f"chat fan-out, {n} websocket connections, {CONCURRENCY} replies in flight")
    print(f"{'':44} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'KiB/conn':>9} {'CPU ms':>7}")
    rows = [
        ("hub: agent reply (API) -> widget", hub),
        ("bare Starlette: POST /send -> socket", targeted),
        ("bare Starlette: one broadcast -> N sockets", broadcast),
    ]
    for name, r in rows:
        cpu = f"{r['cpu_ms']:7.2f}" if r["cpu_ms"] else f"{'':>7}"
        print(
            f"{name:44} {r['p50']:8.2f} {r['p99']:8.2f} {r['max']:8.2f} "
            f"{r['kib_per_conn']:9.1f} {cpu}"
        )
    print(
        f"server CPU per reply: hub / bare targeted send = "
        f"{hub['cpu_ms'] / targeted['cpu_ms']:.1f}x (target <= 2x); "
        "CPU ms is the server's user+system time during the replies, per reply"
    )


if __name__ == "__main__":
    asyncio.run(main())
