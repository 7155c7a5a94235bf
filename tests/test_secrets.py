"""API keys come from the environment or .env only, and appear in no file written and no output."""

from __future__ import annotations

import json
from pathlib import Path

from ictc.cli import main

from fake_server import FakeOpenAIServer

KEY = "sk-proj-RECOGNISABLE-fake-key-0123456789"


def _scan(folders: list[Path], texts: list[str]) -> list[str]:
    leaks = [str(p) for folder in folders for p in folder.rglob("*") if p.is_file() and KEY.encode() in p.read_bytes()]
    return leaks + [f"output #{i}" for i, text in enumerate(texts) if KEY in text]


def test_key_from_dotenv_is_used_and_never_written(colour_images, tmp_path, capsys, monkeypatch, private_workspace):
    folder = Path(colour_images[0][0]).parent
    env_file = tmp_path / "settings.env"
    env_file.write_text(f"OPENAI_API_KEY={KEY}\n")
    monkeypatch.chdir(tmp_path)
    with FakeOpenAIServer() as server:
        assert main(["run", str(folder), "-c", "colour", "-k", "3", "--out", str(tmp_path / "run"), "--backend", "openai",
                     "--base-url", server.url, "--vlm", "vision-model", "--llm", "text-model",
                     "--env-file", str(env_file)]) == 0
        assert {r["auth"] for r in server.requests} == {f"Bearer {KEY}"}
        assert main(["refine", str(tmp_path / "run"), "--instruction", "Mind shades.", "--step", "3",
                     "--env-file", str(env_file)]) == 0
        assert {r["auth"] for r in server.requests} == {f"Bearer {KEY}"}  # the refinement found the key again
        assert main(["export", str(tmp_path / "run"), str(tmp_path / "export")]) == 0
    out = capsys.readouterr()
    assert KEY not in json.dumps(json.loads((tmp_path / "run" / "run.json").read_text()))
    assert _scan([tmp_path / "run", tmp_path / "export", private_workspace], [out.out, out.err]) == []


def test_key_in_error_paths_is_not_echoed(tmp_path, capsys, monkeypatch, colour_images):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    folder = Path(colour_images[0][0]).parent
    code = main(["run", str(folder), "-c", "colour", "-k", "3", "--out", str(tmp_path / "run"), "--backend", "openai",
                 "--base-url", "http://127.0.0.1:9/v1", "--vlm", "v", "--llm", "l"])
    out = capsys.readouterr()
    assert code == 3 and KEY not in out.out + out.err
