"""A sixth break-it round's answer bodies and shapes (issue 17, kinds6 k08, k12, k26a, k27, k28, k34): a 2xx body that
is empty, a JSON value that is no object, an HTML sign-in page or in a declared charset other than UTF-8, and answers
in the chunk shape, with choices out of order or with a JSON object as content, each from the loopback fake server."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ictc.models.answers import normalize_answer
from ictc.models.bodies import as_utf8, declared_charset

from endpoint_cli import results_of, run_on
from fake_server import FakeOpenAIServer


@pytest.fixture(autouse=True)
def quick_client(monkeypatch):
    monkeypatch.setenv("ICTC_REQUEST_TIMEOUT", "5")
    monkeypatch.setenv("ICTC_MAX_RETRIES", "2")



def vlm_calls(server: FakeOpenAIServer) -> int:
    return sum(r["body"]["model"] == "vision-model" for r in server.requests)


@pytest.mark.parametrize(("kind", "data"), [
    ("application/json", b""),  # a buffering proxy's glitch (k27)
    ("application/json", b"null"),  # k34
    ("application/json", b"[]"),
    ("application/json", b'"ok"'),
])
def test_an_empty_or_non_object_200_body_is_retried_as_a_server_fault(kind, data, folder, tmp_path):
    """k27 had failed images "JSONDecodeError: Expecting value", not retried; k34 had crashed the run (exit 2,
    AttributeError 'NoneType' object has no attribute 'get')."""
    with FakeOpenAIServer(fault=lambda body, n: "odd" if n in (1, 4) else None) as server:
        server.raw_bodies["odd"] = (kind, data)
        assert run_on(server, folder, tmp_path / "run") == 0
        assert vlm_calls(server) == 8 + 2  # each glitch retried once
    assert results_of(tmp_path / "run")["summary"]["failed"] == 0


def test_an_empty_body_on_every_attempt_fails_the_image_saying_so(folder, tmp_path):
    with FakeOpenAIServer(fault=lambda body, n: "odd" if n <= 3 else None) as server:
        server.raw_bodies["odd"] = ("application/json", b"")
        assert run_on(server, folder, tmp_path / "run") == 4
    failed = [r for r in results_of(tmp_path / "run")["images"] if r["status"] == "failed"]
    assert len(failed) == 1 and "an empty body" in failed[0]["reason"]
    assert "JSONDecodeError" not in failed[0]["reason"]


def test_a_broken_json_body_is_retried(folder, tmp_path):
    """A body cut off on its way ('{"choices": [ this is not json', 200) had failed its image at once as
    "JSONDecodeError: Expecting value", with no retry."""
    with FakeOpenAIServer(fault=lambda body, n: "malformed" if n == 1 else None) as server:
        assert run_on(server, folder, tmp_path / "run") == 0
        assert vlm_calls(server) == 8 + 1
    assert results_of(tmp_path / "run")["summary"]["failed"] == 0


def test_a_broken_json_body_on_every_attempt_fails_the_image_naming_what_came(folder, tmp_path):
    with FakeOpenAIServer(fault=lambda body, n: "malformed" if n <= 3 else None) as server:
        assert run_on(server, folder, tmp_path / "run") == 4
    failed = [r for r in results_of(tmp_path / "run")["images"] if r["status"] == "failed"]
    assert len(failed) == 1 and "broken JSON ('{\"choices\": [ this is not json')" in failed[0]["reason"]
    assert "JSONDecodeError" not in failed[0]["reason"]


def test_an_html_sign_in_page_stops_the_run_naming_the_page(folder, tmp_path, capsys):
    """k08: "Expecting value: line 1 column 1 (char 0). To fix: fix the server"; the HTML page was never named."""
    page = ("<!DOCTYPE html><html><head><title>Sign in – Okta</title></head><body><h1>Sign in</h1>"
            "<form></form></body></html>").encode()
    with FakeOpenAIServer(fault=lambda body, n: "page") as server:
        server.raw_bodies["page"] = ("text/html; charset=utf-8", page)
        assert run_on(server, folder, tmp_path / "run") == 3
        assert vlm_calls(server) == 3  # not retried: the same page would come again
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "an HTML page 'Sign in – Okta' instead of JSON" in err and "login or proxy" in err
    assert "Expecting value" not in err and "HTTP 400" not in err and "--base-url the model server" in err


def test_an_html_sign_in_page_at_the_models_probe_is_said_there_in_the_same_line(folder, tmp_path, capsys):
    """The check at start took a sign-in page on /models and the probe as an answer: the run started, and its first
    three calls stopped it. Said at the check now, as the steps say it, before any work."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from ictc.cli import main

    page = ("<!DOCTYPE html><html><head><title>Sign in – Okta</title></head><body><h1>Sign in</h1>"
            "<form></form></body></html>").encode()
    asked: list[str] = []

    class SignIn(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _page(self) -> None:
            asked.append(f"{self.command} {self.path}")
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        do_GET = do_POST = _page

    gate = ThreadingHTTPServer(("127.0.0.1", 0), SignIn)
    threading.Thread(target=gate.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{gate.server_address[1]}/v1"
    try:
        code = main(["run", str(folder), "-c", "colour", "-k", "3", "--out", str(tmp_path / "run"), "--backend", "openai",
                     "--base-url", url, "--vlm", "vision-model", "--llm", "text-model"])
    finally:
        gate.shutdown()
        gate.server_close()
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 3 and len(err) == 1, err
    assert f"is not available ({url}: the server answered with an HTML page 'Sign in – Okta' instead of JSON: a login " \
           "or proxy in front of it)" in err[0] and "--base-url the model server's own address" in err[0]
    assert asked == ["GET /v1/models", "POST /v1/chat/completions"]  # the probe, then no step's call
    assert not (tmp_path / "run" / "run.json").exists()


def test_a_body_in_a_declared_latin_1_charset_is_read_in_it(folder, tmp_path):
    """k26a: descriptions had been stored with U+FFFD for each accented letter."""
    said = "A plain square filled with red. Très net, café crème."
    answer = {"id": "x", "object": "chat.completion", "model": "vision-model",
              "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": said}}]}
    with FakeOpenAIServer(fault=lambda body, n: "latin" if n == 1 else None) as server:
        server.raw_bodies["latin"] = ("application/json; charset=ISO-8859-1",
                                      json.dumps(answer, ensure_ascii=False).encode("latin-1"))
        run_on(server, folder, tmp_path / "run")
    assert said in [r["description"] for r in results_of(tmp_path / "run")["images"]]


