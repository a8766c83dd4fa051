"""The floor: a bare Bolt AsyncApp whose listeners only ack, served exactly as the bot serves HTTP mode.

Same Bolt settings as bot.app.create_app (signature verification on with the same secret,
process_before_response=False), same aiohttp handler around `async_dispatch`, same logging set-up.
`python -m bench.floor --port N`; reads SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN and SLACK_API_URL.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient


def create_floor() -> AsyncApp:
    client = AsyncWebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"])
    app = AsyncApp(signing_secret=os.environ["SLACK_SIGNING_SECRET"], client=client,
                   process_before_response=False, raise_error_for_unhandled_request=False)

    @app.command("/incident")
    async def on_command(ack: Any) -> None:
        await ack()

    @app.action(re.compile(r"^step:"))
    async def on_step(ack: Any) -> None:
        await ack()

    @app.view("declare")
    async def on_submit(ack: Any) -> None:
        await ack()

    return app


def create_web_app(bolt: AsyncApp) -> web.Application:
    async def events(request: web.Request) -> web.Response:
        bolt_request = await to_bolt_request(request)
        bolt_response = await bolt.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    web_app = web.Application()
    web_app.router.add_post("/slack/events", events)
    web_app.router.add_get("/healthz", healthz)
    return web_app


async def serve(port: int) -> None:
    runner = web.AppRunner(create_web_app(create_floor()))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO").upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if os.environ.get("BENCH_GCLOG"):  # the same garbage-collection pause log as the bot gets
        from bench.variant import patch_gclog

        patch_gclog()
    try:
        asyncio.run(serve(args.port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
