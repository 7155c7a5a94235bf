"""refine, search and review from the command line, against the loopback OpenAI-compatible server."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ictc.cli import main

from fake_server import FakeOpenAIServer


def _run(server, folder: Path, out: Path, *extra: str) -> int:
    return main(["run", str(folder), "-c", "colour", "-k", "3", "--out", str(out), "--backend", "openai",
                 "--base-url", server.url, "--vlm", "vision-model", "--llm", "text-model", *extra])


def _calls(server, since: int) -> dict[str, int]:
    bodies = [r["body"] for r in server.requests[since:]]
    text = [json.dumps(b["messages"]) for b in bodies if b["model"] == "text-model"]
    return {"vlm": sum(b["model"] == "vision-model" for b in bodies), "label": sum("short labels" in t for t in text),
            "names": sum("organise labels" in t for t in text), "assign": sum("sort images" in t for t in text)}


def test_refine_commands_print_what_changed_and_call_only_what_they_must(colour_images, tmp_path, capsys):
    folder = Path(colour_images[0][0]).parent
    run = tmp_path / "run"
    with FakeOpenAIServer() as server:
        assert _run(server, folder, run) == 0
        assert _calls(server, 0) == {"vlm": 8, "label": 8, "names": 1, "assign": 8}
        capsys.readouterr()
        seen = len(server.requests)
        assert main(["refine", str(run), "--instruction", "Mind the shade.", "--step", "3"]) == 0
        out = capsys.readouterr().out
        assert _calls(server, seen) == {"vlm": 0, "label": 0, "names": 0, "assign": 8}
        assert "Will redo: only Step 3, on 8 images" in out and "Version 2" in out and "0 image(s) moved" in out
        assert "assign 8 (0 from store)" in out
        seen = len(server.requests)
        assert main(["refine", str(run), "-k", "2"]) == 0
        out = capsys.readouterr().out
        assert _calls(server, seen) == {"vlm": 0, "label": 0, "names": 1, "assign": 8}
        assert "2 image(s) moved" in out
        seen = len(server.requests)
        assert main(["refine", str(run), "--rename", "Red", "Warm"]) == 0
        out = capsys.readouterr().out
        assert _calls(server, seen) == {"vlm": 0, "label": 0, "names": 0, "assign": 0} and "Renamed: 'Red' -> 'Warm'" in out
        assert main(["refine", str(run), "--undo"]) == 0
        assert "Renamed: 'Warm' -> 'Red'" in capsys.readouterr().out
        assert main(["search", str(run), " ", "-n", "2"]) == 1  # a newcomer's "" listed images ranked by nothing
        assert "ictc: error: the search query is empty" in capsys.readouterr().err
        assert main(["search", str(run), "a blue picture", "-n", "2"]) == 0
        header, *hits = capsys.readouterr().out.strip().splitlines()
        assert header == "distance (lower is closer)  image  [cluster]  description"
        assert len(hits) == 2 and all("blue_" in h for h in hits)
        assert main(["refine", str(run), "--rename", "Nope", "X"]) == 1
        assert "no cluster 'Nope': give its number, 1 to 2, or its name (Green, Red)" in capsys.readouterr().err
        # the instruction given above comes out again: Step 3 only, no other step
        assert main(["refine", str(run), "--remove-instructions", "shade"]) == 0
        out = capsys.readouterr().out
        assert "remove the instructions about 'shade'" in out and "Will redo: only Step 3, on 8 images" in out
        assert "describe 0 (0 from store), label 0 (0 from store), name_clusters 0 (0 from store)" in out
        assert main(["refine", str(run), "--remove-instructions"]) == 1
        assert "ictc: error: there are no instructions to remove" in capsys.readouterr().err
        assert main(["refine", str(run), "--criterion", "colour"]) == 1  # the run's own criterion: no change
        assert "the criterion is already 'colour': nothing to redo" in capsys.readouterr().err
        # cleaned as the chat cleans it: "colour?" is the same criterion, not a new one redoing Step 1
        assert main(["refine", str(run), "--criterion", "colour?"]) == 1
        assert "the criterion is already 'colour': nothing to redo" in capsys.readouterr().err


def test_refine_takes_the_cluster_numbers_it_prints(colour_images, tmp_path, capsys):
    folder = Path(colour_images[0][0]).parent
    run = tmp_path / "run"
    with FakeOpenAIServer() as server:
        assert _run(server, folder, run) == 0
    names = json.loads((run / "results.json").read_text())["cluster_names"]
    assert " 2. " in capsys.readouterr().out.split(names[1])[0].splitlines()[-1]  # printed as "  2.  size  name"
    assert main(["refine", str(run), "--merge", "1", "3", "--into", "Both"]) == 0
    assert json.loads((run / "results.json").read_text())["cluster_names"] == ["Both", names[1]]
    assert main(["refine", str(run), "--rename", "2", "Second"]) == 0
    assert json.loads((run / "results.json").read_text())["cluster_names"] == ["Both", "Second"]
    assert main(["refine", str(run), "--merge", "1", "3"]) == 1
    assert "no cluster '3': give its number, 1 to 2, or its name (Both, Second)" in capsys.readouterr().err


def test_refine_remove_takes_a_cluster_out_by_its_number_and_the_empty_ones_without_a_number(colour_images, tmp_path,
                                                                                             capsys):
    folder = Path(colour_images[0][0]).parent
    run = tmp_path / "run"
    with FakeOpenAIServer() as server:
        assert _run(server, folder, run) == 0
        names, sizes = (lambda r: (r["cluster_names"], {c["name"]: c["size"] for c in r["clusters"]}))(
            json.loads((run / "results.json").read_text()))
        seen = len(server.requests)
        assert main(["refine", str(run), "--remove", "3"]) == 0  # its images to Step 3, among the two left
        assert _calls(server, seen) == {"vlm": 0, "label": 0, "names": 0, "assign": sizes[names[2]]}
        assert json.loads((run / "results.json").read_text())["cluster_names"] == names[:2]
        assert f"Will redo: Step 3 on the {sizes[names[2]]} images of {names[2]!r} only" in capsys.readouterr().out
        assert main(["refine", str(run), "--remove"]) == 1
        assert "ictc: error: no cluster is empty: nothing to remove" in capsys.readouterr().err
        assert main(["refine", str(run), "--remove", "1", "2"]) == 1  # not argparse's usage text (a newcomer)
        assert "ictc: error: --remove takes one cluster at a time: --remove 1 first, then --remove 2" in capsys.readouterr().err
        assert main(["refine", str(run), "--split", "1", "1"]) == 1  # had read "cannot split 'Red' (n images) into 1"
        assert "ictc: error: a split needs at least 2 parts, not 1" in capsys.readouterr().err
        assert main(["refine", str(run), "--rename", "1", "Warm", "--into", "Hot"]) == 1  # --into had gone unsaid
        assert "ictc: error: --into names a merged cluster: it goes with --merge" in capsys.readouterr().err
        assert json.loads((run / "results.json").read_text())["cluster_names"] == names[:2]  # nothing renamed


def test_a_second_run_into_a_run_folder_is_refused_and_the_run_there_is_kept(colour_images, tmp_path, capsys):
    """A newcomer's second `ictc run --out runs/c1` had replaced version 1 of a run with 12 versions, without a word."""
    folder = Path(colour_images[0][0]).parent
    run = tmp_path / "run"
    with FakeOpenAIServer() as server:
        assert _run(server, folder, run) == 0
        assert main(["refine", str(run), "--rename", "1", "Warm"]) == 0
        before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
        seen = len(server.requests)
        assert _run(server, folder, run) == 1
        assert len(server.requests) == seen  # refused before any model call
    assert f"ictc: error: {run} already holds a run: refine or resume it" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_review_at_the_terminal(colour_images, tmp_path, capsys, monkeypatch):
    folder = Path(colour_images[0][0]).parent
    answers = io.StringIO("help\nrename 1 First\nk 0\nnonsense words\nwhat can I do?\nk 2\n\nmerge 1,2 Everything\n\n")
    monkeypatch.setattr("sys.stdin", answers)
    with FakeOpenAIServer() as server:
        assert _run(server, folder, tmp_path / "run", "--review") == 0
    out = capsys.readouterr().out
    assert "Cluster names (before Step 3)" in out and "cannot read 'nonsense words'" in out
    assert "cannot read 'help'" not in out and "cannot read 'what can I do?'" not in out
    assert out.count("What each answer does") == 2  # had only shown the same one-line list again
    assert out.count("K must be between 2") == 1  # said once, not again under the list after the next typing error
    assert "cannot read 'merge 1,2" not in out  # "merge 1,2" as the chat reads it
    # K 2, then a merge that would leave one cluster: refused as a remove is (a newcomer's chat had made a 1-cluster run)
    assert "would leave 1 cluster; a clustering needs 2" in out
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert len(results["cluster_names"]) == 2 and "Everything" not in results["cluster_names"] and results["version"] == 1


