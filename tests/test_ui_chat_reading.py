"""Reading chat messages (a newcomer's pass in Chromium): a criterion's length, K under 2 in every wording, a rename's
new name as typed, and questions, which are answered or said to be none of the changes, never a new criterion."""

from __future__ import annotations

import pytest

from ictc.core.errors import UsageError
from ictc.nodes.actions import AddInstruction, Rename, SetCriterion, describe_action, preview_action
from ictc.prompts import MAX_CRITERION_CHARS, Criterion, make_criterion
from ictc.ui.conversation import Conversation
from ictc.ui.intent import read_intent

NAMES = ["Red", "Green", "Blue"]
LONG = "group by " + "the colour of the thing in the middle of the picture " * 70  # ~3,600 characters


def _state() -> dict:
    images = [f"{i}.png" for i in range(29)]
    return {"criterion": Criterion("colour").to_dict(), "images": images, "naming": {"names": NAMES}, "n_clusters": 3,
            "assignments": {p: {"cluster": NAMES[i % 3]} for i, p in enumerate(images)}}


def test_a_criterion_over_the_limit_is_refused_in_one_short_line_by_the_chat_and_the_api():
    with pytest.raises(UsageError, match=f"characters long; the limit is {MAX_CRITERION_CHARS}"):
        make_criterion("x" * (MAX_CRITERION_CHARS + 1))
    reply = Conversation().answer(LONG, NAMES, 29, preview=lambda action: preview_action(_state(), action))
    assert "the limit is 300" in reply.text and len(reply.text) < 300, reply.text
    before = Conversation().answer(LONG, [], 29)  # before a run: not taken as the reading either
    assert "the limit is 300" in before.text and "middle of the picture the colour" not in before.text
    assert describe_action(SetCriterion("y" * 250)) == f"criterion {'y' * 59 + '…'!r}"  # a version's label: one line


@pytest.mark.parametrize("names", [[], NAMES])
def test_a_k_under_2_is_refused_with_one_wording_whichever_way_it_is_typed(names):
    replies = {text: Conversation().answer(text, names, 29, preview=lambda action: "x").text
               for text in ("k=0", "0 groups", "K: 0")}
    assert {reply.split(".")[0] for reply in replies.values()} == {"K must be 2 or more, not 0"}, replies
    negative = Conversation().answer("-3 groups", names, 29, preview=lambda action: "x")
    assert negative.text.startswith("K must be 2 or more, not -3") and not negative.apply
    beside = read_intent("group by colour, -3 groups", [])
    assert (beside.criterion, beside.k, beside.problem) == ("colour", 0, "K must be 2 or more, not -3")


def test_a_rename_keeps_the_name_as_typed_and_asks_for_a_name_left_out():
    empty = read_intent("rename 1 to ", NAMES)
    assert empty.kind == "unclear" and "to what?" in empty.problem
    typed = "🌿 Grün <b>bold</b> 'quoted'"
    assert read_intent(f"rename 1 to {typed}", NAMES).action == Rename("Red", typed)
    assert read_intent("rename 1 to 'Calm'", NAMES).action == Rename("Red", "Calm")  # a matched pair goes
    # a quote escaped inside the pair is the quote (a second newcomer's 'It\'s blue' kept its backslash, showed as
    # "It's blue" and could not be named again)
    assert read_intent("rename 1 to 'It\\'s blue'", NAMES).action == Rename("Red", "It's blue")


def _run_preview():
    from ictc.ui.run_preview import RunPreview

    rows = [{"image": f"/photos/{name}.png", "cluster": cluster, "route": "logprobs+embedding", "answer": cluster.lower()}
            for name, cluster in [("solid_yellow", "Red"), ("photo_a", "Red"), ("b", "Green"), ("c", "Blue"), ("d", "Blue")]]
    rows[1]["answer"] = "green"  # the model said green; the embedding prior moved it to Red
    results = {"criterion": Criterion("colour").to_dict(), "images": rows, "history": ["first run", "rename 'red' to 'Red'"],
               "clusters": [{"name": "Red", "size": 2}, {"name": "Green", "size": 1}, {"name": "Blue", "size": 2}]}
    return RunPreview(None, results, NAMES)


