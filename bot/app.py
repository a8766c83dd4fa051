"""The app factory: a Bolt app and the aiohttp server around it, built from settings and a store."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web
from pydantic import ValidationError
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot import alerts, handlers, metrics, pagerduty
from bot.ackfirst import AckFirst
from bot.deps import Deps
from bot.errors import IncidentGone, StorageUnavailable
from bot.handlers import checklist, commands, declare, resolve, status, timeline
from bot.scheduler import Scheduler
from bot.workflows import alerts as alert_flow
from bot.workflows import page

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
PAGERDUTY_PATH = "/pagerduty/webhook"
ALERTS_PATH = "/alerts/alertmanager"
# Slack's payloads are a few kilobytes; anything near this is not from Slack.
MAX_BODY = 1024 * 1024
SCHEDULER: web.AppKey[Scheduler | None] = web.AppKey("scheduler")
# Slack's rule: a request older than this may be a replay.
SIGNATURE_MAX_AGE_S = 300


class BotApp(AsyncApp):
    """Bolt's app, answering each request as soon as it is acked and counting those that wait for their ack
    (bot/ackfirst.py), in HTTP and Socket Mode alike: both hand every request to `async_dispatch`."""

    def __init__(self, ack_first: AckFirst, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ack_first = ack_first

    async def async_dispatch(self, req: AsyncBoltRequest) -> BoltResponse:
        return await self.ack_first.dispatch(super().async_dispatch(req))


def create_app(deps: Deps) -> BotApp:
    app = BotApp(
        AckFirst(),
        signing_secret=deps.settings.signing_secret,
        client=deps.client,
        process_before_response=False,
        # `events` checks the signature over the exact bytes received before anything reaches Bolt (and Socket
        # Mode has none): Bolt checking it again would only cost every ack an HMAC.
        request_verification_enabled=False,
        # Our own error handling reports failures to the person; Bolt's 'unhandled' log is noise.
        raise_error_for_unhandled_request=False,
    )
    for module in (commands, declare, checklist, resolve, status, timeline):
        module.register(app, deps)
    return app


def create_web_app(deps: Deps, bolt: AsyncApp, *, run_scheduler: bool = True,
                   slack_events: bool = True) -> web.Application:
    """The HTTP server: Bolt's POST /slack/events (HTTP mode), GET /healthz and /metrics, and the
    scheduler tied to the server's life (in Socket Mode too)."""

    secret = deps.settings.signing_secret.encode()

    async def events(request: web.Request) -> web.Response:
        started = time.perf_counter()
        raw = await _read(request, deps)
        if isinstance(raw, web.Response):
            return raw
        if not _signed(secret, raw, request.headers):
            return _refuse(request, 401, "missing, stale or wrong signature", len(raw))
        try:
            bolt_request = AsyncBoltRequest(body=raw.decode("utf-8"), query=request.query_string,
                                            headers=dict(request.headers))
        except (ValueError, TypeError, KeyError, RecursionError):  # UnicodeDecodeError is a ValueError
            return _refuse(request, 400, "a signed body that is not a Slack payload", len(raw))
        bolt_response = await bolt.async_dispatch(bolt_request)
        response = await to_aiohttp_response(bolt_response)
        if isinstance(bolt_request.body, dict) and bolt_request.body.get("type") == "block_actions":
            metrics.BUTTON_ACK.observe(time.perf_counter() - started)
        return response

    web_app = service_app(deps)
    if slack_events:
        web_app.router.add_post(EVENTS_PATH, events)
    web_app.cleanup_ctx.append(lifecycle(deps, bolt, run_scheduler))
    return web_app


def _signed(secret: bytes, raw: bytes, headers: Mapping[str, str]) -> bool:
    """Slack's v0 signature over the exact bytes received, from at most five minutes ago."""
    timestamp, signature = headers.get("X-Slack-Request-Timestamp", ""), headers.get("X-Slack-Signature", "")
    if not (timestamp.isascii() and timestamp.isdigit()) or abs(time.time() - int(timestamp)) > SIGNATURE_MAX_AGE_S:
        return False
    expected = "v0=" + hmac.new(secret, b"v0:" + timestamp.encode() + b":" + raw, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))


async def _read(request: web.Request, deps: Deps) -> bytes | web.Response:
    """The body, or the refusal of one that is too big (MAX_BODY) or too slow (REQUEST_BODY_TIMEOUT).
    Nothing is done with a body before its signature is checked, and nothing of it is logged."""
    try:
        async with asyncio.timeout(deps.settings.request_body_timeout):  # no task per request, as wait_for makes
            return await request.read()
    except TimeoutError:
        return _refuse(request, 408, "the body did not arrive in time", request.content_length or 0)
    except web.HTTPRequestEntityTooLarge:
        return _refuse(request, 413, "the body is over 1 MB", request.content_length or 0)


def _bearer(header: str, token: bytes) -> bool:
    scheme, _, credentials = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(credentials.strip().encode(), token)


