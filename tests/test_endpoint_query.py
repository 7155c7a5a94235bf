"""A base URL with a query string (an Azure deployment URL's `?api-version=...`, a gateway's `?key=...`), a sixth
break-it round's k37: the query had been glued into the path (/v1?api-version=2024-10-21/chat/completions) and the
404 advice appended /v1 after it. The query now goes on every request, after the endpoint's path."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ictc.cli import main
from ictc.core.errors import ModelUnavailableError
from ictc.models import factory

from fake_server import FakeOpenAIServer

QUERY = "api-version=2024-10-21"


@pytest.fixture
def azure_like() -> Iterator[tuple[str, list[str]]]:
    """A server (the fake models behind a front) that answers only requests carrying QUERY, 404 "Resource not found"
    otherwise, as Azure does; its /v1 URL and the paths asked."""
    asked: list[str] = []
    with FakeOpenAIServer() as inner:
        class Front(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                asked.append(self.path)
                data = self.rfile.read(int(self.headers.get("Content-Length") or 0)) or None
                path, _, query = self.path.partition("?")
                status, body = 404, b'{"error": {"code": "404", "message": "Resource not found"}}'
                if query == QUERY and path.startswith("/v1/"):
                    request = urllib.request.Request(inner.url + path[len("/v1"):], data=data,
                                                     headers={"Content-Type": "application/json"})
                    try:
                        with urllib.request.urlopen(request, timeout=10) as answer:
                            status, body = answer.status, answer.read()
                    except urllib.error.HTTPError as exc:
                        status, body = exc.code, exc.read()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Front)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", asked
        httpd.shutdown()
        httpd.server_close()


def test_the_base_url_s_query_goes_on_every_request_after_the_path(azure_like, colour_images, tmp_path, monkeypatch):
    monkeypatch.setenv("ICTC_REQUEST_TIMEOUT", "5")
    monkeypatch.setenv("ICTC_MAX_RETRIES", "1")
    url, asked = azure_like
    images, out = Path(colour_images[0][0]).parent, tmp_path / "out"
    assert main(["run", str(images), "-c", "colour", "-k", "3", "--out", str(out), "--backend", "openai",
                 "--base-url", f"{url}?{QUERY}", "--vlm", "vision-model", "--llm", "text-model",
                 "--concurrency", "1"]) == 0
    assert len(json.loads((out / "results.json").read_text())["clusters"]) == 3
    assert {path.partition("?")[0] for path in asked} == {"/v1/models", "/v1/chat/completions"}
    assert all(path.endswith(f"?{QUERY}") for path in asked)


def test_the_404_advice_puts_v1_before_the_query(azure_like):
    url, _ = azure_like
    root = url[:-len("/v1")]
    with pytest.raises(ModelUnavailableError) as caught:
        factory._check_endpoint("vlm", "m", f"{root}?{QUERY}", "", 5)
    assert str(caught.value).endswith(f"To fix: give --base-url {root}/v1?{QUERY} (its /v1/models answers: the API is "
                                      "under /v1).")
