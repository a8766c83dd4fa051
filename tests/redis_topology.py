"""Real Redis topologies for the failover tests, from the Debian packages redis-server and redis-sentinel:
a primary with one replica watched by three sentinels, and a three-node Cluster. Every process listens on a
free loopback port and keeps its files in one temporary folder; `close` stops them all and removes it."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import redis
from redis.crc import key_slot

from bot.embedded_redis import free_port, terminate

MASTER = "ib"
# The slot every key of the bot hashes to (they all carry the {ib} tag).
IB_SLOT = key_slot(b"{ib}")


def _binary(name: str, package: str) -> str:
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} is missing: install the Debian package {package} (`make test` does)")
    return found


def _wait_ready(port: int, process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"a Redis process on port {port} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"no Redis answered on port {port}")


class Processes:
    """Redis processes sharing a temporary folder; each has a config file of its own there."""

    def __init__(self, prefix: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=prefix))
        self.procs: dict[int, subprocess.Popen[bytes]] = {}

    def spawn(self, argv0: str, name: str, port: int, lines: list[str]) -> int:
        """Start one process on `port`, or on another free port if something took that one since it was
        picked (free_port only finds a port free at that moment); the port it listens on."""
        for attempt in range(5):
            home = self.dir / f"{name}-{attempt}"
            home.mkdir()
            conf = home / "redis.conf"
            conf.write_text("\n".join([f"port {port}", "bind 127.0.0.1", f"dir {home}", "save \"\"", *lines])
                            + "\n")
            log = (home / "log").open("wb")
            self.procs[port] = subprocess.Popen([argv0, str(conf)], stdout=log, stderr=subprocess.STDOUT)
            log.close()
            try:
                _wait_ready(port, self.procs[port])
                return port
            except RuntimeError:
                if "already in use" not in (home / "log").read_text(errors="replace"):
                    raise
                del self.procs[port]
                port = free_port()
        raise RuntimeError(f"no free port for {name}")

    def kill(self, port: int) -> None:
        """SIGKILL: a crash, no chance to flush or tell anyone."""
        proc = self.procs[port]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def close(self) -> None:
        for proc in self.procs.values():
            terminate(proc)
        self.procs.clear()
        shutil.rmtree(self.dir, ignore_errors=True)


class SentinelGroup:
    """A primary, one replica and three sentinels (quorum 2) watching them as `MASTER`."""

    def __init__(self, down_after_ms: int = 1000) -> None:
        self.down_after_ms = down_after_ms
        self.procs = Processes("ib-sentinel-")
        self.first_primary = free_port()
        self.first_replica = free_port()
        self.sentinels = [free_port() for _ in range(3)]

    def start(self) -> SentinelGroup:
        server = _binary("redis-server", "redis-server")
        sentinel = _binary("redis-sentinel", "redis-sentinel")
        data = ["appendonly yes", "appendfsync always"]
        try:
            self.first_primary = self.procs.spawn(server, "primary", self.first_primary, data)
            self.first_replica = self.procs.spawn(server, "replica", self.first_replica,
                                                  [*data, f"replicaof 127.0.0.1 {self.first_primary}"])
            self.wait_replicated(self.first_primary)
            for i, port in enumerate(self.sentinels):
                self.sentinels[i] = self.procs.spawn(sentinel, f"sentinel{i}", port, [
                    f"sentinel monitor {MASTER} 127.0.0.1 {self.first_primary} 2",
                    f"sentinel down-after-milliseconds {MASTER} {self.down_after_ms}",
                    # A failed election is tried again after twice this; the default (3 min) would outlast a test.
                    f"sentinel failover-timeout {MASTER} 4000",
                    f"sentinel parallel-syncs {MASTER} 1"])
            self.wait(lambda: all(self._sentinel(p).sentinel_master(MASTER)["num-other-sentinels"] == 2
                                  and self._sentinel(p).sentinel_master(MASTER)["num-slaves"] == 1
                                  for p in self.sentinels), "sentinels to find each other and the replica",
                      seen=self._seen)
        except BaseException:
            self.close()
            raise
        return self

    def _seen(self) -> str:
        """What each sentinel says of the primary, for a set-up that timed out."""
        out = []
        for port in self.sentinels:
            try:
                with self._sentinel(port) as s:
                    m = s.sentinel_master(MASTER)
                out.append(f"{port}: {m.get('ip')}:{m.get('port')} flags={m.get('flags')} "
                           f"other sentinels {m.get('num-other-sentinels')}, replicas {m.get('num-slaves')}")
            except (redis.RedisError, OSError, KeyError) as e:
                out.append(f"{port}: {e!r}")
        return "; ".join(out)

    @property
    def url(self) -> str:
        return "redis+sentinel://" + ",".join(f"127.0.0.1:{p}" for p in self.sentinels) + f"/{MASTER}"

    def _sentinel(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, socket_timeout=2, decode_responses=True, single_connection_client=True)

    def primary(self) -> int:
        """The primary's port, as the first sentinel that answers names it."""
        for port in self.sentinels:
            if port not in self.procs.procs or self.procs.procs[port].poll() is not None:
                continue
            with self._sentinel(port) as s:
                return int(s.sentinel_get_master_addr_by_name(MASTER)[1])
        raise RuntimeError("no sentinel answers")

    def client(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, socket_timeout=5, decode_responses=True, single_connection_client=True)

    def role(self, port: int) -> str:
        with self.client(port) as c:
            return str(c.execute_command("ROLE")[0])

    def failover(self) -> None:
        """SENTINEL FAILOVER: promote the replica although the primary is fine."""
        with self._sentinel(self.sentinels[0]) as s:
            s.execute_command("SENTINEL", "FAILOVER", MASTER)

    def kill(self, port: int) -> None:
        self.procs.kill(port)

    def wait_replicated(self, primary: int, timeout: float = 30) -> None:
        def synced() -> bool:
            with self.client(primary) as c:
                info = c.info("replication")
            return info.get("role") == "master" and any(
                isinstance(v, dict) and v.get("state") == "online" for k, v in info.items() if k.startswith("slave"))
        self.wait(synced, f"a replica of port {primary} to be in sync", timeout)

    def wait(self, check: Callable[[], bool], what: str, timeout: float = 30,
             seen: Callable[[], str] | None = None) -> None:
        """Blocking: only for set-up, before any bot runs in the test's event loop. On timeout, says what the
        last look found (`seen`, else the last error)."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            try:
                if check():
                    return
            except (redis.RedisError, OSError, KeyError) as e:
                last = repr(e)
            time.sleep(0.1)
        raise RuntimeError(f"timed out waiting for {what}: {seen() if seen else last or 'not yet'}")

    def close(self) -> None:
        self.procs.close()


class Cluster:
    """Three primaries, no replicas, every slot covered."""

    def __init__(self) -> None:
        self.procs = Processes("ib-cluster-")
        self.ports = [free_port() for _ in range(3)]

    def start(self) -> Cluster:
        server = _binary("redis-server", "redis-server")
        cli = _binary("redis-cli", "redis-tools")
        try:
            for i, port in enumerate(self.ports):
                self.ports[i] = self.procs.spawn(server, f"node{i}", port, [
                    "cluster-enabled yes", "cluster-config-file nodes.conf", "cluster-node-timeout 2000",
                    # The bus port is chosen too: port + 10000, the default, may be taken or out of range.
                    f"cluster-port {free_port()}", "appendonly no"])
            subprocess.run([cli, "--cluster", "create", *(f"127.0.0.1:{p}" for p in self.ports),
                            "--cluster-replicas", "0", "--cluster-yes"],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
            deadline = time.monotonic() + 30
            while not all(self._ok(p) for p in self.ports):
                if time.monotonic() > deadline:
                    raise RuntimeError("the cluster did not reach cluster_state:ok")
                time.sleep(0.1)
        except BaseException:
            self.close()
            raise
        return self

    def _ok(self, port: int) -> bool:
        with redis.Redis(port=port, decode_responses=True, single_connection_client=True) as c:
            return "cluster_state:ok" in str(c.execute_command("CLUSTER", "INFO"))

    def owner(self, slot: int) -> int:
        """Port of the node serving `slot`."""
        with redis.Redis(port=self.ports[0], decode_responses=True, single_connection_client=True) as c:
            for start, end, (_, port, *_rest), *_ in c.execute_command("CLUSTER", "SLOTS"):
                if int(start) <= slot <= int(end):
                    return int(port)
        raise RuntimeError(f"no node serves slot {slot}")

    def url(self, *ports: int) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in ports)

    def close(self) -> None:
        self.procs.close()
