"""Start a throwaway Dovecot (IMAP + LMTP) for the email tests (see TESTING.md).

``find_dovecot()`` locates the binary (Debian ``dovecot-imapd dovecot-lmtpd``);
``Dovecot`` is a context manager that writes a config under a temp dir,
starts the master in the foreground on free loopback ports, waits until IMAP
greets, and on exit stops it and waits for the master to go away.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
from pathlib import Path

from tests.peers import Peer, free_port

CONFIG = """\
protocols = imap lmtp
listen = 127.0.0.1
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
ssl = yes
ssl_cert = <{dir}/cert.pem
ssl_key = <{dir}/key.pem
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
    port = {imaps_port}
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


def throwaway_certificate(workdir: Path) -> None:
    """A self-signed certificate for 127.0.0.1 (``cert.pem``, ``key.pem``) by openssl."""
    openssl = shutil.which("openssl") or "/usr/bin/openssl"
    subprocess.run(  # noqa: S603 (fixed arguments)
        [
            openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout", str(workdir / "key.pem"), "-out", str(workdir / "cert.pem"),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    (workdir / "key.pem").chmod(0o644)  # read by Dovecot's unprivileged processes


class Dovecot(Peer):
    """A Dovecot master with its config, users and mail under ``workdir``."""

    name = "dovecot"
    config = CONFIG
    logs_to_stdout = False  # the config names its log file

    def __init__(self, binary: str, workdir: Path, users: dict[str, str]) -> None:
        super().__init__(binary, workdir)
        self.users = users
        self.imap_port = 0
        self.imaps_port = 0
        self.lmtp_port = 0
        self.cert = workdir / "cert.pem"
        """The server's self-signed certificate (for 127.0.0.1): the CA a client trusts."""

    def command(self) -> list[str]:
        """Write the config and the users; run the master in the foreground."""
        for sub in ("run", "state", "mail"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        nobody = pwd.getpwnam("nobody")
        os.chown(self.workdir / "mail", nobody.pw_uid, nobody.pw_gid)
        (self.workdir / "users").write_text(
            "".join(f"{user}:{{PLAIN}}{password}::::::\n" for user, password in self.users.items())
        )
        self.imap_port, self.imaps_port, self.lmtp_port = free_port(), free_port(), free_port()
        throwaway_certificate(self.workdir)
        config = self.workdir / "dovecot.conf"
        config.write_text(
            self.config.format(
                dir=self.workdir,
                imap_port=self.imap_port,
                imaps_port=self.imaps_port,
                lmtp_port=self.lmtp_port,
            )
        )
        return [self.binary, "-F", "-c", str(config)]

    def probe(self) -> None:
        """Ready once IMAP greets."""
        with socket.create_connection(("127.0.0.1", self.imap_port), timeout=1) as sock:
            sock.settimeout(2)
            greeting = sock.recv(100)
        if not greeting.startswith(b"* OK"):
            raise ConnectionError(f"IMAP greeted {greeting!r}")
