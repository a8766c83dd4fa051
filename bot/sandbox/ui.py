"""The page's HTTP side: GET / (the page), GET /ui/view (a long poll for the parts that changed), the POSTs
for what a person does, file downloads and the page's two static files.

The page is for one person at a keyboard on this machine: it listens on 127.0.0.1 only, answers only requests
addressed to 127.0.0.1 or localhost (a name of another site that resolves here gets nothing), and every POST
must carry JSON and the `X-Sandbox` header, which a form or a script on another site cannot send without this
server agreeing (it never does), so a web page elsewhere cannot act in the sandbox.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from aiohttp import web

from bot.sandbox.emulator import Emulator, Refused
from bot.sandbox.page import fragments, href, page_html

log = logging.getLogger(__name__)

LONG_POLL_S = 20.0
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
STATIC = {"page.js": "text/javascript", "page.css": "text/css"}
_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


@web.middleware
async def _local_only(request: web.Request,
                      handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    """Only requests addressed to this machine by name or number: no DNS rebinding onto the page or the API."""
    host = request.host.rsplit(":", 1)[0] if request.host.count(":") == 1 else request.host
    if host not in LOCAL_HOSTS:
        return web.json_response({"ok": False, "error": "the sandbox answers at 127.0.0.1 only"}, status=421)
    return await handler(request)


class SandboxUI:
    def __init__(self, emu: Emulator, home: str, offset: Callable[[], int],
                 skip: Callable[[], Awaitable[None]]) -> None:
        self.emu = emu
        self.home = home  # the channel the page opens on
        self.offset = offset  # how far the clock was moved ahead, ms
        self.skip = skip

    def routes(self, app: web.Application) -> None:
        app.middlewares.append(_local_only)
        app.router.add_get("/", self.page)
        app.router.add_get("/ui/view", self.view)
        app.router.add_get("/files/{file_id}", self.file)
        app.router.add_get("/static/{name}", self.static)
        for name, action in (("send", self.send), ("action", self.action), ("shortcut", self.shortcut),
                             ("submit", self.submit), ("close", self.close), ("skip", self.skip_ahead)):
            app.router.add_post(f"/ui/{name}", self._posted(action))

    def _where(self, query: Any) -> tuple[str, str]:
        """The person and channel a request is for: defaults for what is missing or unknown."""
        people = self.emu.people
        user = str(query.get("user") or "")
        if user not in {p.id for p in people.users}:
            user = people.responders[0].id
        channel = str(query.get("channel") or "")
        if channel not in {c.id for c in self.emu.visible_channels(user)}:
            channel = self.home
        return user, channel

    async def page(self, request: web.Request) -> web.Response:
        user, channel = self._where(request.query)
        if request.query.get("user") != user or request.query.get("channel") != channel:
            raise web.HTTPFound(href(channel, user))
        return web.Response(text=page_html(self.emu, user, channel, self.offset()), content_type="text/html",
                            headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
                                     "Content-Security-Policy": "default-src 'self'; img-src 'self' data:"})

    async def view(self, request: web.Request) -> web.Response:
        user, channel = self._where(request.query)
        since = request.query.get("since", "")
        if since.isdigit():
            await self.emu.wait(int(since), LONG_POLL_S)
        return web.json_response(fragments(self.emu, user, channel, self.offset()),
                                 headers={"Cache-Control": "no-store"})

    async def file(self, request: web.Request) -> web.Response:
        record = self.emu.files.get(request.match_info["file_id"])
        if record is None or record.get("content") is None or not record.get("completed"):
            raise web.HTTPNotFound(text="no such file")
        name = _FILENAME.sub("_", str(record.get("name") or "file")) or "file"
        return web.Response(body=record["content"], content_type="application/octet-stream",
                            headers={"Content-Disposition": f'attachment; filename="{name}"',
                                     "X-Content-Type-Options": "nosniff"})

    async def static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in STATIC:
            raise web.HTTPNotFound()
        text = (resources.files("bot.sandbox") / "static" / name).read_text(encoding="utf-8")
        return web.Response(text=text, content_type=STATIC[name], headers={"Cache-Control": "no-cache"})

    def _posted(self, action: Callable[[str, dict[str, Any]], Awaitable[None]]
                ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(request: web.Request) -> web.Response:
            if request.headers.get("X-Sandbox") != "1" or request.content_type != "application/json":
                return web.json_response({"ok": False, "error": "not from the sandbox page"}, status=403)
            try:
                body = await request.json()
                if not isinstance(body, dict):
                    raise ValueError("not an object")
            except ValueError:
                return web.json_response({"ok": False, "error": "expected a JSON object"}, status=400)
            user, _ = self._where(body)
            self.emu.notices.pop(user, None)  # what went wrong before is over
            try:
                await action(user, body)
            except Refused as e:
                self.emu.tell(user, str(e))
                return web.json_response({"ok": False, "error": str(e)})
            except (KeyError, TypeError, ValueError) as e:
                log.info("sandbox: a malformed %s request (%s)", request.path, type(e).__name__)
                return web.json_response({"ok": False, "error": "malformed request"}, status=400)
            return web.json_response({"ok": True})

        return handler

    async def send(self, user: str, body: dict[str, Any]) -> None:
        await self.emu.send(user, str(body["channel"]), str(body["text"]))

    async def action(self, user: str, body: dict[str, Any]) -> None:
        option = body.get("option")
        await self.emu.click(user, str(body["channel"]), str(body["ts"]), int(body["block"]), int(body["el"]),
                             str(body["action"]), None if option is None else int(option))

    async def shortcut(self, user: str, body: dict[str, Any]) -> None:
        await self.emu.shortcut(user, str(body["channel"]), str(body["ts"]), str(body["callback"]))

    async def submit(self, user: str, body: dict[str, Any]) -> None:
        fields = body["fields"]
        if not isinstance(fields, dict):
            raise ValueError("fields")
        await self.emu.submit(user, str(body["view"]), fields)

    async def close(self, user: str, body: dict[str, Any]) -> None:
        await self.emu.close(user, str(body["view"]))

    async def skip_ahead(self, user: str, body: dict[str, Any]) -> None:
        await self.skip()
