"""`ictc audit` against the loopback OpenAI-compatible server: the table, the proposal, the fix."""

from __future__ import annotations

import io
import json

from ictc.cli import main

from fake_server import FakeOpenAIServer
from fakes import FakeLLM, make_marked_images


def _run(server, folder, out) -> int:
    return main(["run", str(folder), "-c", "colour", "-k", "2", "--out", str(out), "--backend", "openai",
                 "--base-url", server.url, "--vlm", "vision-model", "--llm", "text-model"])


def test_audit_fix_and_before_after_table_at_the_terminal(tmp_path, capsys, monkeypatch):
    make_marked_images(tmp_path / "images", {("red", "black"): 3, ("red", "white"): 3,
                                             ("green", "black"): 3, ("green", "white"): 3})
    run = tmp_path / "run"
    with FakeOpenAIServer(llm=FakeLLM(pulled_by_mark={"black": "Red"})) as server:
        assert _run(server, tmp_path / "images", run) == 0
        capsys.readouterr()
        monkeypatch.setattr("sys.stdin", io.StringIO("\n"))  # accept the proposed values
        assert main(["audit", str(run), "--attribute", "perceived gender"]) == 0
        out = capsys.readouterr().out
        assert "Proposed values for 'perceived gender'" in out and "man" in out and "woman" in out
        assert "not facts about the people pictured" in out
        assert "Suggested fix: 'Do not consider perceived gender; focus on the colour.'" in out
        seen = len(server.requests)
        assert main(["audit", str(run), "--attribute", "perceived gender", "--values", "man,woman", "--fix",
                     "--yes"]) == 0
        out = capsys.readouterr().out
        bodies = [json.dumps(r["body"]["messages"]) for r in server.requests[seen:]]
        assert sum("sort images" in b for b in bodies) == 12 and not any("Describe this image" in b for b in bodies)
    assert "Will redo: only Step 3, on 12 images" in out
    red = next(line for line in out.splitlines() if line.startswith("Red ") and "pts" in line)
    assert "33.3% *" in red and "0.0%" in red and "-33.3 pts" in red
    assert "(largest)" in out and "100.0% *" not in red
    assert json.loads((run / "versions" / "v2" / "audit.json").read_text())["attributes"]["perceived gender"]["before"]


def test_audit_refuses_bad_values_in_one_line(tmp_path, capsys, colour_images):
    folder = tmp_path / "images"
    with FakeOpenAIServer() as server:
        assert _run(server, folder, tmp_path / "run") == 0
        capsys.readouterr()
        assert main(["audit", str(tmp_path / "run"), "--attribute", "perceived age", "--values", "old"]) == 1
    assert "fewer than two distinct values" in capsys.readouterr().err


def test_a_cluster_still_flagged_after_the_fix_gets_the_next_suggestion_at_the_terminal(tmp_path, capsys):
    """After `--fix` left a cluster over the threshold the terminal said nothing more, while audit.json, the report
    and the chat suggested the instruction at label (Step 2a) next."""
    # the colours hold different shares of the marks the fake VLM reads as a gender: Step 3 cannot even them out
    make_marked_images(tmp_path / "images", {("red", "black"): 3, ("red", "white"): 1, ("green", "white"): 3})
    run = tmp_path / "run"
    with FakeOpenAIServer() as server:
        assert _run(server, tmp_path / "images", run) == 0
        capsys.readouterr()
        assert main(["audit", str(run), "--attribute", "perceived gender", "--values", "man,woman", "--fix",
                     "--yes"]) == 0
        out = capsys.readouterr().out
    after = out.split("before and after the fix")[1]
    assert "Suggested fix: 'Do not consider perceived gender; focus on the colour.' at label (run again with --fix)" \
        in after, out
    assert "focus on the colour.</i> at step label</p>" in (run / "report.html").read_text("utf-8")


def test_a_proposal_of_one_value_is_said_so_with_the_way_on(tmp_path, capsys, monkeypatch):
    """The model's sample named one value only: accepting it (Enter, or --yes) ended on "the values ['woman'] give
    fewer than two distinct values", a Python list of values the user never gave; the chat says one value only."""
    make_marked_images(tmp_path / "images", {("red", "white"): 3, ("green", "white"): 3})
    run = tmp_path / "run"
    with FakeOpenAIServer() as server:
        assert _run(server, tmp_path / "images", run) == 0
        for given in (["--yes"], []):
            capsys.readouterr()
            monkeypatch.setattr("sys.stdin", io.StringIO("\n"))  # Enter: accept
            assert main(["audit", str(run), "--attribute", "perceived gender", *given]) == 1
            err = capsys.readouterr().err
            assert "the model's answers on a sample name one value only: 'woman'" in err, err
            assert "--values \"woman,...\"" in err and "['" not in err, err
