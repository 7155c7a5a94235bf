"""Several endpoints per role (models/replicas.py): calls spread over the replicas, one gate per server,
and a replica that goes down or is busy does not fail an image."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from ictc.cli import main
from ictc.core.settings import Settings, load_settings
from ictc.models.factory import load_models
from ictc.models.pushback import InFlightGate
from ictc.models.replicas import DOWN_AFTER, ReplicaClient, Server
from ictc.models.wire import http_package

from fake_server import FakeOpenAIServer


@pytest.fixture(autouse=True)
def quick_client(monkeypatch):
    monkeypatch.setenv("ICTC_REQUEST_TIMEOUT", "2")
    monkeypatch.setenv("ICTC_MAX_RETRIES", "1")



def _run(folder: Path, out: Path, *url_flags: str, concurrency: int = 4) -> int:
    return main(["run", str(folder), "-c", "colour", "-k", "2", "--out", str(out), "--backend", "openai",
                 *url_flags, "--vlm", "vision-model", "--llm", "text-model", "--concurrency", str(concurrency)])


def _summary(out: Path) -> dict:
    return json.loads((out / "results.json").read_text())["summary"]


def test_urls_come_as_repeated_flags_a_comma_list_or_an_environment_list(monkeypatch):
    from ictc.cli.parser import build_parser

    args = build_parser().parse_args(["run", "x", "-k", "2", "--base-url", "http://a/v1",
                                      "--base-url", "http://b/v1,http://c/v1"])
    assert Settings(base_url=args.base_url).base_url == ["http://a/v1", "http://b/v1", "http://c/v1"]
    monkeypatch.setenv("ICTC_LLM_BASE_URL", " http://a/v1 , http://b/v1,,http://a/v1")
    assert load_settings(env_file=None).llm_base_url == ["http://a/v1", "http://b/v1"]  # blanks, repeats dropped
    # one server written twice is one replica (one busy gate), not two
    assert Settings(base_url=["http://a:8000/v1", "http://a:8000/v1/", "HTTP://A:8000/v1"]).base_url == ["http://a:8000/v1"]
    assert Settings(base_url="http://old-run/v1").base_url == ["http://old-run/v1"]  # a run saved with one URL


def test_calls_spread_over_two_replicas_and_every_image_is_clustered(folder, tmp_path):
    with FakeOpenAIServer(latency=0.05) as a, FakeOpenAIServer(latency=0.05) as b:
        assert _run(folder, tmp_path / "run", "--base-url", a.url, "--base-url", b.url) == 0
    assert _summary(tmp_path / "run")["failed"] == 0
    calls = len(a.requests) + len(b.requests)
    assert calls >= 8 * 3  # Steps 1, 2a and 3 for 8 images (plus 2b)
    # 4 in flight over two idle replicas: least-in-flight keeps both busy, neither gets < 1/4 of the calls
    assert min(len(a.requests), len(b.requests)) >= calls / 4


def test_replicas_serving_both_roles_share_one_gate_per_server(tmp_path):
    with FakeOpenAIServer() as a, FakeOpenAIServer() as b:
        settings = Settings(backend="openai", base_url=[a.url, b.url], vlm="vision-model", llm="text-model",
                            concurrency=6, workspace=str(tmp_path))
        models = load_models(settings)
        vlm_client, llm_client = models.vlm.chat.http_client, models.llm.chat.http_client
        assert vlm_client is not llm_client
        assert [s.gate for s in vlm_client.servers] == [s.gate for s in llm_client.servers]
        assert vlm_client.servers[0].gate is not vlm_client.servers[1].gate
        assert vlm_client.servers[0].gate.ceiling == 6


def test_a_replica_that_goes_down_mid_run_fails_no_image(folder, tmp_path, caplog):
    with FakeOpenAIServer(latency=0.02) as a, FakeOpenAIServer(latency=0.02) as b:
        def go_down(body, n):
            if n == 3:  # b answers two calls, then its process is gone: connections refused from now on
                threading.Thread(target=lambda: (b.httpd.shutdown(), b.httpd.server_close())).start()
                return "drop"
            return None
        b.fault = go_down
        assert _run(folder, tmp_path / "run", "--base-url", f"{a.url},{b.url}") == 0
    assert _summary(tmp_path / "run") == {"images": 8, "clustered": 8, "failed": 0, "unfinished": 0, "skipped": 0}  # labels.csv is the folder's labels, not skipped
    # b dropped its 3rd call and closed (a call or two may still reach it while it stops); a answered
    # the rest, that 3rd call included: 8 x 3 + Step 2b answers in all
    assert len(b.requests) >= 3 and len(a.requests) + len(b.requests) - 1 >= 8 * 3 + 1
    assert any("unreachable" in r.getMessage() for r in caplog.records)  # passed over, not retried there


def test_a_busy_replica_passes_its_calls_to_the_other_and_fails_no_image(folder, tmp_path):
    # b takes one call at a time and answers 429 beyond it; a takes everything
    with FakeOpenAIServer(latency=0.05) as a, FakeOpenAIServer(latency=0.05, capacity=1) as b:
        assert _run(folder, tmp_path / "run", "--base-url", a.url, "--base-url", b.url, concurrency=6) == 0
    assert _summary(tmp_path / "run")["failed"] == 0
    assert b.busy > 0 and len(a.requests) > len(b.requests)
    assert b.peak == 1


def test_a_run_resumes_against_replicas_when_saved_with_one_url(folder, tmp_path):
    out = tmp_path / "run"
    with FakeOpenAIServer() as a:
        assert _run(folder, out, "--base-url", a.url) == 0
    data = json.loads((out / "run.json").read_text())
    assert data["settings"]["base_url"] == [a.url]  # saved as a list
    with FakeOpenAIServer() as c, FakeOpenAIServer() as d:
        data["settings"]["base_url"] = f"{c.url},{d.url}"  # edited by hand as a comma list
        (out / "run.json").write_text(json.dumps(data))
        assert main(["resume", str(out)]) == 0


def test_a_replica_that_answers_500_to_everything_fails_no_image(folder, tmp_path, monkeypatch):
    # vLLM whose engine died answers 500 to every call (a proxy before a dead replica, 502): it looks idle, so
    # the calls and their retries had gone back to it and half the images failed. No retry here: every call
    # b answers must be taken by a at once
    monkeypatch.setenv("ICTC_MAX_RETRIES", "0")
    with FakeOpenAIServer() as a, FakeOpenAIServer(fault=lambda body, n: "500") as b:
        assert _run(folder, tmp_path / "run", "--base-url", a.url, "--base-url", b.url, concurrency=1) == 0
    assert _summary(tmp_path / "run")["failed"] == 0
    assert 1 <= len(b.requests) <= DOWN_AFTER  # tried, then passed over after DOWN_AFTER failures in a row


@pytest.mark.parametrize("fault", ["timeout", "500"])
def test_a_hung_or_failing_replica_hands_each_call_to_another_and_is_passed_over(fault):
    asked, http = {"a": 0, "b": 0}, http_package()  # the httpx package the client is made of

    def answer(request: Any) -> Any:
        asked[request.url.host] += 1
        if request.url.host == "b" and fault == "timeout":  # a replica that accepts calls and never answers
            raise http.ReadTimeout("timed out", request=request)
        return http.Response(500 if request.url.host == "b" else 200, json={"ok": request.url.host})

    servers = [Server("http://a/v1", InFlightGate(4)), Server("http://b/v1", InFlightGate(4))]
    client = ReplicaClient(servers, patience=0, transport=http.MockTransport(answer))
    answers = [client.send(client.build_request("POST", "http://a/v1/chat/completions", json={})) for _ in range(8)]
    assert [r.status_code for r in answers] == [200] * 8
    assert asked["b"] == DOWN_AFTER and asked["a"] == 8  # b: tried until marked down, each of its calls sent to a


def test_resume_base_url_replaces_the_run_s_per_role_urls_and_takes_a_concurrency(folder, tmp_path):
    out = tmp_path / "run"
    with FakeOpenAIServer() as a:
        assert _run(folder, out, "--vlm-base-url", a.url, "--llm-base-url", a.url) == 0
    with FakeOpenAIServer() as c:  # the models moved: --base-url is "the endpoint for both models"
        assert main(["resume", str(out), "--base-url", c.url]) == 0  # had still gone to a's URLs: "cannot reach"
        assert main(["resume", str(out), "--concurrency", "3"]) == 0  # more replicas want more calls in flight
        assert main(["resume", str(out), "--concurrency", "0"]) == 1  # refused, not passed over
    saved = json.loads((out / "run.json").read_text())["settings"]
    assert (saved["base_url"], saved["vlm_base_url"], saved["llm_base_url"]) == ([c.url], [], [])
    assert saved["concurrency"] == 3


def test_an_empty_base_url_is_refused_not_taken_for_api_openai_com(folder, tmp_path, capsys):
    # `--base-url "$URL"` with URL unset: the default (api.openai.com, with the key in the environment) had been used
    with pytest.raises(SystemExit) as stop:
        _run(folder, tmp_path / "run", "--base-url", "")
    assert stop.value.code == 1 and "--base-url: '' holds no URL" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_a_replica_down_at_start_is_named_with_the_way_on_without_it(folder, tmp_path, capsys):
    with FakeOpenAIServer() as a:
        assert _run(folder, tmp_path / "run", "--base-url", a.url, "--base-url", "http://127.0.0.1:9/v1") == 3
    err = capsys.readouterr().err  # had said only "check --base-url / OPENAI_BASE_URL and that the server is running"
    assert "cannot reach http://127.0.0.1:9/v1" in err and f"leave that replica out: --base-url {a.url} " in err


def test_every_replica_down_at_start_is_named_with_no_way_on_through_another(folder, tmp_path, capsys):
    assert _run(folder, tmp_path / "run", "--base-url", "http://127.0.0.1:9/v1", "--base-url", "http://127.0.0.1:19/v1") == 3
    err = capsys.readouterr().err  # had named :9 alone and said "leave that replica out: --base-url ...:19", down too
    assert "cannot reach any of its 2 replicas: http://127.0.0.1:9/v1: " in err and "; http://127.0.0.1:19/v1: " in err
    assert "leave that replica out" not in err and len(err.strip().splitlines()) == 1
    with FakeOpenAIServer() as a:
        assert _run(folder, tmp_path / "run", "--base-url", "http://127.0.0.1:9/v1", "--base-url", a.url,
                    "--base-url", "http://127.0.0.1:19/v1") == 3
    err = capsys.readouterr().err  # two of three down: both named, the way on is the one that answers
    assert "http://127.0.0.1:9/v1: " in err and "http://127.0.0.1:19/v1: " in err
    assert f"leave those replicas out: --base-url {a.url} " in err


def test_every_replica_down_mid_run_is_named_in_the_stop():
    # with every replica down the stop had named only the replica tried last ("the LLM server at http://b")
    import openai

    from ictc.nodes.watch import diagnose

    http = http_package()

    def refuse(request: Any) -> Any:
        raise http.ConnectError("Connection refused", request=request)

    servers = [Server("http://a:8000/v1", InFlightGate(4)), Server("http://b:8000/v1", InFlightGate(4))]
    client = ReplicaClient(servers, patience=0, transport=http.MockTransport(refuse))
    with pytest.raises(http.ConnectError) as refused:
        client.send(client.build_request("POST", "http://a:8000/v1/chat/completions", json={}))
    try:  # as the openai client wraps it (models/direct_chat.py)
        raise openai.APIConnectionError(request=refused.value.request) from refused.value
    except openai.APIConnectionError as exc:
        cause, fix = diagnose(exc, "LLM", "text-model")
    assert "the LLM servers at http://a:8000 and http://b:8000 could not be reached" in cause, cause
    assert fix == "start the servers or correct --base-url"


def test_one_machine_port_named_two_ways_is_said_once_at_start(caplog):
    # localhost and 127.0.0.1 had been two replicas with a gate each, unsaid: one server got twice the calls in flight
    from ictc.models.replicas import ServerRegistry, loopback_twins

    registry = ServerRegistry(4)
    urls = ["http://localhost:8000/v1", "http://127.0.0.1:8000/v1/", "http://127.0.0.1:8001/v1"]
    for _ in ("vlm", "llm"):  # both roles on the same replicas: said once
        assert len(registry.get(urls)) == 3  # still replicas each (localhost may be ::1: another server)
    said = [r.getMessage() for r in caplog.records if "same port of this machine" in r.getMessage()]
    assert said == ["--base-url http://localhost:8000/v1 and http://127.0.0.1:8000/v1/ name the same port of this "
                    "machine: they are taken as 2 replicas with 4 calls in flight each; if they are one server, give "
                    "one of them (it gets 8 calls at once otherwise)"]
    assert loopback_twins(["http://localhost:8000/v1", "http://127.0.0.1:8001/v1", "http://10.0.0.5:8000/v1"], 4) == ""
    assert loopback_twins(["http://localhost/v1", "http://127.0.0.1:80/v1"], 2)  # the scheme's own port
