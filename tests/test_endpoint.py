"""The OpenAI-compatible backend against a loopback fake server that records every request."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from ictc.cli import main

from fake_server import FakeOpenAIServer

FAKE_KEY = "sk-test-DO-NOT-LEAK-4242"


def _run(server: FakeOpenAIServer, images_dir: Path, out: Path, *extra: str) -> int:
    return main(["run", str(images_dir), "--criterion", "colour", "-k", "3", "--out", str(out), "--backend", "openai",
                 "--base-url", server.url, "--vlm", "vision-model", "--llm", "text-model", "--concurrency", "4", *extra])


@pytest.fixture
def images_dir(colour_images):
    paths, _ = colour_images
    folder = Path(paths[0]).parent
    Image.new("RGB", (800, 600), (30, 50, 220)).save(folder / "big_blue.jpg")
    return folder


def test_requests_carry_image_blocks_schemas_and_model_names(images_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    with FakeOpenAIServer() as server:
        code = _run(server, images_dir, tmp_path / "run", "--image-max-side", "64")
    assert code == 0
    bodies = [r["body"] for r in server.requests]
    vision = [b for b in bodies if b["model"] == "vision-model"]
    text = [b for b in bodies if b["model"] == "text-model"]
    assert len(vision) == 9 and len(text) == 9 + 1 + 9
    assert all(r["auth"] == f"Bearer {FAKE_KEY}" for r in server.requests)
    sizes = []
    for body in vision:
        block = next(p for p in body["messages"][-1]["content"] if p["type"] == "image_url")
        header, data = block["image_url"]["url"].split(",", 1)
        assert header.startswith("data:image/") and header.endswith(";base64")
        sizes.append(max(Image.open(io.BytesIO(base64.b64decode(data))).size))
    assert max(sizes) == 64  # the 800x600 photo was downscaled to the configured longest side
    assert all(b.get("temperature") == 0 and b.get("seed") == 0 for b in bodies)
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    names = results["cluster_names"]
    assign = [b for b in text if "sort images" in json.dumps(b["messages"])]
    enums = {tuple(b["response_format"]["json_schema"]["schema"]["properties"]["category"]["enum"]) for b in assign}
    assert enums == {tuple(names)}
    assert results["routes"] == {"schema": 9}
    naming = next(b for b in text if "organise labels" in json.dumps(b["messages"]))
    assert naming["response_format"]["type"] == "json_schema"


def test_server_without_json_schema_degrades_to_json_object_once(images_dir, tmp_path):
    with FakeOpenAIServer(reject_modes=("json_schema",)) as server:
        assert _run(server, images_dir, tmp_path / "run") == 0
    modes = [(r["body"].get("response_format") or {}).get("type") for r in server.requests
             if r["body"]["model"] == "text-model" and "response_format" in r["body"]]
    assert modes.count("json_schema") == 1 and modes.count("json_object") == 10
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["naming"]["mode"] == "json_object" and set(results["routes"]) == {"json"}


def test_server_with_plain_text_only_still_clusters(images_dir, tmp_path):
    with FakeOpenAIServer(reject_modes=("json_schema", "json_object")) as server:
        assert _run(server, images_dir, tmp_path / "run") == 0
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["naming"]["mode"] == "text" and set(results["routes"]) == {"text"}
    assert sorted(results["cluster_names"]) == ["Blue", "Green", "Red"]


def test_openai_base_url_and_key_from_the_environment(images_dir, tmp_path, monkeypatch, private_workspace):
    with FakeOpenAIServer() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
        code = main(["run", str(images_dir), "-c", "colour", "-k", "3", "--out", str(tmp_path / "run"),
                     "--backend", "openai", "--vlm", "vision-model", "--llm", "text-model"])
    assert code == 0 and server.requests
    written = [p for folder in (tmp_path / "run", private_workspace) for p in folder.rglob("*") if p.is_file()]
    assert len(written) > 8
    for path in written:  # the key is in no file written: results, versions, checkpoints, stores
        assert FAKE_KEY.encode() not in path.read_bytes(), path


def test_unreachable_endpoint_stops_before_any_work(images_dir, tmp_path, capsys):
    code = main(["run", str(images_dir), "-c", "colour", "-k", "3", "--out", str(tmp_path / "run"),
                 "--backend", "openai", "--base-url", "http://127.0.0.1:9/v1", "--vlm", "v", "--llm", "l"])
    err = capsys.readouterr().err
    assert code == 3 and "cannot reach http://127.0.0.1:9/v1" in err and "'v'" in err
    assert not (tmp_path / "run").exists()


def test_model_not_served_is_named(images_dir, tmp_path, capsys):
    with FakeOpenAIServer(strict_models=True) as server:
        code = _run(server, images_dir, tmp_path / "run")
        code = main(["run", str(images_dir), "-c", "colour", "-k", "3", "--out", str(tmp_path / "r2"),
                     "--backend", "openai", "--base-url", server.url, "--vlm", "llava-13b", "--llm", "text-model"])
    err = capsys.readouterr().err
    assert code == 3 and "llava-13b" in err and "vision-model" in err
