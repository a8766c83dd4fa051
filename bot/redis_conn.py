"""REDIS_URL: one server, a primary watched by Sentinel, or a Cluster; parsed and connected in one place.

    redis://[[user]:password@]host[:port][/db]    rediss://… (TLS)    unix://[[user]:password@]/path.sock[?db=N]
    redis+sentinel://[[user]:password@]host[:port][,host[:port]…]/<master name>[/db]   (port 26379 by default)
    redis+cluster://[[user]:password@]host[:port][,host[:port]…]                        (port 6379 by default)

A password is the data nodes' (the sentinels' own comes from REDIS_SENTINEL_PASSWORD). No reason given for a
bad URL quotes the URL, so none can leak a password.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast
from urllib.parse import unquote, urlsplit

import hiredis
import redis.asyncio as redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.driver_info import DriverInfo
from redis.exceptions import DataError

from bot.replication import SentinelWatch, Writes

if TYPE_CHECKING:  # settings.py imports this module to check REDIS_URL
    from bot.settings import Settings

SENTINEL_PORT, REDIS_PORT = 26379, 6379
EXAMPLES = {
    "sentinel": "redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/mymaster",
    "cluster": "redis+cluster://10.0.0.1:6379,10.0.0.2:6379",
    "server": "redis://host:6379/0",
}
# Connections one replica may hold. Past it a command waits briefly for a free one instead of failing
# at once, which under a burst of clicks would read to people as "Redis unreachable".
MAX_CONNECTIONS = 1000
# Sentinels answer from memory; one that does not answer within this is skipped.
SENTINEL_TIMEOUT_S = 1.0
# What each new connection tells the server (CLIENT SETINFO), built once: left to redis-py, every connection
# looks its version up in the installed package's metadata (~1 ms of CPU), and a burst opens hundreds.
DRIVER = DriverInfo()


@dataclass(frozen=True)
class RedisTarget:
    """What REDIS_URL names. `url` is kept only for a single server (redis-py reads it as is)."""

    kind: Literal["server", "sentinel", "cluster"]
    url: str = field(default="", repr=False)
    hosts: tuple[tuple[str, int], ...] = ()
    master: str = ""
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def describe(self) -> str:
        """For `check` and the start-up log: never the password."""
        hosts = ", ".join(f"{h}:{p}" for h, p in self.hosts)
        if self.kind == "sentinel":
            return f"Sentinel: primary {self.master!r} (db {self.db}) as named by {hosts}"
        if self.kind == "cluster":
            return f"Cluster through {hosts}"
        return f"one server ({urlsplit(self.url).scheme}://)"


def parse_redis_url(url: str) -> RedisTarget:
    """ValueError with a one-line reason when REDIS_URL can't be used."""
    scheme, sep, rest = url.strip().partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in ("redis", "rediss", "unix", "redis+sentinel", "redis+cluster"):
        raise ValueError("should start with redis://, rediss:// (TLS), unix://, redis+sentinel:// or "
                         f"redis+cluster://, e.g. {EXAMPLES['server']}")
    if scheme in ("redis", "rediss", "unix"):
        _check_server(scheme, url.strip())
        return RedisTarget("server", url=url.strip())
    kind: Literal["sentinel", "cluster"] = "sentinel" if scheme == "redis+sentinel" else "cluster"
    netloc, _, path = rest.partition("/")
    if "?" in path or "?" in netloc or "#" in rest:
        raise ValueError(f"takes no ?options in a {scheme}:// URL, e.g. {EXAMPLES[kind]}")
    creds, _, host_list = netloc.rpartition("@")
    username, password = _credentials(creds)
    hosts = tuple(_host(part, i, SENTINEL_PORT if kind == "sentinel" else REDIS_PORT, kind)
                  for i, part in enumerate(host_list.split(","), 1))
    segments = path.split("/") if path else []
    if kind == "cluster":
        if segments and segments != ["0"] and segments != [""]:
            raise ValueError("names no database in a redis+cluster:// URL (a Cluster has only database 0), "
                             f"e.g. {EXAMPLES['cluster']}")
        return RedisTarget("cluster", hosts=hosts, username=username, password=password)
    if not segments or not segments[0]:
        raise ValueError(f"needs the master name after the sentinels, e.g. {EXAMPLES['sentinel']}")
    if len(segments) > 2 or (len(segments) == 2 and not segments[1].isdigit()):
        raise ValueError("ends with the master name and, optionally, a database number, e.g. "
                         f"{EXAMPLES['sentinel']}/0")
    db = int(segments[1]) if len(segments) == 2 else 0
    return RedisTarget("sentinel", hosts=hosts, master=unquote(segments[0]), db=db, username=username,
                       password=password)


