"""Issue 21 from the command line, against the loopback OpenAI-compatible server: -k auto, --names,
--other, refine --coarser, several criteria (-c A -k K -c B -k K), add-criterion and crosstab."""

from __future__ import annotations

import io
import json
from pathlib import Path

from ictc.cli import main

from fake_server import FakeOpenAIServer
from fakes import NoneOfTheseLLM

MODELS = ["--backend", "openai", "--vlm", "vision-model", "--llm", "text-model"]


def _texts(server, since: int = 0) -> list[str]:
    return [json.dumps(r["body"]["messages"]) for r in server.requests[since:] if r["body"]["model"] == "text-model"]


def test_k_auto_asks_at_the_terminal_and_records_the_pick(colour_images, tmp_path, capsys, monkeypatch):
    folder = Path(colour_images[0][0]).parent
    monkeypatch.setattr("sys.stdin", io.StringIO("two\n2\n"))
    with FakeOpenAIServer() as server:
        code = main(["run", str(folder), "-c", "colour", "-k", "auto", "--out", str(tmp_path / "run"),
                     "--base-url", server.url, *MODELS])
    out = capsys.readouterr().out
    assert code == 0 and "K proposed for 'colour'" in out and "- K=3" in out and "(best)" in out
    assert "'two' is not a number" in out and "K=2 (your pick; proposed: K=3, K=2)" in out
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["k_choice"]["chosen"] == 2 and len(results["cluster_names"]) == 2


def test_k_auto_with_yes_takes_the_best_without_asking(colour_images, tmp_path, capsys, monkeypatch):
    folder = Path(colour_images[0][0]).parent
    monkeypatch.setattr("sys.stdin", io.StringIO("2\n"))  # must not be read
    with FakeOpenAIServer() as server:
        assert main(["run", str(folder), "-c", "colour", "-k", "auto", "--yes", "--out", str(tmp_path / "run"),
                     "--base-url", server.url, *MODELS]) == 0
    assert "K=3 (best proposed" in capsys.readouterr().out
    assert json.loads((tmp_path / "run" / "results.json").read_text())["k_choice"]["by"] == "best"


def test_names_and_other_then_coarser_levels(colour_images, tmp_path, capsys):
    folder = Path(colour_images[0][0]).parent
    run = tmp_path / "run"
    with FakeOpenAIServer(llm=NoneOfTheseLLM()) as server:
        assert main(["run", str(folder), "-c", "colour", "--names", "red, green, yellow", "--other", "--out", str(run),
                     "--base-url", server.url, *MODELS]) == 0
        assert not any("organise labels" in t for t in _texts(server))  # no Step 2b
        out = capsys.readouterr().out
        assert "Other (none of the names fits): 2 image(s)" in out and "0  yellow" in out
        seen = len(server.requests)
        assert main(["refine", str(run), "--coarser", "2"]) == 0
        calls = server.requests[seen:]
        assert len(calls) == 1 and "broader parent" in json.dumps(calls[0]["body"]["messages"])
    out = capsys.readouterr().out
    assert "Parent of red (3): red (3), yellow (0)" in out and "Parent of green (3): green (3)" in out
    results = json.loads((run / "results.json").read_text())
    assert [p["name"] for p in results["tree"]] == ["Parent of red", "Parent of green"]
    assert results["cluster_names"][-1] == "other"  # the other group stays apart from the levels


def test_k_or_names_is_required(colour_images, tmp_path, capsys):
    folder = Path(colour_images[0][0]).parent
    assert main(["run", str(folder), "-c", "colour", "--out", str(tmp_path / "run"), *MODELS]) == 1
    assert "give -k K, -k auto, or --names" in capsys.readouterr().err
    assert main(["run", str(folder), "-c", "a", "-k", "2", "-c", "b", "--out", str(tmp_path / "run"), *MODELS]) == 1
    assert "one -k (a number or 'auto') for each of the 2 criteria" in capsys.readouterr().err


def test_a_run_with_neither_criterion_nor_k_names_both(colour_images, tmp_path, capsys):
    """A newcomer's `ictc run FOLDER` asked for -k only; with -k added, it then said the criterion was empty."""
    folder = Path(colour_images[0][0]).parent
    assert main(["run", str(folder), "--out", str(tmp_path / "run"), *MODELS]) == 1
    said = capsys.readouterr().err
    assert "criterion (-c mood, or --preset)" in said and "-k K, -k auto, or --names" in said, said
    assert not (tmp_path / "run").exists()


def test_several_criteria_share_the_models_and_hashes_and_cross_tab(colour_images, tmp_path, capsys):
    folder = Path(colour_images[0][0]).parent
    group = tmp_path / "group"
    with FakeOpenAIServer() as server:
        assert main(["run", str(folder), "-c", "colour", "-k", "3", "-c", "colour of the square", "-k", "2",
                     "--out", str(group), "--base-url", server.url, *MODELS]) == 0
        first = json.loads((group / "colour" / "results.json").read_text())
        second = json.loads((group / "colour-of-the-square" / "results.json").read_text())
        assert first["criterion"]["text"] == "colour" and len(second["cluster_names"]) == 2
        assert (group / "crosstab-colour-colour-of-the-square.png").stat().st_size > 1000
        assert "&times;" in (group / "criteria.html").read_text()
        out = capsys.readouterr().out  # the folder's labels.csv scores each criterion: said once (it had been silent)
        assert out.count("found beside the images") == 1 and "it scores each of the 2 criteria" in out
        assert main(["crosstab", str(group), "colour", "colour of the square"]) == 0
        out = capsys.readouterr().out
        assert "Heat map:" in out and (group / "crosstab.png").is_file()
        seen = len(server.requests)
        assert main(["add-criterion", str(group), "-c", "colour", "-k", "3"]) == 0  # same prompts: all from the stores
        assert len(server.requests) == seen
    saved = json.loads((group / "criteria.json").read_text())
    assert [e["name"] for e in saved["criteria"]] == ["colour", "colour-of-the-square", "colour-2"]


def test_add_criterion_to_a_single_run_makes_it_a_group(colour_images, tmp_path, capsys):
    folder = Path(colour_images[0][0]).parent
    run = tmp_path / "run"
    with FakeOpenAIServer() as server:
        assert main(["run", str(folder), "-c", "colour", "-k", "3", "--out", str(run), "--base-url", server.url,
                     *MODELS]) == 0
        assert main(["add-criterion", str(run), "-c", "hue", "-k", "auto"]) == 0
    saved = json.loads((run / "criteria.json").read_text())
    assert [(e["name"], e["run"]) for e in saved["criteria"]] == [("colour", "."), ("hue", "hue")]
    assert json.loads((run / "hue" / "results.json").read_text())["k_choice"]["by"] == "best"
    assert (run / "report.html").is_file() and (run / "criteria.html").is_file()
