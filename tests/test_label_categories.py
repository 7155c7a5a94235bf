"""Two-level labels from the plain labels (label_levels=on, issue 18): Step 2a's prompt and labels are those of
the plain `label` prompt, and each distinct label gets its category by one short call in Step 2b."""

from __future__ import annotations

import pytest

from ictc.graph.run import start_run
from ictc.nodes.label_categories import needs_categories, with_categories
from ictc.nodes.label_levels import CATEGORY, level_label
from ictc.prompts import make_criterion

from fakes import WARM_COOL, FakeLLM, fake_context, make_coarse_images, make_images, step_calls

pytestmark = pytest.mark.levers  # the defaults, levers on


def coarse_run(folder, paths, labels, llm, llm_id, k=2, **settings):
    """A run of `paths` by colour with the fake `llm` (its own `llm_id`, so no step cache is shared) and two-level
    labels on plus `settings`, into `folder`, scored against the CSV `labels`."""
    ctx = fake_context(llm=llm, llm_id=llm_id, label_levels="on", **settings)
    return start_run(paths, make_criterion("colour"), k, ctx.settings, folder, labels=str(labels), context=ctx)



def test_no_category_call_when_the_labels_do_not_outnumber_k(tmp_path):
    paths, labels = make_images(tmp_path / "img", {"red": 2, "yellow": 2, "green": 2, "blue": 2})
    llm = FakeLLM(coarse=WARM_COOL)
    ctx = fake_context(llm=llm, label_levels="on")
    result = start_run(paths, make_criterion("colour"), 4, ctx.settings, tmp_path / "run", labels=str(labels),
                       context=ctx)
    assert step_calls(llm, "got the label") == 0 and result.results["naming"]["label_level"] == "label"
    assert result.results["metrics"]["acc"] == 1.0  # a perfect model loses nothing
    assert not needs_categories([{"raw": "Cats"}, {"raw": "cat"}, {"raw": "dog"}], 2)
    assert needs_categories([{"raw": "cat"}, {"raw": "dog"}, {"raw": "frog"}], 2)


def test_no_category_call_when_the_label_counts_already_answer(tmp_path):
    paths, labels = make_images(tmp_path / "img", {"red": 6, "green": 6, "blue": 6, "yellow": 1})
    for cover in (0.9, 1.0):  # the 3 most frequent of 4 labels cover 18 of 19 images (0.95)
        llm = FakeLLM(coarse=WARM_COOL)
        ctx = fake_context(llm=llm, llm_id=f"fake-cover-{cover}", label_levels="on", names_cover=cover)
        result = start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / f"run-{cover}",
                           labels=str(labels), context=ctx)
        # answered by the counts: no category call; else one per distinct label (a newcomer saw 8 go unused)
        assert step_calls(llm, "got the label") == (0 if cover == 0.9 else 4)
        assert (result.results["naming"]["source"] == "labels") == (cover == 0.9)


def test_json_label_levels_ask_one_answer_per_image_and_off_asks_none(tmp_path):
    paths, labels = make_coarse_images(tmp_path / "img")
    for mode in ("json", "off"):
        llm = FakeLLM(coarse=WARM_COOL, assign_answer="cool")
        ctx = fake_context(llm=llm, label_levels=mode)
        result = start_run(paths, make_criterion("colour"), 2, ctx.settings, tmp_path / mode, labels=str(labels),
                           context=ctx)
        assert step_calls(llm, "Give two answers") == (8 if mode == "json" else 0)
        assert step_calls(llm, "got the label") == 0 and "label_categories" not in result.results["naming"]
        assert (result.results["metrics"]["acc"] == 1.0) == (mode == "json")  # off: colours named, not kinds


def test_a_label_without_a_category_keeps_its_specific_label():
    records = with_categories([{"raw": "Red"}, {"raw": "teal"}], {"red": "warm", "teal": ""})
    assert [r["category"] for r in records] == ["warm", "teal"]
    assert level_label({"raw": "Reds"}, CATEGORY, {"red": "warm"}) == "warm"
    assert level_label({"raw": "red", "category": "hot"}, CATEGORY, {"red": "warm"}) == "hot"  # json's own answer
    assert level_label({"raw": "red"}, "label", {"red": "warm"}) == "red"


