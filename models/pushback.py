"""Waiting out a busy endpoint. A server at its capacity answers 429 (vLLM behind a gateway, OpenAI's
rate limits, a llama.cpp server with few slots); the openai client retries that a few times, then the
image fails. Here each endpoint gets a gate that fits the calls in flight to what the server takes
(additive increase, multiplicative decrease, as TCP does), and a 429 is waited out (Retry-After, else
backoff) and sent again for up to `busy_patience` seconds, without spending the client's own retries; so is
a 503 saying the model is loading or the queue is full (llama.cpp, TGI, Ollama). A spent quota (429
`insufficient_quota`, models/quirks.SPENT) cannot be waited out: it passes straight through, marked not to be
retried; so is a wait asked beyond the patience or a request too large for the limit (models/waits.py). The same
client adapts each chat request to its server (models/quirks.py) and follows a redirect keeping the request
(models/redirects.py)."""

from __future__ import annotations

import functools
import random
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

import openai
import orjson

from ictc.models.answers import unusable_answer
from ictc.models.quirks import (
    CAP_FIELDS,
    ServerQuirks,
    estimated_wait,
    is_quota_error,
    names_output_mode,
    reasoning_cut,
    unavailable_kind,
)
from ictc.models.redirects import HOPS, Moves, is_redirect
from ictc.models.waits import ASKED_WAIT, retry_after, sleep_unless_stopped, too_large
from ictc.models.wire import (
    WirePools,
    WireRequest,
    WireResponse,
    can_share_context,
    chat_body,
    http_package,
    json_answer,
    with_body,
    with_json,
)

MAX_WAIT = 60.0  # the longest single wait, whatever Retry-After says
BACKOFF_START, BACKOFF_MAX = 0.5, 8.0  # without Retry-After, as the openai client does
CUT = 0.75  # a pushback cuts the cap on calls in flight to this share of it


class InFlightGate:
    """How many requests may be in flight to one endpoint: starts at `ceiling`; a 429 cuts it to 3/4,
    at most once per round trip (requests sent before the last cut bring no news); each success adds
    1/cap, so a full round of successes adds one, back up to `ceiling`."""

    def __init__(self, ceiling: int):
        self.ceiling = ceiling
        self.cap = float(ceiling)
        self.in_flight = 0
        self.pushbacks = 0
        self._last_cut = float("-inf")
        self._changed = threading.Condition()

    @property
    def limit(self) -> int:
        """Requests allowed in flight now: the current cap rounded down, at least 1."""
        return max(1, int(self.cap))

    def enter(self) -> float:
        """Wait for room; returns the send time that `leave` needs."""
        with self._changed:
            while self.in_flight >= self.limit:
                self._changed.wait()
            self.in_flight += 1
            return time.monotonic()

    def leave(self, sent_at: float, outcome: str) -> None:
        """`outcome`: "ok" (an answer), "busy" (429) or "error" (5xx, no answer: says nothing sure of load)."""
        with self._changed:
            self.in_flight -= 1
            if outcome == "busy":
                self.pushbacks += 1
                if sent_at > self._last_cut:
                    self.cap = max(1.0, self.cap * CUT)
                    self._last_cut = time.monotonic()
            elif outcome == "ok":
                self.cap = min(float(self.ceiling), self.cap + 1 / self.cap)
            self._changed.notify(max(1, self.limit - self.in_flight))


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    """httpx's default SSL context (certificates verified, trust store as httpx finds it), built once per
    process and shared by every client: building one loads the CA bundle, ~45 ms each (cProfile), and a
    run's start-up built four."""
    context: ssl.SSLContext = http_package().create_ssl_context(verify=True)
    return context


