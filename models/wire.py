"""Chat requests and responses on the wire: the hot path sent by urllib3 (about half httpx's client CPU per
call, with httpx's errors and responses wherever the openai client looks), and the bodies models/pushback.py reads and rebuilds."""

from __future__ import annotations

import contextlib
import functools
import importlib
import json
import ssl
import threading
from http import client as http_client
from typing import Any

import openai
import orjson
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

    def close(self) -> None:
        """Close every connection; a later `send` opens new ones."""
        with self._lock:
            pools, self._targets = [pool for pool, _ in self._targets.values()], {}
        for pool in pools:  # the manager forgets its pools at clear() without closing them (urllib3 2.8)
            pool.close()
        self.manager.clear()

    def send(self, request: WireRequest) -> WireResponse:
        """POST `request` and read its answer whole; no redirect followed (the caller sees it), no retry.
        Raises the httpx errors httpx's transport would raise (ConnectError, ConnectTimeout, ReadTimeout,
        RemoteProtocolError, ReadError, ...), each carrying the request as an httpx Request."""
        target = self._targets.get(request.url)
        if target is None or target[0].pool is None:  # new, or its pool closed
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


def json_answer(response: Any) -> dict[str, Any] | None:
    """A successful response's JSON object body; None for an error, a stream or a body that is not one."""
    if response.status_code >= 400 or "json" not in response.headers.get("content-type", ""):
        return None
    try:  # orjson: ~4x faster; what it refuses (NaN, huge integers) the caller parses again with json
        answer = orjson.loads(response.read())
    except ValueError:
        return None
    return answer if isinstance(answer, dict) else None


def chat_body(request: Any) -> dict[str, Any] | None:
    """The JSON body of a chat completion request, else None (other endpoints pass untouched)."""
    if request.method != "POST" or not request.url.path.endswith("/chat/completions"):
        return None
    try:
        body = json.loads(request.content)
    except Exception:  # noqa: BLE001 (a streamed body we cannot read here passes untouched)
        return None
    return body if isinstance(body, dict) else None


# Requests and responses rebuilt by the busy-aware client's quirks (models/pushback.py), with their own
# classes: those of the HTTP library the openai SDK uses.
def with_body(request: Any, body: dict[str, Any]) -> Any:
    """`request` (an httpx Request) with `body` (a dict) as its JSON content instead."""
    headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() != "content-length"]
    return type(request)(request.method, request.url, headers=headers, content=json.dumps(body).encode(),
                         extensions=request.extensions)


def with_json(response: Any, answer: dict[str, Any]) -> Any:
    """`response` (an httpx Response) with `answer` (a dict) as its JSON content instead, plain (not encoded)."""
    headers = [(k, v) for k, v in response.headers.multi_items()
               if k.lower() not in ("content-length", "content-encoding", "transfer-encoding")]
    cleaned = type(response)(response.status_code, headers=headers, content=json.dumps(answer).encode(),
                             request=response.request, extensions=response.extensions)
    with contextlib.suppress(RuntimeError):  # not closed yet: the SDK only logs it
        cleaned.elapsed = response.elapsed
    return cleaned
