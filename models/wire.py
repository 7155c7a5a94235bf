"""The chat hot path's HTTP by urllib3 (BusyAwareClient.send_chat): about half the client CPU of httpx per
call (its h11 parser and request/response models are pure Python), with httpx's errors and responses
wherever the openai client or a caller looks (`python -m bench.client_cost`)."""

from __future__ import annotations

import functools
import importlib
import ssl
import threading
from http import client as http_client
from typing import Any

import openai
import urllib3
from urllib3 import exceptions as u3

REDIRECTS = frozenset({301, 302, 303, 307, 308})
KEEPALIVE = 100  # connections kept per server, as the openai client's httpx limits (max_keepalive_connections)


@functools.cache
def _http() -> Any:
    """The httpx package the openai SDK sends with (httpx, or httpx2 in newer SDKs): its errors and models."""
    return importlib.import_module(openai.DefaultHttpxClient.__mro__[1].__module__.split(".")[0])


class WireRequest:
    """A chat request as the wire path sends it: `url` (str, absolute), `headers` (dict, lower-case names,
    complete: nothing is merged in), `content` (the JSON body, bytes). `httpx()` is the same request as an
    httpx Request, made only where one is needed (an error's request, a redirect sent by httpx)."""

    __slots__ = ("content", "extensions", "headers", "method", "url")

    def __init__(self, url: str, headers: dict[str, str], content: bytes, extensions: dict[str, Any]):
        self.method, self.url, self.headers, self.content, self.extensions = "POST", url, headers, content, extensions

    def moved(self, url: str) -> WireRequest:
        """The same request addressed to `url` (another replica)."""
        return WireRequest(url, self.headers, self.content, self.extensions)

    def httpx(self) -> Any:
        """This request as an httpx Request (the openai SDK's httpx package)."""
        return _http().Request(self.method, self.url, headers=self.headers, content=self.content,
                               extensions=self.extensions)


class WireResponse:
    """A response read whole: `status_code` (int), `headers` (urllib3's case-insensitive dict, writable),
    `read()` the body (bytes, decoded as Content-Encoding says). `httpx()` makes the httpx Response the
    openai client's error handling reads."""

    __slots__ = ("_body", "headers", "request", "status_code")

    def __init__(self, status_code: int, headers: Any, body: bytes, request: WireRequest):
        self.status_code, self.headers, self._body, self.request = status_code, headers, body, request

    def read(self) -> bytes:
        """The body, bytes."""
        return self._body

    def close(self) -> None:
        """Nothing to release: the body is read and the connection back in its pool."""

    def httpx(self) -> Any:
        """This response as an httpx Response (its request attached); the body is already decoded, so
        Content-Encoding and the length headers are dropped."""
        headers = [(k, v) for k, v in self.headers.items()
                   if k.lower() not in ("content-length", "content-encoding", "transfer-encoding")]
        return _http().Response(self.status_code, headers=headers, content=self._body, request=self.request.httpx())


class WirePools:
    """urllib3 connection pools, one per server, for the requests of one busy-aware client. `timeout`: the
    httpx client's Timeout (connect and read used; urllib3 has no separate write or pool timeout, and
    the busy gate keeps the calls in flight within the pool). `context`: the SSL context for https
    (certificates as httpx verifies them). Thread-safe."""

    def __init__(self, timeout: Any, context: ssl.SSLContext | None):
        self.timeout = urllib3.Timeout(connect=timeout.connect, read=timeout.read)
        self.manager = urllib3.PoolManager(num_pools=64, maxsize=KEEPALIVE, block=False, ssl_context=context)
        self._targets: dict[str, tuple[Any, str]] = {}  # url -> (its server's pool, path and query)
        self._lock = threading.Lock()

    def send(self, request: WireRequest) -> WireResponse:
        """POST `request` and read its answer whole; no redirect followed (the caller sees it), no retry.
        Raises the httpx errors httpx's transport would raise (ConnectError, ConnectTimeout, ReadTimeout,
        RemoteProtocolError, ReadError, ...), each carrying the request as an httpx Request."""
        target = self._targets.get(request.url)
        if target is None:
            parsed = urllib3.util.parse_url(request.url)
            target = (self.manager.connection_from_url(request.url), parsed.request_uri)
            with self._lock:
                self._targets[request.url] = target
        pool, path = target
        try:
            answer = pool.urlopen("POST", path, body=request.content, headers=request.headers, retries=False,
                                  redirect=False, timeout=self.timeout, assert_same_host=False)
        except (u3.HTTPError, OSError, http_client.HTTPException) as exc:
            raise _as_httpx_error(exc, request) from exc
        return WireResponse(answer.status, answer.headers, answer.data, request)


def _as_httpx_error(exc: BaseException, request: WireRequest) -> Exception:
    """The httpx error for a urllib3 failure (as httpx's transport maps httpcore's), with its request."""
    http = _http()
    cause = next((a for a in exc.args if isinstance(a, BaseException)), exc.__context__)  # ProtocolError's reason
    if isinstance(exc, u3.NewConnectionError | u3.SSLError | ssl.SSLError):  # before ConnectTimeoutError: a subclass
        kind = http.ConnectError
    elif isinstance(exc, u3.ConnectTimeoutError):
        kind = http.ConnectTimeout
    elif isinstance(exc, u3.ReadTimeoutError | TimeoutError):
        kind = http.ReadTimeout
    elif isinstance(exc, u3.ProtocolError) and isinstance(
            cause, http_client.RemoteDisconnected | http_client.IncompleteRead | http_client.BadStatusLine):
        kind = http.RemoteProtocolError  # the server closed the connection or sent no valid response
    elif isinstance(exc, u3.ProtocolError | OSError):
        kind = http.ReadError
    else:
        kind = http.TransportError
    return kind(str(exc) or type(exc).__name__, request=request.httpx())  # type: ignore[no-any-return]