class BusyAwareClient(openai.DefaultHttpxClient):
    """The openai SDK's HTTP client (its defaults: connection limits, redirects, proxies from the
    environment) with the gate and the waiting above around every request, and, given `quirks`, each chat
    request adapted to its server and model (models/quirks.py): a refused parameter dropped and the call
    sent again, reasoning stripped from the answer, a reasoning model given room. `moves`: the redirects learned
    (models/redirects.py), one for the clients of one ServerRegistry (the VLM's and the LLM's had each paid one)."""

    ADAPTATIONS = 6  # at most this many parameters dropped for one call

    def __init__(self, gate: InFlightGate, patience: float, quirks: ServerQuirks | None = None, moves: Moves | None = None, **kwargs: Any):
        kwargs.setdefault("verify", shared_ssl_context())
        super().__init__(**kwargs)
        self.gate, self.patience, self.quirks = gate, patience, quirks
        self._chat_extensions = {"timeout": self.timeout.as_dict()}  # what the client's build_request would set
        verify = kwargs["verify"]
        # chat requests by urllib3 (models/wire.py) where httpx would add nothing: certificates checked by
        # a context (not verify=False or a CA path) that urllib3 leaves as it is, no client certificate
        self._wire = (WirePools(self.timeout, verify)
                      if isinstance(verify, ssl.SSLContext) and can_share_context() and not kwargs.get("cert")
                      else None)
        self._wire_ok: dict[str, bool] = {}  # url -> sent by the wire path
        self.moves = moves if moves is not None else Moves()

    def send(self, request: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Sends the httpx `request` through the gate (`_send_waiting`); a chat request, given quirks, is
        adapted first and sent again (at most ADAPTATIONS times) when the server refuses a parameter or
        the reasoning took the whole token cap. Returns the httpx response (its JSON body cleaned of
        reasoning); an error response the quirks cannot fix is returned as it is, marked not to be
        retried when it names the output mode. Transport errors are raised as `_send_waiting` raises them."""
        body = chat_body(request) if self.quirks is not None else None
        if body is None or self.quirks is None:
            return self._send_waiting(request, **kwargs)
        response, answer = self._adapted(body, lambda sent: with_body(request, sent), **kwargs)
        return response if answer is None else with_json(response, answer)

    def send_chat(self, url: str, headers: dict[str, str], body: dict[str, Any]) -> tuple[Any, dict[str, Any] | None]:
        """One chat completion request built from `body` (a dict: serialised once, never parsed back), as
        `send` sends it: gate, waiting, replicas, quirks, but sent by urllib3 (models/wire.py) or handed to the transport
        directly (`_send_direct`).
        For models/direct_chat.py. `url`: the full /chat/completions URL of the first replica; `headers`: all
        the request's headers (the client's own are not added: the openai client's request already merged them).
        Returns (the response, read: an httpx Response, or a WireResponse for a success sent by urllib3; its JSON
        answer cleaned of reasoning), the answer None when the response is an error or not JSON. Transport errors are raised as `_send_waiting` raises them."""
        http = http_package()
        wire = self._by_wire(url)

        def build(sent: dict[str, Any]) -> Any:
            # orjson: the body holds an image's base64 data URI, which json.dumps scans char by char
            content = orjson.dumps(sent, option=orjson.OPT_NON_STR_KEYS)
            if wire:
                return WireRequest(url, headers, content, self._chat_extensions)
            return http.Request("POST", url, headers=headers, content=content, extensions=self._chat_extensions)

        if self.quirks is None:
            response = self._send_waiting(build(body), direct=True)
            answer = json_answer(response)
        else:
            response, answer = self._adapted(body, build, direct=True)
        if isinstance(response, WireResponse) and response.status_code >= 400:
            response = response.httpx()  # what the openai client's retry rule and error classes read
        return response, answer

    def close(self) -> None:
        """Close the client's connections, urllib3's (models/wire.py) and httpx's."""
        if self._wire is not None:
            self._wire.close()
        super().close()

    def _by_wire(self, url: str) -> bool:
        """True if chat requests to `url` go by urllib3 (models/wire.py): http(s), no proxy for it, no auth
        or event hooks on the client (httpx's own layers would be needed)."""
        ok = self._wire_ok.get(url)
        if ok is None:
            ok = (self._wire is not None and url.startswith(("http://", "https://")) and self.auth is None
                  and not any(self.event_hooks.values())
                  and self._transport_for_url(http_package().URL(url)) is self._transport)
            self._wire_ok[url] = ok
        return ok

    def _adapted(self, body: dict[str, Any], build: Callable[[dict[str, Any]], Any], direct: bool = False,
                 **kwargs: Any) -> tuple[Any, dict[str, Any] | None]:
        """`body` adapted to the server's quirks and sent (`build` makes the request of an adapted body;
        `direct` as in `_send_waiting`), again while the server refuses a parameter or the reasoning took the
        whole cap. Returns (response, answer as in `send_chat`)."""
        assert self.quirks is not None  # callers check
        model, response = str(body.get("model", "")), None
        for _ in range(self.ADAPTATIONS):
            roomy = self.quirks.is_reasoning(model)
            sent = self.quirks.prepare(body)
            response = self._send_waiting(build(sent), direct, **kwargs)
            if response.status_code >= 400:
                data = response.read()
                if self.quirks.refuse(sent, response.status_code, data):
                    response.close()
                    continue
                if names_output_mode(data):  # the same request would be refused again: no client retries
                    response.headers["x-should-retry"] = "false"
                return response, None
            answer = json_answer(response)
            if answer is None:
                return response, None  # a stream, or a body we do not read: the caller reports it
            cap = next((v for f in CAP_FIELDS if type(v := sent.get(f)) is int), None)
            if (unusable := unusable_answer(answer, response.request, cap)) is not None:  # said as what it is
                response.close()
                return unusable, None
            if self.quirks.clean(model, answer, cap):
                response.close()
                if not roomy:
                    continue  # the reasoning took the whole cap: once more, with room
                # with the room too: said as this call's failure, with the setting that gives more (an empty
                # description had been all a user saw)
                return reasoning_cut(response.request, self.quirks.room), None
            return response, answer
        return response, None

    def _send_waiting(self, request: Any, direct: bool = False, **kwargs: Any) -> Any:
        """Send `request` through the gate (`direct`: by `_send_direct`, else by the client's `send`); a 429 is
        waited out (or sent elsewhere, see `_route`) for up to `patience` seconds. Returns the httpx
        response; transport errors pass through unless `_unreachable` finds another way."""
        deadline: float | None = None
        waits = 0
        tried: set[int] = set()  # routes that answered 429 since the last wait
        while True:
            gate, routed = self._route(request, tried)
            sent_at, outcome = gate.enter(), "error"
            try:
                response = self._send_moved(routed, direct, **kwargs)
                status = response.status_code
                unavailable = unavailable_kind(status, response.read()) if status in (503, 529) else ""  # waited out too
                outcome = ("busy" if status == 429 or unavailable == "busy" else "ok" if status < 500 else "error")
            except Exception as exc:
                gate.leave(sent_at, outcome)
                if self._unreachable(gate, exc, tried):
                    continue  # another route takes it now
                raise
            gate.leave(sent_at, outcome)
            if self._failed_over(gate, outcome, status, tried):
                response.close()
                continue  # a replica that failed it (a 5xx): another takes it now, no retry spent
            if status == 429 and (is_quota_error(response) or too_large(response.read())):
                # a spent quota, a request over the limit itself: no wait helps, nor the client's retries
                response.headers["x-should-retry"] = "false"
                return response
            if ((outcome != "busy" and not unavailable) or self.patience <= 0
                    or response.headers.get("x-should-retry") == "false"):
                return response
            tried.add(id(gate))
            now = time.monotonic()
            deadline = deadline if deadline is not None else now + self.patience
            if self._has_room_elsewhere(tried):
                response.close()
                continue  # another replica is not busy: no wait
            asked = retry_after(response.headers) or (estimated_wait(response.read()) if unavailable else None)
            # "Retry-After: 0" (or none) gets backoff, or a server that keeps saying 0 would be hammered
            wait = asked if asked else min(BACKOFF_START * 2 ** waits, BACKOFF_MAX)
            if asked and asked > self.patience:  # a day's wait (a spent daily limit): said at once, not slept on
                response.headers[ASKED_WAIT] = f"{asked:.0f}"
            wait = min(wait, MAX_WAIT) * random.uniform(1.0, 1.25)  # noqa: S311 (jitter, not secrecy)
            if now + wait > deadline or ASKED_WAIT in response.headers:
                # waited long enough: the call fails now, not after the client's own retries as well
                response.headers["x-should-retry"] = "false"
                return response
            response.close()
            sleep_unless_stopped(wait)
            waits += 1
            tried.clear()

    def _send_moved(self, request: Any, direct: bool, **kwargs: Any) -> Any:
        """`request` sent where the learned moves say (by `_send_direct` when `direct`, else by `send`), a redirect
        followed with the same method and body (models/redirects.py) up to HOPS times. Returns the response."""
        request = self.moves.applied(request)
        for _ in range(HOPS):
            response = (self._send_direct(request) if direct else
                        super().send(request, **{**kwargs, "follow_redirects": False}))
            if not is_redirect(response):
                return response
            response.close()
            request = self.moves.follow(request, response, str(self.base_url).rstrip("/"))
            if not hasattr(request, "method"):
                return request  # a move to another host: refused, in words
        return response

    def _send_direct(self, request: Any) -> Any:
        """`request` handed to its transport and read whole, as the client's `send` does it, less the layers a
        chat request here never uses (auth flow, event hooks, cookies, elapsed time): ~0.15 ms of CPU a
        call, a sixth of the HTTP stack (bench/client_cost.py). A redirect is returned as it is (`_send_moved`
        follows it); an auth or event hooks on the client: sent by `send` itself. A WireRequest (`send_chat`) goes by urllib3 (models/wire.py) and
        comes back a WireResponse when `_by_wire` allows its URL, decided here for the replica it is
        addressed to; else it goes as an httpx Request. Raises what `send` raises (the httpx errors carry the request)."""
        if isinstance(request, WireRequest) and self._by_wire(request.url):  # checked per URL: a replica
            assert self._wire is not None  # may need a proxy where the first did not (models/replicas.py)
            return self._wire.send(request)
        if isinstance(request, WireRequest):
            request = request.httpx()  # e.g. through its proxy: httpx's own transport for the URL
        if self.auth is not None or any(self.event_hooks.values()):
            return super().send(request)
        transport = self._transport_for_url(request.url)
        try:
            response = transport.handle_request(request)
            response.request = request
            try:
                response.read()
            finally:
                response.close()
        except http_package().RequestError as exc:
            exc.request = request
            raise
        return response

    # Hooks for several replicas of one server (models/replicas.py); one server: its own gate, no failover.
    def _route(self, request: Any, busy: set[int]) -> tuple[InFlightGate, Any]:
        """The gate to pass and the request to send; `busy` holds id()s of gates that just answered 429."""
        return self.gate, request

    def _unreachable(self, gate: InFlightGate, exc: Exception, tried: set[int]) -> bool:
        """`exc` was raised sending through `gate`: True if the request should be sent again at once (to a route
        not among `tried`, which then holds `gate`)."""
        return False

    def _failed_over(self, gate: InFlightGate, outcome: str, status: int, tried: set[int]) -> bool:
        """`gate`'s server answered `status` (`outcome` "ok", "busy" or "error"): True if the request should be
        sent again at once to another route (as `_unreachable`)."""
        return False

    def _has_room_elsewhere(self, busy: set[int]) -> bool:
        """True if a route other than the gates in `busy` can take a call now."""
        return False

