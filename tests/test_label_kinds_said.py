"""How a run whose labels joined their kind by WordNet (label_kinds, route "kind") is said: the CLI's summary, the
image view's Step-3 line and the chat's model calls (a sixth newcomer's run: crimson and scarlet joined red)."""

from __future__ import annotations

import pytest

from fakes import PONY_WORDS, KindsLLM, fake_context

pytestmark = pytest.mark.levers  # the defaults, levers on

def test_the_cli_summary_names_the_labels_that_joined_their_kind(joined, capsys):
    from ictc.cli.summary import print_result

    print_result(joined)
    out = capsys.readouterr().out
    # "Step-3 answers: kind 2, label 8" had been all: which labels joined which was said nowhere but results.json
    assert ("Step-3 answers: kind 2, label 8\nLabels joined as their kind (by WordNet, an English dictionary of which word is a kind of which, "
             "shipped with ictc: no model call): pony -> horse\n") in out, out


def test_the_image_view_says_no_step_3_answer_for_an_image_its_label_s_kind_placed(joined):
    from ictc.ui.views import route_said

    rows = {row["image"].rsplit("/", 1)[1]: row for row in joined.results["images"]}
    said = route_said(rows["yellow_0.png"])
    # had read "Step 3 answer: 'horse' → horse by its label's kind by WordNet (pony -> horse)" whatever the labels
    assert said == "**Step 3:** → horse: its label 'pony' is a kind of 'horse' by WordNet: no model call", said
    assert route_said(rows["green_0.png"]) == ("**Step 3:** → car by its raw label, or its category, being the "
                                               "name: no model call")
    assert route_said({**rows["green_0.png"], "route": "schema", "answer": "Car"}) == \
        "**Step 3 answer:** 'Car' → car by JSON-schema enum"


def test_the_chat_s_model_calls_say_the_kind_placed_images_too(joined):
    from ictc.ui.outcomes import calls_said

    said = calls_said(joined.results, {"assign": 10})
    # "10 image(s) placed by their label" had been said of the two pony images in "horse" too
    assert "assign 0 (10 image(s) placed by their label or its kind (WordNet): no model call)" in said, said


def test_the_report_names_the_labels_that_joined_their_kind(joined):
    report = (joined.run_dir / "report.html").read_text()
    # its figures' "(kind)" and "Step 3 routes: kind 2" had been all it said of them
    assert ("<p class=meta>Labels joined as their kind (by WordNet, an English dictionary of which word is a kind of which, "
             "shipped with ictc: no model call): pony → horse</p>") in report


def test_why_an_image_is_where_its_own_label_placed_it_says_no_model_was_asked(joined):
    from ictc.ui.questions import answer_question

    said = answer_question("why is green_0.png in horse?", joined.results)
    # had read "Step 3's answer 'car' (route: label)": an answer no model gave
    assert said.startswith("green_0.png is in 'car', not 'horse': it went there by its raw label, or its category, "
                           "being the name, with no model call (route: label)."), said


def test_the_joins_are_not_said_once_a_split_took_them_apart(joined, capsys):
    from ictc.cli.summary import print_result
    from ictc.graph.refine import refine_run
    from ictc.nodes.actions import Split

    # a split of horse asks without the joins (its parts horse and pony): no image is placed by a join any more, and
    # "pony -> horse" beside a "pony" cluster read as a contradiction
    result = refine_run(joined.run_dir, Split("horse", 2), context=fake_context(llm=KindsLLM(words=PONY_WORDS),
                                                                                 llm_id="fake-kinds"))
    assert "kind" not in result.results["routes"] and result.results["naming"]["label_kinds"] == {"pony": "horse"}
    print_result(result)
    assert "Labels joined as their kind" not in capsys.readouterr().out
    assert "Labels joined as their kind" not in (result.run_dir / "report.html").read_text()
