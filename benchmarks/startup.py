#!/usr/bin/env python
"""Time from starting ``omnihub serve`` to its first ``200`` on ``/healthz``.

Beside it, measured in the same run: the bare Starlette app of
``../shared/bench-baseline/`` (or ``$OMNIHUB_BASELINE_DIR``) started by uvicorn
until its ``/health`` answers, and the hub's import time alone
(``python -X importtime`` is the tool to see where it goes). Each is the
median of ``--runs`` fresh processes, each on a fresh data directory.

    python benchmarks/startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE = Path(os.environ.get("OMNIHUB_BASELINE_DIR", ROOT.parent / "shared" / "bench-baseline"))
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def until_ok(url: str, process: subprocess.Popen[bytes], limit: float = 60.0) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        if process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:  # noqa: S310 (loopback)
                if answer.status == 200:
                    return time.perf_counter() - started
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.01)
    raise RuntimeError(f"{url} did not answer within {limit} s")


def timed_start(command: list[str], url_path: str, env: dict[str, str], cwd: Path) -> float:
    port = free_port()
    argv = [part.replace("{port}", str(port)) for part in command]
    started = time.perf_counter()
    process = subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        until_ok(f"http://127.0.0.1:{port}{url_path}", process)
        return time.perf_counter() - started
    finally:
        process.terminate()
        process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    hub, bare, imports = [], [], []
    for _ in range(args.runs):
        work = Path(tempfile.mkdtemp(prefix="omnihub-startup-"))
        try:
            env = {
                **os.environ,
                "OMNIHUB_STORE": f"sqlite:///{work}/hub.db",
                "OMNIHUB_BLOBS": str(work / "blobs"),
                "OMNIHUB_DATA_DIR": str(work),
                "OMNIHUB_LOG_LEVEL": "warning",
            }
            env.pop("CI", None)
            hub.append(
                timed_start(
                    [str(BIN / "omnihub"), "serve", "--port", "{port}"], "/healthz", env, work
                )
            )
            bare.append(
                timed_start(
                    [str(BIN / "uvicorn"), "app:app", "--port", "{port}", "--log-level", "warning"],
                    "/health",
                    {**os.environ, "DB_PATH": str(work / "bare.db")},
                    BASELINE,
                )
            )
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", "import hub.app"], check=True, cwd=ROOT)
            imports.append(time.perf_counter() - t0)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    med_hub, med_bare = statistics.median(hub), statistics.median(bare)
    print(f"start to first 200, median of {args.runs} fresh processes")
    print(f"  bare Starlette app (uvicorn)     {med_bare:6.2f} s")
    print(f"  omnihub serve -> /healthz        {med_hub:6.2f} s   (target <= 2 s)")
    print(f"  python -c 'import hub.app'       {statistics.median(imports):6.2f} s")
    print(f"  ratio to bare                    {med_hub / med_bare:6.1f}x")


if __name__ == "__main__":
    main()
