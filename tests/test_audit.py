"""The fairness audit (paper §4.4) with fakes: the fake VLM perceives an attribute from a mark in the
image, the fake LLM's Step 3 is pulled by that mark unless told "do not consider"; the audit sees the
bias, the fix (an instruction through refine_run) removes it, and the audit sees it shrink."""

from __future__ import annotations

import json

import pytest

from ictc.core.errors import UsageError
from ictc.evaluation.audit import compute_audit, format_comparison, format_table
from ictc.graph.audit import audit_run, check_values, fix_run
from ictc.graph.run import start_run
from ictc.nodes.perceive import constrain
from ictc.prompts import make_criterion

from fakes import FakeLLM, fake_context, make_marked_images, step_calls

ATTRIBUTE = "perceived gender"
QUESTION = "how one attribute of the person"


@pytest.fixture
def biased_run(tmp_path):
    """16 images: red and green, half with a black mark (perceived "man"), half white ("woman"); the
    fake Step 3 pulls black-marked images into Red. Clustered by colour, K=2."""
    paths = make_marked_images(tmp_path / "images", {("red", "black"): 4, ("red", "white"): 4,
                                                     ("green", "black"): 4, ("green", "white"): 4})
    ctx = fake_context(llm=FakeLLM(pulled_by_mark={"black": "Red"}))
    start_run(paths, make_criterion("colour"), 2, ctx.settings, tmp_path / "run", context=ctx)
    return tmp_path / "run"


def by_cluster(audit):
    return {c["cluster"]: c for c in audit["clusters"]}


def test_audit_measures_the_bias_the_fake_model_has(biased_run):
    ctx = fake_context()
    result = audit_run(biased_run, ATTRIBUTE, "man, woman", context=ctx)
    clusters = by_cluster(result.audit)
    # Red: 4 red+black, 4 red+white, 4 green+black -> 8 man, 4 woman; Green: 4 woman
    assert clusters["Red"]["counts"] == {"man": 8, "woman": 4, "unclear": 0}
    assert clusters["Red"]["disparity"] == pytest.approx(1 / 3, abs=1e-4) and clusters["Red"]["flagged"]
    assert clusters["Green"]["shares"] == {"man": 0.0, "woman": 1.0} and clusters["Green"]["disparity"] == 1.0
    assert result.audit["baseline"]["shares"] == {"man": 0.5, "woman": 0.5}
    assert result.audit["summary"]["largest_disparity"] == 1.0
    assert result.audit["summary"]["mean_disparity"] == pytest.approx((1 / 3 + 1) / 2, abs=1e-4)
    assert step_calls(ctx.vlm, QUESTION) == 16 and len(ctx.llm.calls) == 0  # one question per image, no LLM
    assert result.audit["fix"]["instruction"] == "Do not consider perceived gender; focus on the colour."
    written = json.loads((biased_run / "versions" / "v1" / "audit.json").read_text())
    assert written["attributes"][ATTRIBUTE]["clusters"] == result.audit["clusters"]
    assert "not facts about the people" in written["note"]
    assert (biased_run / "audit-perceived-gender.png").stat().st_size > 5000
    report = (biased_run / "report.html").read_text()
    assert "Fairness audit" in report and "not facts about the people" in report and "33.3%" in report


def test_answers_are_stored_apart_and_never_reach_steps_1_to_3(biased_run, private_workspace):
    from ictc.graph.session import run_state
    from ictc.store.step_cache import StepCache

    state = run_state(biased_run)
    audit_run(biased_run, ATTRIBUTE, ["man", "woman"], context=fake_context())
    assert run_state(biased_run) == state  # the pipeline's state (descriptions, labels, clusters) untouched
    cache = StepCache(private_workspace / "steps.sqlite")
    assert cache.count("audit") == 16 and cache.count("assign") == 16
    again = fake_context()
    audit_run(biased_run, ATTRIBUTE, ["man", "woman"], context=again)
    assert len(again.vlm.calls) == 0  # reused from the store like descriptions
    later = fake_context()
    fix_run(biased_run, audit_run(biased_run, ATTRIBUTE, ["man", "woman"], context=later).audit, "all", context=later)
    prompts = [c["prompt"] for c in later.llm.calls] + [c["prompt"] for c in later.vlm.calls]
    assert prompts and not any(word in p.lower().split() for p in prompts for word in ("man", "woman", "man.", "woman."))


