"""A label whose category WordNet puts neither at nor above it goes under the nearest category of the run that
WordNet does put above it (category_kinds, issue 18's fourteenth pass): the rule and its limits, and a run."""

from __future__ import annotations

import pytest

from ictc.graph.run import start_run
from ictc.models.wordnet import WordNetNouns
from ictc.nodes.label_kinds import (
    categories_at_kinds_level,
    categories_by_kind,
    category_joins,
    names_by_kind,
)
from ictc.nodes.name_clusters import names_from_counts
from ictc.prompts import make_criterion

from fakes import KindsLLM, fake_context, make_images

pytestmark = pytest.mark.levers  # the defaults, levers on

WORDNET = WordNetNouns()


def test_a_label_goes_under_the_category_of_the_run_wordnet_puts_above_it():
    # Qwen 0.5B's categories on cifar10-20-rich-g (three of its labels)
    categories = {"passenger ferry": "car", "motor yacht": "boat", "hatchback": "car", "cat": "cat"}
    moved, changed = categories_by_kind(categories, WORDNET)
    # "passenger ferry" is no WordNet noun: read as a ferry, which WordNet puts under boat
    assert moved == {**categories, "passenger ferry": "boat"} and changed == {"passenger ferry": "car"}


def test_a_category_is_kept_where_it_is_above_the_label_or_meets_it_nearer_than_the_others():
    # boat is not above sailboat in WordNet (both are vessels); "vehicle" is above it but farther than that
    assert categories_by_kind({"sailboat": "boat", "truck": "vehicle", "car": "car"}, WORDNET)[1] == {}
    # a label already under a category WordNet puts above it keeps it, however general
    assert categories_by_kind({"horse": "animal", "pony": "horse", "cat": "cat"}, WORDNET)[1] == {}
    # labels or categories that are no noun, and groupings that are not "a kind of", are left alone
    assert categories_by_kind({"crimson": "warm", "navy": "cool", "red": "warm"}, WORDNET)[1] == {}
    assert categories_by_kind({"zorblax": "car", "car": "car", "boat": "boat"}, WORDNET)[1] == {}


def test_a_label_moved_under_a_category_too_general_for_the_run_yields_to_its_own_word():
    # "tanker" (the LLM said "water") is a vehicle by WordNet, but "vehicle" is above car, boat and aircraft here
    categories = {"tanker": "water", "truck": "vehicle", "car": "car", "boat": "boat", "aircraft": "aircraft"}
    level, changed = categories_at_kinds_level(categories, {}, WORDNET)
    assert level["tanker"] == "tanker" and level["truck"] == "truck" and changed["tanker"] == "water"
    assert categories_at_kinds_level(categories, {}, WORDNET, by_kind=False)[0]["tanker"] == "water"


def test_a_category_that_is_a_kind_of_another_category_of_the_run_joins_it():
    # Qwen 0.5B's categories on cifar10-20-rich-c with a worked example in Step 2a (part): jet and plane, one image each
    categories = {"jet": "jet", "propeller airplane": "plane", "hatchback": "car", "red sedan": "car", "cat": "cat",
                  "puppy": "dog", "bird": "bird", "cargo ship": "ship", "sailboat": "boat"}
    counts = dict.fromkeys(categories, 1)
    joined, changed = category_joins(categories, counts, 6, WORDNET)
    assert changed == {"jet": "jet"} and joined["jet"] == "plane"  # WordNet's airplane has the lemma plane
    # only while K categories remain: for K = 8 of these 8 categories, none joins
    assert category_joins(categories, counts, 8, WORDNET)[1] == {}
    # and as a step of categories_at_kinds_level, with the counts and K, only when category_kinds is on
    assert categories_at_kinds_level(categories, {}, WORDNET, True, counts, 6)[0]["jet"] == "plane"
    assert categories_at_kinds_level(categories, {}, WORDNET, False, counts, 6)[0]["jet"] == "jet"


def test_a_run_puts_the_passenger_ferry_with_the_boats_and_can_be_turned_off(tmp_path):
    paths, _ = make_images(tmp_path / "img", {"red": 3, "yellow": 2, "green": 3, "blue": 2})
    truth = {"red": "car", "yellow": "ship", "green": "ship", "blue": "ship"}
    labels = tmp_path / "labels.csv"
    labels.write_text("image,label\n" + "".join(f"{p},{truth[p.rsplit('/', 1)[1].split('_')[0]]}\n" for p in paths))
    words = {"red": "car", "yellow": "passenger ferry", "green": "boat", "blue": "sailboat"}
    results = {}
    for mode in ("on", "off"):
        # the category step: passenger ferry -> car (Qwen 0.5B's answer), sailboat -> boat
        llm = KindsLLM(words=words, coarse={"sailboat": "boat"}, category_answers={"passenger ferry": "car"})
        ctx = fake_context(llm=llm, llm_id="fake-category-kinds", category_kinds=mode)
        results[mode] = start_run(paths, make_criterion("kind of vehicle"), 2, ctx.settings, tmp_path / mode,
                                  labels=str(labels), context=ctx).results
    on, off = results["on"], results["off"]
    assert on["naming"]["label_categories"]["passenger ferry"] == "boat"
    assert on["naming"]["categories_dropped"] == {"passenger ferry": "car"} and on["metrics"]["acc"] == 1.0
    assert off["naming"]["label_categories"]["passenger ferry"] == "car" and off["metrics"]["acc"] == 0.8
    # said where the user reads (report.html; the Grouping tab reads the same line): it had been in results.json alone
    report = (tmp_path / "on" / "report.html").read_text()
    assert "Categories changed from the LLM's (WordNet's kinds): passenger ferry: car → boat" in report
    assert "Categories changed" not in (tmp_path / "off" / "report.html").read_text()


