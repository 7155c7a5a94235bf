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

from ictc.models.bodies import as_utf8
from ictc.models.event_stream import stream_answer

REDIRECTS = frozenset({301, 302, 303, 307, 308})
KEEPALIVE = 100  # connections kept per server, as the openai client's httpx limits (max_keepalive_connections)
# headers that describe the body as it came over the wire: wrong for a body decoded or replaced here
WIRE_BODY_HEADERS = frozenset({"content-length", "content-encoding", "transfer-encoding"})


@functools.cache
def http_package() -> Any:
    """The httpx package the openai SDK sends with (httpx, or httpx2 in newer SDKs): requests, responses and
    errors must be that package's."""
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
        return http_package().Request(self.method, self.url, headers=self.headers, content=self.content,
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
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in WIRE_BODY_HEADERS]
        return http_package().Response(self.status_code, headers=headers, content=self._body, request=self.request.httpx())


class WirePools:
    """urllib3 connection pools, one per server, for the requests of one busy-aware client. `timeout`: the
    httpx client's Timeout (connect, read and write used; urllib3 has no separate pool timeout, and the busy
    gate keeps the calls in flight within the pool). `context`: the SSL context for https (certificates as
    httpx verifies them; urllib3 leaves it as it is only where `can_share_context()`). Thread-safe."""

    def __init__(self, timeout: Any, context: ssl.SSLContext | None):
        # urllib3 sends the body under its connect timeout (the read timeout starts after it): with httpx's
        # write timeout as well, an image upload gets as long as httpx gives it (the SDK: 600 s, connect 5 s)
        connect = None if timeout.connect is None or timeout.write is None else max(timeout.connect, timeout.write)
        self.timeout = urllib3.Timeout(connect=connect, read=timeout.read)
        # no cert_reqs: urllib3 then gives each connection the context's own verify_mode, which it writes
        # back to the context at connect (urllib3 2.8, connection.py): no change to the shared context
        self.manager = urllib3.PoolManager(num_pools=64, maxsize=KEEPALIVE, block=False, ssl_context=context)
        self._targets: dict[str, tuple[Any, str]] = {}  # url -> (its server's pool, path and query)
        self._lock = threading.Lock()  # `_targets` and the manager's pools change together

    def close(self) -> None:
        """Close every connection; a later `send` opens new ones."""
        with self._lock:
            pools, self._targets = [pool for pool, _ in self._targets.values()], {}
            self.manager.clear()  # under the lock: no `send` registers a pool it took before the clear
        for pool in pools:  # the manager forgets its pools at clear() without closing them (urllib3 2.8)
            pool.close()

    def send(self, request: WireRequest) -> WireResponse:
        """POST `request` and read its answer whole; no redirect followed (the caller sees it), no retry.
        Raises the httpx errors httpx's transport would raise (ConnectError, ConnectTimeout, ReadTimeout,
        RemoteProtocolError, ReadError, UnsupportedProtocol for a URL urllib3 cannot send to, ...), each
        carrying the request as an httpx Request."""
        try:
            target = self._targets.get(request.url)
            if target is None or target[0].pool is None:  # new, or its pool closed
                with self._lock:
                    target = (self.manager.connection_from_url(request.url),
                              urllib3.util.parse_url(request.url).request_uri)
                    self._targets[request.url] = target
            pool, path = target
            answer = pool.urlopen("POST", path, body=request.content, headers=request.headers, retries=False,
                                  redirect=False, timeout=self.timeout, assert_same_host=False)
        except (u3.HTTPError, OSError, http_client.HTTPException) as exc:
            raise _as_httpx_error(exc, request) from exc
        return WireResponse(answer.status, answer.headers, answer.data, request)


def can_share_context() -> bool:
    """True if urllib3 leaves an SSL context's settings as they are (here, OpenSSL 1.1.1+ checks hostnames
    itself, no pyOpenSSL): otherwise urllib3 turns the context's `check_hostname` off to check hostnames
    itself, which the httpx clients sharing that context (models/pushback.py) would not. Read at call time."""
    from urllib3.util import ssl_

    return bool(ssl_.HAS_NEVER_CHECK_COMMON_NAME and not ssl_.IS_PYOPENSSL)


def _as_httpx_error(exc: BaseException, request: WireRequest) -> Exception:
    """The httpx error for a urllib3 failure (as httpx's transport maps httpcore's), with its request."""
    http = http_package()
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
    elif isinstance(exc, u3.LocationValueError):
        kind = http.UnsupportedProtocol  # a URL urllib3 cannot parse or that names no host
    else:
        kind = http.TransportError
    return kind(str(exc) or type(exc).__name__, request=request.httpx())  # type: ignore[no-any-return]


def json_answer(response: Any) -> dict[str, Any] | None:
    """A successful response's JSON object body, or the chat completion of an event stream sent to a request
    that asked for none (models/event_stream.py: chunks joined; a JSON body with `data: [DONE]` after it); None
    for an error, another content type or a body that is neither."""
    kind = response.headers.get("content-type", "")
    if response.status_code >= 400 or ("json" not in kind and "event-stream" not in kind):
        return None
    body = as_utf8(response.read(), kind)  # a declared charset other than UTF-8 (Latin-1) read as declared
    if "json" in kind:
        try:  # orjson: ~4x faster; what it refuses (NaN, huge integers) json reads below
            answer = orjson.loads(body)
        except ValueError:
            answer = None
        if isinstance(answer, dict):
            return answer
    return stream_answer(body)


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
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in WIRE_BODY_HEADERS]
    cleaned = type(response)(response.status_code, headers=headers, content=json.dumps(answer).encode(),
                             request=response.request, extensions=response.extensions)
    with contextlib.suppress(RuntimeError):  # not closed yet: the SDK only logs it
        cleaned.elapsed = response.elapsed
    return cleaned
