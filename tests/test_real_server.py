"""The endpoint backend against a real OpenAI-compatible server: llama.cpp (llama-cpp-python[server]) serving
SmolLM2-135M-Instruct on loopback, built by shared/tools/real-llm.sh (cached in ~/.cache/ictc-real-llm).
Step 1 needs a VLM, which SmolLM2 is not: the loopback fake serves the VLM, the real server the LLM.

A 135M model is weak: these tests hold it to valid outputs and the stated rules (every image in one of the
K names, K names, the Step-3 route recorded, the output mode the server takes), never to accuracy."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from ictc.cli import main
from ictc.core.settings import load_settings
from ictc.models.factory import _check_endpoint, load_models

from fake_server import FakeOpenAIServer

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent


def _script() -> Path | None:
    """shared/tools/real-llm.sh beside the checkout (CI: ../shared), or where ICTC_REAL_LLM_SCRIPT says."""
    for candidate in (os.environ.get("ICTC_REAL_LLM_SCRIPT"), REPO.parent / "shared" / "tools" / "real-llm.sh",
                      REPO.parent.parent / "shared" / "tools" / "real-llm.sh"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def real_llm():
    """The base URL of a real llama.cpp server with SmolLM2 on a free loopback port, stopped at the end.
    Skipped (with the reason) only when the server cannot be built; built but not serving is a failure."""
    script = _script()
    if script is None:
        pytest.skip("the real server cannot be built: no shared/tools/real-llm.sh beside the checkout")
    build = subprocess.run(["bash", str(script), "build"], capture_output=True, text=True, timeout=3600)
    if build.returncode != 0:
        pytest.skip(f"the real server cannot be built (real-llm.sh build): {build.stderr.strip()[-300:]}")
    port = _free_port()
    serve = subprocess.run(["bash", str(script), "serve", "smollm2", str(port)], capture_output=True, text=True,
                           timeout=600)
    try:
        assert serve.returncode == 0, f"real-llm.sh serve failed: {serve.stderr.strip()[-500:]}"
        yield serve.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run(["bash", str(script), "stop", str(port)], capture_output=True, timeout=60)


def test_steps_2a_2b_3_on_a_real_server(real_llm, colour_images, tmp_path):
    folder = Path(colour_images[0][0]).parent  # 8 images
    out = tmp_path / "run"
    with FakeOpenAIServer() as vlm_server:
        code = main(["run", str(folder), "-c", "colour", "-k", "3", "--out", str(out), "--backend", "openai",
                     "--vlm-base-url", vlm_server.url, "--llm-base-url", real_llm, "--vlm", "vision-model",
                     "--llm", "smollm2-135m",  # not the alias it lists: accepted because it answers a probe
                     "--concurrency", "2"])
    results = json.loads((out / "results.json").read_text())
    names = results["cluster_names"]
    assert code == 0, [r["reason"] for r in results["images"] if r["status"] == "failed"]
    assert len(names) == 3 and len({n.lower() for n in names}) == 3 and all(n.strip() for n in names)
    assert results["summary"] == {"images": 8, "clustered": 8, "failed": 0, "unfinished": 0, "skipped": 0}  # labels.csv is the folder's labels, not skipped
    for row in results["images"]:
        assert row["cluster"] in names and row["raw_label"].strip() and row["route"]
        assert len(row["raw_label"].split()) <= 5  # label_max_words
    assert sum(results["routes"].values()) == 8
    # llama-cpp-python answers json_schema with a 500 naming response_format: json_object from then on
    assert results["naming"]["mode"] == "json_object"
    assert "schema" not in results["routes"]


def test_model_names_on_a_real_server(real_llm):
    _check_endpoint("llm", "real-llm", real_llm, "", 10)  # the alias it lists
    _check_endpoint("llm", "Real-LLM:latest", real_llm, "", 10)  # listed but for case and tag
    _check_endpoint("llm", "qwen2.5", real_llm, "", 30)  # unlisted: llama.cpp answers any name (probe)


def test_response_format_on_a_real_server(real_llm):
    settings = load_settings({"backend": "openai", "base_url": real_llm, "vlm": "real-llm", "llm": "real-llm",
                              "max_retries": 0}, env_file=None)
    caller = load_models(settings).llm_json
    schema = {"type": "object", "properties": {"category": {"type": "string", "enum": ["Red", "Blue"]}},
              "required": ["category"], "additionalProperties": False}
    messages = [SystemMessage(content="Answer in JSON."), HumanMessage(content="Is the sky red or blue?")]
    content, mode = caller.invoke(messages, schema, "category", max_tokens=30)
    assert mode == "json_object" and caller.mode == "json_object"  # json_schema refused once, remembered
    assert content.lstrip().startswith("{")  # json_object: the server's grammar makes it JSON (cut at the cap)
    content, mode = caller.invoke(messages, schema, "category", max_tokens=30)
    assert mode == "json_object" and content.lstrip().startswith("{")
