"""Identical files (same bytes) are described, labelled and assigned once, but every count said to the user is of
images (files): a cluster of 5 images, 3 of them identical, had been previewed as "Step 3 on the 2 images"; three
identical red squares failing had been "1 image failed" beside "3 image(s) failed", and resume's history said
"retried 1 failed image(s)"."""

from __future__ import annotations

import shutil
from pathlib import Path

from test_resume_names import CutsRed, _results  # a server failing the red images, as there

from ictc.cli.summary import print_result
from ictc.graph.run import progress_so_far, resume_run, start_run
from ictc.graph.session import run_state
from ictc.nodes.actions import Merge, Remove, Split, plan_action, preview_action
from ictc.nodes.review import pause_payload
from ictc.nodes.state import files_of
from ictc.prompts import make_criterion

from fakes import fake_context, make_images


def _with_copies(folder: Path, counts: dict[str, int], copies: int) -> list[str]:
    """The solid-colour images of make_images, and `copies` more files with the bytes of the first one."""
    paths, _ = make_images(folder, counts)
    copied = [folder / f"copy_{i}.png" for i in range(copies)]
    for copy in copied:
        shutil.copyfile(paths[0], copy)
    return [*paths, *map(str, copied)]


def test_files_of_counts_each_file_of_a_content():
    images = [{"path": p, "sha256": h} for p, h in (("a", "1"), ("b", "1"), ("c", "1"), ("d", "2"), ("e", "3"))]
    assert files_of(images, ["a", "d"]) == (4, 3)
    assert files_of(images, ["d", "e"]) == (2, 0)


def test_three_identical_failures_are_three_images_in_the_fewer_kinds_sentence_and_in_resume_history(tmp_path):
    paths = _with_copies(tmp_path / "images", {"red": 1, "green": 3, "blue": 2}, copies=2)  # 3 identical reds
    ctx = fake_context(vlm=CutsRed())
    start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / "run", context=ctx)
    first = _results(tmp_path / "run")
    assert first["summary"]["failed"] == 3
    short = [w for w in first["warnings"] if "distinct kind" in w]
    assert len(short) == 1 and "3 images failed before getting a label" in short[0], short
    resume_run(tmp_path / "run", context=fake_context())
    assert _results(tmp_path / "run")["history"][-1] == "resume: retried 3 failed image(s)"


def test_a_cluster_of_identical_files_is_counted_in_images_by_remove_split_merge_and_the_review(tmp_path):
    paths = _with_copies(tmp_path / "images", {"blue": 2, "red": 3, "green": 2}, copies=3)  # Blue: 5 images
    ctx = fake_context()
    start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / "run", context=ctx)
    state = run_state(tmp_path / "run")
    blue = next(n for n in state["naming"]["names"] if n.lower() == "blue")
    green = next(n for n in state["naming"]["names"] if n.lower() == "green")
    removed = preview_action(state, Remove(blue))
    assert f"Step 3 on the 5 images of {blue!r} only, 4 of them identical files asked once" in removed, removed
    split = preview_action(state, Split(blue, 2))
    assert "then Step 3 on its 5 images only, 4 of them identical files asked once" in split, split
    sizes = {c["name"]: c["size"] for c in pause_payload(state, "clusters")["clusters"]}
    assert sizes[blue] == 5 and sum(sizes.values()) == len(paths)
    # no name given: the bigger cluster's name stays, bigger in images (Blue: 5 files of 2 contents, Green: 2 of 2)
    assert blue in plan_action(state, Merge((green, blue), "")).update["naming"]["names"]


def test_step_1_progress_of_a_finished_run_with_identical_files_is_complete(tmp_path):
    """Identical files are described once, so Step 1's total counts contents, as Steps 2a and 3 do (it had said
    "describe 8/9" at the end of a run with one copy)."""
    paths = _with_copies(tmp_path / "images", {"blue": 2, "red": 3, "green": 3}, copies=1)
    ctx = fake_context()
    start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / "run", context=ctx)
    told = {event["step"]: (event["done"], event["total"]) for event in progress_so_far(run_state(tmp_path / "run"))}
    assert told == {"describe": (8, 8), "label": (8, 8), "assign": (8, 8)}


def test_the_cli_summary_says_once_that_identical_files_were_asked_once(tmp_path, capsys):
    """The chat's previews said identical files ("4 of them identical files asked once"); the CLI never had."""
    paths = _with_copies(tmp_path / "images", {"blue": 2, "red": 3, "green": 2}, copies=3)  # 4 files of one content
    ctx = fake_context()
    result = start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / "run", context=ctx)
    capsys.readouterr()
    print_result(result)
    out = capsys.readouterr().out
    assert "3 clusters by 'colour' (10 images, 4 of them identical files asked once):" in out, out
    assert out.count("identical") == 1
