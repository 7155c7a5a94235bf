"""Labels that are a kind of another label of the run join it, by WordNet's nouns (label_kinds, issue 18's
thirteenth pass): the shipped table read right, the joins and their limits, and a run that uses them."""

from __future__ import annotations

import pytest

from ictc.graph.run import start_run
from ictc.models.wordnet import WordNetNouns
from ictc.nodes.label_kinds import (
    MAX_LABELS_PER_CLUSTER,
    general_categories_yield,
    kind_joins,
    kinds_as_categories,
    labels_near_k,
    with_kind,
)
from ictc.prompts import make_criterion

from fakes import KindsLLM, fake_context, make_images, step_calls

pytestmark = pytest.mark.levers  # the defaults, levers on

WORDNET = WordNetNouns()


def test_the_shipped_table_gives_first_senses_hypernyms_and_plurals():
    pony, horse = WORDNET.sense("pony"), WORDNET.sense("Horse")
    assert pony and horse and WORDNET.ancestors(pony)[horse] == 1  # pony: "small gentle horses", one hop under horse
    assert WORDNET.ancestors(pony)[pony] == 0
    assert WORDNET.head(WORDNET.sense("toad") or "") == "frog"  # toad is a lemma of WordNet's frog
    assert WORDNET.sense("geese") == WORDNET.sense("goose")  # noun.exc's irregular plural
    assert WORDNET.sense("tree frog") == WORDNET.sense("tree_frog") is not None
    assert WORDNET.sense("cargo freighter") is None and WORDNET.sense("") is None
    assert WORDNET.sense("dog") not in WORDNET.ancestors(WORDNET.sense("cat") or "")


def test_specific_labels_join_the_run_label_of_their_kind():
    # the Step-2a labels Qwen 0.5B gave the 20 CIFAR photos described by a helper (cifar10-20-rich-b)
    counts = {"aircraft": 1, "airplane": 1, "car": 3, "cat": 1, "kitten": 1, "dog": 1, "pug": 1, "bullfrog": 1,
              "frog": 1, "toad": 1, "tree frog": 1, "horse": 1, "pony": 1, "cargo freighter": 1, "sailboat": 1,
              "tanker": 1, "lorry": 1, "truck": 1}
    assert kind_joins(counts, 8, WORDNET) == {"airplane": "aircraft", "pug": "dog", "bullfrog": "frog", "toad": "frog",
                                               "tree frog": "frog", "pony": "horse"}
    # not kitten (WordNet: a young mammal) nor lorry (its first sense is a horse-drawn wagon): first senses only


def test_a_kind_takes_all_its_sub_kinds_only_while_k_labels_remain_and_chains_follow():
    counts = {"animal": 1, "cat": 2, "dog": 2, "horse": 2, "pony": 1, "frog": 2, "car": 2, "truck": 2, "ship": 2}
    fine = kind_joins(counts, 8, WORDNET)  # animal taking its kinds would leave 5 labels for K = 8: it takes none
    assert fine == {"pony": "horse"}
    # for K = 4 it would take them all, but 10 of 16 images is more than twice an even cluster's share (4): none
    assert kind_joins(counts, 4, WORDNET) == {"pony": "horse"}
    counts = {**counts, "car": 5, "truck": 5, "ship": 5}  # 10 of 25: within twice an even share (12.5)
    coarse = kind_joins(counts, 4, WORDNET)  # it takes them all, and pony follows horse
    assert {label for label, kind in coarse.items() if kind == "animal"} == {"cat", "dog", "horse", "pony", "frog"}


def test_a_general_word_among_specific_ones_does_not_take_every_kind_under_it():
    # Step 2a's labels of cifar10-20-rich-h (Qwen 0.5B with a worked example): one truck labelled "vehicle"
    counts = {"kitten": 1, "passenger ferry": 1, "motor yacht": 1, "jetliner": 1, "toad": 1, "frog": 3, "hatchback": 1,
              "vehicle": 1, "fighter jet": 1, "lorry": 1, "puppy": 2, "horse": 2, "dump truck": 1, "boat": 2, "cat": 1}
    joins = kind_joins(counts, 8, WORDNET)
    # vehicle would carry 7 of 20 images, more than twice an even share (5): it takes none of them
    assert "vehicle" not in joins.values() and joins["toad"] == "frog"


