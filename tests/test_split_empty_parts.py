"""A split makes no empty cluster: the parts Step 3 gave no image leave the names (they had stayed, "Warm 1 (0)", for
the user to drop), and a split that found one group leaves the clusters as they were; the same for the chat app, the
CLI and the Python API, which all apply a split through graph/refine.py."""

from __future__ import annotations

import json
from collections import Counter

from test_refine import SplitLLM, finished  # noqa: F401 (finished: a fixture)

from ictc.graph.refine import refine_run
from ictc.graph.session import run_state
from ictc.graph.versions import load_meta
from ictc.nodes.actions import Remove, Rename, Split

from fakes import fake_context


def test_a_split_part_no_image_chose_is_not_kept(finished):  # noqa: F811
    """Red split in 3: Step 2b's two names and a third ("Red"); Step 3 put every image in the first two, and the third stayed
    as an empty cluster."""
    result = refine_run(finished.run_dir, Split("Red", 3), context=fake_context(llm=SplitLLM()))
    assert result.results["cluster_names"] == ["Green", "Light red", "Dark red", "Blue"]
    assert result.results["naming"]["split"]["parts"] == ["Light red", "Dark red"]
    assert result.results["naming"]["split"]["dropped"] == ["Red"]
    assert all(c["size"] for c in result.results["clusters"])
    state = run_state(finished.run_dir)
    assert state["n_clusters"] == 4 and not state["scope"]


def test_a_split_that_found_one_group_leaves_the_clusters_as_they_were(finished):  # noqa: F811
    """Red's images share one label: Step 3 put them all in one part, and "Red 1" (0) was a new cluster."""
    before = {row["image"]: row["cluster"] for row in finished.results["images"]}
    result = refine_run(finished.run_dir, Split("Red", 2), context=fake_context())
    assert result.results["cluster_names"] == finished.results["cluster_names"] == ["Green", "Red", "Blue"]
    assert {row["image"]: row["cluster"] for row in result.results["images"]} == before
    assert result.results["naming"]["split"]["parts"] == ["Red"] and result.results["naming"]["split"]["dropped"]
    # no version the same as the one before (it had been recorded, warned of before go, for the user to undo)
    assert result.version is None and [v["version"] for v in load_meta(finished.run_dir)["versions"]] == [1]
    renamed = refine_run(finished.run_dir, Rename("Red", "Warm"), context=fake_context())
    assert renamed.version == 2 and renamed.changes == {"renamed": {"Red": "Warm"}, "merged": {}, "moved": []}
    assert renamed.results["calls"]["name_clusters"] == {"model_calls": 0, "from_store": 0}  # the split's are its own


def test_a_removal_after_a_split_leaves_its_parts_alone(finished):  # noqa: F811
    """The split's record stays in the naming: a later removal (its own scope) must not be read as the split."""
    refine_run(finished.run_dir, Split("Red", 2), context=fake_context(llm=SplitLLM()))
    result = refine_run(finished.run_dir, Remove("Green"), context=fake_context(llm=SplitLLM()))
    sizes = Counter(row["cluster"] for row in result.results["images"])
    assert result.results["cluster_names"] == ["Light red", "Dark red", "Blue"], (result.results["cluster_names"], sizes)


def test_a_split_that_found_one_group_keeps_the_edits_as_they_were(tmp_path):
    """Green renamed Grass, then a split of Grass found one group: its rename had been taken for the split's (the
    split's parts replace the cluster) and a resume of the failed image said "your renames and splits of version 3
    were not carried over", of a split that changed nothing, and dropped the name Grass."""
    from test_resume_edits import CutsOneBlue, _named, _run

    from ictc.graph.run import resume_run
    from ictc.nodes.actions import Rename

    first, ctx = _run(tmp_path, CutsOneBlue(), 3)  # blue_1 fails
    refine_run(tmp_path / "run", Rename(_named(first, "green"), "Grass"), context=ctx)
    split = refine_run(tmp_path / "run", Split("Grass", 2), context=ctx)
    assert split.results["naming"]["split"]["parts"] == ["Grass"]
    result = resume_run(tmp_path / "run", context=fake_context())
    assert "Grass" in result.results["cluster_names"] and "notices" not in result.results, result.results.get("notices")


def test_a_split_that_found_one_group_leaves_the_run_state_as_the_version_had_it(finished):  # noqa: F811
    """The split made no version, but its state (Step 2b's fallback for the split, Step 3's routes for the cluster's
    images) stayed the run's latest: the next change's version carried the split's record and its warning ("! Step 2b,
    splitting 'calm': the LLM gave no usable 2 names" under a removal), and the images' routes it had changed."""
    before = run_state(finished.run_dir)
    split = refine_run(finished.run_dir, Split("Red", 2), context=fake_context())
    assert split.version is None and split.results["naming"]["split"]["parts"] == ["Red"]  # still said to the caller
    after = run_state(finished.run_dir)
    assert after["naming"] == before["naming"] and after["assignments"] == before["assignments"]
    on_disk = json.loads((finished.run_dir / "results.json").read_text("utf-8"))
    assert "split" not in on_disk["naming"] and on_disk["routes"] == finished.results["routes"], on_disk["naming"]
    renamed = refine_run(finished.run_dir, Rename("Red", "Warm"), context=fake_context())
    assert "split" not in renamed.results["naming"], renamed.results["naming"]
    assert not any("splitting" in w for w in renamed.results.get("warnings", [])), renamed.results["warnings"]
    assert renamed.results["routes"] == finished.results["routes"]