@pytest.mark.parametrize(("question", "said"), [
    ("what is the biggest cluster?", "The biggest clusters are 'Red', 'Blue', with 2 of the 5 clustered images."),
    ("which is the smallest group?", "The smallest cluster is 'Green', with 1 of the 5 clustered images."),
    ("how many images are in each group?", "3 clusters, 5 images clustered: 'Red' 2, 'Green' 1, 'Blue' 2."),
    ("how many groups are there?", "3 clusters, 5 images clustered: 'Red' 2, 'Green' 1, 'Blue' 2."),
    ("what are the clusters called?", "3 clusters, 5 images clustered: 'Red' 2, 'Green' 1, 'Blue' 2."),
    ("is the red group too big?", "3 clusters, 5 images clustered: 'Red' 2."),
    ("why is solid_yellow in Green?", "solid_yellow.png is in 'Red', not 'Green': Step 3's answer 'red' (route: "
                                      "logprobs+embedding)."),
    ("why is photo_a in Red?", "photo_a.png is in 'Red': the model's calibrated answer was 'green', and the embedding "
                               "prior (how near its raw label is to each name) moved it here (route: logprobs+embedding)."),
    ("what did you do?", "The last change made version 2: rename 'red' to 'Red'."),
    ("what is the meaning of life?", "I can answer questions about these clusters"),
])
def test_a_question_is_answered_from_the_results_and_never_becomes_a_criterion(question, said):
    chat = Conversation()
    reply = chat.answer(question, NAMES, 5, preview=_run_preview())
    assert reply.text.startswith(said) and not reply.apply and not chat.pending, reply.text
    before = Conversation()  # before a run: no criterion read from it either, and said so ("what did you do?" had
    # been answered "I could not tell what to group by")
    assert "Questions about the clusters are answered once" in before.answer(question, [], 5).text
    assert before.request.criterion == ""


def test_a_change_put_as_a_question_is_still_a_change():
    chat = Conversation()
    assert chat.answer("what about colour?", NAMES, 5, preview=lambda action: "every step").text.startswith("I read")
    assert chat.pending == [SetCriterion("colour")]


def test_why_this_k_is_answered_from_the_proposal_of_k():
    from ictc.ui.questions import answer_question, k_choice_said

    results = {"k_choice": {"chosen": 2, "by": "best", "proposal": {"candidates": [
        {"k": 2, "silhouette": 0.41, "reasons": ["2 labels cover 80% of the images"]},
        {"k": 3, "silhouette": 0.2, "reasons": []}]}}, "clusters": [{"name": "Red", "size": 3}]}
    said = k_choice_said(results)
    assert said.startswith("K proposed from the labels: K=2 (2 labels cover 80% of the images, silhouette 0.41), taken.")
    assert "Other candidates: K=3 (next best silhouette, silhouette 0.20)" in said
    assert answer_question("why 2 groups?", results) == said and k_choice_said({}) == ""


def test_why_k_groups_without_a_proposal_says_where_k_came_from_and_changes_nothing():
    """A second newcomer's "why 4 groups?" was read as asking for 4 groups ("There are already 4 groups. For a fresh
    grouping into 4 ..."); no K had been proposed: the version that set K and the splits since are the answer."""
    preview = _run_preview()
    preview.results["history"] = ["first run", "use K=2", "rename 'red' to 'Red'", "split 'Red' into 2"]
    chat = Conversation()
    reply = chat.answer("why 3 groups?", NAMES, 5, preview=preview)
    assert reply.text == ("There are 3 clusters: no K was proposed from the labels; version 2 set K (use K=2), and "
                          "since then: split 'Red' into 2. Say e.g. \"4 groups\" to change it."), reply.text  # not 3: the K now
    assert not reply.apply and not chat.pending


