"""The endpoint hot path (models/direct_chat.py): ChatOpenAI's request, sent as a dict through the
busy-aware client, with the openai client's retries and ChatOpenAI's answers and errors."""

from __future__ import annotations

import contextlib
import gzip
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from ictc.models.calibrated import first_token_logprobs
from ictc.models.direct_chat import DirectChat
from ictc.models.pushback import InFlightGate
from ictc.models.quirks import ServerQuirks
from ictc.models.replicas import ServerRegistry, replica_client

TOP = [{"token": "cat", "logprob": -0.1}, {"token": "dog", "logprob": -2.5}]


class Scripted:
    """A loopback chat server: answers `failures` 500s first, then 200 with logprobs when asked; records
    every request's body and headers."""

    def __init__(self, failures: int = 0, moved: bool = False, delay: float = 0.0, compressed: bool = False,
                 busy: int = 0, stream: str = ""):
        self.failures, self.moved, self.delay = failures, moved, delay  # moved: 307 from /v1 to /v2
        self.busy = busy  # this many 429s (Retry-After: 0.05) first
        self.compressed = compressed  # answers compressed (Content-Encoding: gzip)
        self.stream = stream  # "chunks": SSE chunks with keep-alive comments; "done": the JSON, then data: [DONE]
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if server.moved and self.path.startswith("/v1/"):
                    self.send_response(307)
                    self.send_header("Location", "/v2/" + self.path[4:])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                time.sleep(server.delay)
                if server.busy > 0:
                    server.busy -= 1
                    self.send_response(429)
                    self.send_header("Retry-After", "0.05")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                server.bodies.append(body)
                server.headers.append(dict(self.headers))
                answer: dict[str, Any]
                if server.failures > 0:
                    server.failures -= 1
                    status, answer = 500, {"error": {"message": "server fell over"}}
                else:
                    choice: dict[str, Any] = {"index": 0, "finish_reason": "stop",
                                              "message": {"role": "assistant", "content": "cat"}}
                    if body.get("logprobs"):
                        choice["logprobs"] = {"content": [{**TOP[0], "top_logprobs": TOP}]}
                    status, answer = 200, {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                                           "choices": [choice]}
                data = _as_stream(answer, server.stream) if server.stream else json.dumps(answer).encode()
                self.send_response(status)
                if server.compressed:
                    data = gzip.compress(data)
                    self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Type", "text/event-stream" if server.stream else "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> Scripted:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _as_stream(answer: dict[str, Any], how: str) -> bytes:
    """`answer` as a server that ignores `stream: false` sends it: "chunks" (its text in two deltas, the logprobs
    in the first, keep-alive comments, no [DONE]) or "done" (the JSON, then a stray `data: [DONE]`)."""
    if how == "done":
        return json.dumps(answer).encode() + b"\n\ndata: [DONE]\n\n"
    choice = answer["choices"][0]
    text = choice["message"]["content"]
    base = {key: answer[key] for key in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
    deltas = [{"index": 0, "delta": {"role": "assistant", "content": text[:1]}, "finish_reason": None},
              {"index": 0, "delta": {"content": text[1:]}, "finish_reason": None},
              {"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}]
    if "logprobs" in choice:
        deltas[0]["logprobs"] = choice["logprobs"]
    return b"".join(b": keep-alive\n\ndata: " + json.dumps({**base, "choices": [d]}).encode() + b"\n\n"
                    for d in deltas)


def _chat(url: str, max_retries: int = 2, timeout: float = 10.0) -> ChatOpenAI:
    client = replica_client(ServerRegistry(4), [url], 0.0, timeout, ServerQuirks(url, 2048))
    return ChatOpenAI(model="m", base_url=url, api_key=SecretStr("k"), temperature=0, seed=3, timeout=10,
                      max_retries=max_retries, http_client=client)


CONVERSATIONS = [
    [SystemMessage("You describe images."), HumanMessage([{"type": "text", "text": "Describe it."},
                                                          {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}])],
    [SystemMessage("Short labels."), HumanMessage("a cat"), AIMessage("a cat on a mat"), HumanMessage("Shorter.")],
]
OPTIONS = [{"max_tokens": 160}, {"max_tokens": 12, "stop": ["\n"]}, {"logprobs": True, "top_logprobs": 5, "max_tokens": 1},
           {"max_tokens": 40, "response_format": {"type": "json_schema", "json_schema": {
               "name": "x", "schema": {"type": "object"}, "strict": True}}}]


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("conversation", CONVERSATIONS)
def test_the_body_sent_is_chatopenais_own(conversation, options):
    chat = _chat("http://127.0.0.1:9/v1")
    direct = DirectChat(chat)
    assert direct._body(conversation, dict(options)) == chat._get_request_payload(conversation, **options)


def test_an_answer_comes_back_with_its_logprobs_and_the_sdks_headers():
    with Scripted() as server:
        reply = DirectChat(_chat(server.url)).invoke(CONVERSATIONS[1], logprobs=True, top_logprobs=5, max_tokens=1)
    assert reply.content == "cat" and reply.response_metadata["finish_reason"] == "stop"
    assert first_token_logprobs(reply) == [("cat", -0.1), ("dog", -2.5)]  # the calibrated Step-3 choice reads these
    headers = {k.lower(): v for k, v in server.headers[0].items()}
    assert headers["authorization"] == "Bearer k" and headers["x-stainless-retry-count"] == "0"


def test_server_errors_are_retried_as_the_openai_client_retries_then_raise_chatopenais_error(monkeypatch):
    from langchain_openai.chat_models.base import OpenAIAPIError

    monkeypatch.setattr("ictc.models.direct_chat.time.sleep", lambda seconds: None)  # the backoff, not waited here
    with Scripted(failures=2) as server:
        assert DirectChat(_chat(server.url, max_retries=2)).invoke(CONVERSATIONS[1]).content == "cat"
    assert [h.get("x-stainless-retry-count") or h.get("X-Stainless-Retry-Count") for h in server.headers] == ["0", "1", "2"]
    with Scripted(failures=5) as server, pytest.raises(OpenAIAPIError, match="server fell over"):
        DirectChat(_chat(server.url, max_retries=1)).invoke(CONVERSATIONS[1])
    assert len(server.bodies) == 2


def test_the_gate_counts_every_call_it_lets_through():
    with Scripted() as server:
        chat = _chat(server.url)
        gate: InFlightGate = chat.http_client.gate  # type: ignore[union-attr]
        DirectChat(chat).batch(CONVERSATIONS * 3, max_tokens=5)
    assert len(server.bodies) == 6 and gate.in_flight == 0


def test_the_direct_path_follows_a_redirect_as_the_openai_client_does():
    with Scripted(moved=True) as server:
        assert DirectChat(_chat(server.url)).invoke(CONVERSATIONS[1]).content == "cat"
    assert len(server.bodies) == 1  # answered at its new place (the 307 records no body)


def test_the_direct_path_keeps_the_clients_timeout_and_the_sdks_transport_errors():
    import openai

    with Scripted(delay=1.0) as server, pytest.raises(openai.APITimeoutError):
        DirectChat(_chat(server.url, max_retries=0, timeout=0.2)).invoke(CONVERSATIONS[1])
    with Scripted() as server:
        url = server.url  # a port nobody listens on once the server is gone
    with pytest.raises(openai.APIConnectionError) as caught:
        DirectChat(_chat(url, max_retries=0)).invoke(CONVERSATIONS[1])
    assert str(caught.value.request.url) == url + "/chat/completions"  # the request travels with the error


def test_chat_calls_go_by_urllib3_unless_a_proxy_needs_httpx(monkeypatch):
    from ictc.models import wire

    sent: list[str] = []
    real_send = wire.WirePools.send
    monkeypatch.setattr(wire.WirePools, "send", lambda pools, request: (sent.append(request.url),
                                                                        real_send(pools, request))[1])
    with Scripted() as server:
        assert DirectChat(_chat(server.url)).invoke(CONVERSATIONS[1]).content == "cat"
        assert sent == [server.url + "/chat/completions"]  # the hot path: urllib3 (models/wire.py)
        monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # httpx reads proxies from the environment
        monkeypatch.setenv("NO_PROXY", "")
        proxied = _chat(server.url).http_client
        assert not proxied._by_wire(server.url + "/chat/completions")  # type: ignore[union-attr]  # httpx's proxy transport


def test_a_compressed_answer_is_read_decoded():
    with Scripted(compressed=True) as server:
        assert DirectChat(_chat(server.url)).invoke(CONVERSATIONS[1]).content == "cat"


def test_a_busy_server_is_waited_out_on_the_direct_path_and_the_gate_hears_of_it():
    with Scripted(busy=2) as server:
        client = replica_client(ServerRegistry(4), [server.url], 30.0, 10.0, ServerQuirks(server.url, 2048))
        chat = ChatOpenAI(model="m", base_url=server.url, api_key=SecretStr("k"), max_retries=0, http_client=client)
        assert DirectChat(chat).invoke(CONVERSATIONS[1], max_tokens=5).content == "cat"
    assert client.gate.pushbacks == 2 and client.gate.in_flight == 0  # two 429s waited out, not max_retries=0's
    assert len(server.bodies) == 1


def test_a_replica_that_refuses_connections_is_passed_over_on_the_direct_path():
    with Scripted() as gone:
        dead = gone.url  # nobody listens there once the server is gone
    with Scripted() as live:
        client = replica_client(ServerRegistry(4), [dead, live.url], 0.0, 10.0, ServerQuirks(dead, 2048))
        chat = ChatOpenAI(model="m", base_url=dead, api_key=SecretStr("k"), max_retries=0, http_client=client)
        replies = DirectChat(chat).batch([CONVERSATIONS[1]] * 4, max_tokens=5)
    assert [r.content for r in replies] == ["cat"] * 4 and len(live.bodies) == 4


def test_messages_the_direct_path_does_not_convert_go_by_chatopenais_own_conversion():
    from ictc.models.direct_chat import plain_messages

    tool_call = AIMessage("", tool_calls=[{"name": "pick", "args": {"k": 3}, "id": "call-1"}])
    assert plain_messages(CONVERSATIONS[1]) is not None
    assert plain_messages([*CONVERSATIONS[1], tool_call]) is None
    chat = _chat("http://127.0.0.1:9/v1")
    assert DirectChat(chat)._body([tool_call], {}) == chat._get_request_payload([tool_call])


def test_closing_the_client_closes_its_urllib3_connections():
    with Scripted() as server:
        chat = _chat(server.url)
        DirectChat(chat).invoke(CONVERSATIONS[1])
        wire = chat.http_client._wire  # type: ignore[union-attr]
        pools = wire.manager.pools
        assert len(pools) == 1
        (used,) = [pool for pool, _ in wire._targets.values()]
        chat.http_client.close()  # type: ignore[union-attr]
        assert len(pools) == 0 and used.pool is None  # closed: its connections too
        assert wire.send(wire_request(server.url)).status_code == 200  # a closed pool is not reused
        assert len(pools) == 1


def wire_request(url: str) -> Any:
    from ictc.models.wire import WireRequest

    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).encode()
    return WireRequest(url + "/chat/completions", {"content-type": "application/json"}, body, {})


def test_a_replica_behind_a_proxy_is_reached_through_it_after_another_replica_without_one(monkeypatch):
    """Whether a call goes by urllib3 is decided for the replica it is sent to: the first replica is
    exempt from the proxy (NO_PROXY), the second is not, so a call moved to the second goes through the proxy."""
    with Scripted() as gone:
        dead = gone.url  # nobody listens there once the server is gone: the call moves to the other replica
    with Scripted() as live, Scripted() as proxy:
        for name in ("HTTP_PROXY", "http_proxy"):
            monkeypatch.setenv(name, proxy.url.removesuffix("/v1"))
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.setenv(name, dead.removesuffix("/v1"))  # http://127.0.0.1:port: that replica only
        client = replica_client(ServerRegistry(4), [dead, live.url], 0.0, 10.0, ServerQuirks(dead, 2048))
        assert client._by_wire(dead + "/chat/completions")  # the first: urllib3, no proxy
        chat = ChatOpenAI(model="m", base_url=dead, api_key=SecretStr("k"), max_retries=0, http_client=client)
        assert DirectChat(chat).invoke(CONVERSATIONS[1], max_tokens=5).content == "cat"
    assert len(proxy.bodies) == 1 and live.bodies == []  # through the proxy, never straight to the replica


def test_an_upload_gets_the_write_timeout_not_only_the_connect_timeout():
    """urllib3 sends the body under its connect timeout: a server that reads the body 1 s late must not
    fail an upload whose connect timeout is 0.5 s when the write timeout (10 s) allows it."""
    import socket

    from ictc.models.wire import WirePools, http_package

    httpx = http_package()  # the SDK's httpx package (httpx2 in newer SDKs)

    class Slow(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            time.sleep(1.0)  # the client's upload fills the socket buffers meanwhile
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

    class SmallBuffers(ThreadingHTTPServer):
        def server_bind(self) -> None:  # a small receive window: the upload waits for the server
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            super().server_bind()

    httpd = SmallBuffers(("127.0.0.1", 0), Slow)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        pools = WirePools(httpx.Timeout(10.0, connect=0.5), None)
        request = wire_request(f"http://127.0.0.1:{httpd.server_address[1]}/v1")
        request.content = b" " * (32 << 20)  # 32 MB, more than loopback's socket buffers hold
        assert pools.send(request).status_code == 200
        pools.close()
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_url_urllib3_cannot_send_to_raises_an_httpx_error():
    from ictc.models.wire import WirePools, http_package

    httpx = http_package()  # the SDK's httpx package (httpx2 in newer SDKs)

    pools = WirePools(httpx.Timeout(5.0), None)
    with pytest.raises(httpx.TransportError) as caught:
        pools.send(wire_request("http://"))  # no host
    assert str(caught.value.request.url).endswith("/chat/completions")


def test_a_send_racing_close_leaves_no_pool_open_behind_it(monkeypatch):
    """close() closes the pool a send took before it: a send taking a new pool while close() runs does not
    register it after the close, where it would stay open with its connection once the client is closed."""
    from ictc.models.wire import WirePools, http_package

    httpx = http_package()  # the SDK's httpx package (httpx2 in newer SDKs)

    with Scripted() as server:
        pools = WirePools(httpx.Timeout(10.0), None)
        real_lookup = pools.manager.connection_from_url
        taken: list[Any] = []
        closed = threading.Event()

        def lookup_then_close(url: str) -> Any:
            taken.append(real_lookup(url))
            threading.Thread(target=lambda: (pools.close(), closed.set()), daemon=True).start()
            closed.wait(0.5)  # close() runs now unless the send holds it off until its pool is registered
            return taken[0]

        monkeypatch.setattr(pools.manager, "connection_from_url", lookup_then_close)
        # the pool may close under the call (urllib3's ClosedPoolError): the openai client's retry sends it anew
        with contextlib.suppress(httpx.TransportError):
            pools.send(wire_request(server.url))
        assert closed.wait(5)
    assert taken[0].pool is None  # closed by close(), not left open in the client


@pytest.fixture
def https_server(tmp_path):
    """A Scripted server over TLS on loopback (a self-signed certificate for 127.0.0.1, made by the openssl
    CLI) and the certificate's path."""
    import shutil
    import ssl
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl CLI for a self-signed certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    server = Scripted()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.httpd.socket = context.wrap_socket(server.httpd.socket, server_side=True)
    server.url = server.url.replace("http://", "https://")
    with server:
        yield server, cert


def _https_chat(url: str, context: Any) -> tuple[Any, Any]:
    from ictc.models.pushback import BusyAwareClient

    client = BusyAwareClient(InFlightGate(4), 0.0, None, base_url=url, verify=context, timeout=10.0)
    response, answer = client.send_chat(url + "/chat/completions", {"content-type": "application/json"},
                                        {"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    client.close()
    return client, answer


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_urllib3_leaves_the_shared_ssl_context_as_it_was(https_server):
    """The SSL context is shared with the httpx clients (pushback.shared_ssl_context): an https call by urllib3
    changes neither its verify_mode (CERT_NONE stays, CERT_REQUIRED stays) nor its hostname check."""
    import ssl

    server, cert = https_server
    checked = ssl.create_default_context(cafile=str(cert))
    unchecked = ssl.create_default_context()
    unchecked.check_hostname, unchecked.verify_mode = False, ssl.CERT_NONE
    for context in (checked, unchecked):
        before = (context.verify_mode, context.check_hostname)
        client, answer = _https_chat(server.url, context)
        assert client._wire is not None and answer["choices"][0]["message"]["content"] == "cat"
        assert (context.verify_mode, context.check_hostname) == before


def test_where_urllib3_would_turn_off_the_contexts_hostname_check_chat_calls_go_by_httpx(https_server, monkeypatch):
    """With an OpenSSL that urllib3 does not trust to check hostnames (before 1.1.1l), urllib3 sets
    check_hostname False on the context it is given: the shared one must not be given to it."""
    import ssl

    import urllib3

    server, cert = https_server
    monkeypatch.setattr(urllib3.util.ssl_, "HAS_NEVER_CHECK_COMMON_NAME", False)
    context = ssl.create_default_context(cafile=str(cert))
    client, answer = _https_chat(server.url, context)
    assert answer["choices"][0]["message"]["content"] == "cat"
    assert context.check_hostname  # still checks hostnames for the httpx clients sharing it
    assert client._wire is None  # httpx sent the call


@pytest.mark.parametrize("stream", ["chunks", "done"])
def test_an_event_stream_sent_for_stream_false_is_read_as_the_answer(stream):
    # servers that always stream (unsloth#6570), and routers that add `data: [DONE]` after the JSON (9router#3492)
    with Scripted(stream=stream) as server:
        reply = DirectChat(_chat(server.url)).invoke(CONVERSATIONS[1], logprobs=True, top_logprobs=5, max_tokens=1)
    assert reply.content == "cat" and reply.response_metadata["finish_reason"] == "stop"
    assert first_token_logprobs(reply) == [("cat", -0.1), ("dog", -2.5)]


def test_an_event_stream_is_read_on_the_openai_clients_own_path_too():
    # through the busy-aware client's `send` (ChatOpenAI's own call): the SDK had handed LangChain the stream's text
    with Scripted(stream="chunks") as server:
        assert _chat(server.url).invoke(CONVERSATIONS[1]).content == "cat"
