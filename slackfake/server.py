"""FakeSlack: the Web API, response URLs and file uploads served over HTTP on loopback.

Point a real `slack_sdk` `AsyncWebClient(base_url=fake.url)` at it. It records every call, can inject
failures and rate limits, and lets a test wait for calls to be answered.

Deliberately not recorded in `calls`: uploads to `upload_url` (see `files`) and posts to response URLs
(see `response_urls` / `response_posts`), so "no Web API call was made" assertions stay meaningful.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import BodyPartReader, web

from slackfake.blockkit import find_violation
from slackfake.files import FilesApi
from slackfake.loopback import Loopback
from slackfake.modals import ModalsApi
from slackfake.webapi import SlackError, truthy
from slackfake.workspace import Message

RESPONSE_URL_USES = 5  # Slack allows a response_url to be used 5 times
# Form fields that slack-sdk sends JSON-encoded.
JSON_FIELDS = frozenset({"blocks", "attachments", "metadata", "view", "files", "users", "user_auth_blocks",
                         "outputs"})


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    token: str | None
    at: float
    http_method: str = "POST"
    status: int | None = None  # HTTP status, set once answered
    response: dict[str, Any] | None = None  # JSON answer, set once answered

    @property
    def ok(self) -> bool:
        return bool(self.response and self.response.get("ok"))

    @property
    def error(self) -> str | None:
        return None if self.response is None else self.response.get("error")


@dataclass
class ResponseCall:
    key: str
    body: dict[str, Any]
    at: float
    status: int
    error: str | None = None  # why it was refused (then it is not in response_posts)
    detail: str = ""


@dataclass
class _Fault:
    kind: Literal["error", "ratelimit", "status", "status_after"]
    error: str = ""
    retry_after: int = 1
    status: int = 200


async def _read_args(request: web.Request) -> tuple[dict[str, Any], str | None]:
    """Merge query string, form and JSON body (slack-sdk uses all three), decoding JSON-encoded fields."""
    args: dict[str, Any] = dict(request.query)
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            raw = await request.read()
            body = json.loads(raw) if raw.strip() else {}
            if not isinstance(body, dict):
                raise ValueError("JSON body must be an object")
            args.update(body)
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            args.update({k: v for k, v in form.items() if isinstance(v, str)})
    for key in JSON_FIELDS & args.keys():
        value = args[key]
        if isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
            try:
                args[key] = json.loads(value)
            except ValueError:
                pass  # left as a string: the method answers with its own format error
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.startswith("Bearer ") else None
    form_token = args.pop("token", None)
    return args, token or (form_token if isinstance(form_token, str) else None)


def _short(args: dict[str, Any], limit: int = 120) -> str:
    text = json.dumps(args, default=str)
    return text if len(text) <= limit else text[:limit] + "…"


async def _wait(changed: asyncio.Event, deadline: float) -> bool:
    """Wait for `changed` until `deadline` (loop time); False once the deadline has passed."""
    remaining = deadline - asyncio.get_running_loop().time()
    if remaining <= 0:
        return False
    try:
        await asyncio.wait_for(changed.wait(), remaining)
    except TimeoutError:
        pass
    return True


class FakeSlack(Loopback, ModalsApi, FilesApi):
    def __init__(self, *, latency: float = 0.0, jitter: float = 0.0) -> None:
        super().__init__()
        self.latency = latency
        # Random extra delay per call, so concurrent calls can land at Slack in any order.
        self.jitter = jitter
        self.calls: list[Call] = []
        self.response_urls: list[ResponseCall] = []
        self.response_posts: list[tuple[str, dict[str, Any]]] = []
        self._faults: dict[str, deque[_Fault]] = {}
        self._hooks: dict[str, deque[Callable[[Call], None]]] = {}
        self._response_targets: dict[str, tuple[str, str]] = {}
        self._response_to: dict[str, tuple[str, str]] = {}
        self._changed = asyncio.Event()
        self._holds: dict[str, asyncio.Event] = {}

    # ---- lifecycle (start, stop, `async with`: Loopback) ------------------------------------------------------

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/response/{key}", self._handle_response)
        app.router.add_post("/upload/{file_id}", self._handle_upload)

    @property
    def root(self) -> str:
        if not self.port:
            raise RuntimeError("FakeSlack is not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.root}/api/"

    # ---- fault injection, response URLs -----------------------------------------------------------------------

    def fail(self, method: str, error: str, *, times: int = 1) -> None:
        self._faults.setdefault(method, deque()).extend(_Fault("error", error) for _ in range(times))

    def fail_status(self, method: str, status: int = 500, *, times: int = 1, applied: bool = False) -> None:
        """Answer the next `times` calls with an HTTP error status, as Slack does when it is in trouble. With
        `applied`, each call takes effect first (Slack timed out after doing it): a blind retry repeats it."""
        self._faults.setdefault(method, deque()).extend(
            _Fault("status_after" if applied else "status", "internal_error", status=status) for _ in range(times))

    def on_next_call(self, method: str, hook: Callable[[Call], None]) -> None:
        """Run `hook` when `method` is next called, before it is answered (e.g. take Redis away mid-flow)."""
        self._hooks.setdefault(method, deque()).append(hook)

    def rate_limit(self, method: str, *, retry_after: int = 1, times: int = 1) -> None:
        self._faults.setdefault(method, deque()).extend(
            _Fault("ratelimit", "ratelimited", retry_after) for _ in range(times))

    def hold(self, method: str) -> asyncio.Event:
        """Leave calls to `method` unanswered (they are recorded on arrival) until the returned event is set, so a
        test can look at what the app does while it waits for Slack."""
        gate = self._holds[method] = asyncio.Event()
        return gate

    def response_url(self, key: str = "", *, message: tuple[str, str] | None = None,
                     to: tuple[str, str] | None = None) -> str:
        """A response_url like Slack's. With `message=(channel, ts)`, replace_original/delete_original act on it.
        With `to=(channel, user)`, other replies are shown there (`reply`): to the user, or in the channel."""
        key = key or uuid.uuid4().hex
        if message is not None:
            self._response_targets[key] = message
        if to is not None:
            self._response_to[key] = to
        return f"{self.root}/response/{key}"

    def reply(self, to: tuple[str, str], body: dict[str, Any]) -> None:
        """A reply to a person's request (a response_url post, a slash command's HTTP answer): only they see
        it unless `response_type` is in_channel."""
        channel, user = to
        text, blocks = str(body.get("text") or ""), list(body.get("blocks") or [])
        if body.get("response_type") == "in_channel" and channel in self.channels:
            self.channels[channel].messages.append(Message(self._next_ts(), channel, text, blocks))
        else:
            self.post_ephemeral(channel, user, text, blocks)
        self._notify()

    # ---- what the app did --------------------------------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    # The tests' interface takes a timeout argument, hence the noqa.
    async def wait_for(self, method: str, count: int = 1, timeout: float = 5.0,  # noqa: ASYNC109
                       where: Callable[[Call], bool] | None = None) -> list[Call]:
        """Answered calls to `method` (matching `where`), once there are at least `count` of them.

        Only answered calls count, so the fake's state already reflects them when this returns.
        """
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            changed = self._changed
            found = [c for c in self.calls
                     if c.method == method and c.response is not None and (where is None or where(c))]
            if len(found) >= count:
                return found
            if not await _wait(changed, deadline):
                break
        same = self.calls_to(method)
        seen = Counter(c.method for c in self.calls)
        detail = "; ".join(f"{c.error or 'ok'} {_short(c.args)}" for c in same[-5:])
        raise AssertionError(
            f"waited {timeout}s for {count} call(s) to {method}{' matching `where`' if where else ''}, "
            f"got {len(found)} (of {len(same)} to {method}{': ' + detail if detail else ''}). "
            f"Methods received: {dict(seen) or 'none'}")

    async def wait_for_response(self, key: str, count: int = 1,
                                timeout: float = 5.0) -> list[dict[str, Any]]:  # noqa: ASYNC109
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            changed = self._changed
            found = [body for k, body in self.response_posts if k == key]
            if len(found) >= count:
                return found
            if not await _wait(changed, deadline):
                raise AssertionError(f"waited {timeout}s for {count} post(s) to response_url {key!r}, got "
                                     f"{len(found)}; refused: {[r.error for r in self.response_urls if r.error]}")

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _delay(self) -> None:
        if self.latency or self.jitter:
            await asyncio.sleep(self.latency + random.uniform(0, self.jitter))

    # ---- HTTP --------------------------------------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        parse_error: str | None = None
        try:
            args, token = await _read_args(request)
        except ValueError as e:
            args, token, parse_error = {}, None, str(e)
        call = Call(method, args, token, time.monotonic(), request.method)
        self.calls.append(call)
        self._notify()
        hooks = self._hooks.get(method)
        if hooks:
            hooks.popleft()(call)
        gate = self._holds.get(method)
        if gate is not None:
            await gate.wait()
        await self._delay()
        status, body, headers = self._answer(call, parse_error)
        call.status, call.response = status, body
        self._notify()
        return web.json_response(body, status=status, headers=headers)

    def _answer(self, call: Call, parse_error: str | None) -> tuple[int, dict[str, Any], dict[str, str]]:
        faults = self._faults.get(call.method)
        if faults:
            fault = faults.popleft()
            if fault.kind == "ratelimit":
                return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(fault.retry_after)}
            if fault.kind == "status":
                return fault.status, {"ok": False, "error": fault.error}, {}
            if fault.kind == "status_after":
                self._apply(call, parse_error)
                return fault.status, {"ok": False, "error": fault.error}, {}
            return 200, {"ok": False, "error": fault.error}, {}
        return self._apply(call, parse_error)

    def _apply(self, call: Call, parse_error: str | None) -> tuple[int, dict[str, Any], dict[str, str]]:
        if parse_error is not None:
            return 200, {"ok": False, "error": "invalid_json", "detail": parse_error}, {}
        handler = self.handler(call.method)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        if not call.token:
            return 200, {"ok": False, "error": "not_authed"}, {}
        if not call.token.startswith(("xoxb-", "xoxp-")):
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        try:
            body = handler(call.args)
        except SlackError as e:
            return 200, {"ok": False, "error": e.error, **e.extra}, {}
        return 200, {"ok": True, **body}, {}

    async def _handle_response(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        raw = await request.read()
        await self._delay()
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = None
        now = time.monotonic()
        if not isinstance(body, dict):
            return self._refuse_response(ResponseCall(key, {"raw": raw.decode(errors="replace")}, now, 400,
                                                      "invalid_payload"))
        if sum(1 for r in self.response_urls if r.key == key and r.error is None) >= RESPONSE_URL_USES:
            return self._refuse_response(ResponseCall(key, body, now, 404, "used_url"))
        blocks = body.get("blocks")
        if blocks:
            found = find_violation(blocks)
            if found is not None:
                return self._refuse_response(ResponseCall(key, body, now, 400, found[0], found[1]))
        if not body.get("text") and not blocks and not body.get("delete_original"):
            return self._refuse_response(ResponseCall(key, body, now, 400, "no_text"))
        target, to = self._response_targets.get(key), self._response_to.get(key)
        if target is not None:
            self._apply_response_to_message(target, body)
        if to is not None and not truthy(body.get("delete_original")) and not truthy(body.get("replace_original")):
            self.reply(to, body)
        self.response_urls.append(ResponseCall(key, body, now, 200))
        self.response_posts.append((key, body))
        self._notify()
        return web.Response(text="ok", content_type="text/plain")

    def _refuse_response(self, record: ResponseCall) -> web.Response:
        self.response_urls.append(record)
        self._notify()
        return web.Response(status=record.status, text=record.error or "", content_type="text/plain")

    def _apply_response_to_message(self, target: tuple[str, str], body: dict[str, Any]) -> None:
        channel, ts = target
        ch = self.channels.get(channel)
        msg = next((m for m in ch.messages if m.ts == ts), None) if ch else None
        if ch is None or msg is None:
            return
        if truthy(body.get("delete_original")):
            ch.messages.remove(msg)
            if ts in ch.pins:
                ch.pins.remove(ts)
        elif truthy(body.get("replace_original")):
            msg.text = str(body.get("text") or "")
            msg.blocks = list(body.get("blocks") or [])
            msg.updated_count += 1
            msg.versions.append(msg.snapshot())

    async def _handle_upload(self, request: web.Request) -> web.Response:
        record = self.files.get(request.match_info["file_id"])
        await self._delay()
        if record is None:
            return web.Response(status=404, text="file_not_found", content_type="text/plain")
        if request.content_type == "multipart/form-data":
            content = b""
            async for part in await request.multipart():
                if isinstance(part, BodyPartReader):
                    content = bytes(await part.read())
                    break
        else:
            content = await request.read()
        record["content"] = content
        self._notify()
        return web.Response(text=f"OK - {len(content)}", content_type="text/plain")