def test_why_k_groups_after_the_user_set_k_since_the_proposal_says_the_users_k():
    """After "how many groups would you suggest?" (K=2 taken) and "sort them into red, green and blue", "why 3
    groups?" answered "K proposed from the labels: K=3 (...)", a candidate the proposal had not taken."""
    from ictc.ui.questions import answer_question

    results = {"k_choice": {"chosen": 3, "by": "user", "proposal": {"candidates": [
        {"k": 2, "silhouette": 0.41, "reasons": ["best silhouette"]}, {"k": 3, "silhouette": 0.2, "reasons": []}]}},
        "clusters": [{"name": "red", "size": 4}, {"name": "green", "size": 11}, {"name": "blue", "size": 5}],
        "history": ["first run", "propose K", "sort into 'red', 'green', 'blue', 'other'", "remove the empty clusters"]}
    assert answer_question("why 3 groups?", results) == (
        "There are 3 clusters: K was proposed from the labels before, then version 3 set K (sort into 'red', 'green', "
        "'blue', 'other'), and since then: remove the empty clusters. Say e.g. \"4 groups\" to change it.")
    results["history"] = results["history"][:2]  # the proposal's K still stands: its reasons are the answer
    assert answer_question("why 3 groups?", results).startswith("K proposed from the labels: K=3")


def test_a_question_the_llm_reads_as_a_change_is_still_answered_as_a_question():
    import json

    from test_ui_intent import ScriptedLLM

    from ictc.models.structured import JsonCaller

    answer = {"intent": "remove", "criterion": "", "k": 0, "instruction": "", "clusters": ["Green"], "new_name": "",
              "parts": 0}
    llm = JsonCaller(ScriptedLLM(answer=json.dumps(answer)), supports_response_format=True)
    assert read_intent("is Green too small?", NAMES, "colour", llm).kind == "change"  # the LLM's reading
    chat = Conversation()
    reply = chat.answer("is Green too small?", NAMES, 5, "colour", llm, preview=_run_preview())
    assert reply.text.startswith("3 clusters, 5 images clustered: 'Green' 1.") and not reply.apply and not chat.pending


def test_a_k_that_is_no_whole_number_is_said_so_not_answered_with_the_command_list():
    """A second newcomer's "k=2.5": "Cannot read 'k=2.5'. Enter: accept | rename N NEW NAME | ..."."""
    from ictc.core.errors import UsageError
    from ictc.graph.commands import parse_command

    with pytest.raises(UsageError, match=r"^K must be a whole number, not '2.5'$"):
        parse_command("k=2.5", NAMES)
    assert read_intent("k=2.5", NAMES).problem == "K must be a whole number, not '2.5'"
    # the same of a split's parts at the review pause ("split 1 2.7" had read as "cannot read" and the command list)
    with pytest.raises(UsageError, match=r"^the number of parts of a split must be a whole number, not '2.7'$"):
        parse_command("split 1 2.7", NAMES)


def test_why_is_an_image_the_run_lacks_in_a_cluster_says_there_is_no_such_image():
    """A newcomer's "why is nonexistent.png in green?" had the generic "I can answer questions about these clusters"."""
    from ictc.ui.questions import answer_question

    results = {"clusters": [{"name": "green", "size": 1}], "images": [{"image": "/x/a.png", "cluster": "green"}]}
    assert answer_question("why is nonexistent.png in green?", results) == (
        "No image named nonexistent.png in this run (1 image(s); the Clusters tab lists their names).")
    assert answer_question("why is a.png in green?", results).startswith("a.png is in 'green'")
    assert answer_question("why is version 1.5 in green?", results) == ""


def test_leaving_out_what_the_run_is_grouped_by_is_noted_in_the_preview():
    """A newcomer's "don't consider colour" on a run grouped by colour was previewed as any instruction."""
    chat = Conversation()
    reply = chat.answer("don't consider colour", NAMES, 5, "colour", preview=lambda action: "every step")
    assert "Note: the run is grouped by **colour**, the very thing this leaves out." in reply.text, reply.text
    assert chat.pending == [AddInstruction("don't consider colour")]
    other = Conversation().answer("don't consider gender", NAMES, 5, "colour", preview=lambda action: "every step")
    assert "Note:" not in other.text


def test_a_question_before_a_run_is_answered_with_the_reading_so_far():
    """A newcomer's "what is K?" after "group by colour, 3 groups" was told only that questions are answered once a
    run has made clusters, and how to say a criterion: the K read was not said."""
    chat = Conversation()
    chat.answer("group by colour, 3 groups", [], 10)
    reply = chat.answer("what is K?", [], 10)
    assert "My reading so far: group by **colour**; K = **3**." in reply.text, reply.text
    assert "Tell me what to group" in Conversation().answer("what is K?", [], 10).text  # nothing read yet: the guide