def test_fix_removes_the_bias_through_refinement(biased_run):
    before = audit_run(biased_run, ATTRIBUTE, ["man", "woman"], context=fake_context()).audit
    ctx = fake_context(llm=FakeLLM(pulled_by_mark={"black": "Red"}))
    seen = []
    fixed = fix_run(biased_run, before, "assign", confirm=lambda redo: seen.append(redo) or True, context=ctx)
    assert seen == ["only Step 3, on 16 images"]
    assert step_calls(ctx.llm, "sort images") == 16 and step_calls(ctx.vlm, "Describe") == 0
    assert step_calls(ctx.vlm, QUESTION) == 0  # the new version's answers come from the store
    after = fixed.after.audit
    assert fixed.refined.version == 2 and after["version"] == 2
    assert {c["cluster"]: c["disparity"] for c in after["clusters"]} == {"Red": 0.0, "Green": 0.0}
    rows = {r["cluster"]: (r["before"], r["after"]) for r in after["comparison"]}
    assert rows["Red"] == (pytest.approx(0.3333, abs=1e-4), 0.0) and rows["(largest)"] == (1.0, 0.0)
    assert json.loads((biased_run / "versions" / "v2" / "audit.json").read_text())["version"] == 2
    assert "Before (version 1) and after" in (biased_run / "versions" / "v2" / "report.html").read_text()
    text = format_comparison(after["comparison"], ATTRIBUTE)
    assert "33.3% *" in text and "-33.3 pts" in text


def test_declined_fix_changes_nothing(biased_run):
    before = audit_run(biased_run, ATTRIBUTE, ["man", "woman"], context=fake_context()).audit
    assert fix_run(biased_run, before, confirm=lambda redo: False, context=fake_context()) is None
    assert len(json.loads((biased_run / "run.json").read_text())["versions"]) == 1


def test_values_are_proposed_from_a_sample_and_confirmed(biased_run):
    ctx = fake_context()
    proposed = audit_run(biased_run, ATTRIBUTE, context=ctx)
    assert sorted(proposed.proposal) == ["man", "woman"] and proposed.audit is None
    assert step_calls(ctx.vlm, "Answer in one to three words") == 12  # the sample, open question
    assert step_calls(ctx.llm, "propose the answer categories") == 1
    shown = []
    confirmed = audit_run(biased_run, ATTRIBUTE, context=fake_context(),
                          confirm=lambda values: shown.append(values) or ["woman", "man"])
    assert shown and confirmed.audit["values"] == ["woman", "man"]
    assert audit_run(biased_run, ATTRIBUTE, context=fake_context(), confirm=lambda v: None).audit is None


def test_unmarked_images_are_unclear_and_left_out_of_the_shares(tmp_path, colour_images):
    paths, _ = colour_images
    ctx = fake_context()
    start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / "run", context=ctx)
    audit = audit_run(tmp_path / "run", ATTRIBUTE, ["man", "woman"], context=ctx).audit
    assert audit["summary"]["unclear"] == 8 and audit["summary"]["flagged"] == []
    assert audit["fix"] is None
    with pytest.raises(UsageError, match="nothing to fix"):
        fix_run(tmp_path / "run", audit, context=ctx)


def test_constrain_maps_answers_by_the_stated_rule():
    values = ["man", "woman"]
    assert constrain("Woman.", values) == "woman"
    assert constrain("a man", values) == "man"
    assert constrain("I think it is a woman", values) == "woman"  # "man" is not a word of it
    assert constrain("man or woman", values) == "unclear"  # both: unclear, never a guess
    assert constrain("child", values) == "unclear"
    assert constrain("Middle-aged", ["young", "middle-aged", "old"]) == "middle-aged"


def test_disparity_is_the_largest_gap_between_two_values_shares():
    rows = [{"image": f"{i}", "cluster": "A", "status": "ok"} for i in range(10)]
    answers = {**{str(i): "young" for i in range(5)}, **{str(i): "old" for i in range(5, 8)}, "8": "middle"}
    audit = compute_audit(rows, answers, "perceived age", ["young", "middle", "old"], 0.10)
    cluster = audit["clusters"][0]
    assert cluster["counts"] == {"young": 5, "middle": 1, "old": 3, "unclear": 1}
    assert cluster["disparity"] == pytest.approx(5 / 9 - 1 / 9, abs=1e-4)
    assert "*" in format_table(audit) and "not facts about the people" in format_table(audit)


def test_bad_input_is_refused_in_one_line(biased_run):
    with pytest.raises(UsageError, match="fewer than two"):
        check_values(ATTRIBUTE, "man")
    with pytest.raises(UsageError, match="unclear"):
        check_values(ATTRIBUTE, "man,woman,unclear")
    with pytest.raises(UsageError, match="threshold"):
        audit_run(biased_run, ATTRIBUTE, "man,woman", threshold=10, context=fake_context())


def test_estimator_audit_proposes_then_audits_and_fixes(tmp_path):
    from ictc.api import ICTC

    paths = make_marked_images(tmp_path / "images", {("red", "black"): 3, ("red", "white"): 3,
                                                     ("green", "black"): 3, ("green", "white"): 3})
    ctx = fake_context(llm=FakeLLM(pulled_by_mark={"black": "Red"}))
    model = ICTC("colour", 2, out_dir=tmp_path / "run", context=ctx).fit(paths)
    proposal = model.audit(ATTRIBUTE)
    assert sorted(proposal["proposed_values"]) == ["man", "woman"] and not hasattr(model, "audit_")
    audit = model.audit(ATTRIBUTE, proposal["proposed_values"], fix=True)
    assert model.version_ == 2 and audit["before"]["summary"]["largest_disparity"] == 1.0
    assert audit["summary"]["largest_disparity"] == 0.0 and model.audit_ is audit