@pytest.mark.parametrize("merge", ["merge 1,2 Number one", "merge 1 2", "merge 1,2 Cool\nrename Cool Number one"])
def test_a_merge_at_the_names_pause_keeps_the_merged_images_together(colour_images, tmp_path, capsys, monkeypatch, merge):
    """A newcomer's "merge 1,2 Cool" before Step 3 left Cool empty: Step 3 had been asked with "Cool", which says
    nothing of green or blue. Step 3 now chooses among the names as they were and sends both to the merge."""
    folder = Path(colour_images[0][0]).parent
    with FakeOpenAIServer() as server:
        assert _run(server, folder, tmp_path / "plain") == 0
        plain = json.loads((tmp_path / "plain" / "results.json").read_text())
        monkeypatch.setattr("sys.stdin", io.StringIO(merge + "\n\n\n"))
        assert _run(server, folder, tmp_path / "run", "--review") == 0
    first, second, third = plain["cluster_names"]
    cluster = {r["image"]: r["cluster"] for r in plain["images"]}
    merged = json.loads((tmp_path / "run" / "results.json").read_text())
    target = "Number one" if "Number one" in merge else max((first, second), key=lambda n: (
        sum(c == n for c in cluster.values()), n == first))
    assert merged["cluster_names"] == [target, third]
    assert {r["image"]: r["cluster"] for r in merged["images"]} == {
        image: target if c in (first, second) else c for image, c in cluster.items()}