def test_synonyms_join_the_one_more_images_carry_else_the_head_word():
    assert kind_joins({"toad": 2, "frog": 1, "car": 1}, 2, WORDNET) == {"frog": "toad"}
    assert kind_joins({"toad": 1, "frog": 1, "car": 1}, 2, WORDNET) == {"toad": "frog"}


def test_kinds_apply_only_when_the_labels_are_near_k():
    labels = {f"label {i}": 1 for i in range(MAX_LABELS_PER_CLUSTER * 6)}
    assert labels_near_k(labels, 6)
    assert not labels_near_k({**labels, "one more": 1}, 6)  # 19 labels for K = 6: coarse kinds, the category step's


def test_a_joined_record_keeps_its_own_label_and_a_kind_is_its_own_category():
    assert with_kind({"raw": "Ponies"}, {"pony": "horse"}) == {"raw": "horse", "specific": "Ponies"}
    assert with_kind({"raw": "cat"}, {"pony": "horse"}) == {"raw": "cat"}
    categories, changed = kinds_as_categories({"horse": "animal", "cat": "cat", "dog": "Dog"}, {"horse", "dog"})
    assert categories == {"horse": "horse", "cat": "cat", "dog": "Dog"} and changed == {"horse": "animal"}


def test_a_category_above_two_others_of_the_run_yields_to_the_labels_own_word():
    # Qwen 0.5B's categories on cifar10-20-rich-f: two levels at once
    categories = {"bird": "animal", "dog": "animal", "horse": "animal", "cat": "cat", "kitten": "cat", "frog": "frog",
                  "car": "vehicle", "truck": "vehicle", "boat": "boat", "airplane": "plane", "fisherman": "water"}
    fine, changed = general_categories_yield(categories, WORDNET)
    assert changed == {"bird": "animal", "dog": "animal", "horse": "animal", "car": "vehicle", "truck": "vehicle"}
    assert fine["horse"] == "horse" and fine["kitten"] == "cat" and fine["fisherman"] == "water"
    # one category under it is no level: aircraft beside plane stays, and a run at one level is left alone
    assert general_categories_yield({"jet": "aircraft", "airliner": "plane", "cat": "cat"}, WORDNET)[1] == {}
    assert general_categories_yield({"red": "warm", "green": "cool", "blue": "cool"}, WORDNET)[1] == {}


def test_a_run_joins_pony_to_horse_and_places_its_images_by_the_kind_without_a_call(tmp_path):
    paths, _ = make_images(tmp_path / "img", {"red": 2, "yellow": 2, "green": 3, "blue": 3})
    truth = {"red": "horse", "yellow": "horse", "green": "car", "blue": "ship"}  # red and yellow are one class
    labels = tmp_path / "labels.csv"
    labels.write_text("image,label\n" + "".join(f"{p},{truth[p.rsplit('/', 1)[1].split('_')[0]]}\n" for p in paths))
    words = {"red": "horse", "yellow": "pony", "green": "car", "blue": "ship"}
    results = {}
    for mode in ("on", "off"):
        llm = KindsLLM(words=words, assign_answer="ship")  # a Step 3 that says ship for every image it is asked
        ctx = fake_context(llm=llm, llm_id=f"fake-kinds-{mode}", label_kinds=mode)
        results[mode] = start_run(paths, make_criterion("animal or vehicle"), 3, ctx.settings, tmp_path / mode,
                                  labels=str(labels), context=ctx).results
        results[mode]["step_2b_calls"] = step_calls(llm, "exactly 3 category names")
    on, off = results["on"], results["off"]
    assert on["naming"]["label_kinds"] == {"pony": "horse"} and on["levers"]["label_kinds"] == "on"
    # 3 labels for K = 3: named from the counts; no label has more than half the images, so each decides Step 3
    assert sorted(on["cluster_names"]) == ["car", "horse", "ship"] and on["step_2b_calls"] == 0
    assert on["routes"] == {"kind": 2, "label": 8} and on["metrics"]["acc"] == 1.0
    # off: four labels for three names, and the two pony images are left to Step 2b and Step 3
    assert "label_kinds" not in off["naming"] and off["metrics"]["acc"] < 1.0
