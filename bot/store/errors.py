"""Redis failures, in the bot's terms: every store method is wrapped so that a connection, timeout,
read-only, or Cluster error reaches its caller as `StorageUnavailable`, with a reason an operator can act on."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from redis.asyncio.sentinel import MasterNotFoundError
from redis.exceptions import AuthenticationError, ClusterError, ReadOnlyError, RedisClusterException
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.errors import StorageUnavailable
from bot.replication import SentinelWatch

P = ParamSpec("P")
T = TypeVar("T")


def storage_errors(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await fn(*args, **kwargs)
        except (RedisConnectionError, RedisTimeoutError, OSError, ReadOnlyError, ClusterError,
                RedisClusterException) as e:
            raise StorageUnavailable(why(e)) from e

    return wrapper


def why(error: Exception) -> str:
    """Why Redis can't be used, in words an operator can act on; redis-py's messages carry no password."""
    if isinstance(error, AuthenticationError):
        return "authentication failed (check the password in REDIS_URL)"
    if isinstance(error, ReadOnlyError):
        return "it is a read-only replica"
    if isinstance(error, MasterNotFoundError):
        # The watch's own message says why; redis-py's lists every sentinel client and is not worth reading.
        said = str(error)
        return said if said.startswith(SentinelWatch.NO_PRIMARY) else (
            f"{SentinelWatch.NO_PRIMARY} (sentinels unreachable, wrong master name or REDIS_SENTINEL_PASSWORD, "
            "or the primary is down)")
    if isinstance(error, (ClusterError, RedisClusterException)):
        return f"the Cluster can't serve the bot's keys ({type(error).__name__}: {error})"
    text = str(error)
    if "SSL" in text or "TLS" in text or "certificate" in text:
        return f"TLS handshake failed ({text})"
    if "refused" in text.lower():
        return f"connection refused ({text})"
    return text or type(error).__name__
