"""A loopback OpenAI-compatible server for tests: answers with the fake models' rules and records
every request, so tests can check what the endpoint backend sends (image blocks, schemas, models)."""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from langchain_core.messages import convert_to_messages

from fakes import FakeLLM, FakeVLM

REASONING = ("<think>\nOkay, the user wants a short answer about this. Let me read the whole request again "
             "carefully, weigh every option, and only then answer.\n</think>\n\n")
RAMBLE = " And there is more to say about it."


def first_token_logprobs(text: str, prompt: Any, top: int) -> dict[str, Any]:
    """OpenAI's logprobs block for an answer, by rule: its first word at log 0.9, then the first word of each
    other "- item" line of the prompt at log 0.02 (a server lists the likeliest tokens after the answer)."""
    answer = (text.split() or [""])[0]
    others = [w.split()[0] for w in re.findall(r"^- (.+)$", str(prompt), flags=re.MULTILINE) if w.split()]
    listed = [(answer, math.log(0.9))] + [(w, math.log(0.02)) for w in dict.fromkeys(others) if w != answer]
    entries = [{"token": t, "logprob": lp, "bytes": None} for t, lp in listed[:top]]
    return {"content": [{**entries[0], "top_logprobs": entries}]}


class FakeOpenAIServer:
    def __init__(self, models: tuple[str, ...] = ("vision-model", "text-model"), reject_modes: tuple[str, ...] = (),
                 llm: FakeLLM | None = None, fault: Callable[[dict[str, Any], int], str | None] | None = None,
                 latency: float = 0.0, capacity: int = 0, vlm: FakeVLM | None = None, think: str | None = None,
                 cap_field: str | None = None, ramble: int = 0, refuse: dict[str, str] | None = None,
                 context_chars: int = 0, no_images: bool = False, strict_models: bool = False):
        """`fault(body, n)` may name a failure for the n-th request: "429", "quota" (429 insufficient_quota),
        "500", "timeout", "malformed", "empty", "drop" (connection closed without an answer),
        "ignore-schema", "context" (400 maximum context length, about this request) or "401" (a refused
        key). `capacity` > 0: chat requests beyond that many at once get 429 (Retry-After 0.05),
        counted in `busy`, not in `requests`.

        Quirks of real servers (issue 17): `think` "always" puts a <think> block before every answer
        (DeepSeek-R1 class, or Ollama, which ignores chat_template_kwargs), "switchable" the same unless
        chat_template_kwargs.enable_thinking is false (Qwen3 on vLLM or llama.cpp). `cap_field`: the one
        token-cap field honoured ("max_tokens": Ollama, older llama.cpp; "max_completion_tokens"; None: none),
        a token being a whitespace-separated word. Stop sequences are always honoured. `ramble`: that many
        extra sentences after every answer. `refuse`: parameter -> message of a 400 (OpenAI style, naming
        it) for any request that carries it. `context_chars` > 0: a request whose messages are longer gets
        400 "maximum context length". `no_images`: a request with an image gets 500 "image input is not
        supported" (llama.cpp without its projector). `strict_models`: a name not listed (tags aside, as
        Ollama) gets 404 "model not found"; otherwise any name is answered (llama.cpp)."""
        self.models, self.reject_modes, self.fault, self.latency = models, set(reject_modes), fault, latency
        self.think, self.cap_field, self.ramble, self.refuse = think, cap_field, ramble, dict(refuse or {})
        self.context_chars, self.no_images, self.strict_models = context_chars, no_images, strict_models
        self.raw_bodies: dict[str, tuple[str, bytes]] = {}  # fault name -> a 200's (content type, body) as sent
        self.listing: tuple[str, ...] | None = None  # what /models lists when not `models` (an empty listing)
        self.capacity, self.in_flight, self.peak, self.busy = capacity, 0, 0, 0
        self.requests: list[dict[str, Any]] = []
        self.vlm, self.llm = vlm or FakeVLM(), llm or FakeLLM()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.endswith("/models"):
                    listing = server.models if server.listing is None else server.listing
                    self._send(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in listing]})
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server._lock:
                    full = 0 < server.capacity <= server.in_flight
                    server.busy += full
                    if not full:
                        server.in_flight += 1
                        server.peak = max(server.peak, server.in_flight)
                if full:
                    self._send(429, {"error": {"message": "server busy"}}, {"Retry-After": "0.05"})
                    return
                try:
                    self._answer(body)
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _answer(self, body: dict[str, Any]) -> None:
                with server._lock:
                    server.requests.append({"body": body, "auth": self.headers.get("Authorization")})
                    number = len(server.requests)
                fault = server.fault(body, number) if server.fault else None
                if server.latency:
                    time.sleep(server.latency)
                if fault == "429":
                    self.send_response(429)
                    self.send_header("Retry-After", "0")
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")
                elif fault == "quota":
                    self._send(429, {"error": {"message": "You exceeded your current quota",
                                               "type": "insufficient_quota", "code": "insufficient_quota"}})
                elif fault == "context":
                    self._send(400, {"error": {"message": "This model's maximum context length is 512 tokens. "
                                               "However, you requested 700 tokens. Please reduce the length of "
                                               "the messages.", "type": "invalid_request_error",
                                               "param": "messages", "code": "context_length_exceeded"}})
                elif fault == "401":
                    self._send(401, {"error": {"message": "Incorrect API key provided: sk-te***42.",
                                               "type": "invalid_request_error", "code": "invalid_api_key"}})
                elif fault == "500":
                    self._send(500, {"error": {"message": "internal error"}})
                elif fault == "timeout":
                    time.sleep(3)
                    self._send(*server.answer(body))
                elif fault == "malformed":
                    data = b'{"choices": [ this is not json'
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                elif fault in server.raw_bodies:  # a body byte for byte: (content type, bytes), status 200
                    kind, data = server.raw_bodies[fault]
                    self.send_response(200)
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                elif fault == "drop":
                    self.close_connection = True
                    self.connection.shutdown(2)
                else:
                    status, reply = server.answer(body)
                    if fault == "empty":
                        reply["choices"][0]["message"]["content"] = ""
                    elif fault == "ignore-schema":
                        reply["choices"][0]["message"]["content"] = "Well, I would say it is probably the red one."
                    self._send(status, reply)

        class QuietServer(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # clients that give up (timeouts, killed processes) are part of the tests

        self.httpd = QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def serves(self, model: str) -> bool:
        """Ollama's rule when strict: a name without a tag means its `:latest`; names are case-sensitive."""
        return not self.strict_models or (model if ":" in model else f"{model}:latest") in self.models or (
            model in self.models)

    def answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        def error(status: int, message: str, param: str | None = None) -> tuple[int, dict[str, Any]]:
            return status, {"error": {"message": message, "type": "invalid_request_error", "param": param}}

        for param, message in self.refuse.items():
            if param in body:
                return error(400, message, param)
        if not self.serves(body["model"]):  # a listing of name:tag ids is Ollama's, and so are its words
            ollama = any(":" in m for m in (self.listing or ()))
            return error(404, f'model "{body["model"]}" not found, try pulling it first' if ollama else
                         f"model '{body['model']}' not found")
        mode = (body.get("response_format") or {}).get("type", "text")
        if mode in self.reject_modes:
            return error(400, f"response_format {mode} is not supported")
        messages = convert_to_messages(body["messages"])
        has_image = any(not isinstance(m.content, str) and any(
            isinstance(b, dict) and b.get("type") == "image_url" for b in m.content) for m in messages)
        if has_image and self.no_images:
            return error(500, "image input is not supported - hint: if this is unexpected, you may need to "
                              "provide the mmproj")
        if self.context_chars and len(json.dumps(body["messages"])) > self.context_chars:
            return error(400, f"This model's maximum context length is {self.context_chars // 4} tokens. However, "
                              f"your messages resulted in {len(json.dumps(body['messages'])) // 4} tokens. "
                              "Please reduce the length of the messages.", "messages")
        text = (self.vlm if has_image else self.llm).respond(messages)
        if mode == "json_schema" and "category" in json.dumps(body["response_format"]) and not text.startswith("{"):
            text = json.dumps({"category": text})
        thinking = self.think == "always" or (
            self.think == "switchable" and (body.get("chat_template_kwargs") or {}).get("enable_thinking") is not False)
        text = (REASONING if thinking else "") + text + RAMBLE * self.ramble
        finish = "stop"
        for stop in body.get("stop") or []:
            text = text.split(stop)[0]
        cap = body.get(self.cap_field) if self.cap_field else None
        words = list(re.finditer(r"\S+", text))
        if cap is not None and len(words) > cap:
            text, finish = text[:words[cap - 1].end()], "length"
        choice: dict[str, Any] = {"index": 0, "finish_reason": finish, "message": {"role": "assistant", "content": text}}
        used = max(1, len(re.findall(r"\S+", text)))  # a word a token, as the cap above counts them
        if body.get("logprobs"):
            choice["logprobs"] = first_token_logprobs(text, messages[-1].content, body.get("top_logprobs") or 1)
        return 200, {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                     "choices": [choice],
                     "usage": {"prompt_tokens": 1, "completion_tokens": used, "total_tokens": 1 + used}}

    def __enter__(self) -> FakeOpenAIServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