def _alert_webhook(deps: Deps, token: bytes) -> Callable[[web.Request], Awaitable[web.Response]]:
    """POST /alerts/alertmanager: Alertmanager's (or Grafana's) webhook. The delivery is stored, with its group
    queued, before the answer; the bearer token is checked before the body is read."""

    async def alertmanager(request: web.Request) -> web.Response:
        if not _bearer(request.headers.get("Authorization", ""), token):
            metrics.ALERT_NOTIFICATIONS.labels(outcome="refused").inc()
            return _refuse(request, 401, "missing or wrong bearer token", request.content_length or 0)
        raw = await _read(request, deps)
        if isinstance(raw, web.Response):
            metrics.ALERT_NOTIFICATIONS.labels(outcome="refused").inc()
            return raw
        try:
            notification = alerts.parse(json.loads(raw))
        except (ValueError, RecursionError) as e:  # JSON and UTF-8 errors are ValueErrors, BadNotification too
            metrics.ALERT_NOTIFICATIONS.labels(outcome="refused").inc()
            why = str(e) if isinstance(e, alerts.BadNotification) else "the body is not JSON"
            return _refuse(request, 400, why, len(raw))
        try:
            group = await alert_flow.receive(deps, notification)
        except StorageUnavailable as e:  # Alertmanager retries a failed delivery
            log.warning("alert notification not stored: Redis unavailable (%s)", e.reason)
            return web.json_response({"ok": False, "error": "storage unavailable; retry"}, status=503)
        if group is None:
            return web.json_response({"ok": True, "matched": False})
        return web.json_response({"ok": True, "group": group}, status=202)

    return alertmanager


def _refuse(request: web.Request, status: int, reason: str, size: int) -> web.Response:
    log.info("refused %s %s: %s (%d bytes)", request.method, request.path, reason, size)
    return web.json_response({"ok": False, "error": reason}, status=status)


def pagerduty_webhook(deps: Deps, secret: bytes) -> Callable[[web.Request], Awaitable[web.Response]]:
    """POST /pagerduty/webhook: a V3 webhook subscription's deliveries, signed with its secret."""

    async def hook(request: web.Request) -> web.Response:
        raw = await _read(request, deps)
        if isinstance(raw, web.Response):
            return raw
        if not pagerduty.signed(secret, raw, request.headers.get(pagerduty.SIGNATURE_HEADER, "")):
            return _refuse(request, 401, "missing or wrong signature", len(raw))
        try:
            delivery = pagerduty.Webhook.model_validate_json(raw)
        except ValidationError:
            return _refuse(request, 400, "a signed body that is not a PagerDuty webhook", len(raw))
        try:
            outcome = await page.heard(deps, delivery.event)
        except StorageUnavailable:  # PagerDuty delivers again later
            return web.json_response({"ok": False, "error": "storage unavailable"}, status=503)
        except IncidentGone:
            outcome = "ignored"
        metrics.PAGERDUTY_WEBHOOKS.labels(outcome=outcome).inc()
        return web.json_response({"ok": True, "outcome": outcome})

    return hook


def service_app(deps: Deps) -> web.Application:
    """The routes every mode serves: GET /healthz, /readyz and /metrics; POST /pagerduty/webhook with
    PAGERDUTY_WEBHOOK_SECRET set, and POST /alerts/alertmanager with ALERT_WEBHOOK_TOKEN set."""

    async def healthz(_: web.Request) -> web.Response:
        try:
            await deps.store.ping()
        except StorageUnavailable:
            return web.json_response({"ok": False, "redis": "unreachable"}, status=503)
        return web.json_response({"ok": True, "redis": "ok"})

    async def metrics_page(_: web.Request) -> web.Response:
        try:
            metrics.set_open(await deps.store.open_counts(), list(deps.playbooks))
        except StorageUnavailable:
            pass  # the rest of the page is still worth scraping; the gauge keeps its last value
        return web.Response(body=metrics.exposition(), content_type="text/plain", charset="utf-8",
                            headers={"X-Content-Type-Options": "nosniff"})

    async def readyz(_: web.Request) -> web.Response:
        """Ready: playbooks loaded and the current Redis primary takes a write."""
        if not deps.playbooks:
            return web.json_response({"ok": False, "reason": "no playbooks loaded"}, status=503)
        try:
            await deps.store.write_probe()
        except StorageUnavailable as e:
            reason = f"Redis refuses writes: {e.reason}"
            return web.json_response({"ok": False, "reason": reason}, status=503)
        return web.json_response({"ok": True})

    web_app = web.Application(client_max_size=MAX_BODY)
    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/readyz", readyz)
    web_app.router.add_get("/metrics", metrics_page)
    if deps.settings.pagerduty_webhook_secret is not None:
        hook = pagerduty_webhook(deps, deps.settings.pagerduty_webhook_secret.get_secret_value().encode())
        web_app.router.add_post(PAGERDUTY_PATH, hook)
    if deps.settings.alert_webhook_token is not None:
        token = deps.settings.alert_webhook_token.get_secret_value().encode()
        web_app.router.add_post(ALERTS_PATH, _alert_webhook(deps, token))
    return web_app


async def shut_down(runner: web.AppRunner, timeout: float) -> None:  # noqa: ASYNC109 - a grace period, not a deadline
    """Stop serving: claim nothing more, take no new request, give those in flight up to `timeout` s, then
    close (the scheduler hands back what it could not finish; Redis is closed)."""
    scheduler = runner.app[SCHEDULER]
    if scheduler is not None:
        scheduler.pause()
    log.info("stopping: no new requests; finishing those in flight (up to %ss)", timeout)
    for site in list(runner.sites):
        await site.stop()
    left = await handlers.drain(timeout)
    if left:
        log.warning("%d request(s) still running after %ss were cut off", left, timeout)
    await runner.cleanup()


def lifecycle(deps: Deps, bolt: AsyncApp, run_scheduler: bool):  # type: ignore[no-untyped-def]
    async def ctx(app: web.Application):  # type: ignore[no-untyped-def]
        scheduler = Scheduler(deps) if run_scheduler else None
        app[SCHEDULER] = scheduler
        if scheduler:
            scheduler.start()
        yield
        if scheduler:
            await scheduler.stop(deps.settings.shutdown_timeout)
        await deps.aclose()

    return ctx