def test_declared_charsets():
    assert declared_charset("application/json; charset=ISO-8859-1") == "iso8859-1"
    assert declared_charset("application/json; charset=utf-8") == declared_charset("application/json") == ""
    assert declared_charset("application/json; charset=nonsense") == ""
    assert as_utf8("café".encode("cp1252"), "text/json;charset=windows-1252") == "café".encode()


def _answer(*choices: dict[str, Any]) -> dict[str, Any]:
    return {"choices": list(choices)}


def test_the_chunk_shape_is_read_as_the_message():
    """k12a: a non-streamed answer in `choices[0].delta` had been read as an empty description."""
    answer = _answer({"index": 0, "delta": {"role": "assistant", "content": "A red square."}, "finish_reason": "stop"})
    normalize_answer(answer)
    assert answer["choices"][0]["message"]["content"] == "A red square."


def test_the_choice_of_index_0_is_read_first():
    """k28: choices listed [index 1, index 0] had every image read from choice 1."""
    answer = _answer({"index": 1, "message": {"content": "unclear"}}, {"index": 0, "message": {"content": "red"}})
    normalize_answer(answer)
    assert answer["choices"][0]["message"]["content"] == "red"
    unindexed = _answer({"message": {"content": "first"}}, {"message": {"content": "second"}})
    normalize_answer(unindexed)
    assert unindexed["choices"][0]["message"]["content"] == "first"


def test_a_json_object_content_is_the_json_answer():
    """k12b: {"cluster_names": [...]} as content had been read as "" (names from the fallback, silently)."""
    answer = _answer({"index": 0, "message": {"content": {"cluster_names": ["Red", "Green"]}}})
    normalize_answer(answer)
    assert json.loads(answer["choices"][0]["message"]["content"]) == {"cluster_names": ["Red", "Green"]}
    part = _answer({"index": 0, "message": {"content": {"type": "text", "text": "red"}}})
    normalize_answer(part)
    assert part["choices"][0]["message"]["content"] == "red"


def test_choices_out_of_order_cluster_right_end_to_end(folder, tmp_path):
    class Reordered(FakeOpenAIServer):
        def answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
            status, reply = super().answer(body)
            if status == 200:
                reply["choices"] = [{"index": 1, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": "unclear"}}, *reply["choices"]]
            return status, reply

    with Reordered() as server:
        assert run_on(server, folder, tmp_path / "run") == 0
    clusters = {r["cluster"].lower() for r in results_of(tmp_path / "run")["images"]}
    assert clusters == {"red", "green", "blue"}
