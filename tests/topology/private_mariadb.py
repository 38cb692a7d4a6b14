"""A private, throwaway MariaDB server for tests that crash and restart the database.

The machine's MariaDB on 3306 is shared by everyone's tests; faults go to this one: its own
data folder (mariadb-install-db into a temporary folder) and its own port.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

from tests.support.env import require
from tests.support.ports import free_port


class PrivateMariaDB:
    """mariadbd on a free port without grant tables (root, no password); kill() and start()
    again at will: the data folder survives, as after a real crash."""

    def __init__(self, workdir: Path) -> None:
        server, installer = shutil.which("mariadbd"), shutil.which("mariadb-install-db")
        server = server or ("/usr/sbin/mariadbd" if Path("/usr/sbin/mariadbd").exists() else None)
        require(server is not None and installer is not None, "mariadbd is not installed")
        assert server is not None
        assert installer is not None
        self._server, self._installer = server, installer
        self._workdir = workdir
        self._datadir = workdir / "data"
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    def url(self, database: str) -> str:
        return f"mysql+asyncmy://root@127.0.0.1:{self.port}/{database}?charset=utf8mb4"

    async def install(self) -> None:
        self._datadir.mkdir(parents=True)
        installer = await asyncio.create_subprocess_exec(
            self._installer, "--no-defaults", f"--datadir={self._datadir}", "--user=root",
            "--skip-test-db", "--auth-root-authentication-method=normal",
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        _out, error = await installer.communicate()
        assert installer.returncode == 0, error.decode()

    async def start(self) -> None:
        self._process = subprocess.Popen(
            [
                self._server, "--no-defaults", f"--datadir={self._datadir}", "--user=root",
                f"--port={self.port}", "--bind-address=127.0.0.1",
                f"--socket={self._workdir / 'mariadb.sock'}",
                f"--pid-file={self._workdir / 'mariadb.pid'}",
                f"--log-error={self._workdir / 'mariadb.err'}",
                "--skip-grant-tables", "--skip-name-resolve",
                "--innodb-buffer-pool-size=32M", "--innodb-log-file-size=16M",
                "--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        await self._wait_ready()

    async def kill(self) -> None:
        """SIGKILL: a crash, no goodbye to the clients."""
        if self._process is not None:
            self._process.kill()
            await asyncio.to_thread(self._process.wait)
            self._process = None

    async def _wait_ready(self, timeout: float = 60.0) -> None:
        async with asyncio.timeout(timeout):
            while True:
                assert self._process is not None
                assert self._process.poll() is None, (self._workdir / "mariadb.err").read_text()
                try:
                    reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                except OSError:
                    await asyncio.sleep(0.05)
                    continue
                greeting = await reader.read(64)  # the server's handshake packet
                writer.close()
                await writer.wait_closed()
                if greeting:
                    return
                await asyncio.sleep(0.05)
