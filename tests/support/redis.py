"""A private, throwaway redis-server for tests that stop or restart Redis.

The machine's Redis on 6379 is shared by everyone's tests; faults are injected into this one.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

from tests.support.env import require
from tests.support.ports import free_port


class PrivateRedis:
    """redis-server on a free port with no persistence; stop() and start() again at will."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        require(binary is not None, "redis-server is not installed")
        assert binary is not None
        self._binary = binary
        self._workdir = workdir
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self._process = subprocess.Popen(
            [
                self._binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self._workdir),
                "--logfile", str(self._workdir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        await self._wait_ready()

    async def stop(self) -> None:
        """Stop the server (SIGKILL: no goodbye to clients, like a crash)."""
        if self._process is not None:
            self._process.kill()
            await asyncio.to_thread(self._process.wait)
            self._process = None

    async def _wait_ready(self, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while True:
                try:
                    reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                except OSError:
                    await asyncio.sleep(0.02)
                    continue
                writer.write(b"PING\r\n")
                answer = await reader.readline()
                writer.close()
                await writer.wait_closed()
                if answer.startswith(b"+PONG"):
                    return
                await asyncio.sleep(0.02)


class FreezableProxy:
    """A TCP proxy in front of a server whose existing connections can be frozen: bytes stop
    flowing both ways but nobody hears of it, like a half-open socket after a network split."""

    def __init__(self, target_port: int) -> None:
        self._target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._frozen: set[asyncio.StreamWriter] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def freeze(self) -> None:
        """Silence every connection open now; new connections work."""
        self._frozen |= self._writers

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in self._writers:
            writer.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._target_port)
        self._writers |= {writer, up_writer}
        for source, sink, pair in ((reader, up_writer, writer), (up_reader, writer, up_writer)):
            task = asyncio.create_task(self._pump(source, sink, pair))
            self._tasks.add(task)

    async def _pump(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, pair: asyncio.StreamWriter
    ) -> None:
        while data := await source.read(65536):
            if sink in self._frozen or pair in self._frozen:
                continue  # swallowed
            sink.write(data)
            await sink.drain()
        sink.close()
