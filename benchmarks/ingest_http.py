#!/usr/bin/env python
"""Signed api-channel ingest through ``omnihub serve``, beside the bare Starlette app.

Runs ``../shared/bench-baseline/bench_ratio.py`` (or ``$OMNIHUB_BASELINE_DIR``)
three times in one session:

1. the bare app parsing JSON (A) against the bare app committing each message
   to SQLite (B): the commit floor, in requests per server-CPU-second;
2. the bare parse-only app (A) against the hub (B): every request a new
   message (a fresh id) from one of 1,000 customers, signed with HMAC-SHA256
   by wrk (``benchmarks/lua/api_ingest.lua``) as a provider would, through the
   real route ``POST /connectors/api/messages``, into SQLite;
3. latency: the bare commit app and the hub loaded in turn (``alternate``
   mode), p99 under 64 connections.

Both servers are pinned to core 0 and wrk to core 1; the ratio is what to
compare (these machines drift in CPU speed), not the absolute figures.

    python benchmarks/ingest_http.py [--pairs 6 --slice 4]

Needs Debian's ``wrk`` and the baseline's Python packages (``pip install
'.[bench]'``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BASELINE = Path(os.environ.get("OMNIHUB_BASELINE_DIR", ROOT.parent / "shared" / "bench-baseline"))
SECRET = "benchmark-secret-0123456789"
PORT = 8114


def ratio(work: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    out = work / "ratio.jsonl"
    out.unlink(missing_ok=True)
    command = [sys.executable, str(BASELINE / "bench_ratio.py"), "--out", str(out), *args]
    subprocess.run(
        command,
        check=True,
        env={**os.environ, **(env or {}), "BASELINE_WORK": str(work)},
        stdout=subprocess.DEVNULL,
    )
    summary: dict[str, Any] = json.loads(out.read_text().splitlines()[-1])
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument("--slice", type=int, default=4)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("needs wrk (apt-get install wrk)")
    if not (BASELINE / "bench_ratio.py").exists():
        sys.exit(f"no baseline at {BASELINE} (set OMNIHUB_BASELINE_DIR)")
    omnihub = Path(sys.executable).with_name("omnihub")
    common = ["--pairs", str(args.pairs), "--slice", str(args.slice), "--conns", "64"]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = work / "hub"
        data.mkdir()
        hub_env = {
            "OMNIHUB_STORE": f"sqlite:///{data / 'omnihub.db'}",
            "OMNIHUB_BLOBS": str(data / "blobs"),
            "OMNIHUB_SECRET_KEY_FILE": str(data / "secret_key"),
            "OMNIHUB_ENABLED_CONNECTORS": '["api"]',
            "OMNIHUB_CONNECTORS__API__SECRET": SECRET,
            "OMNIHUB_LOG_LEVEL": "warning",
            "OMNIHUB_BENCH_SECRET": SECRET,
        }
        hub = [
            "--b-cmd",
            f"{omnihub} serve --port {PORT}",
            "--b-url",
            f"http://127.0.0.1:{PORT}/connectors/api/messages",
            "--b-lua",
            str(ROOT / "benchmarks" / "lua" / "api_ingest.lua"),
        ]
        print("signed api-channel ingest, SQLite, 64 connections, requests per server-CPU-second")
        floor = ratio(work, *common, "--b-env", "DB_MODE=commit")
        ours = ratio(work, *common, *hub, env=hub_env)
        for f in data.glob("omnihub.db*"):
            f.unlink()
        latency = ratio(
            work, *common, "--mode", "alternate", "--a-env", "DB_MODE=commit", *hub, env=hub_env
        )
    print(f"  bare app, JSON parse only           1.00  ({ours['a_rps_median']:,} req/s)")
    print(
        f"  bare app, + one SQLite commit each  {floor['ratio_median']:.2f}"
        f"  (q1 {floor['ratio_q1']:.2f}, q3 {floor['ratio_q3']:.2f})"
    )
    print(
        f"  omnihub serve, signed ingest        {ours['ratio_median']:.2f}"
        f"  (q1 {ours['ratio_q1']:.2f}, q3 {ours['ratio_q3']:.2f}; target >= 0.5)"
    )
    print(
        f"  p99 at 64 connections: bare commit app {latency['a_p99_ms_median']:.1f} ms, "
        f"omnihub {latency['b_p99_ms_median']:.1f} ms "
        f"({latency['b_p99_ms_median'] / latency['a_p99_ms_median']:.1f}x; target <= 2x)"
    )


if __name__ == "__main__":
    main()
