"""The HTTP server of a local fake of an outside service (Slack here; Statuspage and PagerDuty in the tests),
on a free port of 127.0.0.1."""

from __future__ import annotations

from typing import Any, Self

from aiohttp import web


class Loopback:
    """Serves `routes()` from `start()` until `stop()` (or as `async with`); `port` is set once started."""

    port: int = 0
    max_body = 64 * 1024 * 1024  # what a request may carry (file uploads to the fake Slack)
    shutdown_timeout = 60.0  # how long `stop` lets requests in flight finish (aiohttp's default)
    # Connections waiting to be accepted. The service faked takes whatever a client opens; aiohttp's 128 would
    # drop the connections of a burst past it, and a client sends a dropped SYN again only a second later.
    backlog = 1024
    _runner: web.AppRunner | None = None

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def start(self, port: int = 0) -> None:
        """Serve on `port` of 127.0.0.1, or on a free one; OSError when the port is taken."""
        app = web.Application(client_max_size=self.max_body)
        self.routes(app)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=self.shutdown_timeout)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, "127.0.0.1", port, backlog=self.backlog).start()
        except OSError:
            await self.stop()
            raise
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()
