"""Bad parameters are refused with one clear line before any model is loaded or called."""

from __future__ import annotations

import pytest

from ictc.cli import main


@pytest.mark.parametrize(("args", "message"), [
    (["-c", "colour", "-k", "1"], "K must be at least 2"),
    (["-c", "colour", "-k", "0"], "K must be at least 2, not 0 (-k auto has K proposed"),  # it had meant auto, unsaid
    (["-c", "   ", "-k", "2"], "the criterion is empty"),
    (["-k", "2", "--preset", "vibes"], "unknown preset 'vibes'"),
    (["-c", "x" * 301, "-k", "2"], "the limit is 300"),
    (["-c", "colour", "-k", "2", "--labels", "/nonexistent.csv"], "cannot read labels file /nonexistent.csv"),
])
def test_bad_parameters_are_refused_with_one_line(colour_images, tmp_path, capsys, args, message):
    folder = colour_images[0][0].rsplit("/", 1)[0]
    code = main(["run", folder, "--out", str(tmp_path / "r"), "--backend", "openai", "--base-url", "http://127.0.0.1:9/v1", *args])
    err = capsys.readouterr().err
    assert code == 1 and message in err and err.count("\n") == 1
    assert not (tmp_path / "r").exists()


def test_missing_and_empty_folders_are_refused(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope"), "-c", "x", "-k", "2"]) == 1
    assert "image folder not found" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("hi")
    assert main(["run", str(tmp_path / "empty"), "-c", "x", "-k", "2"]) == 1
    assert "no images found" in capsys.readouterr().err


def test_labels_naming_no_image_are_refused(colour_images, tmp_path, capsys):
    folder = colour_images[0][0].rsplit("/", 1)[0]
    bad = tmp_path / "labels.csv"
    bad.write_text("image,label\nelsewhere.png,cat\n")
    assert main(["run", folder, "-c", "x", "-k", "2", "--labels", str(bad)]) == 1
    assert "names none of the 8 images" in capsys.readouterr().err


def test_k_larger_than_readable_images(tmp_path, capsys):
    from PIL import Image

    (tmp_path / "imgs").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "imgs" / "a.png")
    Image.new("RGB", (8, 8), (9, 9, 9)).save(tmp_path / "imgs" / "b.png")
    (tmp_path / "imgs" / "c.png").symlink_to("missing.png")
    assert main(["run", str(tmp_path / "imgs"), "-c", "x", "-k", "3", "--out", str(tmp_path / "r")]) == 1
    assert "K=3 is more than the 2 readable images" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