def test_a_rename_merge_or_undo_needs_no_model_server_and_a_step_3_instruction_names_the_dead_one(
        colour_images, tmp_path, capsys):
    folder = Path(colour_images[0][0]).parent
    run = tmp_path / "run"
    with FakeOpenAIServer() as server:
        assert _run(server, folder, run) == 0
    capsys.readouterr()  # the server is gone from here on: only passes that run no node can work
    assert main(["refine", str(run), "--rename", "Red", "Warm"]) == 0
    assert "Renamed: 'Red' -> 'Warm'" in capsys.readouterr().out
    assert main(["refine", str(run), "--merge", "Warm", "Blue"]) == 0
    assert main(["refine", str(run), "--undo"]) == 0
    versions = json.loads((run / "run.json").read_text())["versions"]
    assert len(versions) == 4
    # nor imports the HTTP client: a second of a rename's ten at 250,000 images went to importing it
    probe = ("import sys; from ictc.cli import main; code = main(['refine', sys.argv[1], '--rename', 'Warm', 'Hot']); "
             "print(code, sorted(m for m in ('openai', 'langchain_openai', 'torch', 'chromadb') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe, str(run)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    assert done.stdout.strip().splitlines()[-1] == "0 []", done.stderr
    assert main(["refine", str(run), "--instruction", "Mind the shade.", "--step", "3"]) == 3
    assert server.url.split("//")[1] in capsys.readouterr().err
    assert len(json.loads((run / "run.json").read_text())["versions"]) == 5  # nothing lost
    # a resume with nothing to do needs no server (the instruction above changed nothing); one given models checks
    # them, and the ways out say --backend, which resume takes like run (it had been patched to "--set ICTC_BACKEND=")
    assert main(["resume", str(run)]) == 0 and "nothing was left to do" in capsys.readouterr().out
    assert main(["resume", str(run), "--vlm", "vision-model"]) == 3
    assert "use local models (--backend local --vlm /path/to/model)" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:  # checked as run checks it
        main(["resume", str(run), "--backend", "locale"])
    assert stop.value.code == 1 and "invalid choice: 'locale'" in capsys.readouterr().err
    with FakeOpenAIServer() as again:  # the run's own backend replaced, kept in run.json for its refinements
        meta = json.loads((run / "run.json").read_text())
        meta["settings"]["backend"] = "local"
        (run / "run.json").write_text(json.dumps(meta))
        assert main(["resume", str(run), "--backend", "openai", "--base-url", again.url]) == 0
    assert json.loads((run / "run.json").read_text())["settings"]["backend"] == "openai"


def test_a_cluster_named_like_another_cluster_s_number_is_not_guessed():
    from ictc.core.errors import UsageError
    from ictc.graph.commands import cluster_by_token

    names = ["3 or more", "1", "2"]
    assert cluster_by_token(names, "3") == "2" and cluster_by_token(names, "3 or more") == "3 or more"
    with pytest.raises(UsageError, match="'2' is ambiguous: cluster 2 is '1', and the cluster named '2' is number 3"):
        cluster_by_token(names, "2")
    assert cluster_by_token(["a", "2"], "2") == "2"  # its own number and name: the same cluster
    assert cluster_by_token(["Red", "blue"], "RED") == "Red"  # as the chat reads names
    with pytest.raises(UsageError, match="no cluster 'red'"):
        cluster_by_token(["Red", "RED"], "red")  # two names equal but for case: not guessed


def _merged_at_the_pause_then(colour_images, tmp_path: Path, monkeypatch, *refines: list[str]) -> Path:
    """A --review run whose first two clusters are merged into "Cool" at the names pause, then `refines` (each
    `ictc refine` arguments, every one asserted to succeed); returns the run folder."""
    folder = Path(colour_images[0][0]).parent
    run = tmp_path / "run"
    with FakeOpenAIServer() as server:
        monkeypatch.setattr("sys.stdin", io.StringIO("merge 1,2 Cool\n\n\n"))
        assert _run(server, folder, run, "--review") == 0
        for arguments in refines:
            assert main(["refine", str(run), *arguments]) == 0
    return run


def test_a_merge_at_the_names_pause_does_not_pull_images_into_a_cluster_split_since(colour_images, tmp_path, capsys,
                                                                                    monkeypatch):
    """Merged at the pause into "Cool", then split into parts named like the merged names, then Step 3 again for
    every image (an instruction for it): its answers must go to the parts, not to the "Cool" that is gone."""
    run = _merged_at_the_pause_then(colour_images, tmp_path, monkeypatch, ["--split", "Cool", "2"],
                                    ["--instruction", "Look at the colour only.", "--step", "3"])
    results = json.loads((run / "results.json").read_text())
    assert "Cool" not in {r["cluster"] for r in results["images"]}
    assert {r["cluster"] for r in results["images"]} <= set(results["cluster_names"])


def test_a_run_made_with_review_is_refined_like_any_other(colour_images, tmp_path, capsys, monkeypatch):
    """An eighth newcomer: after a --review run, `refine --instruction` printed "Version None" and recorded nothing
    (the change had stopped at the clusters pause); after a merge at the pause and a rename, an instruction left every
    image unfinished."""
    run = _merged_at_the_pause_then(colour_images, tmp_path, monkeypatch, ["--rename", "1", "Chilly"],
                                    ["--instruction", "Ignore the mark.", "--step", "3"])
    assert "Version 3: instruction for assign" in capsys.readouterr().out
    results = json.loads((run / "results.json").read_text())
    assert results["version"] == 3 and results["summary"]["clustered"] == 8 and "Chilly" in results["cluster_names"]
    assert "pending_action" not in json.loads((run / "run.json").read_text())


def test_a_split_at_the_clusters_pause_is_warned_like_refine_s(colour_images, tmp_path, capsys, monkeypatch):
    """refine's split of a cluster whose images share one Step-2a label says a part may stay empty; the same split
    typed at a --review pause went ahead unsaid."""
    folder = Path(colour_images[0][0]).parent
    monkeypatch.setattr("sys.stdin", io.StringIO("\nsplit 1 2\n\n"))
    with FakeOpenAIServer() as server:
        assert _run(server, folder, tmp_path / "run", "--review") == 0
    out = capsys.readouterr().out
    assert "Will redo: Step 2b on the raw labels of" in out and "(its images share one label, " in out


def test_a_new_criterion_s_names_are_printed_as_new_names_not_as_a_rename(colour_images, tmp_path, capsys):
    """After `--rename Red Warm` and a new criterion, refine printed "Renamed: 'Warm' -> 'Red'", as if the user had
    renamed; Step 2b had named the clusters afresh (graph/versions.names_source, as the chat says it)."""
    folder = Path(colour_images[0][0]).parent
    run = tmp_path / "run"
    with FakeOpenAIServer() as server:
        assert _run(server, folder, run) == 0
        assert main(["refine", str(run), "--rename", "Red", "Warm"]) == 0
        assert "Renamed: 'Red' -> 'Warm'" in capsys.readouterr().out  # the user's own rename stays so
        assert main(["refine", str(run), "--criterion", "main colour"]) == 0
        out = capsys.readouterr().out
    assert "Renamed" not in out
    assert "New names from the new criterion: " in out and "the images of 'Warm' are all in 'Red'" in out


@pytest.mark.parametrize(("merge", "said", "absent"), [
    # two clusters of equal size under one new name had been listed as every image of both moved
    (["Red", "Green", "--into", "Warm"], "Merged: 'Red' and 'Green' into 'Warm'", "Renamed"),
    # without --into the larger's name stays: it had said "2 image(s) moved", each Blue -> Red
    (["Blue", "Red"], "Merged: 'Blue' into 'Red' (2 images)", "moved"),
])
def test_a_merge_is_said_as_one_and_moves_no_image(colour_images, tmp_path, capsys, merge, said, absent):
    folder = Path(colour_images[0][0]).parent
    run = tmp_path / "run"
    with FakeOpenAIServer() as server:
        assert _run(server, folder, run) == 0
        capsys.readouterr()
        assert main(["refine", str(run), "--merge", *merge]) == 0
    out = capsys.readouterr().out
    assert said in out and absent not in out and "->" not in out


def _changes_printed(history: str, changes: dict, capsys) -> str:
    from types import SimpleNamespace

    from ictc.cli.refine import _print_changes

    results = {"calls": {}, "history": [history], "cluster_names": ["x"]}
    _print_changes(SimpleNamespace(version=2, results=results, changes=changes))
    return capsys.readouterr().out


def test_names_that_hold_and_or_arrows_are_quoted_and_a_long_list_of_moves_says_how_many_more(capsys):
    """"Merged: Salt and pepper and Oil into ..." had read as three clusters; 25 moves were cut at 20, unsaid."""
    merged = {"renamed": {"A -> B": "C, D"}, "merged": {"Mix": ["Oil", "Salt and pepper"]}, "moved": []}
    out = _changes_printed("merge 'Salt and pepper' and 'Oil' into 'Mix'", merged, capsys)
    assert "Merged: 'Salt and pepper' and 'Oil' into 'Mix'" in out and "Renamed: 'A -> B' -> 'C, D'" in out
    moves = [{"image": f"{i}.png", "from": "Red", "to": "" if i else "Green"} for i in range(25)]
    out = _changes_printed("instruction: mind the shade", {"renamed": {}, "merged": {}, "moved": moves}, capsys)
    assert "25 image(s) moved" in out and "  0.png: 'Red' -> 'Green'" in out and "  1.png: 'Red' -> -" in out
    assert out.rstrip().endswith("  ... and 5 more") and "19.png" in out and "20.png" not in out


def test_a_split_that_found_one_group_is_said_so_at_the_terminal(folder, tmp_path, capsys):
    """`refine --split` of a cluster whose images share one label made a version with "0 image(s) moved" and no word
    of why; the chat said "found only one group"."""
    run = tmp_path / "run"
    with FakeOpenAIServer() as server:
        assert _run(server, folder, run) == 0
        red = next(n for n in json.loads((run / "results.json").read_text())["cluster_names"] if n.lower() == "red")
        capsys.readouterr()
        assert main(["refine", str(run), "--split", red, "2"]) == 0
    out = capsys.readouterr().out
    assert f"Split {red} found only one group: its 3 images stay in {red}" in out, out
    assert "no new version was made" in out and "Version 2" not in out, out
    assert len(json.loads((run / "run.json").read_text())["versions"]) == 1
    # the split's own Step 2b fell back: said of the split, not of "the names above" (the run's clusters)
    assert f"! Step 2b, splitting {red!r}: the LLM gave no usable 2 names" in out and "the names above" not in out, out