def test_the_category_step_climbs_a_rung_when_one_step_up_is_still_too_fine(tmp_path):
    paths, labels = make_coarse_images(tmp_path / "img")
    rungs = {"red": "hot", "yellow": "sunny", "green": "leafy", "blue": "icy",  # one step up: still 4 for K = 2
             "hot": "warm", "sunny": "warm", "leafy": "cool", "icy": "cool"}
    for hops, acc in ((2, 1.0), (1, None)):
        llm = FakeLLM(coarse=rungs, assign_answer="cool")
        ctx = fake_context(llm=llm, llm_id=f"fake-{hops}", label_levels="on", category_hops=hops)  # no shared cache
        result = start_run(paths, make_criterion("colour"), 2, ctx.settings, tmp_path / f"run-{hops}",
                           labels=str(labels), context=ctx)
        naming = result.results["naming"]
        assert result.results["levers"]["category_hops"] == hops
        assert step_calls(llm, "got the label") == 4 * hops  # the 4 labels, then their 4 categories
        if hops == 2:
            assert naming["category_hops"] == 2 and naming["label_level"] == "category"
            assert sorted(result.results["cluster_names"]) == ["cool", "warm"]
            assert result.results["metrics"]["acc"] == acc and result.results["routes"] == {"label": 8}
        else:  # one rung: 4 categories are no nearer K than the 4 labels, so the labels stay
            assert naming["label_level"] == "label" and result.results["metrics"]["acc"] < 1.0


def test_a_category_that_most_images_share_is_no_level():
    from ictc.nodes.label_levels import choose_level

    parroted = [{"raw": f"thing {i}", "category": "most general category" if i < 5 else f"kind {i}"} for i in range(9)]
    assert choose_level(parroted, 3) == "label"  # 5 of 9 share one category: it names no kind
    spread = [{"raw": f"thing {i}", "category": f"kind {i % 4}"} for i in range(9)]
    assert choose_level(spread, 3) == "category"
    assert choose_level([{"raw": "a", "category": "x"}, {"raw": "b", "category": "x"}, {"raw": "c", "category": "y"},
                         {"raw": "d", "category": "y"}, {"raw": "e", "category": "x"}], 2) == "category"  # K = 2
    unanswered = [*spread, {"raw": "", "category": ""}]  # one image without a label (its Step 2a answer was empty)
    assert choose_level(unanswered, 3) == "category"  # it does not turn the category level off for the others


def test_a_category_that_repeats_its_label_gets_a_second_look_with_an_image_description(tmp_path):
    paths, labels = make_coarse_images(tmp_path / "img")
    for reask in ("on", "off"):
        # asked "red" alone the model says "red"; asked about a red square's description it says "warm"
        llm = FakeLLM(coarse=WARM_COOL, parrot_categories=True, assign_answer="cool")
        result = coarse_run(tmp_path / reask, paths, labels, llm, f"fake-{reask}", category_reask=reask)
        naming = result.results["naming"]
        assert step_calls(llm, "got the label") == 4 and result.results["levers"]["category_reask"] == reask
        assert step_calls(llm, "Give two answers") == (4 if reask == "on" else 0)  # one per repeated label
        if reask == "on":
            assert naming["label_categories"] == WARM_COOL and naming["label_level"] == "category"
            assert result.results["metrics"]["acc"] == 1.0 and result.results["routes"] == {"label": 8}
            assert result.results["calls"]["name_clusters"]["model_calls"] == 8
        else:  # the labels stay their own categories: colours, not kinds, and Step 3 by the model is wrong
            assert naming["label_level"] == "label" and result.results["metrics"]["acc"] < 1.0


def test_a_second_look_that_leaves_fewer_than_k_categories_is_not_kept(tmp_path):
    from ictc.nodes.label_categories import better_level

    records = [{"raw": x} for x in ("cat", "dog", "ship", "truck", "car cat")]
    first = {"cat": "cat", "dog": "dog", "ship": "ship", "truck": "truck", "car cat": "cat"}
    merged = {"cat": "animal", "dog": "animal", "ship": "vehicle", "truck": "vehicle", "car cat": "cat"}
    assert not better_level(records, first, merged, 4)  # 3 kinds for K = 4: CIFAR's fine classes stay
    assert better_level(records, first, merged, 3)  # 4 categories, 3 strictly nearer K = 3


