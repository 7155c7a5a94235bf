"""Issue 21 in the chat app (AppTest, fake models): K suggested by chat, a broader level, the Grouping tab
with the tree, and a second criterion added from the Criteria tab with its cross-tab."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from test_ui_app import open_app, open_tab, say, use_folder, wait_for_job

from ictc.ui.conversation import Conversation

from fakes import fake_context


def _texts(app) -> str:
    return "\n".join(m.value for m in app.markdown)


def test_suggested_k_levels_and_a_second_criterion(colour_images):
    paths, _ = colour_images
    app = open_app(fake_context())
    use_folder(app, Path(paths[0]).parent)
    say(app, "group these by colour")
    assert "proposed from the labels" in say(app, "how many groups would you suggest?")
    say(app, "go")
    done = wait_for_job(app)
    assert "3 clusters" in done and "K proposed from the labels: K=3 (" in done, done  # which K, and why
    open_tab(app, "Grouping")
    assert "**K = 3** (the best proposed)" in _texts(app)
    # asked again after the run: the K proposed is said before go, and again once done (a newcomer had 2 clusters
    # and no word on which K was suggested or why)
    preview = say(app, "how many groups would you suggest?")
    assert "propose K: redoes" in preview and "K proposed from the labels: K=3 (" in preview, preview
    say(app, "go")
    assert "K proposed from the labels: K=" in wait_for_job(app)
    preview = say(app, "group them into 2 broader groups")
    assert "group the names into 2 broader ones" in preview and "images follow their cluster" in preview
    say(app, "go")
    wait_for_job(app)
    open_tab(app, "Grouping")
    assert "**Parent of Green** (5)" in _texts(app) and "Blue (2)" in _texts(app)
    open_tab(app, "Criteria")
    app.text_input(key="add-criterion-text").input("hue")
    app.text_input(key="add-criterion-k").input("2")
    app.button[[b.label for b in app.button].index("Add this criterion")].click().run()
    wait_for_job(app)
    assert app.dataframe and app.selectbox(key="crosstab-rows").value == "colour"
    table = app.dataframe[0].value
    assert int(table.drop(columns=[""]).to_numpy().sum()) == 8


@pytest.mark.parametrize("text", ["group by the main colour, how many groups would you suggest?",
                                  "sort them by main colour and you pick k"])
def test_a_criterion_said_with_how_many_groups_would_you_suggest_stands(text):
    """A newcomer's "group by the main colour, how many groups would you suggest?" had the reading "criterion: not
    given yet" and the question what to group by."""
    chat = Conversation()
    reply = chat.answer(text, [], 40)
    assert "group by **main colour**; K: **proposed from the labels**" in reply.text, reply.text
    assert chat.answer("go", [], 40).start.run_args()["n_clusters"] == "auto"


def test_the_grouping_tab_names_a_candidate_other_than_the_k_taken():
    """With K=2 taken, the tab said 'Another candidate is one message away, e.g. "use 2 groups"' (the K in force)."""
    def page():
        from ictc.ui.crosstab_view import grouping

        grouping({"k_choice": {"chosen": 2, "by": "best", "proposal": {"candidates": [
            {"k": 2, "silhouette": 0.017, "reasons": ["silhouette"]}, {"k": 3, "reasons": ["label counts"]}]}}})

    app = AppTest.from_function(page).run()
    assert 'e.g. "use 3 groups"' in _texts(app) and "use 2 groups" not in _texts(app), _texts(app)


def test_the_grouping_tab_names_the_labels_that_joined_their_kind():
    """crimson and scarlet had joined red by WordNet (route kind) with no word of it anywhere on the page."""
    def page():
        from ictc.ui.crosstab_view import grouping

        grouping({"naming": {"label_kinds": {"crimson": "red", "scarlet": "red"}}, "routes": {"kind": 3, "label": 11}})

    app = AppTest.from_function(page).run()
    assert "crimson → red, scarlet → red" in _texts(app), _texts(app)

    def split_apart():  # a split of red made Crimson and asked without the joins: no image is placed by them now
        from ictc.ui.crosstab_view import grouping

        grouping({"naming": {"label_kinds": {"crimson": "red", "scarlet": "red"}}, "routes": {"label": 13, "logprobs": 1}})

    assert "crimson → red" not in _texts(AppTest.from_function(split_apart).run())


def test_the_grouping_tab_names_the_categories_changed_from_the_llm_s():
    def page():
        from ictc.ui.crosstab_view import grouping

        grouping({"naming": {"label_level": "category", "categories_dropped": {"passenger ferry": "car"},
                             "label_categories": {"passenger ferry": "boat", "car": "car"}}})

    assert "passenger ferry: car → boat" in _texts(AppTest.from_function(page).run())
