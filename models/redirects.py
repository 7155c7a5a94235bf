"""A server that answers an API call with a redirect (a gateway that moved `/v1` to `/api/v1`, http to https): the
call is sent again to the new address with its method and body (httpx, as browsers, turns a 301/302/303 POST into
a GET, which the server then refuses with 405: a whole run had stopped on "fix the server"), and the move is
remembered so later calls go to the new address at once (a 308 had sent every call twice). A move to another
host is not followed (the API key would go with it): it is said with the base URL to give instead."""

from __future__ import annotations

import logging
import threading
from typing import Any
from urllib.parse import urljoin, urlsplit

from ictc.models.quirks import error_response
from ictc.models.wire import REDIRECTS, WireRequest, http_package

log = logging.getLogger(__name__)

HOPS = 5  # redirects followed for one call at most (a loop ends there)


def readdressed(request: Any, url: str) -> Any:
    """`request` (an httpx Request or a WireRequest) sent to `url` instead, with the same method, headers (its Host
    the new one's), body and extensions."""
    if isinstance(request, WireRequest):  # the chat hot path (models/wire.py): urllib3 sets Host
        return request.moved(url)
    http = http_package()
    target = http.URL(url)
    headers = request.headers.copy()
    headers["host"] = target.netloc.decode("ascii")
    return http.Request(request.method, target, headers=headers, content=request.content,
                        extensions=request.extensions)


def is_redirect(response: Any) -> bool:
    """True for a redirect status with somewhere to go (a Location header)."""
    return response.status_code in REDIRECTS and "location" in response.headers


class Moves:
    """The address moves learned by the clients of one set of servers (models/replicas.py ServerRegistry: the VLM's
    and the LLM's clients share it): old URL prefix -> new URL prefix (thread-safe)."""

    def __init__(self) -> None:
        self._moves: dict[str, str] = {}
        self._lock = threading.Lock()

    def applied(self, request: Any) -> Any:
        """`request` sent where a learned move says its address now is; itself when no move applies."""
        url = str(request.url)
        with self._lock:
            moves = list(self._moves.items())
        for old, new in moves:
            if url.startswith(old):
                return readdressed(request, new + url[len(old):])
        return request

    def follow(self, request: Any, response: Any, base: str) -> Any:
        """For a redirect `response` to `request` (sent under the base URL `base`): the request to send next (same
        method and body, at the new address), the move learned; or, for a move to another host, a stand-in error
        response (not retried) naming the new address and the base URL to give."""
        old = str(request.url)
        new = urljoin(old, response.headers["location"])
        old_prefix, new_prefix = _prefixes(old, new)
        tail = old[len(base):] if base and old.startswith(base) else ""
        new_base = new[:-len(tail)] if tail and new.endswith(tail) else new_prefix
        if urlsplit(old).hostname != urlsplit(new).hostname:
            message = (f"the server redirects {old} to another host ({new}); ictc does not send the API key there: "
                       f"give --base-url {new_base} if that is the server")
            return error_response(request, message, "redirect")
        with self._lock:
            known = old_prefix in self._moves
            self._moves[old_prefix] = new_prefix
        if not known:
            log.warning("%s answers HTTP %s: calls go to %s from now on (give --base-url %s to skip the redirect)",
                        old_prefix, response.status_code, new_prefix, new_base)
        return readdressed(request, new)


def _prefixes(old: str, new: str) -> tuple[str, str]:
    """(old, new) without the path segments they end with alike (`/chat/completions?api-version=x`): the base URLs
    the move is between."""
    a, b = old.split("/"), new.split("/")
    same = 0
    while same < min(len(a), len(b)) - 3 and a[-1 - same] == b[-1 - same]:  # never into scheme://host
        same += 1
    return "/".join(a[:len(a) - same]), "/".join(b[:len(b) - same])
