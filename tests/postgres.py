"""A real PostgreSQL server for the tests: initdb into a temp dir, on a free 127.0.0.1 port, stopped at the end.

The server refuses to run as root, so as root it runs as the `postgres` user (`runuser`), with its
data dir and unix socket dir in a temp dir that user owns. `tests/setup.d/postgres.sh` installs it.
Each test gets a database of its own (`create_database`), dropped afterwards.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg

from tests.conftest import free_port


def bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/N/bin with an initdb (15 on our image)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


class PostgresServer:
    def __init__(self) -> None:
        bindir = bin_dir()
        if bindir is None:
            raise RuntimeError("no PostgreSQL server found: run `bash tests/setup.sh` (installs Debian's postgresql)")
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="streamchat-pg-"))
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            pg = pwd.getpwnam("postgres")
            os.chown(self.root, pg.pw_uid, pg.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.data = self.root / "data"
        self.port = 0

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self.as_user, str(self.bindir / tool), *args], check=True, capture_output=True,
                       timeout=120, stdin=subprocess.DEVNULL)

    def start(self) -> PostgresServer:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync")
        # Durability is not under test: no fsync keeps a database per test cheap on a busy machine.
        options = f"-h 127.0.0.1 -k {self.root} -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        for _attempt in range(3):  # another worker may take the free port between the check and the bind
            self.port = free_port()
            try:
                self._run("pg_ctl", "-D", str(self.data), "-o", f"{options} -p {self.port}", "-w", "-t", "60",
                          "-l", str(self.root / "server.log"), "start")
                return self
            except subprocess.CalledProcessError:
                continue
        raise RuntimeError(f"PostgreSQL did not start:\n{self.log()}")

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _admin(self, sql: str) -> None:
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]  (names are made here, never from input)

    def create_database(self) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        self._admin(f"CREATE DATABASE {name}")
        return name

    def drop_database(self, name: str) -> None:
        self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # never started: the temp dir goes either way
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
