"""Start a throwaway FerretDB (SQLite handler) for tests that need a MongoDB peer.

``find_ferretdb()`` locates the binary; ``FerretDB`` is a context manager that
starts it on free loopback ports, waits until it accepts connections and stops
it again. ``.ci/ferretdb.sh`` builds the binary (FerretDB v1.24.2).
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

from pymongo import MongoClient

from tests.peers import Peer, free_port

__all__ = ["FerretDB", "find_ferretdb"]


def find_ferretdb() -> str | None:
    """The ferretdb binary: ``$OMNIHUB_FERRETDB``, then PATH, then ``~/go/bin``."""
    configured = os.environ.get("OMNIHUB_FERRETDB")
    if configured:
        return configured
    found = shutil.which("ferretdb")
    if found:
        return found
    home_bin = Path.home() / "go" / "bin" / "ferretdb"
    if home_bin.is_file() and os.access(home_bin, os.X_OK):
        return str(home_bin)
    return None


class FerretDB(Peer):
    """A FerretDB process (SQLite handler) with its data under ``workdir``."""

    name = "ferretdb"

    def __init__(self, binary: str, workdir: Path) -> None:
        super().__init__(binary, workdir)
        self.port = 0

    @property
    def uri(self) -> str:
        """The MongoDB connection string of the running server."""
        if not self.running:
            raise RuntimeError("FerretDB is not running")
        return f"mongodb://127.0.0.1:{self.port}/"

    def command(self) -> list[str]:
        data_dir = self.workdir / "ferret"
        data_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()  # a restart listens where clients still point
        return [
            self.binary,
            "--handler=sqlite",
            # Writers take SQLite's lock when they begin (and wait for it up to the
            # busy timeout) instead of failing with SQLITE_BUSY when two connections
            # upgrade read transactions at once, as concurrent hub instances make them.
            f"--sqlite-url=file:{data_dir}/?_txlock=immediate",
            f"--state-dir={self.workdir}",
            f"--listen-addr=127.0.0.1:{self.port}",
            f"--debug-addr=127.0.0.1:{free_port()}",
            "--telemetry=disable",
            "--log-level=warn",
        ]

    def probe(self) -> None:
        with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
            pass
        client: MongoClient[dict[str, object]] = MongoClient(
            f"mongodb://127.0.0.1:{self.port}/",
            serverSelectionTimeoutMS=1000,
            connectTimeoutMS=1000,
        )
        try:
            client.admin.command("ping")
        finally:
            client.close()
