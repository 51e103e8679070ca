"""Start a throwaway Dovecot (IMAP + LMTP) for the email tests (see TESTING.md).

``find_dovecot()`` locates the binary (Debian ``dovecot-imapd dovecot-lmtpd``);
``Dovecot`` is a context manager that writes a config under a temp dir,
starts the master in the foreground on free loopback ports, waits until IMAP
greets, and on exit stops it and waits for the master to go away.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from tests.ferretdb import free_port

STARTUP_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0

CONFIG = """\
protocols = imap lmtp
listen = 127.0.0.1
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%n {dir}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%n {dir}/users
  default_fields = uid=nobody gid=nogroup home={dir}/mail/%n
}}
service imap-login {{
  inet_listener imap {{
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    port = {lmtp_port}
  }}
}}
"""


def find_dovecot() -> str | None:
    """The dovecot binary: ``$OMNIHUB_DOVECOT``, then PATH, then ``/usr/sbin``."""
    configured = os.environ.get("OMNIHUB_DOVECOT")
    if configured:
        return configured
    found = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin")
    return found


class Dovecot:
    """A Dovecot master with its config, users and mail under ``workdir``."""

    def __init__(self, binary: str, workdir: Path, users: dict[str, str]) -> None:
        self.binary = binary
        self.workdir = Path(workdir)
        self.users = users
        self.imap_port = 0
        self.lmtp_port = 0
        self.log_path = self.workdir / "dovecot.log"
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Dovecot:
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
        """Write the config, start the master and wait for the IMAP greeting."""
        if self._process is not None:
            return
        for sub in ("run", "state", "mail"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        nobody = pwd.getpwnam("nobody")
        os.chown(self.workdir / "mail", nobody.pw_uid, nobody.pw_gid)
        (self.workdir / "users").write_text(
            "".join(f"{user}:{{PLAIN}}{password}::::::\n" for user, password in self.users.items())
        )
        self.imap_port, self.lmtp_port = free_port(), free_port()
        config = self.workdir / "dovecot.conf"
        config.write_text(
            CONFIG.format(dir=self.workdir, imap_port=self.imap_port, lmtp_port=self.lmtp_port)
        )
        self._process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [self.binary, "-F", "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
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
                raise RuntimeError(f"dovecot exited with {code} during startup:\n{self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.imap_port), timeout=1) as sock:
                    sock.settimeout(2)
                    if sock.recv(100).startswith(b"* OK"):
                        return
            except OSError as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            time.sleep(0.05)
        raise TimeoutError(f"dovecot not ready ({last_error}):\n{self.log_tail()}")

    def stop(self) -> None:
        """Stop the master and wait for it (and so its children) to exit."""
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
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"
