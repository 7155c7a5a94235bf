"""`ictc resume` after the run's image folder was moved or renamed (issue 17, kinds6 k20a): the images the run still
needed had each failed "not a readable image (No such file or directory)", Step 2b named the clusters from the rest,
and nothing said the folder was gone; now the resume stops before any step naming the folder and the fix, and
`--images NEWFOLDER` points the run at the folder's new place."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from ictc.cli import main

from fake_server import FakeOpenAIServer


@pytest.fixture(autouse=True)
def quick_client(monkeypatch):
    monkeypatch.setenv("ICTC_REQUEST_TIMEOUT", "5")
    monkeypatch.setenv("ICTC_MAX_RETRIES", "1")


def _stopped_in_step_1(server: FakeOpenAIServer, folder: Path, out: Path) -> None:
    """A run whose VLM quota runs out after 4 images: stopped in Step 1 (exit 3), 4 images described."""
    server.fault = lambda body, n: "quota" if body["model"] == "vision-model" and n > 4 else None
    assert main(["run", str(folder), "-c", "colour", "-k", "3", "--out", str(out), "--backend", "openai",
                 "--base-url", server.url, "--vlm", "vision-model", "--llm", "text-model", "--concurrency", "1"]) == 3
    server.fault = None


def _results(out: Path) -> dict:
    return json.loads((out / "results.json").read_text())


def test_a_resume_whose_image_folder_is_gone_stops_before_any_step(colour_images, tmp_path, capsys):
    folder = Path(colour_images[0][0]).parent
    with FakeOpenAIServer() as server:
        _stopped_in_step_1(server, folder, tmp_path / "run")
        shutil.move(str(folder), str(tmp_path / "renamed"))
        calls = len(server.requests)
        capsys.readouterr()
        assert main(["resume", str(tmp_path / "run")]) == 1
        assert len(server.requests) == calls  # no step ran
    err = capsys.readouterr().err
    assert f"the run's image folder {folder} is gone" in err and "--images NEWFOLDER" in err


def test_resume_with_images_reads_them_from_the_new_place_checked_by_content(colour_images, tmp_path, capsys):
    folder = Path(colour_images[0][0]).parent
    with FakeOpenAIServer() as server:
        _stopped_in_step_1(server, folder, tmp_path / "run")
        moved = tmp_path / "elsewhere" / "photos"
        shutil.move(str(folder), str(moved))
        Image.new("RGB", (41, 30), (250, 250, 0)).save(moved / "red_1.png")  # changed content: described again
        assert main(["resume", str(tmp_path / "run"), "--images", str(moved)]) == 0
    found = _results(tmp_path / "run")
    assert found["summary"]["failed"] == 0 and found["summary"]["clustered"] == 8
    assert {str(Path(r["image"]).parent) for r in found["images"]} == {str(moved)}
    assert any("images now read from" in n and "8 of 8 found, 1 with other content" in n for n in found["notices"])
    assert json.loads((tmp_path / "run" / "run.json").read_text())["source"][1] == str(moved)


def test_resume_with_images_in_a_folder_holding_none_of_them_is_refused(colour_images, tmp_path, capsys):
    folder = Path(colour_images[0][0]).parent
    (tmp_path / "other").mkdir()
    with FakeOpenAIServer() as server:
        _stopped_in_step_1(server, folder, tmp_path / "run")
        capsys.readouterr()
        assert main(["resume", str(tmp_path / "run"), "--images", str(tmp_path / "other")]) == 1
    assert "holds none of the run's 8 images" in capsys.readouterr().err
