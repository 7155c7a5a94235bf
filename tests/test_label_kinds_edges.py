"""WordNet's kinds (label_kinds) against the rest of the product: refinement of a run whose labels joined their
kinds, odd labels, and the reader of a run's results."""

from __future__ import annotations

import json

import pytest

from ictc.graph.refine import refine_run
from ictc.graph.run import start_run
from ictc.models.wordnet import WordNetNouns
from ictc.nodes.actions import AddInstruction, Split
from ictc.nodes.label_kinds import kind_joins
from ictc.prompts import make_criterion

from fakes import (
    PONY_WORDS,
    KindsLLM,
    _find,
    _text,
    fake_context,
    make_images,
    step_calls,
)

pytestmark = pytest.mark.levers  # the defaults, levers on

def _clusters(result) -> dict[str, str]:
    return {row["image"].rsplit("/", 1)[1]: row["cluster"] for row in result.results["images"]}


def test_a_split_of_a_cluster_its_sub_kinds_joined_puts_them_in_their_own_part(joined):
    # the split's parts are named from the images' own labels (horse, pony); the pony images had gone back to
    # "horse" by their kind, the "pony" part stayed empty and the split found one group
    result = refine_run(joined.run_dir, Split("horse", 2), context=fake_context(llm=KindsLLM(words=PONY_WORDS),
                                                                                 llm_id="fake-kinds"))
    assert result.version == 2 and result.results["cluster_names"] == ["horse", "pony", "car", "ship"]
    clusters = _clusters(result)
    assert {clusters["yellow_0.png"], clusters["yellow_1.png"]} == {"pony"}
    assert {clusters["red_0.png"], clusters["red_1.png"]} == {"horse"}


def test_a_regular_plural_the_labels_singular_rule_leaves_is_read_by_wordnet_s_rules():
    wordnet = WordNetNouns()
    # normalize_label leaves "women" and "policemen" as they are: they had been no noun, and joined nothing
    assert wordnet.sense("women") == wordnet.sense("woman") is not None
    assert wordnet.sense("Policemen") == wordnet.sense("policeman") is not None
    assert wordnet.sense("buses") == wordnet.sense("bus") and wordnet.sense("horses") == wordnet.sense("horse")
    assert wordnet.sense("men") != wordnet.sense("man")  # a lemma of its own first (WordNet's "work force")
    assert wordnet.sense("xyzzies") is None and wordnet.sense("s") is not None  # "s" a lemma: no rule empties it
    assert kind_joins({"woman": 2, "women": 1, "man": 2, "child": 1}, 3, wordnet) == {"women": "woman"}


def test_the_image_view_explains_every_route_that_makes_no_call():
    from ictc.nodes.assign import NO_CALL_ROUTES
    from ictc.ui.views import NO_CALL, ROUTES

    # "kind" (and label, join, look, group) had shown as the bare word: "... -> horse by kind"
    assert ROUTES.keys() >= NO_CALL_ROUTES and "WordNet" in ROUTES["kind"]
    assert NO_CALL == NO_CALL_ROUTES  # the view's own reading of them (importing nodes.assign loads LangGraph)
    assert {"logprobs", "logprobs+embedding", "logprobs+orders", "other"} <= ROUTES.keys()


def test_a_big_cluster_its_labels_joined_as_their_kind_is_not_warned_of_as_mixed(tmp_path):
    # dog and cat join "animal" (K = 2): its 7 of 10 images carry dog, cat and animal, which had read as
    # "labels that differ" ("the most common kind of label covers only 3") though WordNet had made them one
    paths, _ = make_images(tmp_path / "img", {"red": 1, "yellow": 3, "green": 3, "blue": 3})
    words = {"red": "animal", "yellow": "dog", "green": "cat", "blue": "car"}
    ctx = fake_context(llm=KindsLLM(words=words), llm_id="fake-kinds-animal")
    results = start_run(paths, make_criterion("animal or vehicle"), 2, ctx.settings, tmp_path / "run",
                        context=ctx).results
    assert results["naming"]["label_kinds"] == {"dog": "animal", "cat": "animal"}
    assert results["clusters"] == [{"name": "animal", "size": 7}, {"name": "car", "size": 3}]
    assert results["warnings"] == []


