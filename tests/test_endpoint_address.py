"""The start-up check (models/factory._check_endpoint) on a wrong address: a base URL without /v1, and https with
a certificate Python does not trust; each said as what it is, with the way out that works."""

from __future__ import annotations

import json
import ssl
import threading
import urllib.error
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ictc.core.errors import ModelUnavailableError
from ictc.models import factory


@pytest.fixture
def only_under_v1() -> Iterator[tuple[str, list[str]]]:
    """A server (Ollama-like) that serves /v1/models only and answers 404 text elsewhere; its root URL and the paths
    asked."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self) -> None:
            asked.append(self.path)
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            ok = self.path == "/v1/models"
            data = json.dumps({"data": [{"id": "m"}]}).encode() if ok else b"404 page not found"
            self.send_response(200 if ok else 404)
            self.send_header("Content-Type", "application/json" if ok else "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", asked
    httpd.shutdown()
    httpd.server_close()


def test_a_base_url_without_v1_is_said_to_be_the_wrong_path_with_the_v1_url(only_under_v1):
    root, asked = only_under_v1
    with pytest.raises(ModelUnavailableError) as caught:
        factory._check_endpoint("vlm", "m", root, "", 5)
    said = str(caught.value)
    assert "answers 404 Not Found at /models and /chat/completions" in said
    assert said.endswith(f"To fix: give --base-url {root}/v1 (its /v1/models answers: the API is under /v1).")
    assert "a name the server serves" not in said and asked == ["/models", "/chat/completions", "/v1/models"]
    factory._check_endpoint("vlm", "m", root + "/v1", "", 5)  # the URL it names is taken


def test_a_path_where_nothing_answers_even_with_v1_gets_the_advice_not_a_guess(only_under_v1):
    root, _ = only_under_v1
    with pytest.raises(ModelUnavailableError, match=r"under /v1: .*/api/v1\)\.$") as caught:
        factory._check_endpoint("llm", "m", root + "/api", "", 5)
    assert "its /v1/models answers" not in str(caught.value)


def test_an_untrusted_certificate_names_ssl_cert_file(monkeypatch):
    def refuse(*args: Any, **kwargs: Any) -> tuple[int, bytes]:
        error = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
                                                "self-signed certificate (_ssl.c:1006)")
        raise urllib.error.URLError(error)

    monkeypatch.setattr(factory, "_request", refuse)
    with pytest.raises(ModelUnavailableError) as caught:
        factory._check_endpoint("vlm", "m", "https://10.0.0.5/v1", "", 5)
    said = str(caught.value)
    assert "CERTIFICATE_VERIFY_FAILED" in said and "SSL_CERT_FILE=path/to/cert.pem" in said
    assert "check --base-url" not in said  # the address is right: the way out is trusting the certificate
