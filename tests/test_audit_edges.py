"""Break-it cases of the fairness audit and of refinement edits (issues 20 and 3): values with punctuation,
images not found from where ictc runs, a version made by another process while an audit ran, cluster names
with spaces or across lines."""

from __future__ import annotations

import json
import os

import pytest

from ictc.core.errors import UsageError
from ictc.graph import audit as audit_module
from ictc.graph.audit import audit_run, check_values
from ictc.graph.commands import cluster_by_token
from ictc.graph.refine import refine_run
from ictc.graph.run import start_run
from ictc.graph.versions import load_meta
from ictc.nodes.actions import AddInstruction, Merge, Rename
from ictc.nodes.perceive import constrain
from ictc.prompts import make_criterion

from fakes import fake_context, make_marked_images

ATTRIBUTE = "perceived gender"


@pytest.fixture
def relative_run(tmp_path, monkeypatch):
    """A run started as `ictc run images` from tmp_path: its images are named relative to there."""
    make_marked_images(tmp_path / "images", {("red", "black"): 2, ("red", "white"): 2, ("green", "white"): 2})
    monkeypatch.chdir(tmp_path)
    ctx = fake_context()
    start_run("images", make_criterion("colour"), 2, ctx.settings, tmp_path / "run", context=ctx)
    assert json.loads((tmp_path / "run" / "results.json").read_text())["images"][0]["image"].startswith("images")
    return tmp_path / "run"


def test_values_with_punctuation_are_read_in_the_answer_s_own_form():
    ages = ["0-17", "18-64", "65+"]
    assert constrain("65+", ages) == "65+" and constrain("65+.", ages) == "65+"  # "65+" had always read unclear
    assert constrain("18-64", ages) == "18-64" and constrain("Man.", ["man.", "woman."]) == "man."
    with pytest.raises(UsageError, match="'65\\+' reads the same as '65'"):
        check_values(ATTRIBUTE, "65, 65+")
    with pytest.raises(UsageError, match="'\\?' has no letter or digit"):
        check_values(ATTRIBUTE, "man, ?")
    with pytest.raises(UsageError, match="reads the same as 'unclear'"):
        check_values(ATTRIBUTE, "man, unclear.")


def test_an_audit_whose_images_are_not_found_from_here_is_refused_and_the_last_audit_kept(relative_run, tmp_path,
                                                                                          monkeypatch):
    ctx = fake_context()
    audit_run(relative_run, ATTRIBUTE, "man,woman", context=ctx)
    written = (relative_run / "audit.json").read_bytes()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    # had written "the model answered unclear for every image" over the audit above
    with pytest.raises(UsageError, match=r"cannot audit 'perceived age': none of the run's 6 images is found from "
                                         r"here \(e.g. images/.*--images " + str(tmp_path / "images")):
        audit_run(relative_run, "perceived age", "young,old", context=ctx)
    assert (relative_run / "audit.json").read_bytes() == written
    assert "perceived age" not in load_meta(relative_run)["versions"][-1]["audits"]
    again = audit_run(relative_run, ATTRIBUTE, "man,woman", context=ctx)  # stored answers need no file
    assert again.audit is not None and again.audit["baseline"]["counts"]["unclear"] == 0 and not again.failures


def test_an_audit_of_a_folder_gone_says_so(relative_run, tmp_path):
    os.rename(tmp_path / "images", tmp_path / "moved")
    with pytest.raises(UsageError, match="image folder .* is gone"):
        audit_run(relative_run, "perceived age", "young,old", context=fake_context())