def test_a_label_whose_category_is_no_name_is_placed_by_a_look_at_its_description(tmp_path):
    paths, labels = make_coarse_images(tmp_path / "img", {"red": 2, "yellow": 1, "green": 2, "blue": 1})
    for look in ("on", "off"):
        # asked "blue" alone the model says "sky" (no name); asked about the blue square's description, "cool"
        llm = FakeLLM(coarse=WARM_COOL, category_answers={"blue": "sky"}, assign_answer="warm")
        # category_join off: it would ask about blue first ("sky" is no other label's category) and join it to cool
        result = coarse_run(tmp_path / look, paths, labels, llm, f"fake-look-{look}", category_look=look,
                            category_join="off")
        naming = result.results["naming"]
        assert naming["label_level"] == "category" and sorted(result.results["cluster_names"]) == ["cool", "warm"]
        assert result.results["levers"]["category_look"] == look
        assert step_calls(llm, "Give two answers") == (1 if look == "on" else 0)  # only blue's category is no name
        if look == "on":
            assert naming["looked"] == {"blue": "cool"} and result.results["routes"] == {"label": 5, "look": 1}
            assert result.results["metrics"]["acc"] == 1.0
            rows = {r["label"]: r for r in result.rows}
            assert rows["blue"]["route"] == "look" and rows["blue"]["cluster"] == "cool"
        else:  # the blue square goes to Step 3, which (this fake) answers warm
            assert "looked" not in naming and result.results["routes"]["label"] == 5
            assert result.results["metrics"]["acc"] < 1.0
    # a label two images carry is not decided by a look at one of them: both go to Step 3
    paths, labels = make_coarse_images(tmp_path / "img2")
    llm = FakeLLM(coarse=WARM_COOL, category_answers={"blue": "sky"}, assign_answer="warm")
    result = coarse_run(tmp_path / "shared", paths, labels, llm, "fake-look-shared", category_join="off")
    assert step_calls(llm, "Give two answers") == 0 and result.results["naming"]["looked"] == {}
    assert "look" not in result.results["routes"]


def test_a_one_image_label_with_a_category_of_its_own_joins_the_category_a_look_gives(tmp_path):
    """category_join: blue (one image) alone got "sky"; the look at its description answers a category. Blue
    joins it when at least two other labels have it ("warm": red and yellow), not when one has it ("grass":
    green only). Green's "grass" is no other label's category either, but two images carry green: no look
    decides them from one description."""
    paths, labels = make_coarse_images(tmp_path / "img", {"red": 2, "yellow": 2, "green": 2, "blue": 1})
    for answer, join in (("warm", "on"), ("grass", "on"), ("warm", "off")):
        # the fake's JSON look answers the `coarse` word: blue's look says `answer`
        llm = FakeLLM(coarse={**WARM_COOL, "blue": answer}, category_answers={"blue": "sky", "green": "grass"},
                      assign_answer="warm")
        result = coarse_run(tmp_path / f"{answer}-{join}", paths, labels, llm, f"fake-join-{answer}-{join}",
                            category_join=join, category_look="off", category_reask="off")
        naming, rows = result.results["naming"], {r["label"]: r for r in result.rows}
        assert result.results["levers"]["category_join"] == join
        assert step_calls(llm, "Give two answers") == (1 if join == "on" else 0)  # blue only
        if (answer, join) == ("warm", "on"):
            assert naming["joined"] == {"blue": "warm"} and naming["label_categories"]["blue"] == "warm"
            assert rows["blue"]["route"] == "join" and rows["blue"]["cluster"] == "warm"  # no Step-3 call
            assert rows["red"]["route"] == "label"  # its own category: no join
        else:  # "grass" is green's alone (JOIN_MIN_LABELS), or the join is off
            assert "joined" not in naming and naming["label_categories"]["blue"] == "sky"
            assert rows["blue"]["route"] != "join"


