"""Several replicas of one model server (e.g. one vLLM per GPU): calls spread by calls in flight, one
busy gate per server, and a replica that is down or busy is passed over without failing the call."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ictc.models.proxies import client_proxy_options
from ictc.models.pushback import BusyAwareClient, InFlightGate
from ictc.models.quirks import ServerQuirks
from ictc.models.redirects import Moves, readdressed
from ictc.models.replica_errors import FAILED
from ictc.models.wire import http_package

log = logging.getLogger(__name__)

http = http_package()  # the httpx package the openai SDK sends with (models/wire.py)
DOWN_SECONDS = 5.0  # a replica that refused a connection is passed over this long, then tried again
# Transport errors after which the same request is sent to another replica at once: the server is gone
# or dropped the connection.
UNREACHABLE = (http.ConnectError, http.ConnectTimeout, http.RemoteProtocolError, http.ReadError, http.WriteError)
# A timeout or a 5xx answer (vLLM whose engine died answers 500 to everything; a proxy in front of a dead replica
# 502) sends the request to another replica at once too, so a replica that hangs or fails fails no image (the
# client's retries had gone back to it: it looks idle). Such failures in a row mark it down as a refusal does.
TIMEOUTS = (http.ReadTimeout, http.WriteTimeout)
DOWN_AFTER = 3
@dataclass
class Server:
    """One server process (one URL): its busy gate and, after a failed connection, when to try it again."""

    url: str
    gate: InFlightGate
    down_until: float = field(default=0.0)
    failures: int = field(default=0)  # timeouts and 5xx answers in a row, since its last other answer

    def load(self) -> float:
        """Calls in flight as a share of what its gate lets through now (0 = idle)."""
        return self.gate.in_flight / self.gate.limit


class ServerRegistry:
    """One Server per URL for a whole run, so that the VLM and the LLM served by the same process share
    its gate, and the address moves one client learns (`moves`). `ceiling`: the most calls in flight to one server
    (settings.concurrency)."""

    def __init__(self, ceiling: int):
        self.ceiling = ceiling
        self._servers: dict[str, Server] = {}
        self.moves = Moves()  # the redirects learned (models/redirects.py), for every client of these servers
        self._said: set[str] = set()  # the loopback twins said (once for both roles)

    def get(self, urls: list[str]) -> list[Server]:
        """The Server of each URL in `urls` (made on first use), in the same order. Replicas that name this machine's
        same port in two ways (localhost, 127.0.0.1) are said once, in one line (`loopback_twins`): they stay two
        replicas, each with its own gate (they may be two servers: localhost may be ::1)."""
        if (said := loopback_twins(urls, self.ceiling)) and said not in self._said:
            self._said.add(said)
            log.warning("%s", said)
        for url in urls:
            if url not in self._servers:
                self._servers[url] = Server(url, InFlightGate(self.ceiling))
        return [self._servers[url] for url in urls]


LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})  # noqa: S104 (names of this machine, not a bind)


def loopback_twins(urls: list[str], ceiling: int) -> str:
    """One line for replicas among `urls` that name this machine's same port and path in different ways
    (http://localhost:8000/v1 and http://127.0.0.1:8000/v1), "" when there are none: each URL is a replica with a gate
    of `ceiling` calls, so one server named twice gets twice that many. Why: two names of one server had doubled
    the calls in flight to it, unsaid."""
    groups: dict[tuple[str, int | None, str], list[str]] = {}
    for url in urls:
        split = urlsplit(url)
        if (split.hostname or "").lower() in LOOPBACK:
            port = split.port or {"http": 80, "https": 443}.get(split.scheme.lower())
            groups.setdefault((split.scheme.lower(), port, split.path.rstrip("/")), []).append(url)
    twins = next((g for g in groups.values() if len(g) > 1), [])
    if not twins:
        return ""
    return (f"--base-url {' and '.join(twins)} name the same port of this machine: they are taken as {len(twins)} "
            f"replicas with {ceiling} calls in flight each; if they are one server, give one of them (it gets "
            f"{ceiling * len(twins)} calls at once otherwise)")


class ReplicaClient(BusyAwareClient):
    """The busy-aware HTTP client for one role, spread over `servers` (replicas serving the same model).

    The openai client above builds every request against servers[0].url; `_route` rewrites it to the
    chosen replica: the least loaded one that is not marked down (ties: round robin). A connection
    error marks the replica down for DOWN_SECONDS and the request goes to another at once; with every
    replica down the error passes to the openai client's own retries. A 429 is sent on at once to a
    replica that has room, and waited out (pushback.py) only when every replica is busy."""

    def __init__(self, servers: list[Server], patience: float, quirks: ServerQuirks | None = None,
                 moves: Moves | None = None, **kwargs: Any):
        super().__init__(servers[0].gate, patience, quirks, moves, base_url=servers[0].url, **kwargs)
        self.servers = servers
        self._prefix = servers[0].url.rstrip("/")
        self._turn = itertools.count()
        self._lock = threading.Lock()

    def _live(self) -> list[Server]:
        now = time.monotonic()
        live = [s for s in self.servers if s.down_until <= now]
        return live or sorted(self.servers, key=lambda s: s.down_until)[:1]  # all down: the first back

    def _route(self, request: Any, busy: set[int]) -> tuple[InFlightGate, Any]:
        """The least loaded live replica (not among `busy`, the gates that just answered 429, unless all
        are) and `request` addressed to it."""
        with self._lock:
            live = self._live()
            candidates = [s for s in live if id(s.gate) not in busy] or live
            start = next(self._turn) % len(candidates)
            rotated = candidates[start:] + candidates[:start]
            server = min(rotated, key=Server.load)
        return server.gate, self._addressed(request, server)

    def _addressed(self, request: Any, server: Server) -> Any:
        url = str(request.url)
        if server.url.rstrip("/") == self._prefix or not url.startswith(self._prefix):
            return request
        return readdressed(request, server.url.rstrip("/") + url[len(self._prefix):])

    def _unreachable(self, gate: InFlightGate, exc: Exception, tried: set[int]) -> bool:
        """Mark the replica behind `gate` down after a connection failure: True if another is live. A timeout is
        counted (DOWN_AFTER): True if a live replica not among `tried` can take it (`gate` then joins `tried`).
        False: `exc` goes on, carrying the URLs of the replicas that failed (`replicas_failed`)."""
        if isinstance(exc, UNREACHABLE):
            with self._lock:
                for server in self.servers:
                    if server.gate is gate:
                        self._mark_down(server, f"unreachable ({type(exc).__name__})")
                now = time.monotonic()
                elsewhere = any(s.down_until <= now for s in self.servers)
        elif isinstance(exc, TIMEOUTS):
            elsewhere = self._failed(gate, type(exc).__name__) and self._elsewhere(gate, tried)
        else:
            return False
        if not elsewhere:  # every replica failed: the error goes on, saying which (the stop names them)
            self._say_failed(exc, gate, tried)
        return elsewhere

    def _say_failed(self, exc: Exception, gate: InFlightGate, tried: set[int]) -> None:
        """Set on `exc`, which no replica could take, the URLs of the replicas that failed (`replicas_failed`): the one
        behind `gate`, those among `tried` and those passed over as down."""
        now = time.monotonic()
        with self._lock:
            failed = [s.url for s in self.servers if s.gate is gate or id(s.gate) in tried or s.down_until > now]
        setattr(exc, FAILED, failed)

    def _failed_over(self, gate: InFlightGate, outcome: str, status: int, tried: set[int]) -> bool:
        """A 5xx answer (`outcome` "error") of the replica behind `gate` is counted (DOWN_AFTER) and the request
        goes to another live replica not among `tried`, if any (True); any other answer clears the count."""
        if outcome != "error":  # every answer passes here: no lock (a reset lost to a race only delays a marking)
            for server in self.servers:
                if server.gate is gate and server.failures:
                    server.failures = 0
            return False
        return self._failed(gate, f"HTTP {status}") and self._elsewhere(gate, tried)

    def _failed(self, gate: InFlightGate, what: str) -> bool:
        """Count a failure (`what`) of the replica behind `gate`, marked down at DOWN_AFTER in a row. Returns True."""
        with self._lock:
            for server in self.servers:
                if server.gate is gate:
                    server.failures += 1
                    if server.failures >= DOWN_AFTER:
                        self._mark_down(server, f"failed {server.failures} calls in a row (the last: {what})")
        return True

    def _mark_down(self, server: Server, why: str) -> None:
        """Pass `server` over for DOWN_SECONDS, saying `why` in the log when it was live (the calls still in flight
        to it fail too: one line, not one each); called holding the lock."""
        now = time.monotonic()
        if server.down_until <= now:
            log.warning("replica %s %s; passed over for %.0f s", server.url, why, DOWN_SECONDS)
        server.down_until = now + DOWN_SECONDS

    def _elsewhere(self, gate: InFlightGate, tried: set[int]) -> bool:
        """True if a live replica other than `gate` and those in `tried` can take the request; `gate` joins `tried`."""
        tried.add(id(gate))
        with self._lock:
            return any(id(s.gate) not in tried for s in self._live())

    def _has_room_elsewhere(self, busy: set[int]) -> bool:
        """True if a live replica whose gate is not in `busy` has a free slot now."""
        with self._lock:
            return any(id(s.gate) not in busy and s.gate.in_flight < s.gate.limit for s in self._live())


def replica_client(registry: ServerRegistry, urls: list[str], patience: float, timeout: float,
                   quirks: ServerQuirks | None = None) -> BusyAwareClient:
    """The HTTP client for a role served at `urls` (one or more replicas; gates from `registry`), adapting
    each request to the server's learned `quirks` (models/quirks.py) when given.
    One URL gives the plain busy-aware client of pushback.py, as before replicas existed."""
    servers = registry.get(urls)
    proxies = client_proxy_options(urls)  # a SOCKS proxy set for other hosts must not stop the client's making
    if len(servers) == 1:
        return BusyAwareClient(servers[0].gate, patience, quirks, registry.moves, base_url=servers[0].url, timeout=timeout,
                               **proxies)
    return ReplicaClient(servers, patience, quirks, registry.moves, timeout=timeout, **proxies)
