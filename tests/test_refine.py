"""Refinement redoes exactly the work whose inputs changed: model calls counted per step and action."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ictc.graph.refine import refine_run, undo_run
from ictc.graph.run import resume_run, start_run
from ictc.graph.session import run_state
from ictc.nodes.actions import (
    AddInstruction,
    AddOther,
    Merge,
    Remove,
    RemoveInstructions,
    Rename,
    SetCriterion,
    SetK,
    Split,
)
from ictc.nodes.name_split import split_parts
from ictc.prompts import make_criterion

from fakes import FakeLLM, fake_context, step_calls

LABEL, NAMES, ASSIGN = "Criterion: colour", "organise labels", "sort images"


def counts(ctx) -> dict[str, int]:
    return {"vlm": len(ctx.vlm.calls), "label": step_calls(ctx.llm, LABEL), "names": step_calls(ctx.llm, NAMES),
            "assign": step_calls(ctx.llm, ASSIGN)}


class SplitLLM(FakeLLM):
    """Splits Red into Light red (the 40-pixel image) and Dark red."""

    def respond(self, messages, **kwargs):
        if "organise labels" in messages[0].content:
            return '{"names": ["Light red", "Dark red"]}'
        if "sort images" in messages[0].content:
            return "Light red" if "40 pixels" in messages[1].content else "Dark red"
        return super().respond(messages, **kwargs)


@pytest.fixture
def finished(colour_images, tmp_path):
    paths, _ = colour_images
    ctx = fake_context()
    result = start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / "run", context=ctx)
    assert counts(ctx) == {"vlm": 8, "label": 8, "names": 1, "assign": 8}
    assert result.version == 1
    return result


def test_step_3_instruction_calls_only_step_3(finished):
    ctx = fake_context()
    result = refine_run(finished.run_dir, AddInstruction("Prefer warm colours.", "assign"), context=ctx)
    assert counts(ctx) == {"vlm": 0, "label": 0, "names": 0, "assign": 8}
    assert all("Prefer warm colours." in c["prompt"] for c in ctx.llm.calls)
    calls = result.results["calls"]
    assert calls["describe"]["model_calls"] == calls["label"]["model_calls"] == 0 and calls["assign"]["model_calls"] == 8
    assert result.version == 2 and result.results["history"] == ["first run", "instruction for assign: 'Prefer warm colours.'"]


def test_changing_k_calls_2b_and_3_only(finished):
    ctx = fake_context()
    result = refine_run(finished.run_dir, SetK(2), context=ctx)
    assert counts(ctx) == {"vlm": 0, "label": 0, "names": 1, "assign": 8}
    assert len(result.results["cluster_names"]) == 2
    assert len(result.changes["moved"]) == 2  # the two blue images had to go elsewhere


def test_rename_and_merge_call_no_model_and_report_changes(finished):
    ctx = fake_context()
    renamed = refine_run(finished.run_dir, Rename("Red", "Warm"), context=ctx)
    assert counts(ctx) == {"vlm": 0, "label": 0, "names": 0, "assign": 0}
    assert renamed.changes == {"renamed": {"Red": "Warm"}, "merged": {}, "moved": []}
    merged = refine_run(finished.run_dir, Merge(("Green", "Blue"), "Cool"), context=ctx)
    assert counts(ctx)["assign"] == 0 and sorted(merged.results["cluster_names"]) == ["Cool", "Warm"]
    assert merged.changes == {"renamed": {}, "merged": {"Cool": ["Green", "Blue"]}, "moved": []}


def test_split_reruns_2b_on_its_labels_and_3_on_its_images_only(finished):
    ctx = fake_context(llm=SplitLLM())
    result = refine_run(finished.run_dir, Split("Red", 2), context=ctx)
    assert counts(ctx) == {"vlm": 0, "label": 0, "names": 1, "assign": 3}
    assert "- red: 3" in ctx.llm.calls[0]["prompt"] and "green" not in ctx.llm.calls[0]["prompt"]
    sizes = {c["name"]: c["size"] for c in result.results["clusters"]}
    assert sizes == {"Green": 3, "Blue": 2, "Light red": 1, "Dark red": 2}
    before = finished.results["cluster_names"]
    at = before.index("Red")  # the parts stand where "Red" stood, so the clusters after it keep their numbers
    assert result.results["cluster_names"] == [*before[:at], "Light red", "Dark red", *before[at + 1:]]


def test_a_split_s_step_2b_call_is_a_graph_step_counted_and_traced(finished):
    from ictc.evaluation.traces import read_traces

    result = refine_run(finished.run_dir, Split("Red", 2), context=fake_context(llm=SplitLLM()))
    assert result.results["calls"]["name_clusters"] == {"model_calls": 1, "from_store": 0}
    traces = read_traces(finished.run_dir)
    split_traces = [t for t in traces if t["version"] == 2 and t["step"] == "name_clusters"]
    assert len(split_traces) == 1 and split_traces[0]["output"] == ["Light red", "Dark red"]


class EchoNamesLLM(SplitLLM):
    """Proposes, for a split, names that other clusters already have (the case that left one cluster)."""

    def respond(self, messages, **kwargs):
        if "organise labels" in messages[0].content:
            return '{"names": ["Green", "Blue"]}'
        if "sort images" in messages[0].content:  # the first name offered, the second for the 40-pixel image (a
            # part no image chose would not be kept: nodes/name_split.split_done)
            return messages[1].content.split("- ")[2 if "40 pixels" in messages[1].content else 1].split("\n")[0]
        return super().respond(messages, **kwargs)


def test_a_split_always_yields_the_parts_asked_for_even_after_a_merge(finished):
    merged = refine_run(finished.run_dir, Merge(("Red", "Green")), context=fake_context())
    assert sorted(merged.results["cluster_names"]) == ["Blue", "Red"]
    result = refine_run(finished.run_dir, Split("Red", 2), context=fake_context(llm=EchoNamesLLM()))
    names = result.results["cluster_names"]
    assert len(names) == 3 and len(set(names)) == 3 and "Blue" in names
    parts = [n for n in names if n != "Blue"]
    assert parts == ["Green", "Red 1"]  # "Green" is free again after the merge; "Blue" is taken: numbered
    assert result.results["naming"]["split"]["parts"] == parts


def test_new_criterion_redoes_every_step(finished):
    ctx = fake_context()
    result = refine_run(finished.run_dir, SetCriterion("shade"), context=ctx)
    assert counts(ctx)["vlm"] == 8 and result.results["criterion"]["text"] == "shade"


def test_the_criterion_the_run_has_or_an_instruction_it_has_is_no_change(finished):
    """A newcomer's "colour; 4" on a colour run redid every step for nothing, and an instruction said again after
    going back to a version that had it was in the prompts twice: both are refused, and nothing runs."""
    from ictc.core.errors import UsageError

    ctx = fake_context()
    with pytest.raises(UsageError, match="the criterion is already 'colour': nothing to redo"):
        refine_run(finished.run_dir, SetCriterion(" Colour "), context=ctx)
    with pytest.raises(UsageError, match="K is already 3: nothing to redo"):
        refine_run(finished.run_dir, SetK(3), context=ctx)
    # unless a cluster is empty: the same K asks Step 2b again for K names that all get images (a tenth newcomer's
    # split had left an empty part, and "-k 4" was refused)
    from ictc.nodes.actions import plan_action

    state = run_state(finished.run_dir)
    emptied = {**state, "naming": {**state["naming"], "names": [*state["naming"]["names"][:2], "nobody"]}}
    assert plan_action(emptied, SetK(3)).goto == "name_clusters"
    refine_run(finished.run_dir, AddInstruction("Don't prefer cool colours.", "assign"), context=ctx)
    with pytest.raises(UsageError, match="'do not prefer cool colours' is already given for assign"):
        refine_run(finished.run_dir, AddInstruction("do not prefer cool colours", "3"), context=ctx)
    assert counts(ctx) == {"vlm": 0, "label": 0, "names": 0, "assign": 8}  # the first instruction's Step 3 only
    refine_run(finished.run_dir, AddInstruction("Don't prefer cool colours."), context=ctx)  # for every step: new
    with pytest.raises(UsageError, match="already given for every step"):  # and so in Step 3's prompt already
        refine_run(finished.run_dir, AddInstruction("Do not prefer cool colours", "label"), context=ctx)


def test_removing_an_instruction_redoes_from_the_earliest_step_that_had_it(finished):
    """Instructions could only pile up (a newcomer): one about a word, or all, can be taken out again."""
    from ictc.core.errors import UsageError

    ctx = fake_context()
    refine_run(finished.run_dir, AddInstruction("Prefer warm colours.", "assign"), context=ctx)
    refine_run(finished.run_dir, AddInstruction("Ignore the border.", "2b"), context=ctx)
    before = counts(ctx)
    with pytest.raises(UsageError, match=r"no instruction mentions 'size' \(the instructions: 'Prefer warm colours.'; 'Ignore"):
        refine_run(finished.run_dir, RemoveInstructions("size"), context=ctx)
    result = refine_run(finished.run_dir, RemoveInstructions("WARM"), context=ctx)  # Step 3's only: Step 3 again
    calls = result.results["calls"]
    # Step 3 ran again, its prompts those of version 1 again: answered from the store, no model call
    assert calls["assign"] == {"model_calls": 0, "from_store": 8} and counts(ctx) == before
    assert calls["name_clusters"]["model_calls"] + calls["name_clusters"]["from_store"] == 0  # Step 2b not redone
    assert result.results["criterion"]["instructions"] == {"name_clusters": ["Ignore the border."]}
    assert result.results["history"][-1] == "remove the instructions about 'WARM'"
    result = refine_run(finished.run_dir, RemoveInstructions(), context=ctx)  # all: from Step 2b's on
    assert result.results["criterion"]["instructions"] == {} and result.results["calls"]["name_clusters"]["from_store"] == 1
    with pytest.raises(UsageError, match="there are no instructions to remove"):
        refine_run(finished.run_dir, RemoveInstructions(), context=ctx)


def test_a_name_that_differs_from_another_cluster_s_only_by_case_is_refused(finished):
    """A newcomer renamed 2 to "Blue" beside "blue"; the two could then not be merged by name."""
    from ictc.core.errors import UsageError

    ctx = fake_context()
    names = finished.results["cluster_names"]
    with pytest.raises(UsageError, match=f"cluster 2 is called '{names[1]}'"):
        refine_run(finished.run_dir, Rename(names[0], names[1].upper()), context=ctx)
    with pytest.raises(UsageError, match=f"cannot merge into '{names[2].lower()}': cluster 3 is called '{names[2]}'"):
        refine_run(finished.run_dir, Merge((names[0], names[1]), names[2].lower()), context=ctx)
    assert refine_run(finished.run_dir, Rename(names[0], names[0].upper()), context=ctx).version == 2  # its own: fine


def test_a_merge_keeps_the_place_of_the_cluster_whose_name_it_keeps(finished):
    """A newcomer's "merge other 5 with Blue" kept the name Blue but moved it to other 5's place, so the numbers
    users merge and rename by shifted."""
    ctx = fake_context()
    names = finished.results["cluster_names"]  # Green 3, Red 3, Blue 2 (the fixture's sizes)
    kept = refine_run(finished.run_dir, Merge((names[2], names[0]), ""), context=ctx).results["cluster_names"]
    assert kept == [names[0], names[1]]  # Green (bigger) keeps its name and its place, first
    undo_run(finished.run_dir, context=ctx)
    named = refine_run(finished.run_dir, Merge((names[2], names[0]), "Mixed"), context=ctx).results["cluster_names"]
    assert named == [names[1], "Mixed"]  # a new name: the first cluster's place


def test_undo_goes_back_and_keeps_history(finished):
    ctx = fake_context()
    refine_run(finished.run_dir, Rename("Red", "Warm"), context=ctx)
    back = undo_run(finished.run_dir, context=ctx)
    assert sorted(back.results["cluster_names"]) == ["Blue", "Green", "Red"]
    assert back.version == 3 and back.changes["renamed"] == {"Warm": "Red"}
    assert [p.name for p in sorted((finished.run_dir / "versions").iterdir())] == ["v1", "v2", "v3"]
    with pytest.raises(ValueError, match="no cluster named"):
        refine_run(finished.run_dir, Rename("Warm", "Hot"), context=ctx)


def test_undo_after_a_k_change_restores_every_assignment(finished):
    ctx = fake_context()
    changed = refine_run(finished.run_dir, SetK(2), context=ctx)
    assert changed.changes["moved"]
    back = undo_run(finished.run_dir, context=ctx)
    assert [(r["image"], r["cluster"]) for r in back.rows] == [(r["image"], r["cluster"]) for r in finished.rows]
    assert run_state(finished.run_dir)["n_clusters"] == 3


def test_undo_of_a_split_restores_the_state_before_it_scope_included(finished):
    refine_run(finished.run_dir, Split("Red", 2), context=fake_context(llm=SplitLLM()))
    undo_run(finished.run_dir, context=fake_context())
    state = run_state(finished.run_dir)
    assert sorted(state["naming"]["names"]) == ["Blue", "Green", "Red"] and state["scope"] == {}


def test_checkpoints_hold_no_per_image_results(finished):
    """Per-image fields are rebuilt from the tasks' writes (graph/state.py), so a checkpoint does not
    grow with the image set; the state read back is still whole."""
    import sqlite3

    from ictc.graph.checkpointer import run_saver

    refine_run(finished.run_dir, AddInstruction("Prefer warm colours.", "assign"), context=fake_context())
    per_image = {"images", "failures", "descriptions", "labels", "assignments", "scope"}
    with sqlite3.connect(finished.run_dir / "checkpoints.sqlite") as connection:
        rows = connection.execute("SELECT type, checkpoint FROM checkpoints").fetchall()
        serde = run_saver(connection).serde  # the records are compressed (graph/checkpointer.py)
    stored = {key for row in rows for key in serde.loads_typed(row)["channel_values"]}
    assert len(rows) > 5 and "naming" in stored and not stored & per_image
    state = run_state(finished.run_dir)
    assert len(state["images"]) == len(state["descriptions"]) == len(state["assignments"]) == 8


def test_second_run_and_duplicate_files_make_no_new_vlm_calls(colour_images, tmp_path):
    paths, _ = colour_images
    twin = Path(paths[0]).with_name("copy of red 0.png")
    shutil.copyfile(paths[0], twin)
    ctx = fake_context()
    result = start_run([*paths, str(twin)], make_criterion("colour"), 3, ctx.settings, tmp_path / "a", context=ctx)
    assert len(ctx.vlm.calls) == 8  # the twin was described once
    assert result.rows[-1]["cluster"] == result.rows[0]["cluster"] and result.rows[-1]["same_as"] == paths[0]
    again = fake_context()  # the same inputs in another run folder: everything comes from the store
    second = start_run([*paths, str(twin)], make_criterion("colour"), 3, again.settings, tmp_path / "b", context=again)
    assert counts(again) == {"vlm": 0, "label": 0, "names": 0, "assign": 0}
    assert second.results["calls"]["describe"] == {"model_calls": 0, "from_store": 8}
    assert (tmp_path / "b" / "results.csv").read_text().replace("/b/", "/a/") == (tmp_path / "a" / "results.csv").read_text()


def test_review_pauses_survive_new_sessions(colour_images, tmp_path):
    paths, _ = colour_images
    ctx = fake_context()
    first = start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / "run", context=ctx, review=True)
    assert first.pause["point"] == "names" and first.version is None and counts(ctx)["assign"] == 0
    assert resume_run(tmp_path / "run", context=fake_context()).pause["point"] == "names"  # still waiting
    renamed = resume_run(tmp_path / "run", context=fake_context(), answer={"action": "rename", "cluster": "Red", "to": "Warm"})
    assert renamed.pause["point"] == "names" and "Warm" in [c["name"] for c in renamed.pause["clusters"]]
    bad = resume_run(tmp_path / "run", context=fake_context(), answer={"action": "rename", "cluster": "Nope", "to": "X"})
    assert "no cluster named 'Nope'" in bad.pause["error"]
    later = fake_context()
    clusters = resume_run(tmp_path / "run", context=later, answer={"action": "accept"})
    assert clusters.pause["point"] == "clusters" and counts(later)["assign"] == 8
    done = resume_run(tmp_path / "run", context=fake_context(), answer={"action": "accept"})
    assert done.pause is None and done.version == 1 and "Warm" in done.results["cluster_names"]


def test_a_second_process_on_the_same_run_is_refused(finished):
    from ictc.graph.versions import run_lock

    with run_lock(finished.run_dir), pytest.raises(ValueError, match="is busy"):
        refine_run(finished.run_dir, Rename("Red", "Warm"), context=fake_context())


def test_restore_goes_back_to_any_version_as_a_new_version(finished):
    from ictc.graph.refine import restore_run

    ctx = fake_context()
    refine_run(finished.run_dir, Rename("Red", "Warm"), context=ctx)
    refine_run(finished.run_dir, SetK(2), context=ctx)
    back = restore_run(finished.run_dir, 1, context=ctx)
    assert back.version == 4 and back.results["history"][-1] == "restore: back to version 1"
    assert [(r["image"], r["cluster"]) for r in back.rows] == [(r["image"], r["cluster"]) for r in finished.rows]
    assert run_state(finished.run_dir)["n_clusters"] == 3
    again = restore_run(finished.run_dir, 2, context=ctx)  # a later version is still there to go back to
    assert "Warm" in again.results["cluster_names"] and again.version == 5
    with pytest.raises(ValueError, match="no version 9"):
        restore_run(finished.run_dir, 9, context=ctx)
    with pytest.raises(ValueError, match="already the current one"):
        restore_run(finished.run_dir, 5, context=ctx)


def test_a_split_part_named_like_the_cluster_keeps_its_spelling_so_its_images_do_not_move():
    # newcomer: "split Green in two" gave parts "green" and "red" and reported all 33 images moved
    assert split_parts("Green", ["green", "red"], ["Green", "Blue"], 2) == ["Green", "red"]
    assert split_parts("Green", ["blue", "GREEN"], ["Green", "Blue"], 2) == ["Green", "Green 1"]
    # a seventh newcomer's split of a one-label cluster had a part "other", then read as the other group
    assert split_parts("Greenish", ["green", "other"], ["Greenish", "Blue"], 2) == ["green", "Greenish 1"]


def test_a_split_says_before_go_when_its_images_share_one_label_and_refuses_an_empty_cluster(finished):
    from ictc.core.errors import UsageError
    from ictc.nodes.actions import preview_action

    state = run_state(finished.run_dir)
    assert "(its images share one label, 'red': a part may stay empty)" in preview_action(state, Split("Red", 2))
    emptied = {**state, "assignments": {p: {**a, "cluster": "Red"} if a["cluster"] == "Blue" else a
                                        for p, a in state["assignments"].items()}}
    with pytest.raises(UsageError, match="cannot split 'Blue': it has no images"):  # newcomer: "accept the names first"
        preview_action(emptied, Split("Blue", 2))


def test_a_run_folder_s_files_get_the_usual_modes_not_0600(finished):
    """Newcomer: report.html, results.* and run.json were -rw------- (mkstemp's mode) under umask 022, so a
    teammate or a web server could not read the report."""
    import os

    from ictc.evaluation.outputs import FILE_MODE

    mask = os.umask(0)
    os.umask(mask)
    assert 0o666 & ~mask == FILE_MODE
    refine_run(finished.run_dir, Rename("Red", "Warm"), context=fake_context())
    files = [p for p in finished.run_dir.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"report.html", "results.json", "results.csv", "run.json", "results-summary.json"}
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in files if p.stat().st_mode & 0o777 != FILE_MODE} == {}


def test_a_change_on_an_interrupted_refinement_says_every_way_on(finished):
    """Newcomer: after Stop in the chat app a rename answered "finish it first with ictc resume ..." only."""
    import threading

    from ictc.core.errors import UsageError
    from ictc.nodes.context import StopRequested

    stopped = fake_context()
    stopped.stop = threading.Event()
    stopped.stop.set()
    with pytest.raises(StopRequested):
        refine_run(finished.run_dir, AddInstruction("Mind the shade.", "assign"), context=stopped)
    with pytest.raises(UsageError, match=r"finish it first \(ictc resume .*, or Continue in the chat app\), or drop "
                                         r"the unfinished change with an undo"):
        refine_run(finished.run_dir, Rename("Red", "Warm"), context=fake_context())
    undone = undo_run(finished.run_dir, context=fake_context())  # the unfinished change dropped
    assert undone.results["history"][-1] == "undo: the unfinished change dropped, back to version 1"
    assert set(undone.results["cluster_names"]) == {"Red", "Green", "Blue"}
    assert refine_run(finished.run_dir, Rename("Red", "Warm"), context=fake_context()).changes["renamed"] == {"Red": "Warm"}


def test_a_change_stopped_after_its_work_but_before_its_version_is_not_saved_under_the_next_change(finished):
    """A Stop while a change's outputs are written leaves its work in the checkpoints and run.json naming it
    pending (a newcomer pressed Stop in the chat app, then renamed: the rename's version held the stopped Step-3
    instruction). The next change is refused until Continue records the stopped one as its own version."""
    import json

    ctx = fake_context()
    refine_run(finished.run_dir, AddInstruction("ignore grain", "assign"), context=ctx)
    meta_path = finished.run_dir / "run.json"
    meta = json.loads(meta_path.read_text())
    stopped = meta["versions"].pop()  # as if the Stop came before the version was written
    meta["pending_action"] = stopped["action"]
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"stopped before it was saved as a version \(instruction for assign"):
        refine_run(finished.run_dir, Rename("Red", "Warm"), context=ctx)
    resumed = resume_run(finished.run_dir, context=ctx)  # Continue: the stopped change becomes its version
    assert resumed.results["history"][-1] == stopped["action"]
    renamed = refine_run(finished.run_dir, Rename("Red", "Warm"), context=ctx)
    assert renamed.results["history"][-2:] == [stopped["action"], "rename 'Red' to 'Warm'"]


def test_a_merge_without_a_new_name_keeps_the_bigger_cluster_s_name(finished):
    """"merge Purple with Red" (Purple empty, Red 33 images) renamed Red's images "Purple" (a newcomer): with no
    name given the bigger cluster's name stays; the first on a tie."""
    sizes = {c["name"]: c["size"] for c in finished.results["clusters"]}
    small, big = sorted(sizes, key=lambda n: (sizes[n], n))[0], sorted(sizes, key=lambda n: (-sizes[n], n))[0]
    assert sizes[small] < sizes[big]
    merged = refine_run(finished.run_dir, Merge((small, big)), context=fake_context())
    assert big in merged.results["cluster_names"] and small not in merged.results["cluster_names"]
    assert {c["name"]: c["size"] for c in merged.results["clusters"]}[big] == sizes[small] + sizes[big]


def test_undo_after_undo_steps_further_back_instead_of_flipping(finished):
    """A newcomer's second --undo brought back the rename the first had undone: undos walk back the history."""
    ctx = fake_context()
    refine_run(finished.run_dir, Rename("Red", "AAA"), context=ctx)  # v2
    refine_run(finished.run_dir, Rename("Blue", "BBB"), context=ctx)  # v3
    first = undo_run(finished.run_dir, context=ctx)  # v4 = v2
    assert sorted(first.results["cluster_names"]) == ["AAA", "Blue", "Green"]
    second = undo_run(finished.run_dir, context=ctx)  # v5 = v1, not v3 again
    assert sorted(second.results["cluster_names"]) == ["Blue", "Green", "Red"]
    assert second.results["history"][-2:] == ["undo: back to version 2", "undo: back to version 1"]
    with pytest.raises(ValueError, match="nothing to undo: this is the first version.s state"):
        undo_run(finished.run_dir, context=ctx)
    refine_run(finished.run_dir, Rename("Green", "CCC"), context=ctx)  # v6: a change after the undos
    assert "CCC" not in undo_run(finished.run_dir, context=ctx).results["cluster_names"]  # back to v5's state


def test_removing_a_cluster_sends_only_its_images_to_step_3_and_an_empty_one_calls_no_model(finished):
    """Remove: a newcomer's "drop the empty groups" had no action to stand for. Blue's 2 images choose between Red
    and Green (Step 3 on them alone; the 6 others keep their cluster); an empty "other" goes without a model call;
    no empty cluster, a cluster that is not there, or fewer than 2 left, are refused by name."""
    ctx = fake_context()
    removed = refine_run(finished.run_dir, Remove("Blue"), context=ctx)
    assert counts(ctx)["vlm"] == counts(ctx)["label"] == counts(ctx)["names"] == 0
    blue_prompts = [c for c in ctx.llm.calls if ASSIGN in c["prompt"]]
    assert blue_prompts and all("blue" in c["prompt"].lower() for c in blue_prompts)  # only Blue's images asked
    kept = [n for n in finished.results["cluster_names"] if n != "Blue"]  # in their places
    assert removed.results["cluster_names"] == kept and removed.results["n_clusters"] == 2
    assert sorted(m["from"] for m in removed.changes["moved"]) == ["Blue", "Blue"]
    before = {r["image"]: r["cluster"] for r in finished.rows}
    assert all(r["cluster"] == before[r["image"]] for r in removed.rows if before[r["image"]] != "Blue")
    with pytest.raises(ValueError, match="no cluster is empty"):
        refine_run(finished.run_dir, Remove(), context=fake_context())
    with pytest.raises(ValueError, match="no cluster named 'Purple'"):
        refine_run(finished.run_dir, Remove("Purple"), context=fake_context())
    with pytest.raises(ValueError, match="would leave 1 cluster"):
        refine_run(finished.run_dir, Remove("Red"), context=fake_context())
    with pytest.raises(ValueError, match="would leave 1 cluster"):  # a merge as a remove: it had made a 1-cluster run
        refine_run(finished.run_dir, Merge((kept[0], kept[1])), context=fake_context())
    widened = refine_run(finished.run_dir, AddOther(), context=fake_context())
    assert {c["name"]: c["size"] for c in widened.results["clusters"]}["other"] == 0
    ctx = fake_context()
    emptied = refine_run(finished.run_dir, Remove(), context=ctx)
    assert not ctx.llm.calls and not ctx.vlm.calls
    assert emptied.results["cluster_names"] == kept and not emptied.changes["moved"]
    assert emptied.results["n_clusters"] == 2 and not emptied.results.get("other", {}).get("size")
    assert undo_run(finished.run_dir, context=fake_context()).results["cluster_names"] == [*kept, "other"]


def test_a_rename_to_the_same_name_is_no_change_and_a_redo_of_step_2b_says_the_edits_go(finished):
    """A newcomer's "--rename blue blue" made a version; "don't consider the glare" undid a merge without a word."""
    from ictc.graph.session import run_state
    from ictc.nodes.actions import preview_action

    with pytest.raises(ValueError, match="'Red' is already called that: nothing to change"):
        refine_run(finished.run_dir, Rename("Red", "Red"), context=fake_context())
    taken = finished.results["cluster_names"].index("Blue") + 1
    with pytest.raises(ValueError, match=f"cannot rename to 'blue': cluster {taken} is called 'Blue'"):
        refine_run(finished.run_dir, Rename("Red", "blue"), context=fake_context())
    state = run_state(finished.run_dir)
    for action in (SetK(2), SetCriterion("shade"), AddInstruction("Mind the glare.")):
        assert preview_action(state, action).endswith("Step 2b names the clusters afresh, so earlier renames, merges "
                                                      "and removals are not kept")
    assert "afresh" not in preview_action(state, AddInstruction("Mind the glare.", "assign"))  # Step 3 keeps names


def test_a_change_stopped_before_its_first_node_must_be_finished_or_dropped_before_another(finished):
    """A ninth newcomer: "2 groups", Stop at once, then "rename 1 as Hot" made a version with 0 of 40 images
    clustered: the stopped change's input (assignments cleared) waited in the checkpoint's writes."""
    import threading

    from ictc.core.errors import UsageError
    from ictc.nodes.context import StopRequested

    stopped = fake_context()
    stopped.stop = threading.Event()
    stopped.stop.set()
    with pytest.raises(StopRequested):
        refine_run(finished.run_dir, SetK(2), context=stopped)
    name = finished.results["cluster_names"][0]
    with pytest.raises(UsageError, match="has a change stopped before it was saved as a version"):
        refine_run(finished.run_dir, Rename(name, "Hot"), context=fake_context())
    back = undo_run(finished.run_dir, context=fake_context())  # dropped: the version as it was
    assert back.results["summary"]["clustered"] == finished.results["summary"]["clustered"]
    assert refine_run(finished.run_dir, Rename(name, "Hot"), context=fake_context()).results["summary"][
        "clustered"] == finished.results["summary"]["clustered"]