def _credentials(creds: str) -> tuple[str | None, str | None]:
    if not creds:
        return None, None
    user, colon, password = creds.partition(":")
    return (unquote(user) or None), (unquote(password) if colon else None)


def _host(part: str, n: int, default_port: int, kind: str) -> tuple[str, int]:
    part = part.strip()
    if part.startswith("["):  # [IPv6]:port
        host, _, after = part[1:].partition("]")
        port_text = after.removeprefix(":") if after.startswith(":") else ("" if not after else "x")
    else:
        host, _, port_text = part.partition(":")
    if not host:
        raise ValueError(f"has an empty host (number {n} in the list), e.g. {EXAMPLES[kind]}")
    if port_text and not (port_text.isdigit() and 1 <= int(port_text) <= 65535):
        raise ValueError(f"has a port that is not a number from 1 to 65535 (host number {n}), "
                         f"e.g. {EXAMPLES[kind]}")
    return host, int(port_text) if port_text else default_port


def _check_server(scheme: str, url: str) -> None:
    parts = urlsplit(url)
    if scheme == "unix":
        if not parts.path:
            raise ValueError("needs the socket's path, e.g. unix:///run/redis/redis.sock?db=0")
        return
    try:
        parts.port  # noqa: B018 - urllib checks the port only when asked
    except ValueError:
        raise ValueError(f"has a port that is not a number from 1 to 65535, e.g. {EXAMPLES['server']}") from None
    if not parts.hostname:
        raise ValueError(f"needs a host, e.g. {EXAMPLES['server']}")
    db = parts.path.strip("/")
    if db and not db.isdigit():
        raise ValueError(f"should end with a database number, e.g. {EXAMPLES['server']}")


@dataclass
class Link:
    """A client for the current primary (or the Cluster), and how its writes are confirmed."""

    target: RedisTarget
    client: redis.Redis
    writes: Writes
    sentinel: Sentinel | None = None
    trust_info: bool = True  # REDIS_TRUST_INFO

    @property
    def looks(self) -> bool:
        """Whether a claim looks at the server that ran it (bot/unbroken.py): not on a Cluster, where INFO
        would go to some node of its own, nor when REDIS_TRUST_INFO is off."""
        return self.trust_info and self.target.kind != "cluster"

    @classmethod
    def bare(cls, client: redis.Redis) -> Link:
        """A client made elsewhere (benchmarks, tests): its writes are not confirmed."""
        return cls(RedisTarget("server"), client, Writes(client, wanted=0, timeout_s=1.0))

    async def aclose(self) -> None:
        await self.client.aclose()
        if self.sentinel is not None:
            await self.sentinel.aclose()


class _HiredisPacking:
    """redis-py packs a command in Python on its asyncio connections (its blocking ones use hiredis): about
    16 µs for a script call with 30 arguments, against 2 µs here, for the same bytes on the wire. Every ping
    makes several such calls."""

    def pack_command(self, *args: Any) -> list[bytes]:
        if isinstance(args[0], str):
            args = (*args[0].encode().split(), *args[1:])  # "CONFIG GET": its words go as separate arguments
        elif b" " in args[0]:
            args = (*args[0].split(), *args[1:])
        try:
            packed = tuple(bytes(a) if isinstance(a, (bytearray, memoryview)) else a for a in args)
            return [hiredis.pack_command(cast(Any, packed))]
        except TypeError as e:  # None, a bool…: refused as redis-py refuses them
            raise DataError(str(e)) from e


def _packing_with_hiredis(connection_class: type[Any]) -> type[Any]:
    """The pool's connection class (plain, TLS, Unix socket, Sentinel-managed), packing with hiredis."""
    return type(connection_class.__name__, (_HiredisPacking, connection_class), {})


