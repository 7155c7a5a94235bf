"""Servers that answer an API call with something other than an answer (a sixth break-it round, issue 17): a
redirect (k04: a 301 POST had come back a GET, refused 405, and a 308 was not remembered), a 429 asking a day's
wait (k06: slept 9 minutes in silence) or saying the request is too large for the limit (k22: sent 35 times), and a
403 page from an access gate in front of the server (k07b: blamed on the API key)."""

from __future__ import annotations

import email.utils
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2  # the HTTP package the openai SDK (3.x) is built on
import openai
import pytest

from ictc.models.pushback import BusyAwareClient, InFlightGate
from ictc.models.waits import ASKED_WAIT
from ictc.nodes.watch import diagnose

from sdk_errors import sdk_error

Answer = Callable[[str, str], tuple[int, dict[str, str], bytes]]


@pytest.fixture
def shaped() -> Iterator[Callable[[Answer], tuple[str, list[tuple[str, str, bytes]]]]]:
    """Starts a loopback server answering each request with `answer(method, path)` (status, headers, body); gives its
    root URL and the (method, path, body) of each request it saw."""
    servers: list[ThreadingHTTPServer] = []

    def start(answer: Answer) -> tuple[str, list[tuple[str, str, bytes]]]:
        seen: list[tuple[str, str, bytes]] = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                seen.append((self.command, self.path, body))
                status, headers, data = answer(self.command, self.path)
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        servers.append(httpd)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{httpd.server_address[1]}", seen

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


def _moved_under_api(status: int, host: str = "") -> Answer:
    def answer(method: str, path: str) -> tuple[int, dict[str, str], bytes]:
        if path.startswith("/v1/"):
            return status, {"Location": f"{host}/api{path}"}, b""
        if method != "POST":
            return 405, {}, b'{"detail": "Method Not Allowed"}'
        return 200, {}, b'{"choices": [{"index": 0, "message": {"role": "assistant", "content": "red"}}]}'
    return answer


BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("by_wire", [False, True])
def test_a_redirected_call_goes_again_as_a_post_with_its_body_and_the_move_is_remembered(shaped, status, by_wire):
    root, seen = shaped(_moved_under_api(status))
    client = BusyAwareClient(InFlightGate(2), patience=0, base_url=root + "/v1")
    try:
        for _ in range(2):
            if by_wire:  # the chat hot path (models/direct_chat.py)
                response, answer = client.send_chat(root + "/v1/chat/completions",
                                                    {"Content-Type": "application/json"}, BODY)
            else:
                response = client.post("/chat/completions", json=BODY)
            assert response.status_code == 200
    finally:
        client.close()
    assert [(method, path) for method, path, _ in seen] == [
        ("POST", "/v1/chat/completions"), ("POST", "/api/v1/chat/completions"), ("POST", "/api/v1/chat/completions")]
    assert all(json.loads(body) == BODY for _, _, body in seen)


def test_a_redirect_to_another_host_is_refused_naming_the_base_url_to_give(shaped):
    port = [0]
    root, seen = shaped(lambda method, path: _moved_under_api(301, host=f"http://localhost:{port[0]}")(method, path))
    port[0] = int(root.rsplit(":", 1)[1])
    client = BusyAwareClient(InFlightGate(2), patience=0, base_url=root + "/v1")
    try:
        response = client.post("/chat/completions", json=BODY)
    finally:
        client.close()
    assert response.status_code == 400 and len(seen) == 1  # the key was not sent to the other host
    assert f"give --base-url http://localhost:{port[0]}/api/v1 " in response.json()["error"]["message"]


@pytest.mark.parametrize("form", ["seconds", "HTTP date"])
def test_a_429_asking_a_wait_beyond_the_patience_fails_at_once_and_says_the_wait(shaped, form):
    # the date is made when the test runs: made at collection, it was minutes old by then in a full suite
    asked = "86400" if form == "seconds" else email.utils.formatdate(time.time() + 86400, usegmt=True)
    root, seen = shaped(lambda method, path: (429, {"Retry-After": asked}, b'{"error": {"message": "Too Many"}}'))
    client = BusyAwareClient(InFlightGate(2), patience=300, base_url=root + "/v1")
    started = time.monotonic()
    try:
        response = client.post("/chat/completions", json=BODY)
    finally:
        client.close()
    assert time.monotonic() - started < 5 and len(seen) == 1  # not 300 s of 60-s slices
    assert response.headers["x-should-retry"] == "false" and 86000 < float(response.headers[ASKED_WAIT]) <= 86400
    request = httpx2.Request("POST", root + "/v1/chat/completions")
    error = openai.RateLimitError("x", response=httpx2.Response(429, request=request, headers=dict(response.headers),
                                                                 content=response.content), body=None)
    cause, fix = diagnose(error, "VLM", "vision-model")
    assert "asked to wait 1 day" in cause and "ICTC_BUSY_PATIENCE" in cause
    assert "another API key" in fix and "fix the server" not in fix


def test_a_429_saying_the_request_is_too_large_for_the_limit_fails_that_request_at_once(shaped):
    words = (b'{"error": {"message": "Request too large for gpt-4o-mini in organization org-x on tokens per min (TPM): '
             b'Limit 30000, Requested 41250. The input or output tokens must be reduced in order to run '
             b'successfully.", "type": "tokens", "code": "rate_limit_exceeded"}}')
    root, seen = shaped(lambda method, path: (429, {"Retry-After": "1"}, words))
    client = BusyAwareClient(InFlightGate(2), patience=300, base_url=root + "/v1")
    try:
        response = client.post("/chat/completions", json=BODY)
    finally:
        client.close()
    assert response.status_code == 429 and len(seen) == 1 and response.headers["x-should-retry"] == "false"


CLOUDFLARE_ACCESS = ("<!DOCTYPE html><html><head><title>Access denied | llm.example.com used Cloudflare to restrict "
                     "access</title></head><body><h1>Access denied</h1></body></html>")


def test_a_403_page_of_an_access_gate_is_said_as_the_gate_not_the_api_key():
    request = httpx2.Request("POST", "https://llm.example.com/v1/chat/completions")
    response = httpx2.Response(403, request=request, text=CLOUDFLARE_ACCESS, headers={"content-type": "text/html"})
    error = sdk_error(response)
    cause, fix = diagnose(error, "VLM", "vision-model")
    assert "blocked in front of it" in cause and "used Cloudflare to restrict access" in cause
    assert "OPENAI_API_KEY" not in fix and "the API key was not the problem" in fix
    json_403 = httpx2.Response(403, request=request, json={"error": {"message": "Invalid API key"}})
    error = sdk_error(json_403)
    assert "OPENAI_API_KEY" in diagnose(error, "VLM", "vision-model")[1]  # the API's own 403 still names the key


def test_a_move_learned_by_one_role_s_client_serves_the_other_on_the_same_server(shaped):
    # the VLM's and the LLM's clients on one base URL had each paid a redirected call to learn the same move
    from ictc.models.replicas import ServerRegistry, replica_client

    root, seen = shaped(_moved_under_api(308))
    servers = ServerRegistry(2)  # one per set of models (models/factory.py), as the busy gates
    vlm, llm = (replica_client(servers, [root + "/v1"], 0, 5) for _ in range(2))
    try:
        assert vlm.post("/chat/completions", json=BODY).status_code == 200
        assert llm.post("/chat/completions", json=BODY).status_code == 200
    finally:
        vlm.close()
        llm.close()
    assert [path for _, path, _ in seen] == ["/v1/chat/completions", "/api/v1/chat/completions", "/api/v1/chat/completions"]
