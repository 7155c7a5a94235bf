"""Issue 21: K proposed, the user's own categories, an "other" group, and a coarser level (fakes only)."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from ictc.core.errors import UsageError
from ictc.graph.refine import refine_run, undo_run
from ictc.graph.run import resume_run, start_run
from ictc.models.other import none_of_these
from ictc.nodes.actions import (
    AddOther,
    Coarser,
    ProposeK,
    SetCriterion,
    SetK,
    SetNames,
    parse_action,
)
from ictc.nodes.propose_k import distribution_k, rank_candidates
from ictc.prompts import make_criterion

from fakes import FakeLLM, NoneOfTheseLLM, fake_context, step_calls

NAMES, ASSIGN, PROPOSE, COARSEN = "organise labels", "sort images", "how many categories", "broader parent"


def test_distribution_signal_is_the_effective_number_of_labels():
    k, reason = distribution_k(Counter({"red": 3, "green": 3, "blue": 2}), 10)
    assert k == 3 and "3 distinct labels" in reason and "= 3.0" in reason  # exp(entropy) of 3/8, 3/8, 2/8 = 2.95
    assert distribution_k(Counter({"a": 97, "b": 1, "c": 1, "d": 1}), 10)[0] == 2  # one label dominates


def test_candidates_ranked_by_votes_then_silhouette():
    ranked = rank_candidates({"label counts": 3, "silhouette": 4, "LLM": 3}, {2: 0.1, 3: 0.2, 4: 0.5},
                             {"label counts": "a", "silhouette": "b", "LLM": "c"})
    assert [c["k"] for c in ranked] == [3, 4]
    assert ranked[0]["votes"] == ["label counts", "LLM"]
    alone = rank_candidates({"label counts": 2, "silhouette": 2, "LLM": 2}, {2: 0.3, 3: 0.6}, {})
    assert [c["k"] for c in alone] == [2, 3]  # a second candidate from the next best silhouette


def test_a_candidate_s_silhouette_is_said_once(colour_images, tmp_path, capsys):
    # the candidate's figure stood beside a reason that gave it again ("K=3, silhouette 0.412 (best) / silhouette:
    # best silhouette of the label embeddings, 0.412 at K=3")
    from ictc.cli.groupings import show_proposal
    from ictc.ui.questions import k_choice_said

    paths, _ = colour_images
    ctx = fake_context()
    result = start_run(paths, make_criterion("colour"), "auto", ctx.settings, tmp_path / "run", context=ctx)
    choice = result.results["k_choice"]
    best = next(c for c in choice["proposal"]["candidates"] if "silhouette" in c["votes"])
    figure = f"{best['silhouette']:.3f}"
    show_proposal({"criterion": {"text": "colour"}, "proposal": choice["proposal"]})
    assert capsys.readouterr().out.count(figure) == 1
    assert k_choice_said(result.results).count(f"{best['silhouette']:.2f}") == 1
    assert "the best of the label embeddings over K=2.." in " ".join(best["reasons"])


def test_k_auto_takes_the_best_and_records_the_proposal(colour_images, tmp_path):
    paths, _ = colour_images
    ctx = fake_context()
    result = start_run(paths, make_criterion("colour"), "auto", ctx.settings, tmp_path / "run", context=ctx)
    choice = result.results["k_choice"]
    assert choice["chosen"] == 3 and choice["by"] == "best" and result.results["n_clusters"] == 3
    candidates = choice["proposal"]["candidates"]
    assert 2 <= len(candidates) <= 3 and candidates[0]["k"] == 3
    assert set(choice["proposal"]["signals"]) == {"label_counts", "silhouette", "llm"}
    assert choice["proposal"]["signals"]["silhouette"]["by_k"]  # scored over candidate K
    assert step_calls(ctx.llm, PROPOSE) == 1 and step_calls(ctx.llm, NAMES) == 1
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    assert saved["k_choice"]["chosen"] == 3
    assert "K proposed" in (tmp_path / "run" / "report.html").read_text()
    # a K set afterwards is the user's (a break-it helper's `k 2` at a review pause kept "K=3 (best)")
    changed = refine_run(tmp_path / "run", SetK(2), context=fake_context())
    assert (changed.results["k_choice"]["chosen"], changed.results["k_choice"]["by"]) == (2, "user")


def test_k_auto_asks_and_the_users_pick_is_recorded(colour_images, tmp_path):
    paths, _ = colour_images
    ctx = fake_context()
    paused = start_run(paths, make_criterion("colour"), "auto", ctx.settings, tmp_path / "run", context=ctx, k_pick="ask")
    assert paused.pause["point"] == "k" and paused.pause["proposal"]["candidates"][0]["k"] == 3
    wrong = resume_run(tmp_path / "run", context=ctx, answer=SetK(99))
    assert wrong.pause["point"] == "k" and "between 2 and the 8" in wrong.pause["error"]
    done = resume_run(tmp_path / "run", context=ctx, answer=SetK(2))
    assert done.results["k_choice"]["chosen"] == 2 and done.results["k_choice"]["by"] == "user"
    assert len(done.results["cluster_names"]) == 2 and done.results["summary"]["clustered"] == 8
    assert step_calls(ctx.llm, PROPOSE) == 1  # the pause did not ask the LLM again


def test_user_names_skip_step_2b_and_are_the_only_answers(colour_images, tmp_path):
    paths, _ = colour_images
    ctx = fake_context()
    result = start_run(paths, make_criterion("colour"), 0, ctx.settings, tmp_path / "run", context=ctx,
                       names="Blue, Green,Red")
    assert step_calls(ctx.llm, NAMES) == 0 and result.results["names_source"] == "user"
    assert result.results["cluster_names"] == ["Blue", "Green", "Red"]
    assert {c["name"]: c["size"] for c in result.results["clusters"]} == {"Blue": 2, "Green": 3, "Red": 3}


@pytest.mark.parametrize("names", ["red", "red, Red", " , "])
def test_user_names_that_cannot_be_used_are_refused(colour_images, tmp_path, names):
    paths, _ = colour_images
    ctx = fake_context()
    with pytest.raises(UsageError):
        start_run(paths, make_criterion("colour"), 0, ctx.settings, tmp_path / "run", context=ctx, names=names)
    assert not ctx.vlm.calls


def test_none_of_these_rule():
    assert none_of_these("None of these.", ["Red", "other"]) == "other"
    assert none_of_these("\"none\"", ["Red", "other"]) == "other"
    assert none_of_these("None of these.", ["Red", "Green"]) is None  # no other group: the usual mapping
    assert none_of_these("reddish", ["Red", "other"]) is None


def test_other_group_takes_what_fits_no_name_and_its_size_is_shown(colour_images, tmp_path):
    paths, _ = colour_images
    ctx = fake_context(llm=NoneOfTheseLLM())
    result = start_run(paths, make_criterion("colour"), 0, ctx.settings, tmp_path / "run", context=ctx,
                       names=["Red", "Green"], other=True)
    sizes = {c["name"]: c["size"] for c in result.results["clusters"]}
    assert sizes == {"Red": 3, "Green": 3, "other": 2} and result.results["other"] == {"size": 2}
    assert result.results["routes"].get("text", 0) + result.results["routes"].get("json", 0) == 8  # read as answers, no re-ask
    assert all('answer "other"' in c["prompt"] for c in ctx.llm.calls if ASSIGN in c["prompt"])
    assert "Other group" in (tmp_path / "run" / "report.html").read_text()


def test_refine_sets_names_then_adds_other(colour_images, tmp_path):
    paths, _ = colour_images
    ctx = fake_context(llm=NoneOfTheseLLM())
    start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / "run", context=ctx)
    named = refine_run(tmp_path / "run", SetNames(("Red", "Green")), context=fake_context(llm=NoneOfTheseLLM()))
    assert named.results["cluster_names"] == ["Red", "Green"] and named.results["calls"]["name_clusters"]["model_calls"] == 0
    other_ctx = fake_context(llm=NoneOfTheseLLM())
    widened = refine_run(tmp_path / "run", AddOther(), context=other_ctx)
    assert {c["name"]: c["size"] for c in widened.results["clusters"]} == {"Red": 3, "Green": 3, "other": 2}
    assert not other_ctx.vlm.calls and step_calls(other_ctx.llm, "Criterion: colour") == 0  # no Step 1 or 2a
    from ictc.graph.session import run_state
    from ictc.nodes.actions import preview_action

    # a newcomer's "too many groups" after own categories had not said they go
    assert preview_action(run_state(tmp_path / "run"), SetK(3)).endswith(
        "Step 2b names the clusters afresh, in place of your own categories (Red, Green)")
    # an eighth newcomer's "group by the shape instead" kept the categories and dropped the merges, unsaid
    assert preview_action(run_state(tmp_path / "run"), SetCriterion("shape")).endswith(
        "your own categories stay (Red, Green; earlier renames, merges and removals are not kept): give new ones, "
        "or a K, to change them")
    back = refine_run(tmp_path / "run", SetK(3), context=fake_context())
    assert "Blue" in back.results["cluster_names"] and back.results["names_source"] == "model"


def test_coarser_level_groups_names_and_images_follow(colour_images, tmp_path):
    paths, _ = colour_images
    start_run(paths, make_criterion("colour"), 3, fake_context().settings, tmp_path / "run", context=fake_context())
    ctx = fake_context()
    result = refine_run(tmp_path / "run", Coarser(2), context=ctx)
    assert not ctx.vlm.calls and step_calls(ctx.llm, COARSEN) == 1 and len(ctx.llm.calls) == 1  # no 1, 2a, 2b, 3
    tree = {p["name"]: {c["name"]: c["size"] for c in p["children"]} for p in result.results["tree"]}
    assert tree == {"Parent of Green": {"Green": 3, "Blue": 2}, "Parent of Red": {"Red": 3}}  # names: Green, Red, Blue
    sizes = {c["name"]: c["size"] for c in result.results["clusters"]}
    assert sizes == {"Parent of Green": 5, "Parent of Red": 3}
    # each earlier cluster went whole to its parent: a merge and a rename, no image moved one by one
    assert result.changes == {"renamed": {"Red": "Parent of Red"}, "merged": {"Parent of Green": ["Green", "Blue"]},
                              "moved": []}
    assert "Levels" in (tmp_path / "run" / "report.html").read_text()
    finer = undo_run(tmp_path / "run", context=fake_context())  # back to the K names, no model call
    assert finer.results["cluster_names"] == ["Green", "Red", "Blue"] and "tree" not in finer.results


def test_coarser_fallback_places_every_name_when_the_llm_never_answers_right(colour_images, tmp_path):
    class StubbornLLM(FakeLLM):
        def respond(self, messages, **kwargs):
            if "broader parent" in messages[0].content:
                return json.dumps({"parents": [{"name": "Warm", "children": ["Red"]}]})
            return super().respond(messages, **kwargs)

    paths, _ = colour_images
    start_run(paths, make_criterion("colour"), 3, fake_context().settings, tmp_path / "run", context=fake_context())
    result = refine_run(tmp_path / "run", Coarser(2), context=fake_context(llm=StubbornLLM()))
    tree = {p["name"]: sorted(c["name"] for c in p["children"]) for p in result.results["tree"]}
    assert list(tree)[0] == "Warm" and sorted(sum(tree.values(), [])) == ["Blue", "Green", "Red"]
    assert len(tree) == 2 and result.results["summary"]["clustered"] == 8


def test_coarser_needs_fewer_parents_than_names(colour_images, tmp_path):
    paths, _ = colour_images
    start_run(paths, make_criterion("colour"), 3, fake_context().settings, tmp_path / "run", context=fake_context())
    with pytest.raises(UsageError, match="between 2 and 2"):
        refine_run(tmp_path / "run", Coarser(3), context=fake_context())


def test_propose_k_on_a_finished_run_reuses_steps_1_and_2a(colour_images, tmp_path):
    paths, _ = colour_images
    start_run(paths, make_criterion("colour"), 2, fake_context().settings, tmp_path / "run", context=fake_context())
    ctx = fake_context()
    result = refine_run(tmp_path / "run", ProposeK(), context=ctx)
    assert not ctx.vlm.calls and step_calls(ctx.llm, "Criterion: colour") == 0
    assert result.results["k_choice"]["chosen"] == 3 and len(result.results["cluster_names"]) == 3


def test_new_actions_round_trip_as_dicts():
    assert parse_action({"action": "set_names", "names": ["a", "b"]}) == SetNames(("a", "b"))
    assert parse_action({"action": "coarser", "n": 2}) == Coarser(2)
    assert parse_action({"action": "add_other"}) == AddOther() and parse_action({"action": "propose_k"}) == ProposeK()