def test_a_label_that_repeats_the_prompt_names_no_cluster(tmp_path):
    from ictc.nodes.label import echoes_prompt

    kind = make_criterion("kind of thing")
    assert echoes_prompt("no sentence", "A ketch.", kind) and echoes_prompt("Kind of thing", "A goat.", kind)
    assert not echoes_prompt("no sentence", "A page with no sentence on it.", kind)  # the description says it
    assert not echoes_prompt("three", "Two men.", make_criterion("number of people"))  # one word: may be an answer
    assert not echoes_prompt("roller skate", "A roller skate.", kind)
    # values the user named in the criterion are answers, not echoes; the whole criterion is one
    assert not echoes_prompt("outdoor scene", "A sandy beach.", make_criterion("indoor scene or outdoor scene"))
    assert not echoes_prompt("sports car", "A red Ferrari.", make_criterion("type of car (sports car, family car)"))
    assert echoes_prompt("object of this image", "A cat on a mat.", make_criterion("object"))
    assert echoes_prompt("general category", "A goat.", kind, "label_levels")  # the JSON prompt's own words
    assert not echoes_prompt("general category", "A goat.", kind)
    paths, labels = make_images(tmp_path / "img", {"red": 2, "green": 2, "blue": 2})
    for check in ("on", "off"):
        llm = FakeLLM(echo_labels={"blue"})
        ctx = fake_context(llm=llm, llm_id=f"fake-echo-{check}", echo_check=check)
        result = start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / check, labels=str(labels),
                           context=ctx)
        rows = [r for r in result.rows if r["raw_label"] == "no sentence"]
        assert len(rows) == 2 and result.results["levers"]["echo_check"] == check
        if check == "on":
            assert result.results["naming"]["echoed"] == ["no sentence"]
            assert "no sentence" not in result.results["cluster_names"] and all(r["route"] != "label" for r in rows)
        else:  # the echo is counted as a label: with exactly K distinct labels it becomes a name
            assert "no sentence" in result.results["cluster_names"] and all(r["route"] == "label" for r in rows)
    echoes = FakeLLM(echo_labels={"red", "green", "blue"})  # every label an echo: kept, Step 2b names from them
    ctx = fake_context(llm=echoes, llm_id="fake-echo-all")
    result = start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / "all", context=ctx)
    # one kind, and the fake LLM names only the kinds it is given: the fallback's one name, no padding
    assert "echoed" not in result.results["naming"] and result.results["cluster_names"] == ["No sentence"]
    assert any("only 1 distinct kind, so 1 cluster, not K=3" in w for w in result.results["warnings"])  # no padding


def test_a_category_the_model_put_under_another_category_folds_into_it(tmp_path):
    paths, labels = make_coarse_images(tmp_path / "img")
    for fold in ("on", "off"):
        # "yellow" -> red, and "red" (a label too) -> warm: red is a kind of warm, both categories of the run
        llm = FakeLLM(coarse=WARM_COOL, category_answers={"yellow": "red"}, assign_answer="cool")
        result = coarse_run(tmp_path / fold, paths, labels, llm, f"fake-fold-{fold}", category_fold=fold)
        naming = result.results["naming"]
        assert naming["label_level"] == "category" and result.results["levers"]["category_fold"] == fold
        if fold == "on":
            assert naming["folded"] == {"red": "warm"} and sorted(result.results["cluster_names"]) == ["cool", "warm"]
            assert result.results["metrics"]["acc"] == 1.0 and result.results["routes"] == {"label": 8}
        else:  # "red" (2 images) beats "warm" (2) alphabetically for the second name; the red squares have none
            assert sorted(result.results["cluster_names"]) == ["cool", "red"] and result.results["metrics"]["acc"] < 1.0


def test_folding_keeps_a_category_level_and_takes_one_step():
    from ictc.nodes.label_categories import fold_categories

    records = [{"raw": x} for x in ("jeep", "bicycle", "car", "sedan", "goat", "cow", "fish")]
    mapping = {"jeep": "car", "bicycle": "car", "car": "vehicle", "sedan": "vehicle", "goat": "animal",
               "cow": "animal", "fish": "fish"}
    folded, into = fold_categories(records, mapping, 2)
    assert into == {"car": "vehicle"} and folded["jeep"] == "vehicle" and folded["fish"] == "fish"
    assert fold_categories(records, mapping, 4) == (mapping, {})  # 3 categories left for K = 4: no level, no fold
    chain = {**mapping, "vehicle": "machine", "machine": "thing"}  # vehicle's own category is not itself: no fold
    assert fold_categories([*records, {"raw": "vehicle"}, {"raw": "machine"}], chain, 2)[1] == {"machine": "thing"}
    unanswered = {**mapping, "vehicle": ""}  # vehicle's own category call failed: it is still the end of the step
    assert fold_categories([*records, {"raw": "vehicle"}], unanswered, 2)[1] == {"car": "vehicle"}
    labels_stay = {"jeep": "car", "car": "vehicle", "goat": "animal", "cow": "bovine"}  # 4 labels, 4 categories
    assert fold_categories([{"raw": x} for x in labels_stay], labels_stay, 2) == (labels_stay, {})  # no level made


