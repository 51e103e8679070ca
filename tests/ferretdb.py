"""Start a throwaway FerretDB (SQLite handler) for tests that need a MongoDB peer.

``find_ferretdb()`` locates the binary; ``FerretDB`` is a context manager that
starts it on free loopback ports, waits until it accepts connections and stops
it again. ``.ci/ferretdb.sh`` builds the binary (FerretDB v1.24.2).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from pymongo import MongoClient
from pymongo.errors import PyMongoError

STARTUP_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class FerretDB:
    """A FerretDB process with its data under ``workdir``; use as a context manager."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = Path(workdir)
        self.port = 0
        self.log_path = self.workdir / "ferretdb.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        """The MongoDB connection string of the running server."""
        if self._process is None:
            raise RuntimeError("FerretDB is not running")
        return f"mongodb://127.0.0.1:{self.port}/"

    def __enter__(self) -> FerretDB:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self, timeout: float = STARTUP_TIMEOUT) -> None:
        """Start the server and wait until it answers a ping, or raise."""
        if self._process is not None:
            return
        data_dir = self.workdir / "ferret"
        data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        args = [
            self.binary,
            "--handler=sqlite",
            f"--sqlite-url=file:{data_dir}/",
            f"--state-dir={self.workdir}",
            f"--listen-addr=127.0.0.1:{self.port}",
            f"--debug-addr=127.0.0.1:{free_port()}",
            "--telemetry=disable",
            "--log-level=warn",
        ]
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float) -> None:
        assert self._process is not None
        deadline = time.monotonic() + timeout
        last_error = "no attempt"
        while time.monotonic() < deadline:
            code = self._process.poll()
            if code is not None:
                raise RuntimeError(
                    f"ferretdb exited with code {code} during startup:\n{self.log_tail()}"
                )
            try:
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
                return
            except (OSError, PyMongoError) as exc:
                last_error = f"{type(exc).__name__}: {exc}"
                time.sleep(0.1)
        raise TimeoutError(
            f"ferretdb did not accept connections on 127.0.0.1:{self.port} within "
            f"{timeout:.0f} s (last error: {last_error}):\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """Terminate the server and wait for it to exit (kill after a grace period)."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the server's log, for error messages."""
        with contextlib.suppress(OSError):
            text = self.log_path.read_text(errors="replace")
            return "\n".join(text.splitlines()[-lines:])
        return "(no log)"
