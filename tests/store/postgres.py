"""A throwaway PostgreSQL server for the tests: initdb + pg_ctl in a temp dir, reached by a unix socket.

One server per pytest-xdist worker (the fixture is session-scoped, and every worker is its own session),
so workers never share a port or a data directory. As root, PostgreSQL refuses to run: the server runs as
the ``postgres`` user (the Debian package creates it) through ``runuser``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg


def server_bindir() -> Path | None:
    """Debian's versioned bindir (``/usr/lib/postgresql/15/bin``), else whatever is on PATH."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


@dataclass
class PostgresServer:
    bindir: Path
    root: Path
    run_as: list[str]
    port: int | None = None  # also listen on 127.0.0.1:port (the unix socket always)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def _run(self, *args: str) -> None:
        subprocess.run([*self.run_as, *args], check=True, capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync",
                  "-E", "UTF8", "--locale=C")
        self.resume()

    def resume(self) -> None:
        """Start the server (again) on its data directory."""
        listen = f"-c listen_addresses=127.0.0.1 -p {self.port}" if self.port else "-c listen_addresses="
        options = f"-k {self.root} {listen} -F -c max_connections=50"
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"), "-w",
                  "-t", "60", "-o", options, "start")

    def halt(self) -> None:
        """``pg_ctl stop -m fast``: the server is gone (connections refused) until :meth:`resume`; data kept."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def tcp_url(self, database: str, user: str = "postgres") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: open sessions are terminated (admin shutdown), the socket disappears until
        the server is back; it keeps its options and data."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"), "-m",
                  "fast", "-w", "-t", "60", "restart")

    def stop(self) -> None:
        subprocess.run([*self.run_as, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w",
                        "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)

    def create_database(self) -> str:
        """A fresh database; returns its SQLAlchemy URL (psycopg 3 over the unix socket)."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(host=str(self.root), port=self.port or 5432, user="postgres", dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        port = f"&port={self.port}" if self.port else ""
        return f"postgresql+psycopg://postgres@/{name}?host={self.root}{port}"


def start_server(port: int | None = None) -> PostgresServer | None:
    bindir = server_bindir()
    if bindir is None:
        return None
    root = Path(tempfile.mkdtemp(prefix="auditor-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    server = PostgresServer(bindir, root, run_as, port)
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    return server
