"""A real Redis server for the multi-instance tests: on a free 127.0.0.1 port, no persistence, in a temp dir.

`tests/setup.d/redis.sh` installs Debian's redis-server. One server per test process (each xdist
worker has its own); each test gets a database number of its own, flushed before use.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.conftest import free_port

DATABASES = 16


class RedisServer:
    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("no redis-server found: run `bash tests/setup.sh` (installs Debian's redis-server)")
        self.binary = binary
        self.root = Path(tempfile.mkdtemp(prefix="streamchat-redis-"))
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._next_db = 0

    def start(self, timeout: float = 15.0) -> RedisServer:
        for _attempt in range(3):  # another worker may take the free port between the check and the bind
            self.port = free_port()
            with open(self.root / "server.log", "ab") as log:  # the child keeps its own copy of the descriptor
                self.proc = subprocess.Popen(
                    [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                     "--dir", str(self.root), "--databases", str(DATABASES)],
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return self
                time.sleep(0.05)
            self.stop()
        raise RuntimeError(f"redis-server did not start:\n{(self.root / 'server.log').read_text(errors='replace')}")

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def fresh_url(self) -> str:
        """A database number no earlier test of this process used, emptied."""
        db = self._next_db % DATABASES
        self._next_db += 1
        with socket.create_connection(("127.0.0.1", self.port), 2) as s:
            s.sendall(f"SELECT {db}\r\nFLUSHDB\r\n".encode())
            got = b""
            while got.count(b"\r\n") < 2:
                got += s.recv(64)
        return self.url(db)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
