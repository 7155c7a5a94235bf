"""Counts said to the user and the range of K count the images that can be clustered: a run with one broken file
(failed in Step 1) had previewed a K change as "Step 3 on 22 images" where 21 could be, and K was allowed up to
the files chosen, broken and identical ones too (a K above the distinct images names clusters no image can fill)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ictc.core.errors import UsageError
from ictc.graph.run import start_run
from ictc.graph.session import run_state
from ictc.nodes.actions import AddInstruction, SetK, preview_action
from ictc.nodes.state import clusterable
from ictc.prompts import make_criterion

from fakes import fake_context, make_images


def _broken_and_copies(folder: Path) -> list[str]:
    """6 solid colours, 2 copies of the first (8 readable files, 6 contents) and one broken file (9 files)."""
    paths, _ = make_images(folder, {"red": 2, "green": 2, "blue": 2})
    for i in range(2):
        shutil.copyfile(paths[0], folder / f"copy_{i}.png")
    (folder / "broken.png").write_text("this is text, not an image")
    return [*paths, str(folder / "copy_0.png"), str(folder / "copy_1.png"), str(folder / "broken.png")]


@pytest.fixture
def finished(tmp_path) -> dict:
    """The state of a finished run of _broken_and_copies's files, K=3."""
    ctx = fake_context()
    start_run(_broken_and_copies(tmp_path / "images"), make_criterion("colour"), 3, ctx.settings, tmp_path / "run",
              context=ctx)
    return run_state(tmp_path / "run")


def test_clusterable_leaves_out_the_failed_files_and_counts_identical_ones_once():
    images = [{"path": p, "sha256": h} for p, h in (("a", "1"), ("b", "1"), ("c", "2"), ("d", "3"), ("e", "4"))]
    failures = {"d": {"step": "describe", "reason": "x"}, "e": {"step": "assign", "reason": "y"}}
    assert clusterable(images, failures) == (4, 3, 1)  # a Step-3 failure is asked again: it can be clustered


def test_a_k_change_counts_the_images_that_can_be_clustered(finished):
    preview = preview_action(finished, SetK(4))
    assert "then Step 3 on 8 images, 1 failed image left out (no VLM" in preview, preview
    step3 = preview_action(finished, AddInstruction("Do not consider shade.", "assign"))
    assert "only Step 3, on 8 images, 1 failed image left out" in step3, step3
    every = preview_action(finished, AddInstruction("Do not consider shade.", "describe"))
    assert "every step on 9 images" in every, every  # Step 1 again: the failed file is retried


def test_k_runs_to_the_distinct_images_that_can_be_clustered(finished):
    preview_action(finished, SetK(6))
    with pytest.raises(UsageError, match=r"between 2 and the 6 distinct images \(8 files, identical ones counted "
                                         r"once; 1 more failed\), not 7"):
        preview_action(finished, SetK(7))


def test_a_first_run_refuses_a_k_above_the_distinct_readable_images(tmp_path):
    paths, _ = make_images(tmp_path / "images", {"red": 2, "green": 1})
    shutil.copyfile(paths[0], tmp_path / "images" / "copy.png")
    ctx = fake_context()
    with pytest.raises(UsageError, match=r"K=4 is more than the 3 distinct readable images \(4 files, identical"):
        start_run([*paths, str(tmp_path / "images" / "copy.png")], make_criterion("colour"), 4, ctx.settings,
                  tmp_path / "run", context=ctx)
