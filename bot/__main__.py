"""Command line: `python -m bot serve [--http] [--port N]`, `python -m bot check` and
`python -m bot sandbox [--port N]`."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import sys

from aiohttp import web
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import handlers, logs
from bot.app import create_app, create_web_app, shut_down
from bot.check import Checked, load_checked, run_check
from bot.collector import FullCollections
from bot.deps import Deps
from bot.embedded_redis import EmbeddedRedis
from bot.errors import ConfigError, StorageUnavailable
from bot.settings import Settings, load_settings
from bot.store import Store, connect_settings

log = logging.getLogger("bot")

# Slack's answers to a token that will never work: stop at start-up instead of failing every request.
BAD_TOKEN = frozenset({"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive",
                       "not_allowed_token_type"})
HTTP_PORT, SOCKET_MODE_PORT, SANDBOX_PORT = 3000, 8080, 8000
# ROSTER is one of them: it may hold PagerDuty routing keys.
SECRET_VARIABLES = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "STATUSPAGE_API_KEY",
                    "PAGERDUTY_WEBHOOK_SECRET", "ROSTER", "ALERT_WEBHOOK_TOKEN", "REDIS_URL",
                    "REDIS_SENTINEL_PASSWORD")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="incident-bot", description="Slack incident-response bot")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the bot (Socket Mode unless --http)")
    serve.add_argument("--http", action="store_true", help="serve Slack's HTTP requests instead of Socket Mode")
    serve.add_argument("--port", type=int, default=None,
                       help=f"HTTP port (default: $PORT, else {HTTP_PORT}; {SOCKET_MODE_PORT} in Socket Mode)")
    sub.add_parser("check", help="validate settings, playbooks and templates; needs no Slack tokens")
    sandbox = sub.add_parser("sandbox", help="try the bot in a local Slack workspace in the browser; no Slack needed")
    sandbox.add_argument("--port", type=int, default=None,
                         help=f"the page's port (default: $PORT, else {SANDBOX_PORT})")
    return parser


def _port(given: int | None, default: int) -> int:
    """--port, else PORT, else `default`."""
    if given is not None:
        return given
    value = os.environ.get("PORT", "").strip()
    if not value:
        return default
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise ConfigError(f"setting PORT: expected a port number such as {default}")
    return int(value)


async def _check_redis(store: Store) -> None:
    try:
        await store.write_probe()
    except StorageUnavailable as e:
        raise ConfigError(f"setting REDIS_URL: Redis cannot be used ({e.reason}); check the hosts, ports, "
                          "passwords (and REDIS_SENTINEL_PASSWORD) and whether it wants TLS (rediss://)") from None


async def _check_token(client: AsyncWebClient, setting: str, method: str) -> None:
    """A token Slack refuses stops start-up; Slack being unreachable only warns (it may come back)."""
    try:
        await client.api_call(method)
    except SlackApiError as e:
        error = str(e.response.get("error"))
        if error in BAD_TOKEN:
            raise ConfigError(f"setting {setting}: Slack refused it ({error}); copy the token again from the "
                              "Slack app's settings (see README, Slack app setup)") from None
        log.warning("could not check %s with Slack (%s); going on", setting, error)
    except Exception as e:  # noqa: BLE001 - unreachable Slack must not stop a bot that can wait for it
        log.warning("could not reach Slack to check %s (%s); going on", setting, type(e).__name__)


async def _serve(settings: Settings, checked: Checked, http: bool, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    embedded = None
    redis_url = settings.redis_url
    try:
        if not redis_url:
            embedded = EmbeddedRedis(settings.state_dir)
            await embedded.start()
            redis_url = embedded.url
        deps = Deps(settings=settings, store=Store(connect_settings(settings, redis_url)), playbooks=checked.books,
                    templates=checked.templates)
        try:
            await _check_redis(deps.store)
            await _check_token(deps.client, "SLACK_BOT_TOKEN", "auth.test")
            if not http:
                assert settings.slack_app_token is not None
                app_token = settings.slack_app_token.get_secret_value()
                await _check_token(AsyncWebClient(token=app_token, base_url=settings.slack_api_url),
                                   "SLACK_APP_TOKEN", "apps.connections.open")
        except ConfigError:
            await deps.aclose()
            raise
        log.info("Redis: %s", settings.describe_redis())
        socket_mode = None
        bolt = create_app(deps)
        runner = web.AppRunner(create_web_app(deps, bolt, slack_events=http),
                               shutdown_timeout=settings.shutdown_timeout)
        await runner.setup()
        await web.TCPSite(runner, "0.0.0.0", port).start()
        # Everything loaded at start-up lives as long as the process: keep it out of the collector's scans.
        gc.collect()
        gc.freeze()
        full_collections = FullCollections(bolt.ack_first, handlers.working)  # none in the middle of a burst
        full_collections.start()
        if http:
            log.info("serving Slack requests on http://0.0.0.0:%s/slack/events", port)
        else:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            socket_mode = AsyncSocketModeHandler(bolt, app_token)
            await socket_mode.connect_async()  # type: ignore[no-untyped-call]
            log.info("connected to Slack in Socket Mode; /healthz and /metrics on port %s", port)
        if settings.alert_webhook_token is not None:
            log.info("alerts on: POST /alerts/alertmanager on port %s (bearer token from ALERT_WEBHOOK_TOKEN)", port)
        else:
            log.info("alerts are off: ALERT_WEBHOOK_TOKEN is not set, so /alerts/alertmanager answers 404")
        await stop.wait()
        if socket_mode is not None:
            await socket_mode.close_async()  # type: ignore[no-untyped-call]
        await shut_down(runner, settings.shutdown_timeout)
        await full_collections.stop()
    finally:
        if embedded:
            embedded.stop()
    log.info("stopped")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        # Read once; no child process (the embedded redis-server) or library needs them from the environment.
        for name in SECRET_VARIABLES:
            os.environ.pop(name, None)
        logs.setup(settings.log_level, settings.log_format, settings.secret_values())
        if args.command == "check":
            print(run_check(settings))
            return 0
        if args.command == "sandbox":
            from bot.sandbox.run import run_sandbox

            asyncio.run(run_sandbox(settings, load_checked(settings), _port(args.port, SANDBOX_PORT)))
            return 0
        settings.require_slack(socket_mode=not args.http)
        # Fail before connecting anywhere if a playbook or template is broken; serve what was checked.
        checked = load_checked(settings)
        port = _port(args.port, HTTP_PORT if args.http else SOCKET_MODE_PORT)
        asyncio.run(_serve(settings, checked, args.http, port))
        return 0
    except ConfigError as e:
        for line in e.user_message.splitlines():
            print(f"error: {line}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