def test_a_step_1_change_whose_images_are_not_found_is_refused_before_any_step(relative_run, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    ctx = fake_context()
    # had failed every image and stopped the run at Step 2b, where a resume from the right folder did not retry them
    with pytest.raises(UsageError, match="cannot redo Step 1: none of the run's 6 images is found from here"):
        refine_run(relative_run, AddInstruction("Be brief.", "describe"), context=ctx)
    assert not ctx.vlm.calls and "pending_action" not in load_meta(relative_run)
    assert refine_run(relative_run, AddInstruction("Be brief.", "assign"), context=ctx).version == 2  # no file read
    monkeypatch.chdir(tmp_path)
    assert refine_run(relative_run, AddInstruction("Be brief.", "describe"), context=ctx).version == 3


def test_an_audit_is_not_written_under_a_version_made_while_it_ran(relative_run, monkeypatch):
    ctx = fake_context()
    invoke = audit_module._invoke

    def rename_meanwhile(*args, **kwargs):  # another process renames a cluster while the VLM is asked
        state = invoke(*args, **kwargs)
        refine_run(relative_run, Rename("Red", "Crimson"), context=ctx)
        return state

    monkeypatch.setattr(audit_module, "_invoke", rename_meanwhile)
    with pytest.raises(UsageError, match="became version 2 while version 1 was audited"):
        audit_run(relative_run, ATTRIBUTE, "man,woman", context=ctx)
    assert "audits" not in load_meta(relative_run)["versions"][-1]  # had held version 1's figures
    assert "Crimson" in (relative_run / "report.html").read_text()  # had been rewritten with version 1's clusters
    assert not (relative_run / "audit.json").exists()


def test_a_new_name_is_kept_on_one_line_and_a_name_given_with_spaces_is_found(relative_run):
    result = refine_run(relative_run, Rename("Red", "  Deep\nred "), context=fake_context())
    names = [c["name"] for c in result.results["clusters"]]
    assert "Deep red" in names  # a name across lines had broken Step 3's list of names: its images all moved out
    assert {r["cluster"] for r in result.rows if r["cluster"] != "Green"} == {"Deep red"}
    assert cluster_by_token(names, " deep  RED ") == "Deep red"  # a name copied with its spaces, case aside
    assert Merge(("a", "b"), " Warm\n tones ").into == "Warm tones"


def test_images_the_audit_could_not_ask_about_are_said_at_the_terminal(tmp_path, capsys):
    from ictc.cli import main

    from fake_server import FakeOpenAIServer

    paths = make_marked_images(tmp_path / "images", {("red", "black"): 2, ("green", "white"): 2})
    with FakeOpenAIServer() as server:
        assert main(["run", str(tmp_path / "images"), "-c", "colour", "-k", "2", "--out", str(tmp_path / "run"),
                     "--backend", "openai", "--base-url", server.url, "--vlm", "vision-model", "--llm", "text-model"]) == 0
        os.remove(paths[0])
        capsys.readouterr()
        assert main(["audit", str(tmp_path / "run"), "--attribute", ATTRIBUTE, "--values", "man,woman"]) == 0
    out = capsys.readouterr().out  # the table counts it as unclear, as if the model had said so
    assert f"! 1 image(s) could not be asked and count as unclear (e.g. ImageError: {paths[0]}: not a readable" in out


@pytest.mark.parametrize("threshold", [0, 1, 10, -0.1, float("nan")])
def test_a_threshold_out_of_range_is_said_as_the_range_it_must_be_in(relative_run, threshold):
    # 0 was refused as "a share between 0 and 1 ... not 0.0"
    with pytest.raises(UsageError, match=r"must be a share above 0 and below 1 \(0.10 is 10 points\), not "):
        audit_run(relative_run, ATTRIBUTE, "man,woman", threshold=threshold, context=fake_context())


def test_an_attribute_spelt_alike_replaces_the_earlier_audit_and_its_chart(relative_run):
    ctx = fake_context()
    audit_run(relative_run, ATTRIBUTE, "man,woman", context=ctx)
    result = audit_run(relative_run, "Perceived  Gender", "male,female", context=ctx)
    assert result.audit is not None and result.audit["attribute"] == "Perceived Gender"
    for folder in (relative_run, relative_run / "versions" / "v1"):  # one chart file: the report had shown it twice
        assert list(json.loads((folder / "audit.json").read_text())["attributes"]) == ["Perceived Gender"]
    assert list(load_meta(relative_run)["versions"][-1]["audits"]) == ["Perceived Gender"]
    assert (relative_run / "report.html").read_text().count("<h3>") == 1


def test_an_instruction_without_fix_is_refused_before_the_audit(relative_run, capsys):
    from ictc.cli import main

    assert main(["audit", str(relative_run), "--attribute", ATTRIBUTE, "--values", "man,woman",
                 "--instruction", "Ignore the corner mark."]) == 1
    assert "--instruction is the fix's instruction: it goes with --fix" in capsys.readouterr().err
    assert not (relative_run / "audit.json").exists()


def test_no_values_proposed_is_said_so_not_as_values_declined(relative_run, capsys, monkeypatch):
    from ictc.cli import main

    from fakes import FakeVLM

    monkeypatch.setattr("ictc.graph.runtime.build_context", lambda settings: fake_context(vlm=FakeVLM(perceives={})))
    assert main(["audit", str(relative_run), "--attribute", ATTRIBUTE, "--yes"]) == 1  # the model: unclear for all
    err = capsys.readouterr().err
    assert "no values could be proposed for 'perceived gender'" in err and 'e.g. --values "a,b"' in err


def test_an_audit_of_a_run_being_changed_or_left_half_changed_is_refused_before_any_call(relative_run):
    from ictc.evaluation.outputs import write_json
    from ictc.graph.versions import run_lock

    ctx = fake_context()
    with run_lock(relative_run), pytest.raises(UsageError, match="is busy"):  # another process refines it
        audit_run(relative_run, ATTRIBUTE, "man,woman", context=ctx)  # had asked every image, then been refused
    meta = load_meta(relative_run)
    write_json(relative_run / "run.json", {**meta, "pending_action": "split 'Red' into 2"})  # stopped half-way
    with pytest.raises(UsageError, match="has a change not finished \\(split 'Red' into 2\\): finish it first"):
        audit_run(relative_run, ATTRIBUTE, "man,woman", context=ctx)
    assert not ctx.vlm.calls and not (relative_run / "audit.json").exists()


def test_a_value_named_only_inside_a_longer_value_counts_as_the_longer():
    ages = ["child", "young adult", "adult"]
    assert constrain("A young adult.", ages) == "young adult"  # had read unclear: "adult" was found too
    assert constrain("an adult", ages) == "adult" and constrain("a child or an adult", ages) == "unclear"


def test_an_unknown_fix_step_is_said_as_refine_says_it(relative_run, capsys):
    from ictc.cli import main

    with pytest.raises(SystemExit) as stopped:  # argparse's error: the usage, then one line
        main(["audit", str(relative_run), "--attribute", ATTRIBUTE, "--fix", "--step", "9"])
    assert stopped.value.code == 1
    assert "argument --step: unknown step '9': use describe (1)" in capsys.readouterr().err  # "invalid step_name value"


def test_a_step_1_change_whose_descriptions_are_all_stored_needs_no_file(relative_run, tmp_path, monkeypatch):
    from ictc.nodes.actions import RemoveInstructions

    ctx = fake_context()
    refine_run(relative_run, AddInstruction("Be brief.", "describe"), context=ctx)  # from where the run started
    monkeypatch.chdir(tmp_path / "images")  # elsewhere: no image found from here
    calls = len(ctx.vlm.calls)
    # back to the first prompt: every description is in the store, so no file is read and nothing is refused
    assert refine_run(relative_run, RemoveInstructions("brief"), context=ctx).version == 3
    assert len(ctx.vlm.calls) == calls
    with pytest.raises(UsageError, match="cannot redo Step 1"):  # a new prompt would read every file
        refine_run(relative_run, AddInstruction("Be terse.", "describe"), context=ctx)


def test_a_fix_that_leaves_a_cluster_flagged_suggests_the_next_step_not_the_same_again(tmp_path):
    from ictc.graph.audit import fix_preview, fix_run

    from fakes import FakeLLM

    # green is 4 "man" to 2 "woman" whatever Step 3 does: flagged after the fix too
    paths = make_marked_images(tmp_path / "images", {("red", "black"): 4, ("red", "white"): 4,
                                                     ("green", "black"): 4, ("green", "white"): 2})
    ctx = fake_context(llm=FakeLLM(pulled_by_mark={"black": "Red"}))
    start_run(paths, make_criterion("colour"), 2, ctx.settings, tmp_path / "run", context=ctx)
    first = audit_run(tmp_path / "run", ATTRIBUTE, "man,woman", context=ctx).audit
    assert first is not None and first["fix"]["step"] == "assign"
    after = fix_run(tmp_path / "run", first, context=ctx)
    assert after is not None and after.after.audit is not None
    again = after.after.audit
    assert again["summary"]["flagged"] == ["Green"]
    # had been the same instruction for Step 3 again: applying it, or the app's preview of it, was refused
    assert again["fix"] == {**first["fix"], "clusters": ["Green"], "step": "label"}
    assert "Step 2a" in fix_preview(tmp_path / "run", again["fix"]["instruction"], again["fix"]["step"])
    last = fix_run(tmp_path / "run", again, context=ctx)
    assert last is not None and last.after.audit is not None and last.after.audit["fix"] is None
    with pytest.raises(UsageError, match="already given at Steps 3 and 2a: give your own instruction"):
        fix_run(tmp_path / "run", last.after.audit, context=ctx)
