"""Endpoint faults: bounded retries, failures recorded with their reason (never as a result), and
`ictc resume` retrying only the failed images."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ictc.cli import main

from fake_server import FakeOpenAIServer


@pytest.fixture(autouse=True)
def quick_client(monkeypatch):
    monkeypatch.setenv("ICTC_REQUEST_TIMEOUT", "1")
    monkeypatch.setenv("ICTC_MAX_RETRIES", "2")


def _run(server, folder: Path, out: Path) -> int:
    return main(["run", str(folder), "-c", "colour", "-k", "2", "--out", str(out), "--backend", "openai",
                 "--base-url", server.url, "--vlm", "vision-model", "--llm", "text-model", "--concurrency", "1"])


def _first_vlm_requests(fault: str, count: int):
    """The fault for the first `count` requests (with concurrency 1: the first image's attempts)."""
    return lambda body, n: fault if body["model"] == "vision-model" and n <= count else None


def _results(out: Path) -> dict:
    return json.loads((out / "results.json").read_text())



@pytest.mark.parametrize(("fault", "reason", "patience"), [
    ("500", "OpenAIAPIError: Error code: 500", None),
    ("timeout", "OpenAITimeoutError: Request timed out", None),
    ("drop", "OpenAIConnectionError: Connection error", None),
    ("429", "OpenAIRateLimitError: Error code: 429", "0"),  # not waited out: retried like the others
])
def test_persistent_fault_fails_one_image_after_bounded_retries_then_resume_retries_only_it(
        fault, reason, patience, folder, tmp_path, capsys, monkeypatch):
    if patience is not None:
        monkeypatch.setenv("ICTC_BUSY_PATIENCE", patience)
    out = tmp_path / "run"
    with FakeOpenAIServer(fault=_first_vlm_requests(fault, 3)) as server:
        assert _run(server, folder, out) == 4  # finished, with failures
        vlm = [r for r in server.requests if r["body"]["model"] == "vision-model"]
        assert len(vlm) == 8 + 2  # one image tried 3 times (2 retries), the others once
    err = capsys.readouterr().out
    failed = [r for r in _results(out)["images"] if r["status"] == "failed"]
    assert len(failed) == 1 and reason in failed[0]["reason"] and failed[0]["image"] in err
    assert failed[0]["description"] == failed[0]["raw_label"] == failed[0]["cluster"] == ""
    data = json.loads((out / "run.json").read_text())
    with FakeOpenAIServer() as healthy:  # the endpoint recovered (a new port: point the run at it)
        data["settings"]["base_url"] = healthy.url
        (out / "run.json").write_text(json.dumps(data))
        assert main(["resume", str(out)]) == 0
        vlm = [r for r in healthy.requests if r["body"]["model"] == "vision-model"]
    assert len(vlm) == 1  # only the failed image
    # the labels.csv beside the images is the folder's labels, not a skipped file (issue 17 case 8)
    assert _results(out)["summary"] == {"images": 8, "clustered": 8, "failed": 0, "unfinished": 0, "skipped": 0}


def test_a_spent_quota_stops_at_its_first_answer_unretried_and_resume_goes_on(folder, tmp_path, capsys):
    """Out of credit (429 insufficient_quota) is the account's, not the image's: no wait or retry helps, and every
    later call fails too; it had been retried twice per image. (A fourth break-it helper's free-models-per-day.)"""
    out = tmp_path / "run"
    with FakeOpenAIServer(fault=_first_vlm_requests("quota", 3)) as server:
        assert _run(server, folder, out) == 3
        assert len([r for r in server.requests if r["body"]["model"] == "vision-model"]) == 1
    assert "out of credit or quota" in capsys.readouterr().err
    data = json.loads((out / "run.json").read_text())
    with FakeOpenAIServer() as healthy:  # credit added
        data["settings"]["base_url"] = healthy.url
        (out / "run.json").write_text(json.dumps(data))
        assert main(["resume", str(out)]) == 0
    assert _results(out)["summary"]["clustered"] == 8


def test_transient_429_is_retried_and_nothing_fails(folder, tmp_path):
    with FakeOpenAIServer(fault=_first_vlm_requests("429", 2)) as server:
        assert _run(server, folder, tmp_path / "run") == 0
    assert _results(tmp_path / "run")["summary"]["failed"] == 0
    assert len([r for r in server.requests if r["body"]["model"] == "vision-model"]) == 10


def test_a_busy_server_is_waited_out_beyond_the_client_retries(folder, tmp_path):
    # 4 answers 429 in a row: more than ICTC_MAX_RETRIES=2 allows, well within the default patience
    with FakeOpenAIServer(fault=_first_vlm_requests("429", 4)) as server:
        assert _run(server, folder, tmp_path / "run") == 0
    assert _results(tmp_path / "run")["summary"]["failed"] == 0
    assert len([r for r in server.requests if r["body"]["model"] == "vision-model"]) == 8 + 4


def test_patience_runs_out_then_the_call_fails_without_further_client_retries(folder, tmp_path, monkeypatch):
    # "Retry-After: 0" gets backoff: 0.5-0.63 s, then 1-1.25 s, which no longer fits in 1 s of patience
    monkeypatch.setenv("ICTC_BUSY_PATIENCE", "1")
    with FakeOpenAIServer(fault=_first_vlm_requests("429", 2)) as server:
        assert _run(server, folder, tmp_path / "run") == 4
    failed = [r for r in _results(tmp_path / "run")["images"] if r["status"] == "failed"]
    assert len(failed) == 1 and "OpenAIRateLimitError: Error code: 429" in failed[0]["reason"]
    assert len([r for r in server.requests if r["body"]["model"] == "vision-model"]) == 8 + 1


def test_calls_beyond_the_server_capacity_are_held_back_and_none_fails(folder, tmp_path):
    with FakeOpenAIServer(capacity=2, latency=0.05) as server:
        code = main(["run", str(folder), "-c", "colour", "-k", "2", "--out", str(tmp_path / "run"),
                     "--backend", "openai", "--base-url", server.url, "--vlm", "vision-model",
                     "--llm", "text-model", "--concurrency", "8"])
    assert code == 0 and _results(tmp_path / "run")["summary"]["failed"] == 0
    assert server.busy > 0 and server.peak == 2  # the server did push back, and was never over capacity


def test_an_empty_description_is_recorded_as_a_failure(folder, tmp_path):
    with FakeOpenAIServer(fault=_first_vlm_requests("empty", 1)) as server:
        assert _run(server, folder, tmp_path / "run") == 4
    failed = [r for r in _results(tmp_path / "run")["images"] if r["status"] == "failed"]
    assert len(failed) == 1 and "the VLM returned an empty description" in failed[0]["reason"]
    assert failed[0]["cluster"] == ""


def test_step_3_output_that_ignores_the_schema_is_mapped_never_kept(folder, tmp_path):
    def plan(body, n):
        return "ignore-schema" if "sort images" in json.dumps(body["messages"]) else None

    with FakeOpenAIServer(fault=plan, reject_modes=("json_schema", "json_object")) as server:
        assert _run(server, folder, tmp_path / "run") == 0
    results = _results(tmp_path / "run")
    assert all(r["cluster"] in results["cluster_names"] for r in results["images"])
    assert set(results["routes"]) == {"mapped-string"}  # "...probably the red one." names one cluster
