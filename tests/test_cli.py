"""The command line: fast help, refusals before any model call, samples, eval, resume."""

from __future__ import annotations

import errno
import json
import sqlite3
import subprocess
import sys
import time

import pytest

from ictc.cli import main
from ictc.graph.run import resume_run, start_run
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


@pytest.mark.parametrize("module", ["ictc", "ictc.cli"])
def test_python_dash_m_runs_the_command(module):
    """`python -m ictc` had said "'ictc' is a package and cannot be directly executed" (a newcomer's first try)."""
    done = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("usage: ictc "), (done.stdout, done.stderr)


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
    # a resume rewrites results.json: the scores stay, against the labels eval was given (a newcomer lost them)
    resume_run(tmp_path / "run", context=ctx)
    assert json.loads((tmp_path / "run" / "results.json").read_text())["metrics"]["acc"] == 1.0


def test_resume_of_unknown_folder_is_one_line(tmp_path, capsys):
    assert main(["resume", str(tmp_path)]) == 1
    assert "is not a run folder" in capsys.readouterr().err


def test_estimate_counts_calls_and_what_the_store_already_holds(colour_images, tmp_path, capsys):
    from pathlib import Path

    from fake_server import FakeOpenAIServer

    folder = str(Path(colour_images[0][0]).parent)
    flags = ["-c", "colour", "-k", "3", "--backend", "openai", "--vlm", "vision-model", "--llm", "text-model"]
    assert main(["estimate", folder, *flags, "--price-in", "1", "--price-out", "2"]) == 0
    out = capsys.readouterr().out
    assert "8 images (8 distinct; 0 descriptions already stored)" in out
    assert "describe 8, label 8, name_clusters 1, assign 8" in out and "Cost at $1.0/M in" in out
    with FakeOpenAIServer() as server:
        assert main(["run", folder, *flags, "--base-url", server.url, "--out", str(tmp_path / "run")]) == 0
    capsys.readouterr()
    assert main(["estimate", folder, *flags]) == 0
    assert "8 descriptions already stored" in capsys.readouterr().out


def _a_run_folder(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "run.json").write_text("{}")
    return run_dir


