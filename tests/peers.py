"""Real peers as throwaway processes: the shared start / wait-until-ready / stop.

A :class:`Peer` subclass says how to run its server (:meth:`Peer.command`) and
how to tell it is ready (:meth:`Peer.probe`); the base starts it on free
loopback ports, waits for the probe with a deadline (failing with the log's
tail if the process exits or never answers) and stops it, killing it after a
grace period. FerretDB (``tests/ferretdb.py``) and Dovecot
(``tests/connectors/email/dovecot.py``) are the two.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

__all__ = ["Peer", "free_port"]

STARTUP_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Peer:
    """A server process with its files under ``workdir``; use as a context manager."""

    name: ClassVar[str]
    #: the process writes its log to stdout (else it writes ``log_path`` itself)
    logs_to_stdout: ClassVar[bool] = True

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary = binary
        self.workdir = Path(workdir)
        self.log_path = self.workdir / f"{self.name}.log"
        self._process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        """Prepare the work directory, pick ports, and return the argv to run."""
        raise NotImplementedError

    def probe(self) -> None:
        """Return once the server answers; raise while it does not yet."""
        raise NotImplementedError

    @property
    def running(self) -> bool:
        return self._process is not None

    def __enter__(self) -> Self:
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
        """Start the server and wait until :meth:`probe` passes, or raise."""
        if self._process is not None:
            return
        self.workdir.mkdir(parents=True, exist_ok=True)
        argv = self.command()
        with contextlib.ExitStack() as stack:
            out = (
                stack.enter_context(self.log_path.open("wb"))
                if self.logs_to_stdout
                else subprocess.DEVNULL
            )
            self._process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
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
                    f"{self.name} exited with code {code} during startup:\n{self.log_tail()}"
                )
            try:
                self.probe()
            except Exception as exc:
                last_error = f"{type(exc).__name__}: {exc}"
                time.sleep(0.05)
            else:
                return
        raise TimeoutError(
            f"{self.name} not ready within {timeout:.0f} s (last error: {last_error}):\n"
            f"{self.log_tail()}"
        )

    def stop(self) -> None:
        """Terminate the server and wait for it to exit (kill after a grace period)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the server's log, for error messages."""
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"