def test_ties_for_the_last_names_go_to_the_word_of_the_kinds_already_chosen():
    # the category counts of cifar10-20-rich-f (Qwen 0.5B, Step 2a with its example): five of one image for two names
    counts = {"frog": 4, "cat": 3, "airplane": 2, "car": 2, "horse": 2, "ship": 2,
              "boat": 1, "box": 1, "dog": 1, "fisherman": 1, "truck": 1}
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    by_kind = names_by_kind(ordered, 8, WORDNET)
    assert by_kind[:6] == ["frog", "cat", "airplane", "car", "horse", "ship"]  # more images: chosen first
    # dog shares "carnivore" with cat, truck "motor vehicle" with car; the alphabet had taken boat and box
    assert sorted(by_kind[6:]) == ["dog", "truck"]
    assert names_from_counts(counts, 8, 0.0)[6:] == ["boat", "box"]
    assert names_from_counts(counts, 8, 0.0, WORDNET) == by_kind
    # words that are no noun come last among equals, and then by the alphabet
    assert names_by_kind([("cat", 2), ("dog", 1), ("qwop", 1), ("zorblax", 1)], 4, WORDNET) == ["cat", "dog", "qwop", "zorblax"]
    assert names_by_kind([("cat", 2), ("qwop", 1), ("zorblax", 1), ("dog", 1)], 2, WORDNET) == ["cat", "dog"]
    assert names_by_kind([("cat", 2)], 0, WORDNET) == []


def test_a_category_wordnet_does_not_know_is_kept():
    # colour temperature: "warm" is no WordNet noun; red, a category of the run (yellow's), must not take red back
    assert categories_by_kind({"red": "warm", "yellow": "red", "green": "cool", "blue": "cool"}, WORDNET)[1] == {}


def test_a_category_of_another_dimension_than_the_label_s_kind_is_kept():
    # a colour run: one image labelled "car" (its category "vehicle") had taken every "red car" and "blue car" from
    # its colour to "vehicle", WordNet reading each by its head noun; red and car meet at WordNet's root alone
    colours = {"red car": "red", "blue car": "blue", "red truck": "red", "car": "vehicle", "blue": "blue"}
    assert categories_by_kind(colours, WORDNET) == (colours, {})
    # a count and a mood alike
    assert categories_by_kind({"two cats": "two", "three cats": "three", "one cat": "cat"}, WORDNET)[1] == {}
    assert categories_by_kind({"happy child": "joy", "sad child": "sadness", "child": "person"}, WORDNET)[1] == {}
    # a category in the label's branch still gives way ("water" and a ferry are both physical entities)
    assert categories_by_kind({"ferry": "water", "boat": "boat"}, WORDNET)[0]["ferry"] == "boat"


def test_a_split_of_a_cluster_named_from_categories_parts_it_by_the_images_own_labels(tmp_path):
    from ictc.graph.refine import refine_run
    from ictc.nodes.actions import Split

    paths, _ = make_images(tmp_path / "img", {"red": 3, "yellow": 2, "green": 3, "blue": 2})
    words = {"red": "car", "yellow": "passenger ferry", "green": "boat", "blue": "sailboat"}

    def context():
        llm = KindsLLM(words=words, coarse={"sailboat": "boat"}, category_answers={"passenger ferry": "car"})
        return fake_context(llm=llm, llm_id="fake-category-split")

    run = start_run(paths, make_criterion("kind of vehicle"), 2, context().settings, tmp_path / "run", context=context())
    assert run.results["naming"]["label_categories"]["passenger ferry"] == "boat"  # moved there by WordNet
    # the parts are named from the images' own labels (boat, passenger ferry); every image of "boat" had carried the
    # category "boat" into Step 3, gone to the part of that name, and the split had found one group
    split = refine_run(run.run_dir, Split("boat", 2), context=context())
    assert split.version == 2 and len(split.results["cluster_names"]) == 3
    clusters = {row["image"].rsplit("/", 1)[1]: row["cluster"] for row in split.results["images"]}
    assert clusters["yellow_0.png"] == clusters["yellow_1.png"] != clusters["green_0.png"]
    assert {clusters["yellow_0.png"], clusters["green_0.png"]} == set(split.results["naming"]["split"]["parts"])


def test_a_tied_word_that_is_a_kind_of_a_chosen_name_comes_last():
    # red carries more than twice an even share, so crimson is left apart from it (kind_joins' share bound); it had
    # then taken a last name by its likeness to red, a cluster inside red's, and green had none
    counts = {"red": 6, "blue": 1, "crimson": 1, "green": 1}
    assert names_from_counts(counts, 3, 0.0, WORDNET) == ["red", "blue", "green"]
    # still chosen when nothing else is left
    assert names_by_kind([("red", 6), ("crimson", 1)], 2, WORDNET) == ["red", "crimson"]