def test_echoes_are_dropped_only_while_a_real_label_is_left():
    from ictc.nodes.label import without_echoes

    kind = make_criterion("kind of thing")
    records = [{"raw": "no sentence"}, {"raw": "goat"}, {"raw": "no sentence"}]
    texts = ["A ketch.", "A goat.", "A wig."]
    assert without_echoes(records, texts, kind, "label") == ([{"raw": "goat"}], ["no sentence"])
    empty = [{"raw": "no sentence"}, {"raw": ""}]  # an empty label is no label to name from: everything is kept
    assert without_echoes(empty, ["A ketch.", "A goat."], kind, "label") == (empty, [])


def test_step_3_gets_no_embedding_prior_from_an_echoed_label():
    """The prior's echo path (graph/build.py _prior_label): an echoed label is no prior for its image, unless
    that image's own description says the words (then they were read, not repeated)."""
    from types import SimpleNamespace

    from ictc.core.settings import Settings
    from ictc.graph.build import _prior_label

    state = {"criterion": make_criterion("kind of thing").to_dict(),
             "naming": {"echoed": ["no sentence"]},
             "labels": {"a": {"raw": "no sentence"}, "b": {"raw": "no sentence"}, "c": {"raw": "goat"}},
             "descriptions": {"a": {"text": "A ketch."}, "b": {"text": "A page with no sentence on it."},
                              "c": {"text": "A goat."}}}
    runtime = SimpleNamespace(context=SimpleNamespace(settings=Settings()))
    prior = _prior_label(state, runtime)
    assert [prior(p) for p in "abc"] == ["", "no sentence", "goat"]
    state["naming"]["echoed"] = []  # not found an echo by Step 2b (echo_check off): every label is a prior
    assert _prior_label(state, runtime)("a") == "no sentence"


def test_a_look_places_no_image_among_a_split_s_parts(tmp_path):
    """The look chose among the K names: when the cluster it filled is split, its image is asked among the parts
    like the others (graph/build.py: `looked` is empty for a split's images), even where one part keeps the
    split cluster's name ("cool", which the look had chosen)."""
    from ictc.graph.refine import refine_run
    from ictc.nodes.actions import Split

    class PartsLLM(FakeLLM):
        """Proposes the parts "cool" and "teal" for a split; Step 3 answers "teal" for the blue image, "cool" for the
        others (a split's images are asked by their own labels, green and blue, which neither part is named)."""

        def respond(self, messages, **kwargs):
            if "organise labels" in messages[0].content:
                return '{"names": ["cool", "teal"]}'
            if "sort images" in messages[0].content:
                return "teal" if "filled with blue" in messages[1].content else "cool"
            return super().respond(messages, **kwargs)

    paths, labels = make_coarse_images(tmp_path / "img", {"red": 2, "yellow": 1, "green": 2, "blue": 1})
    llm = PartsLLM(coarse=WARM_COOL, category_answers={"blue": "sky"})
    result = coarse_run(tmp_path / "run", paths, labels, llm, "fake-look-split", category_join="off")
    assert result.results["naming"]["looked"] == {"blue": "cool"}
    # names_from_labels off: the parts are asked of the model rather than taken from the two labels
    ctx = fake_context(llm=llm, llm_id="fake-look-split", label_levels="on", names_from_labels="off",
                       category_join="off")
    split = refine_run(tmp_path / "run", Split("cool", 2), context=ctx)
    assert split.results["naming"]["split"]["parts"] == ["cool", "teal"]
    blue = next(r for r in split.rows if r["label"] == "blue")
    assert blue["route"] != "look" and blue["cluster"] == "teal"  # asked, and the model's answer taken
    assert "look" not in split.results["routes"]