def test_a_bug_is_reported_as_one_line_with_its_traceback_in_the_run_folder(tmp_path, monkeypatch, capsys):
    import ictc.evaluation.results

    def broken(*args, **kwargs):
        raise ValueError("a zip() of unequal lengths deep inside")  # not a UsageError: a bug

    monkeypatch.setattr(ictc.evaluation.results, "evaluate_run", broken)
    run_dir = _a_run_folder(tmp_path)
    assert main(["eval", str(run_dir), str(tmp_path / "labels.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "internal error (a bug, not your input)" in err[0]
    saved = list(run_dir.glob("ictc-error-*.log"))
    assert len(saved) == 1 and str(saved[0]) in err[0]
    assert "Traceback" in saved[0].read_text() and "unequal lengths" in saved[0].read_text()

    assert main(["--debug", "eval", str(run_dir), str(tmp_path / "labels.csv")]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_a_usage_error_is_one_line_and_exit_1(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nowhere"), "-c", "colour", "-k", "2", "--out", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"ictc: error: image folder not found: {tmp_path / 'nowhere'}"]
    with pytest.raises(SystemExit) as stop:
        main(["refine", str(tmp_path), "--instruction", "x", "--step", "5"])
    assert stop.value.code == 1 and "unknown step" in capsys.readouterr().err


def test_review_with_labels_pauses_and_scores_at_the_end_in_run_and_resume(colour_images, tmp_path, capsys,
                                                                          monkeypatch):
    """Issue 17 case 11: on main `run --review --labels` and `resume` exited 1 at the first pause
    ("no image has both a cluster and a ground-truth label")."""
    from pathlib import Path

    from fake_server import FakeOpenAIServer

    paths, labels = colour_images
    folder, run = str(Path(paths[0]).parent), tmp_path / "run"
    flags = ["--backend", "openai", "--vlm", "vision-model", "--llm", "text-model"]

    def stop_at_the_pause(prompt: str) -> str:
        raise KeyboardInterrupt  # the user leaves at the first pause; `ictc resume` continues

    def end_of_input(prompt: str) -> str:
        raise EOFError  # accepts each pause

    with FakeOpenAIServer() as server:
        monkeypatch.setattr("builtins.input", stop_at_the_pause)
        code = main(["run", folder, "-c", "colour", "-k", "3", "--labels", str(labels), "--review", "--out", str(run),
                     "--base-url", server.url, *flags])
        out, err = capsys.readouterr()
        assert code == 130 and "Cluster names (before Step 3)" in out
        assert f"Continue with: ictc resume {run}" in err  # the folder itself, not a RUN_DIR placeholder
        paused = json.loads((run / "results.json").read_text("utf-8"))
        assert "metrics" not in paused and paused["summary"]["unfinished"] == 8
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        monkeypatch.setattr("builtins.input", end_of_input)
        assert main(["resume", str(run)]) == 0
        out = capsys.readouterr().out
        assert "ACC 1.000  NMI 1.000  ARI 1.000  (scored 8 of 8 images)" in out and "had finished" not in out
        assert main(["resume", str(run)]) == 0  # finished now: said first, not only the results printed again
        assert capsys.readouterr().out.startswith(f"{run} had finished: nothing was left to do\n")
        assert main(["run", folder, "-c", "colour", "-k", "3", "--labels", str(labels), "--review", "--out",
                     str(tmp_path / "run2"), "--base-url", server.url, *flags]) == 0
    assert "ACC 1.000  NMI 1.000  ARI 1.000  (scored 8 of 8 images)" in capsys.readouterr().out
    assert json.loads((tmp_path / "run2" / "results.json").read_text("utf-8"))["metrics"]["n"] == 8


def test_run_reads_the_folders_own_labels_csv_as_the_chat_does_and_an_explicit_file_wins(colour_images, tmp_path,
                                                                                          capsys):
    """A labels.csv beside the images is taken by `ictc run` as by the chat (evaluation/folder_labels.own_labels):
    said, and the metrics printed; --labels still wins; a bad one is one line naming it and the run goes on."""
    from pathlib import Path

    from fake_server import FakeOpenAIServer

    paths, labels = colour_images
    folder = str(Path(paths[0]).parent)
    flags = ["-c", "colour", "-k", "3", "--backend", "openai", "--vlm", "vision-model", "--llm", "text-model"]
    other = tmp_path / "other.csv"  # every image called "red": ACC 3/8, so its scores are not the folder's
    other.write_text("image,label\n" + "".join(f"{Path(p).name},red\n" for p in paths))
    with FakeOpenAIServer() as server:
        flags += ["--base-url", server.url]
        assert main(["run", folder, "--out", str(tmp_path / "own"), *flags]) == 0
        out = capsys.readouterr().out
        assert f"Labels: {labels}, found beside the images" in out
        assert "ACC 1.000  NMI 1.000  ARI 1.000  (scored 8 of 8 images)" in out
        assert main(["run", folder, "--labels", str(other), "--out", str(tmp_path / "given"), *flags]) == 0
        out = capsys.readouterr().out
        assert "found beside the images" not in out and "ACC 0.375" in out
        labels.write_text("picture;colour\n")  # names no image
        assert main(["run", folder, "--out", str(tmp_path / "bad"), *flags]) == 0
        out = capsys.readouterr().out
    said = [line for line in out.splitlines() if str(labels) in line]
    assert len(said) == 1 and said[0].startswith("! ") and "the run goes on without metrics" in said[0], said
    assert "ACC" not in out and "3 clusters by 'colour'" in out
    assert json.loads((tmp_path / "bad" / "results.json").read_text("utf-8"))["summary"]["failed"] == 0


def test_the_labels_found_beside_the_images_are_said_after_the_request_is_checked(colour_images, tmp_path, capsys):
    """"Labels: ... found beside the images" had been printed above "K=99 is more than the 8 images found" and
    above "already holds a run": said for a run that never started."""
    from pathlib import Path

    folder = str(Path(colour_images[0][0]).parent)
    flags = ["-c", "colour", "--backend", "openai", "--vlm", "vision-model", "--llm", "text-model",
             "--base-url", "http://127.0.0.1:9/v1"]  # never called: each request is refused first
    assert main(["run", folder, "-k", "99", "--out", str(tmp_path / "run"), *flags]) == 1
    captured = capsys.readouterr()
    assert "K=99 is more than the 8 images found" in captured.err and "Labels" not in captured.out
    assert main(["run", folder, "-k", "3", "--out", str(_a_run_folder(tmp_path)), *flags]) == 1
    captured = capsys.readouterr()
    assert "already holds a run" in captured.err and "Labels" not in captured.out


@pytest.mark.parametrize("error", [OSError(errno.ENOSPC, "No space left on device"),
                                   sqlite3.OperationalError("database or disk is full")])
def test_a_full_disk_is_said_with_the_run_folder_and_the_way_on(colour_images, tmp_path, capsys, monkeypatch, error):
    from ictc.cli.main import HANDLERS

    def fill_up(args):  # what the traces, run.json or the checkpoints raise on a full disk: no file named
        raise error

    monkeypatch.setitem(HANDLERS, "run", fill_up)
    out = tmp_path / "run"
    assert main(["run", str(tmp_path / "images"), "-c", "colour", "-k", "2", "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert "full" in err and f"ictc resume {out}" in err and "internal error" not in err  # had been the words alone


def test_a_resume_of_a_run_stopped_while_writing_its_results_says_they_are_written_now(folder, tmp_path, capsys):
    """Ctrl-C during "Finishing" (every step done, no results.json yet): the resume said "had finished: nothing was
    left to do", then wrote the results that had been missing."""
    from fake_server import FakeOpenAIServer

    run = tmp_path / "run"
    flags = ["--backend", "openai", "--vlm", "vision-model", "--llm", "text-model"]
    with FakeOpenAIServer() as server:
        assert main(["run", str(folder), "-c", "colour", "-k", "3", "--out", str(run), "--base-url", server.url,
                     *flags]) == 0
        for name in ("results.json", "results-summary.json", "report.html"):  # as the stop left the folder
            (run / name).unlink()
        capsys.readouterr()
        assert main(["resume", str(run)]) == 0  # the run's own settings: the same server
    out = capsys.readouterr().out
    assert out.startswith(f"{run}: every step had finished before the stop; its results are written now"), out
    assert "had finished: nothing was left" not in out and (run / "results.json").is_file()


def test_set_on_a_command_other_than_resume_says_where_the_setting_goes(tmp_path, capsys):
    """A newcomer tried the README's `--set ICTC_...=...` on `ictc run`: argparse's "unrecognized arguments" named
    no way on."""
    with pytest.raises(SystemExit) as stop:
        main(["run", str(tmp_path), "-c", "colour", "-k", "2", "--set", "ICTC_LABEL_EXAMPLE=off"])
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert stop.value.code == 1 and last.startswith("ictc: error: unrecognized arguments: --set ICTC_LABEL_EXAMPLE=off")
    assert "for a new run give the setting in the environment or .env: ICTC_LABEL_EXAMPLE=off ictc run" in last
    with pytest.raises(SystemExit):
        main(["run", str(tmp_path), "-c", "colour", "--settings", "x"])  # another unknown flag: argparse's words alone
    assert capsys.readouterr().err.strip().splitlines()[-1] == "ictc: error: unrecognized arguments: --settings x"