def test_why_an_image_is_in_the_cluster_its_label_joined_says_so_not_step_3_s_answer(joined):
    from ictc.ui.questions import answer_question

    said = answer_question("why is yellow_0.png in horse?", joined.results)
    assert said.startswith("yellow_0.png is in 'horse': its label 'pony' is a kind of 'horse' by WordNet, so it went "
                           "there with no model call (route: kind).")  # had read "Step 3's answer 'horse'"


class KindsJsonLLM(KindsLLM):
    """Two-level labels (label_levels=json): each colour's word of `words` and its category of `kinds_of`."""

    kinds_of: dict[str, str] = {}

    def respond(self, messages, **kwargs):
        last = _text(messages[-1])
        if "short labels" in _text(messages[0]) and "Give two answers" in last:
            word = self.words[_find(r"filled with (\w+)", last)]
            return json.dumps({"label": word, "category": self.kinds_of[word]})
        return super().respond(messages, **kwargs)


def test_an_image_its_own_category_placed_is_not_said_to_be_placed_by_its_kind(tmp_path):
    # label_levels=json, named from the model's own categories: pony's image goes to "animal" by its own category,
    # which its join to horse changes nothing of; it had been recorded as route "kind"
    paths, _ = make_images(tmp_path / "img", {"red": 2, "yellow": 2, "green": 3, "blue": 3})
    llm = KindsJsonLLM(words=PONY_WORDS, kinds_of={"horse": "animal", "pony": "animal", "car": "vehicle", "ship": "vehicle"})
    ctx = fake_context(llm=llm, llm_id="fake-kinds-json", label_levels="json")
    results = start_run(paths, make_criterion("animal or vehicle"), 2, ctx.settings, tmp_path / "run", context=ctx).results
    assert results["naming"]["label_kinds"] == {"pony": "horse"} and results["naming"]["label_level"] == "category"
    assert results["cluster_names"] == ["vehicle", "animal"] and results["routes"] == {"label": 10}


def test_an_instruction_for_step_2b_reaches_the_llm_past_the_kinds_and_the_counts(joined):
    # one for every step has made Step 2a's labels already, which the kinds and counts read as before
    every = refine_run(joined.run_dir, AddInstruction("Do not consider the colour."),
                       context=fake_context(llm=KindsLLM(words=PONY_WORDS), llm_id="fake-kinds"))
    assert every.results["naming"]["label_kinds"] == {"pony": "horse"}
    # "keep ponies apart from horses" for Step 2b: pony still joined horse and the counts named the clusters with no
    # call, so the instruction was read by nothing and the version was the one before again
    llm = KindsLLM(words=PONY_WORDS)
    result = refine_run(joined.run_dir, AddInstruction("Keep ponies apart from horses.", "name_clusters"),
                        context=fake_context(llm=llm, llm_id="fake-kinds"))
    assert "label_kinds" not in result.results["naming"] and "kind" not in result.results["routes"]
    assert step_calls(llm, "Keep ponies apart from horses.") >= 1 and result.results["calls"]["name_clusters"]["model_calls"]


def test_the_names_pause_says_which_labels_joined_their_kind(tmp_path, capsys):
    from ictc.cli.review import show_pause

    paths, _ = make_images(tmp_path / "img", {"red": 2, "yellow": 2, "green": 3, "blue": 3})
    ctx = fake_context(llm=KindsLLM(words=PONY_WORDS), llm_id="fake-kinds")
    paused = start_run(paths, make_criterion("animal or vehicle"), 3, ctx.settings, tmp_path / "run", context=ctx,
                       review=True).pause
    assert paused and paused["point"] == "names" and paused["label_kinds"] == {"pony": "horse"}
    show_pause(paused)  # "labels: horse (4), ..." had not said that two of the four were labelled "pony"
    assert ("  joined as their kind (by WordNet, an English dictionary of which word is a kind of which, shipped with ictc: "
             "no model call): pony -> horse\n") in capsys.readouterr().out
