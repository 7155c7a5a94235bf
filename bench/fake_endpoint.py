"""A loopback OpenAI-compatible endpoint for benchmarks: a fixed latency per call and a capacity (calls
served at once); beyond it, 429 with Retry-After, as a saturated vLLM or OpenAI would answer.
Answers follow simple rules so that the pipeline has real work to do; they are not a model."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

WORDS = ["cat", "dog", "truck", "ship", "horse", "bird", "frog", "plane", "car", "deer"]


def _find(pattern: str, text: str) -> str:
    """The first group of pattern in text; a request the rules do not expect is a bench bug (500)."""
    match = re.search(pattern, text)
    if match is None:
        raise ValueError(f"no {pattern!r} in the request")
    return match.group(1)


class BenchEndpoint:
    def __init__(self, latency: float = 0.2, capacity: int = 64):
        self.latency, self.capacity = latency, capacity
        self.calls = self.rejected = self.in_flight = self.peak = 0
        self.bodies: set[bytes] = set()  # digests of the requests answered: a call made again repeats one
        self._lock = threading.Lock()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                for key, value in {"Content-Type": "application/json", "Content-Length": str(len(data)), **(headers or {})}.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.endswith("/stats"):
                    self._send(200, {"calls": endpoint.calls, "rejected": endpoint.rejected, "peak": endpoint.peak,
                                     "distinct": len(endpoint.bodies)})
                    return
                if self.path.endswith("/reset-peak"):
                    endpoint.peak = 0
                self._send(200, {"data": [{"id": "bench-vlm"}, {"id": "bench-llm"}]})

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                body = json.loads(raw)
                with endpoint._lock:
                    if endpoint.in_flight >= endpoint.capacity:
                        endpoint.rejected += 1
                        busy = True
                    else:
                        busy = False
                        endpoint.in_flight += 1
                        endpoint.peak = max(endpoint.peak, endpoint.in_flight)
                if busy:
                    self._send(429, {"error": {"message": "server busy"}}, {"Retry-After": "0.05"})
                    return
                try:
                    time.sleep(endpoint.latency)
                    text = endpoint.answer(body)
                except Exception as exc:  # a rule that does not fit is a bench bug: say so, answer 500
                    print(f"bench endpoint: {type(exc).__name__}: {exc}", flush=True)
                    self._send(500, {"error": {"message": str(exc)}})
                    return
                finally:
                    digest = hashlib.blake2b(raw, digest_size=16).digest()
                    with endpoint._lock:
                        endpoint.in_flight -= 1
                        endpoint.calls += 1
                        endpoint.bodies.add(digest)
                self._send(200, {"id": "b", "object": "chat.completion", "created": 0, "model": body["model"],
                                 "choices": [{"index": 0, "finish_reason": "stop",
                                              "message": {"role": "assistant", "content": text}}],
                                 "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 512

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    @staticmethod
    def answer(body: dict[str, Any]) -> str:
        messages = body["messages"]
        last = messages[-1]["content"]
        if isinstance(last, list):  # Step 1: the word is picked from the image bytes
            image = next(p["image_url"]["url"] for p in last if p.get("type") == "image_url")
            digest = hashlib.sha256(image.encode()).hexdigest()
            word = WORDS[int(digest, 16) % len(WORDS)]
            # each image's own description, as a real VLM gives: Steps 2a and 3 then make one call per
            # image, as in a real run, rather than one per repeated prompt
            return f"A small photo of a {word} (view {digest[:8]}), seen from the side, in plain daylight."
        system = messages[0]["content"]
        if "short labels" in system:
            return _find(r"photo of a (\w+)", last)
        if "organise labels" in system:  # also answers re-asks, from the first request's text
            first = messages[1]["content"]
            k = int(_find(r"exactly (\d+) category names", first))
            labels = re.findall(r"^- ([\w ]+): \d+$", first, re.MULTILINE)
            return json.dumps({"names": (labels + [f"other {i}" for i in range(k)])[:k]})
        names = re.findall(r"^- (.+)$", last, re.MULTILINE)
        description = _find(r"Image description: (.*)", last)
        return json.dumps({"category": next((n for n in names if n in description), names[0])})

    def __enter__(self) -> BenchEndpoint:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def endpoint_settings(concurrency: int, **urls_and_more: Any):
    """ictc settings whose models are this endpoint's: pass base_url, or vlm_base_url and llm_base_url."""
    from ictc.core.settings import load_settings

    return load_settings({"backend": "openai", "vlm": "bench-vlm", "llm": "bench-llm", "concurrency": concurrency,
                          **urls_and_more}, env_file=None)


class EndpointProcess:
    """The endpoint in a process of its own, so that its work does not compete with the client's GIL."""

    def __init__(self, latency: float = 0.2, capacity: int = 64):
        self.args = [str(latency), str(capacity)]

    def __enter__(self) -> EndpointProcess:
        import subprocess
        import sys

        self.process = subprocess.Popen([sys.executable, "-m", "bench.fake_endpoint", *self.args],
                                        stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None  # stdout=PIPE
        self.url = self.process.stdout.readline().strip()
        return self

    def stats(self) -> dict[str, int]:
        import urllib.request

        with urllib.request.urlopen(self.url + "/stats") as response:
            return json.loads(response.read())

    def reset_peak(self) -> None:
        import urllib.request

        urllib.request.urlopen(self.url + "/reset-peak").read()

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(10)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="A loopback OpenAI-compatible endpoint for the benches: prints its URL.")
    parser.add_argument("latency", type=float, help="seconds per call")
    parser.add_argument("capacity", type=int, help="calls in flight before it answers 429")
    args = parser.parse_args()
    server = BenchEndpoint(args.latency, args.capacity)
    print(server.url, flush=True)
    server.httpd.serve_forever()
