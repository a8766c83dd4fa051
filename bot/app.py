"""The app factory: a Bolt app and the aiohttp server around it, built from settings and a store."""

from __future__ import annotations

import logging

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

from bot.deps import Deps
from bot.errors import StorageUnavailable
from bot.handlers import checklist, commands, declare, resolve, status, timeline
from bot.scheduler import Scheduler

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"


def create_app(deps: Deps) -> AsyncApp:
    app = AsyncApp(
        signing_secret=deps.settings.slack_signing_secret.get_secret_value(),
        client=deps.client,
        process_before_response=False,
        # Our own error handling reports failures to the person; Bolt's 'unhandled' log is noise.
        raise_error_for_unhandled_request=False,
    )
    for module in (commands, declare, checklist, resolve, status, timeline):
        module.register(app, deps)
    return app


def create_web_app(deps: Deps, bolt: AsyncApp, *, run_scheduler: bool = True) -> web.Application:
    """HTTP mode: Bolt's POST /slack/events, GET /healthz, and the scheduler tied to the app's life."""

    async def events(request: web.Request) -> web.Response:
        bolt_request = await to_bolt_request(request)
        bolt_response = await bolt.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    async def healthz(_: web.Request) -> web.Response:
        try:
            await deps.store.ping()
        except StorageUnavailable:
            return web.json_response({"ok": False, "redis": "unreachable"}, status=503)
        return web.json_response({"ok": True, "redis": "ok"})

    web_app = web.Application()
    web_app.router.add_post(EVENTS_PATH, events)
    web_app.router.add_get("/healthz", healthz)
    web_app.cleanup_ctx.append(lifecycle(deps, bolt, run_scheduler))
    return web_app


def lifecycle(deps: Deps, bolt: AsyncApp, run_scheduler: bool):  # type: ignore[no-untyped-def]
    async def ctx(_: web.Application):  # type: ignore[no-untyped-def]
        scheduler = Scheduler(deps) if run_scheduler else None
        if scheduler:
            scheduler.start()
        yield
        if scheduler:
            await scheduler.stop()
        await deps.store.close()

    return ctx
