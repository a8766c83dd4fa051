"""Command line: `python -m bot serve [--http] [--port N]` and `python -m bot check`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from aiohttp import web

from bot.app import create_app, create_web_app
from bot.check import Checked, load_checked, run_check
from bot.deps import Deps
from bot.embedded_redis import EmbeddedRedis
from bot.errors import ConfigError
from bot.settings import Settings, load_settings
from bot.store import Store, connect

log = logging.getLogger("bot")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="incident-bot", description="Slack incident-response bot")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the bot (Socket Mode unless --http)")
    serve.add_argument("--http", action="store_true", help="serve Slack's HTTP requests instead of Socket Mode")
    serve.add_argument("--port", type=int, default=None, help="HTTP port (default: $PORT or 3000)")
    sub.add_parser("check", help="validate settings, playbooks and templates; touches no Slack")
    return parser


async def _serve(settings: Settings, checked: Checked, http: bool, port: int) -> None:
    embedded = None
    redis_url = settings.redis_url
    if not redis_url:
        embedded = EmbeddedRedis(settings.state_dir)
        await embedded.start()
        redis_url = embedded.url
    store = Store(connect(redis_url))
    deps = Deps(settings=settings, store=store, playbooks=checked.books, templates=checked.templates)
    bolt = create_app(deps)
    web_app = create_web_app(deps, bolt)
    runner = web.AppRunner(web_app)
    await runner.setup()
    try:
        if http:
            site = web.TCPSite(runner, "0.0.0.0", port)
            await site.start()
            log.info("serving Slack requests on http://0.0.0.0:%s/slack/events", port)
            await asyncio.Event().wait()
        else:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            assert settings.slack_app_token is not None
            handler = AsyncSocketModeHandler(bolt, settings.slack_app_token.get_secret_value())
            log.info("connecting to Slack in Socket Mode")
            await handler.start_async()  # type: ignore[no-untyped-call]
    finally:
        await runner.cleanup()
        if embedded:
            embedded.stop()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        logging.basicConfig(level=settings.log_level.upper(),
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        if args.command == "check":
            print(run_check(settings))
            return 0
        # Fail before connecting anywhere if a playbook or template is broken; serve what was checked.
        checked = load_checked(settings)
        if not args.http and settings.slack_app_token is None:
            raise ConfigError("setting SLACK_APP_TOKEN: is required for Socket Mode (or run `serve --http`)")
        port = args.port or int(os.environ.get("PORT", "3000"))
        asyncio.run(_serve(settings, checked, args.http, port))
        return 0
    except ConfigError as e:
        print(f"error: {e.user_message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