class _SentinelPool(SentinelConnectionPool, redis.BlockingConnectionPool):
    """Sentinel's pool (asks the sentinels for the primary on each new connection) with the blocking pool's
    wait for a free connection."""


def connect(url: str, *, sentinel_password: str | None = None, wait_replicas: int | None = None,
            wait_timeout: float = 0.5) -> Link:
    """Clients are lazy: nothing is contacted until the first command. `wait_replicas` None: the default for
    the topology (1 behind Sentinel, else 0)."""
    target = parse_redis_url(url)
    wanted = (1 if target.kind == "sentinel" else 0) if wait_replicas is None else wait_replicas
    if target.kind == "cluster" and wanted:
        raise ValueError("REDIS_WAIT_REPLICAS must be 0 with a redis+cluster:// URL; set min-replicas-to-write "
                         "on the Cluster's primaries instead")
    # A WAIT holds its connection for up to wait_timeout: the socket must outlast it.
    options: dict[str, Any] = {
        "decode_responses": True, "socket_timeout": 1.0 + (wait_timeout if wanted else 0.0),
        "socket_connect_timeout": 0.5, "health_check_interval": 10,
        # Short: a declare must still be answered inside Slack's 3 seconds when Redis is down.
        "retry": Retry(ExponentialBackoff(cap=0.2, base=0.05), 2), "driver_info": DRIVER,
    }
    if target.kind == "server":
        # Client-side timeouts rather than asyncio.wait_for: cancelling mid-command can corrupt a connection.
        pool = redis.BlockingConnectionPool.from_url(url, max_connections=MAX_CONNECTIONS, timeout=1.0, **options)
        pool.connection_class = _packing_with_hiredis(pool.connection_class)
        client = redis.Redis(connection_pool=pool)
        client.auto_close_connection_pool = True
        return Link(target, client, Writes(client, wanted=wanted, timeout_s=wait_timeout))
    if target.kind == "cluster":
        cluster = RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in target.hosts],
                               username=target.username, password=target.password, **options)
        # Packing with hiredis here too: the startup nodes are made already, the nodes found later take the
        # class from the shared keyword arguments.
        packing = _packing_with_hiredis(cluster.connection_kwargs["connection_class"])
        cluster.connection_kwargs["connection_class"] = packing
        for node in cluster.startup_nodes:
            node.connection_class = packing
        # The Cluster client speaks the same commands (routing each by its key's slot); one type for the Store.
        client = cast(redis.Redis, cluster)
        return Link(target, client, Writes(client, wanted=0, timeout_s=wait_timeout))
    # No retries against one sentinel: one that does not answer is skipped for the next (redis-py's default
    # would back off for seconds on each, and start-up would take half a minute to say none answers).
    sentinel = Sentinel(list(target.hosts), sentinel_kwargs={  # type: ignore[no-untyped-call]
        "password": sentinel_password, "socket_timeout": SENTINEL_TIMEOUT_S,
        "socket_connect_timeout": SENTINEL_TIMEOUT_S, "decode_responses": True, "retry": Retry(NoBackoff(), 0)})
    client = sentinel.master_for(target.master, connection_pool_class=_SentinelPool, db=target.db,
                                 username=target.username, password=target.password,
                                 max_connections=MAX_CONNECTIONS, timeout=1.0, **options)
    client.connection_pool.connection_class = _packing_with_hiredis(client.connection_pool.connection_class)
    watch = SentinelWatch(sentinel, target.master, cast(SentinelConnectionPool, client.connection_pool))
    return Link(target, client, Writes(client, wanted=wanted, timeout_s=wait_timeout, watch=watch), sentinel)


def connect_settings(settings: Settings, url: str) -> Link:
    """`connect` with the REDIS_* settings (`url`: REDIS_URL, or the embedded server's)."""
    password = settings.redis_sentinel_password
    link = connect(url, sentinel_password=password.get_secret_value() if password else None,
                   wait_replicas=settings.wait_replicas, wait_timeout=settings.redis_wait_timeout)
    link.trust_info = settings.redis_trust_info
    return link
