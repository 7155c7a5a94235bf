"""The command line: fast help, refusals before any model call, samples, eval, resume."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from ictc.cli import main
from ictc.graph.run import start_run
from ictc.prompts import make_criterion

from fakes import fake_context


def test_help_is_fast_and_imports_nothing_heavy():
    code = ("import time, sys; t = time.perf_counter(); import ictc.cli; "
            "import contextlib, io\n"
            "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()): ictc.cli.main(['--help'])\n"
            "heavy = [m for m in ('torch', 'transformers', 'langgraph', 'langchain_core', 'chromadb') if m in sys.modules]\n"
            "print(heavy, time.perf_counter() - t)")
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.startswith("[]"), out
    assert time.perf_counter() - started < 5  # generous for a noisy machine; typically ~0.1 s


@pytest.mark.parametrize(("args", "message"), [
    (["-c", "colour", "-k", "1"], "K must be at least 2"),
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


def test_samples_are_real_labelled_photos(tmp_path, capsys):
    assert main(["samples", str(tmp_path / "s")]) == 0
    lines = (tmp_path / "s" / "cifar10" / "labels.csv").read_text().splitlines()
    assert lines[0] == "image,label" and len(lines) == 21
    assert {line.split(",")[1] for line in lines[1:]} == {"cat", "ship", "airplane", "frog", "automobile", "truck", "dog", "horse"}


def test_eval_scores_a_finished_run(colour_images, tmp_path, capsys):
    paths, labels = colour_images
    ctx = fake_context()
    start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / "run", context=ctx)
    assert main(["eval", str(tmp_path / "run"), str(labels)]) == 0
    assert "ACC 1.000  NMI 1.000  ARI 1.000" in capsys.readouterr().out
    assert json.loads((tmp_path / "run" / "results.json").read_text())["metrics"]["n"] == 8
    assert (tmp_path / "run" / "confusion.png").stat().st_size > 1000


def test_resume_of_unknown_folder_is_one_line(tmp_path, capsys):
    assert main(["resume", str(tmp_path)]) == 1
    assert "is not a run folder" in capsys.readouterr().err
