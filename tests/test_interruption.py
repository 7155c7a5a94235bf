"""A real `ictc run` process stopped by SIGINT, SIGTERM or kill -9 during Step 1 or Step 3, then
resumed: the result equals an uninterrupted run's, finished images are not redone, and no output
file is ever left half-written."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import LEVERS_OFF

from fake_server import FakeOpenAIServer
from fakes import make_images

pytestmark = pytest.mark.slow
CONCURRENCY = 2
HANG = 300  # s: guards against a hang, not speed targets (at load 20 and nice 19 a step took over 60 s)


def _ictc(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ictc.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _run_args(images: Path, out: Path, url: str) -> list[str]:
    return ["run", str(images), "-c", "colour", "-k", "3", "--out", str(out), "--backend", "openai", "--base-url", url,
            "--vlm", "vision-model", "--llm", "text-model", "--concurrency", str(CONCURRENCY)]


def _env(workspace: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ICTC_")}
    # quality levers off (as conftest sets them), so Step 3 reaches the fake server to be interrupted
    return {**env, **LEVERS_OFF, "ICTC_WORKSPACE": str(workspace), "HF_HUB_OFFLINE": "1"}


def _image_of(body: dict) -> str:
    block = next(p for p in body["messages"][-1]["content"] if isinstance(p, dict) and p.get("type") == "image_url")
    return hashlib.sha256(block["image_url"]["url"].encode()).hexdigest()


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    make_images(folder / "images", {"red": 4, "green": 4, "blue": 4})
    return folder / "images"


@pytest.fixture(scope="module")
def reference(photos, tmp_path_factory):
    """The same job, never interrupted."""
    out = tmp_path_factory.mktemp("reference") / "run"
    with FakeOpenAIServer(latency=0.05) as server:
        done = _ictc(_run_args(photos, out, server.url), _env(out.parent / "ws"))
        assert done.wait(HANG) == 0, done.stderr.read()
    return (out / "results.csv").read_text()


def _wait_for(server: FakeOpenAIServer, marker: str, count: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + HANG
    while time.monotonic() < deadline:
        if sum(marker in json.dumps(r["body"]) for r in server.requests) >= count:
            return
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        time.sleep(0.02)
    raise AssertionError("the run never got that far")


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "SIGKILL"])
@pytest.mark.parametrize(("step", "marker"), [("step 1", "vision-model"), ("step 3", "sort images")])
def test_interrupted_then_resumed_equals_uninterrupted(how, step, marker, photos, reference, tmp_path):
    out, workspace = tmp_path / "run", tmp_path / "ws"
    with FakeOpenAIServer(latency=0.15) as server:
        process = _ictc(_run_args(photos, out, server.url), _env(workspace))
        _wait_for(server, marker, 4, process)
        process.send_signal(getattr(signal, how))
        code = process.wait(HANG)
        assert code == (-9 if how == "SIGKILL" else 130), process.stderr.read()
        if how != "SIGKILL":
            assert "ictc resume" in process.stderr.read()
        for path in out.rglob("*.json"):  # never a half-written file
            json.loads(path.read_text())
        first = len(server.requests)
        resumed = _ictc(["resume", str(out)], _env(workspace))
        assert resumed.wait(HANG) == 0, resumed.stderr.read()
        bodies = [r["body"] for r in server.requests]
    assert (out / "results.csv").read_text() == reference
    described = Counter(_image_of(b) for b in bodies if b["model"] == "vision-model")
    assert len(described) == 12
    # an image may be asked twice only if its answer was in flight when the process died
    assert sum(described.values()) <= 12 + CONCURRENCY
    assigned_after = [b for b in bodies[first:] if "sort images" in json.dumps(b["messages"])]
    if step == "step 3":
        assert len(assigned_after) <= 12 - 4 + CONCURRENCY
        assert not [b for b in bodies[first:] if b["model"] == "vision-model"]  # Step 1 was finished: not redone


def test_a_second_ctrl_c_stops_at_once_while_calls_hang_on_the_server(photos, tmp_path):
    # a hung server holds the calls in flight up to ICTC_REQUEST_TIMEOUT: the first Ctrl-C waits for them (said at
    # once), the second stops there and then, as kill -9 does (it had waited the timeout out, printing tracebacks)
    out, release = tmp_path / "run", threading.Event()
    with FakeOpenAIServer(fault=lambda body, n: release.wait(HANG) and None) as server:
        err = (tmp_path / "err.txt").open("w+")
        process = subprocess.Popen([sys.executable, "-m", "ictc.cli", *_run_args(photos, out, server.url)],
                                   env={**_env(tmp_path / "ws"), "ICTC_REQUEST_TIMEOUT": "600"},
                                   stdout=subprocess.DEVNULL, stderr=err, text=True)
        try:
            _wait_for(server, "vision-model", 1, process)  # a call is stuck in the server
            process.send_signal(signal.SIGINT)
            deadline = time.monotonic() + HANG
            while "stopping once" not in Path(err.name).read_text() and time.monotonic() < deadline:
                time.sleep(0.02)  # the first Ctrl-C is taken (two at once may reach the process as one)
            process.send_signal(signal.SIGINT)
            assert process.wait(HANG) == 130
        finally:
            release.set()
            process.kill()
    said = Path(err.name).read_text()
    assert f"stopped at once; the calls that were in flight are made again by: ictc resume {out}" in said
    assert "Traceback" not in said
