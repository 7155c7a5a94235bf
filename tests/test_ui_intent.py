"""Reading chat messages: explicit commands exactly, the LLM's structured answer when usable, the rule
parser otherwise; and the conversation states its reading and waits for "go"."""

from __future__ import annotations

import json

import pytest

from ictc.core.errors import UsageError
from ictc.models.structured import JsonCaller
from ictc.nodes.actions import (
    AddInstruction,
    AddOther,
    Merge,
    ProposeK,
    Remove,
    RemoveInstructions,
    Rename,
    SetCriterion,
    SetK,
    SetNames,
    Split,
)
from ictc.ui.conversation import Conversation
from ictc.ui.intent import read_intent

from fakes import CountingChatModel

NAMES = ["Happy", "Sad", "Angry"]


class ScriptedLLM(CountingChatModel):
    answer: str = ""

    def respond(self, messages, **kwargs):
        return self.answer


def llm_answering(**fields) -> JsonCaller:
    answer = {"intent": "unclear", "criterion": "", "k": 0, "instruction": "", "clusters": [], "new_name": "",
              "parts": 0, **fields}
    return JsonCaller(ScriptedLLM(answer=json.dumps(answer)), supports_response_format=True)


@pytest.mark.parametrize(("text", "expected"), [
    ("merge Happy and sad", Merge(("Happy", "Sad"))),
    ("merge 1 3 Mixed", Merge(("Happy", "Angry"), "Mixed")),
    ("split the Sad cluster in two", Split("Sad", 2)),
    ("split 3 into 3 groups", Split("Angry", 3)),
    ("rename Angry to Furious", Rename("Angry", "Furious")),
    ("k=2", SetK(2)),
    ("instruction 3 Prefer the face over the clothes", AddInstruction("Prefer the face over the clothes", "assign")),
])
def test_changes_read_by_commands_and_rules(text, expected):
    intent = read_intent(text, NAMES)
    assert intent.kind == "change" and intent.action == expected


@pytest.mark.parametrize(("text", "criterion", "k"), [
    ("group these by the mood of the person, 4 groups", "mood of the person", 4),
    ("Sort by musical instrument into three clusters", "musical instrument", 3),
    ("focus on the background instead", "background", 0),
    ("use 5 clusters", "", 5),
])
def test_requests_read_by_rules(text, criterion, k):
    intent = read_intent(text, [])
    assert (intent.kind, intent.criterion, intent.k) == ("request", criterion, k)


def test_instructions_and_unknown_clusters_by_rules():
    assert read_intent("don't consider gender", NAMES).instructions == ["don't consider gender"]
    unknown = read_intent("merge Happy and Bored", NAMES)
    assert unknown.kind == "unclear" and "no cluster 'Bored'" in unknown.problem
    quoted = read_intent("rename 'ship' as Boats", NAMES)  # newcomer: quotes kept in the answer
    assert "no cluster 'ship';" in quoted.problem


def test_the_llm_reading_is_used_when_valid_and_checked_against_the_clusters():
    intent = read_intent("put the glad ones with the sad ones", NAMES,
                         llm_json=llm_answering(intent="merge", clusters=["happy", "Sad"], new_name="Mixed"))
    assert intent.source == "llm" and intent.action == Merge(("Happy", "Sad"), "Mixed")
    removed = read_intent("i never want to see the glum pile again", NAMES, llm_json=llm_answering(intent="remove",
                                                                                                 clusters=["sad"]))
    assert removed.source == "llm" and removed.action == Remove("Sad")
    request = read_intent("what instrument is being played? make four piles", [],
                          llm_json=llm_answering(intent="request", criterion="musical instrument", k=4))
    assert (request.source, request.criterion, request.k) == ("llm", "musical instrument", 4)


def test_an_unusable_llm_answer_falls_back_to_the_rules():
    bad = JsonCaller(ScriptedLLM(answer="Sure! I think you want clusters."), supports_response_format=False)
    intent = read_intent("group by colour, 3 groups", [], llm_json=bad)
    assert (intent.source, intent.criterion, intent.k) == ("rules", "colour", 3)
    wrong = read_intent("merge Happy and Sad", NAMES, llm_json=llm_answering(intent="merge", clusters=["Bored", "Sad"]))
    assert wrong.source != "llm" and wrong.action == Merge(("Happy", "Sad"))  # the command syntax reads it exactly


def test_the_conversation_states_its_reading_accepts_corrections_and_waits_for_go():
    chat = Conversation()
    assert "How many groups" in chat.answer("group by the mood of the person", [], 40).text
    assert "K = **4**" in chat.answer("4 groups", [], 40).text
    corrected = chat.answer("actually by facial expression, 5 groups", [], 40)
    assert "**facial expression**" in corrected.text and "K = **5**" in corrected.text and corrected.start is None
    started = chat.answer("go", [], 40).start
    assert started is not None and (started.criterion, started.k) == ("facial expression", 5)


def test_a_refinement_is_previewed_then_applied_on_go():
    chat = Conversation()
    reply = chat.answer("don't consider gender", NAMES, 40, preview=lambda action: "every step on 40 images")
    assert "instruction for all: \"don't consider gender\"" in reply.text and not reply.apply
    assert "every step on 40 images" in reply.text
    assert chat.answer("go", NAMES, 40).apply == [AddInstruction("don't consider gender")]
    both = chat.answer("focus on the background instead, 2 groups", NAMES, 40, preview=lambda action: "x")
    assert "criterion 'background'" in both.text and "use K=2" in both.text  # the article left out
    assert chat.answer("yes", NAMES, 40).apply == [SetCriterion("background"), SetK(2)]


def test_a_refused_part_of_a_refinement_leaves_the_rest_waiting():
    """Newcomer: "group them by colour, 50 groups" on 40 images answered only that K=50 cannot be done, and
    the criterion was lost; now the K is left out, said so, and the criterion waits for go."""
    def preview(action):
        if isinstance(action, SetK) and action.k > 40:
            raise UsageError(f"K must be between 2 and the 40 images, not {action.k}")
        return "every step on 40 images"

    chat = Conversation()
    reply = chat.answer("group them by colour, 50 groups", NAMES, 40, preview=preview)
    assert "criterion 'colour'" in reply.text and "Left out: use K=50 cannot be done: K must be between 2" in reply.text
    assert chat.answer("go", NAMES, 40).apply == [SetCriterion("colour")]
    alone = chat.answer("k 50", NAMES, 40, preview=preview)
    assert "cannot be done" in alone.text and not chat.pending


@pytest.mark.parametrize(("text", "expected"), [
    ("how many groups would you suggest?", "propose_k"),
    ("Can you suggest how many clusters?", "propose_k"),
    ("sort them into indoor, outdoor and vehicle", "set_names"),
    ("put the rest in other", "add_other"),
    ("group them into 2 broader groups", "coarser"),
])
def test_grouping_phrasings_on_a_finished_run(text, expected):
    """Issue 21's chat phrasings become their typed actions, before the LLM is asked."""
    intent = read_intent(text, NAMES, llm_json=llm_answering(intent="go"))
    assert intent.kind == "change" and intent.action.action == expected
    if expected == "set_names":
        assert intent.action.names == ("indoor", "outdoor", "vehicle")
    if expected == "coarser":
        assert intent.action.n == 2


def test_sort_into_k_groups_is_still_k():
    assert read_intent("sort them into 3 groups", []).k == 3


def test_setup_with_suggested_k_names_and_other():
    chat = Conversation()
    chat.answer("group by the place", [], 10)
    reply = chat.answer("how many groups would you suggest?", [], 10)
    assert "proposed from the labels" in reply.text and "Say **go**" in reply.text
    reply = chat.answer("go", [], 10)
    assert reply.start is not None and reply.start.run_args() == {"n_clusters": "auto", "names": None, "other": False}
    chat.answer("group by the place", [], 10)
    chat.answer("sort them into indoor, outdoor and vehicle", [], 10)
    reply = chat.answer("put the rest in other", [], 10)
    assert "indoor, outdoor, vehicle" in reply.text and "**other** group" in reply.text
    start = chat.answer("go", [], 10).start
    assert start.run_args() == {"n_clusters": 0, "names": ["indoor", "outdoor", "vehicle"], "other": True}


NATURAL = ["cat", "frog", "ship", "dog"]


@pytest.mark.parametrize(("text", "expected"), [
    ("merge the first two", Merge(("cat", "frog"))),
    ("merge the last two into Animals", Merge(("ship", "dog"), "Animals")),
    ("merge the first and the third", Merge(("cat", "ship"))),
    ("combine cat and frog", Merge(("cat", "frog"))),
    ("join Ship with dog as Outdoors", Merge(("ship", "dog"), "Outdoors")),
    ("rename 'ship' as Boats", Rename("ship", "Boats")),
    ('call "frog" to "Amphibians"', Rename("frog", "Amphibians")),
    ("split the second in three", Split("frog", 3)),
])
def test_natural_changes_ordinals_and_quoted_names(text, expected):
    intent = read_intent(text, NATURAL)
    assert (intent.kind, intent.action, intent.sure) == ("change", expected, True)


@pytest.mark.parametrize(("text", "k"), [("6", 6), ("ok 6", 6), ("six", 6), ("let's say 5 groups", 5),
                                         ("fewer groups please", 3), ("more clusters", 5), ("use fewer", 3)])
def test_bare_numbers_and_fewer_or_more_groups(text, k):
    intent = read_intent(text, NATURAL)
    assert (intent.kind, intent.k, intent.sure) == ("request", k, True)


@pytest.mark.parametrize(("text", "kind", "version"), [("undo", "undo", 0), ("undo that", "undo", 0),
                                                       ("go back", "undo", 0), ("go back to version 3", "undo", 3),
                                                       ("revert to v2", "undo", 2), ("no", "cancel", 0),
                                                       ("Cancel.", "cancel", 0), ("never mind", "cancel", 0)])
def test_undo_go_back_and_cancel(text, kind, version):
    intent = read_intent(text, NATURAL)
    assert (intent.kind, intent.version) == (kind, version)


def test_sure_rules_win_over_a_wrong_llm_reading():
    wrong = llm_answering(intent="go")
    intent = read_intent("group these photos by the kind of object, 4 groups", [], llm_json=wrong)
    assert (intent.source, intent.kind, intent.criterion, intent.k) == ("rules", "request", "kind of object", 4)
    assert read_intent("6", [], llm_json=wrong).k == 6


def test_the_criterion_loses_a_trailing_question_mark():
    assert read_intent("group by what is in the picture?", []).criterion == "what is in the picture"
    llm = llm_answering(intent="request", criterion="mood of the person?", k=3)
    assert read_intent("hmm, something about how they feel, three", [], llm_json=llm).criterion == "mood of the person"


def test_a_number_answers_the_question_for_k_and_no_keeps_the_reading():
    chat = Conversation()
    assert "How many groups" in chat.answer("group by colour", [], 40).text
    assert "K = **6**" in chat.answer("ok 6", [], 40).text
    assert "nothing runs" in chat.answer("no", [], 40).text and chat.request.k == 6


def test_rename_and_merge_apply_without_go_and_model_changes_wait():
    chat = Conversation()
    merged = chat.answer("merge the first two", NATURAL, 40, preview=lambda action: "nothing")
    assert merged.apply == [Merge(("cat", "frog"))] and "no model is called" in merged.text
    fewer = chat.answer("fewer groups please", NATURAL, 40, preview=lambda action: "Step 2b with K=3")
    assert not fewer.apply and "use K=3" in fewer.text and chat.pending == [SetK(3)]
    assert "Cancelled: use K=3" in chat.answer("no", NATURAL, 40).text and chat.pending == []
    assert chat.answer("go back to version 2", NATURAL, 40).back_to == 2
    assert chat.answer("undo", NATURAL, 40).back_to == 0


@pytest.mark.parametrize(("text", "criterion", "k"), [
    ("colour of the picture, 5 groups", "colour of the picture", 5),  # newcomer: the criterion was lost
    ("the season, 3 groups", "season", 3),
    ("4 groups: shape of the object", "shape of the object", 4),
    ("ok, use 5 groups please", "", 5),
])
def test_a_phrase_typed_beside_k_is_the_criterion(text, criterion, k):
    intent = read_intent(text, [])
    assert (intent.kind, intent.criterion, intent.k, intent.sure) == ("request", criterion, k, True)


def test_a_plain_answer_to_what_to_group_by_is_the_criterion_and_replaces_the_old_one():
    chat = Conversation()
    assert "What should the images be grouped by?" in chat.answer("4 groups", [], 40).text
    assert "group by **shape of the object**" in chat.answer("shape of the object", [], 40).text
    chat.answer("go", [], 40)
    chat.answer("group by the background, 3 groups", [], 40)  # a reading kept from before, as after new images
    assert "group by **colour of the picture**" in chat.answer("colour of the picture, 5 groups", [], 40).text


def test_a_k_larger_than_the_images_chosen_is_said_before_go():
    chat = Conversation()
    chat.answer("group by colour, 4 groups", [], 40)
    assert "more than the 2 images chosen" in chat.answer("by shape", [], 2).text  # newcomer: said only at go


def test_one_image_or_none_is_said_plainly():
    # newcomer: with 1 image, "go" said "Choose the images first" and K was asked as "2 to 2"
    chat = Conversation()
    assert "K, 2 or more" in chat.answer("group by colour", [], 0).text
    assert "only 1 image is chosen" in chat.answer("3 groups", [], 1).text
    chat.answer("group by colour, 3 groups", [], 40)
    assert chat.answer("go", [], 1).text.startswith("Only 1 image is chosen; clustering needs at least 2")


@pytest.mark.parametrize(("text", "criterion", "k"), [
    ("no, 3 groups", "", 3),  # newcomer: read as "group by **no**"
    ("actually make it five groups", "", 5),  # read as criterion "actually make it"
    ("make it 4 groups instead of 5", "", 4),  # read as criterion "make it instead of 5": every step redone
    ("sort them by the main color, into 4", "main color", 4),  # K was lost
])
def test_corrections_of_k_name_no_criterion(text, criterion, k):
    for names in ([], NAMES):
        intent = read_intent(text, names)
        assert (intent.kind, intent.criterion, intent.k) == ("request", criterion, k)


def test_a_change_asked_as_a_question_or_without_to():
    assert read_intent("can you merge 1 and 2?", NAMES).action == Merge(("Happy", "Sad"), "")
    assert read_intent("call cluster 3 Furious", NAMES).action == Rename("Angry", "Furious")


def test_a_merge_of_three_numbers_is_refused_plainly_and_as_names_the_result():
    """"merge 1 2 3 as All" merged 1 and 2 into a cluster called "3 as All" (a newcomer); a merge takes two
    clusters, and "as"/"into" before the new name is not part of it."""
    from ictc.graph.commands import parse_command

    names = ["red", "green", "blue"]
    reading = read_intent("merge 1 2 3 as All", names)
    assert reading.kind == "unclear" and "a merge takes two clusters at a time: merge 1 2 first" in reading.problem
    with pytest.raises(UsageError, match="two clusters at a time"):
        parse_command("merge 1 2 3 as All", names)
    assert parse_command("merge 1 2 as All", names) == Merge(("red", "green"), "All")
    assert parse_command("merge 1 2 into Cool Ones", names) == Merge(("red", "green"), "Cool Ones")
    assert read_intent("merge 1 2", names).action == Merge(("red", "green"), "")
    # with two clusters the third number is no cluster at all: refused too, not taken as a name
    two = read_intent("merge 1 2 3 as All", ["red", "green"])
    assert two.kind == "unclear" and "two clusters at a time: merge 1 2 first (there is no cluster 3)" in two.problem
    # "merge 2 and 3" names two clusters in words: the rules read it
    assert read_intent("merge 2 and 3", names).action == Merge(("green", "blue"), "")
    assert read_intent("merge 2 and 3 as Warm", names).action == Merge(("green", "blue"), "Warm")


@pytest.mark.parametrize(("text", "criterion", "k"), [
    # newcomers' phrasings that got "I could not tell what to group by" (or a command error)
    ("make it 4 instead", "", 4),
    ("actually make it 6", "", 6),
    ("4 instead", "", 4),
    ("K: 3", "", 3),
    ("colour; 4", "colour", 4),
    ("colour, 4", "colour", 4),
    ("group by colour, 4", "colour", 4),
])
def test_more_ways_to_give_k_and_a_criterion(text, criterion, k):
    for names in ([], NAMES):
        intent = read_intent(text, names)
        assert (intent.kind, intent.criterion, intent.k, intent.sure) == ("request", criterion, k, True), names
    assert read_intent("k = 3", NAMES).action == SetK(3)  # the command, spaced
    # a clause before the number is no phrase: the LLM reads it (its criterion, not the user's "hmm, ...")
    assert not read_intent("hmm, something about how they feel, three", []).sure


def test_what_not_to_group_by_becomes_an_instruction_not_dropped():
    """"group by colour, not brightness" lost its "not brightness" (a newcomer): it is the paper's negative
    instruction ("don't consider gender")."""
    for text in ("group by colour, not brightness", "group by colour but not brightness, 4 groups"):
        intent = read_intent(text, [])
        assert (intent.criterion, intent.instructions) == ("colour", ["Do not consider brightness"])
    chat = Conversation()
    assert "instruction: *Do not consider brightness*" in chat.answer("group by colour, not brightness", [], 40).text
    assert read_intent("group by colour", []).instructions == []


def test_plain_renames_and_merges_of_clusters_that_are_there():
    names = ["Red", "Yellow", "Purple"]
    assert read_intent("call the yellow ones Sunny", names).action == Rename("Yellow", "Sunny")
    assert read_intent("call Red Warm", names).action == Rename("Red", "Warm")
    assert read_intent("call 2 Sunny", names).action == Rename("Yellow", "Sunny")
    assert read_intent("call the first one Warm", names).action == Rename("Red", "Warm")
    assert read_intent("rename cluster 3 Violet", names).action == Rename("Purple", "Violet")
    # Red's name and place stay
    assert read_intent("put Purple into Red", names).action == Merge(("Red", "Purple"), "Red")
    assert read_intent("put the purple ones in with the red ones", names).action == Merge(("Red", "Purple"), "Red")
    assert read_intent("call it a day", names).kind == "unclear"  # "it" is no cluster: nothing renamed
    # a cluster number that is not there is said plainly (it got the generic "could not tell")
    missing = read_intent("rename 9 Foo", names)
    assert missing.kind == "unclear" and "no cluster '9': give its number, 1 to 3" in missing.problem


def test_a_new_change_says_which_waiting_one_it_replaces():
    """A newcomer's waiting K=4 vanished when the next message was a new change: now the reply says so."""
    chat = Conversation()
    chat.answer("4 groups", NAMES, 40, preview=lambda action: "Step 2b")
    assert chat.pending == [SetK(4)]
    reply = chat.answer("don't consider gender", NAMES, 40, preview=lambda action: "every step")
    assert "No longer waiting: use K=4." in reply.text and chat.pending == [AddInstruction("don't consider gender")]
    again = chat.answer("don't consider gender", NAMES, 40, preview=lambda action: "every step")
    assert "No longer waiting" not in again.text  # the same change again replaces nothing


@pytest.mark.parametrize(("text", "about"), [
    ("no instructions", ""), ("clear all instructions", ""), ("forget my instructions please", ""),
    ("remove the instruction about brightness", "brightness"), ("drop the instructions on the background", "background"),
])
def test_instructions_can_be_taken_out_in_words(text, about):
    """A newcomer's "no instructions" and "remove the instruction about brightness" were not read."""
    assert read_intent(text, NAMES).action == RemoveInstructions(about)
    chat = Conversation()  # before a run: taken out of the reading
    chat.answer("group by colour, not brightness, 4 groups", [], 40)
    reading = chat.answer(text, [], 40).text
    assert ("Do not consider brightness" in reading) == (about == "background")


def test_the_second_newcomer_s_phrasings_on_a_finished_run():
    """What a newcomer typed that got "I could not tell what to group by or what to change"."""
    names = ["Sunny", "Cool", "Sky", "Nature", "yellow"]

    def read(text):
        return read_intent(text, names)

    assert read("merge Sunny into Cool").action == Merge(("Cool", "Sunny"), "Cool")
    assert (read("set K to 5").k, read("set the number of groups to 4").k) == (5, 4)
    assert [read(t).k for t in ("one more group", "two fewer groups", "add a group", "fewer")] == [6, 3, 6, 4]
    assert (read("colour instead").criterion, read("colour instead").kind) == ("colour", "request")
    assert (read("go back to the first version").version, read("go back to the previous version").version) == (1, 0)
    assert read("change the name of yellow to Bright").action == Rename("yellow", "Bright")
    assert read("yellow -> Bright").action == Rename("yellow", "Bright")
    assert read("for step 3 only: ignore the border").action == AddInstruction("ignore the border", "3")
    assert read("thanks!").kind == "thanks"
    three = read("combine Sky, yellow and Nature")  # was "no cluster 'sky, yellow'"
    assert three.kind == "unclear" and "two clusters at a time: merge Sky and yellow first" in three.problem
    # a shape that names a cluster that is not there says which (the LLM, when there is one, reads it first)
    assert "no cluster 'Purple'" in read("put Purple into Red").problem
    assert read("put the images into 4 groups").k == 4 and not read("put the images into 4 groups").criterion


@pytest.mark.parametrize(("text", "criterion", "k"), [
    ("4 colour groups", "colour", 4),
    ("split them into three by animal type", "animal type", 3),  # was "there are no clusters to split yet"
    ("I'd like 5 groups by dominant colour please", "dominant colour", 5),  # "please" reached every prompt
    ("set k to 3", "", 3),
])
def test_the_second_newcomer_s_phrasings_before_a_run(text, criterion, k):
    intent = read_intent(text, [])
    assert (intent.kind, intent.criterion, intent.k) == ("request", criterion, k)


def test_thanks_changes_nothing_and_keeps_what_waits():
    chat = Conversation()
    chat.answer("4 groups", NAMES, 40, preview=lambda action: "Step 2b")
    reply = chat.answer("thanks!", NAMES, 40, preview=lambda action: "Step 2b")
    assert reply.text.startswith("You're welcome.") and "**go**" in reply.text and chat.pending == [SetK(4)]


def test_a_problem_said_back_keeps_the_cluster_names_as_they_are_spelt():
    chat = Conversation()
    reply = chat.answer("rename 9 Foo", ["Blue", "Green", "Warm"], 40, preview=lambda action: "x")
    assert reply.text.startswith("No cluster '9': give its number, 1 to 3, or its name (Blue, Green, Warm)")


def test_cluster_names_with_a_number_in_them_are_read_as_names():
    """"merge other 2 and other 3" merged 'other' and cluster 2 into a cluster called "and other 3" (a newcomer,
    on a run with empty clusters "other 2" ... "other 6", names the tool makes)."""
    names = ["other", "Red", "other 2", "other 3", "other 5", "Yellow"]
    assert read_intent("merge other 2 and other 3", names).action == Merge(("other 2", "other 3"), "")
    assert read_intent("merge other 5 with Yellow", names).action == Merge(("other 5", "Yellow"), "")
    assert read_intent("rename other 3 Misc", names).action == Rename("other 3", "Misc")
    assert read_intent("split other 2 3", names).action == Split("other 2", 3)
    assert read_intent("merge 2 3 as Warm", names).action == Merge(("Red", "other 2"), "Warm")  # numbers still


def test_a_refused_message_keeps_what_waits_and_says_so():
    """A newcomer's waiting K=3 was dropped when the next message was refused ("colour instead" on a colour
    run), and "go" then said nothing was waiting."""
    chat = Conversation()
    chat.answer("3 groups", NAMES, 40, preview=lambda action: "Step 2b")

    def refuse(action):
        raise ValueError("the criterion is already 'colour': nothing to redo")

    reply = chat.answer("colour instead", NAMES, 40, preview=refuse)
    assert "Still waiting: use K=3" in reply.text and chat.pending == [SetK(3)]
    assert chat.answer("go", NAMES, 40).apply == [SetK(3)]
    assert read_intent("for the label step only: use one word", NAMES).action == AddInstruction("use one word", "label")


def test_a_numbered_name_that_is_not_there_is_said_not_split_in_two():
    """"merge other 7 and Red" on a run with "other" ... "other 4" merged 'other' and cluster 3 into a cluster
    called "and Red" (a newcomer); "rename other 6 Misc" renamed 'other' to "6 Misc"."""
    names = ["other", "Red", "other 2", "other 3", "other 4", "Blue"]
    for text in ("merge other 7 and Red", "rename other 6 Misc"):
        reading = read_intent(text, names)
        assert reading.kind == "unclear" and reading.action is None and "no cluster 'other " in reading.problem
    assert read_intent("merge other and other 4", names).action == Merge(("other", "other 4"), "")


@pytest.mark.parametrize("text", ["help", "Help!", "what can I say?", "?", "how does this work?"])
def test_help_is_answered_with_the_guide_of_the_chat_s_stage_and_keeps_what_waits(text):
    """A newcomer's "help" got "I could not tell what to group by or what to change"."""
    assert read_intent(text, NAMES).kind == "help" and read_intent(text, []).kind == "help"
    chat = Conversation()
    chat.answer("group by mood", [], 40)
    before = chat.answer(text, [], 40)
    assert before.text.startswith("Before a run, tell me:") and "My reading so far: group by **mood**" in before.text
    chat = Conversation()
    chat.answer("4 groups", NAMES, 40, preview=lambda action: "Step 2b")
    after = chat.answer(text, NAMES, 40, preview=lambda action: "Step 2b")
    assert after.text.startswith("To change the clusters:") and "**go**" in after.text and chat.pending == [SetK(4)]


@pytest.mark.parametrize("text", ["0 groups", "k=0", "k 0", "group by mood, 0 groups", "set K to 0"])
def test_k_0_is_refused_before_a_run_not_taken_as_no_k(text):
    """A newcomer's "0 groups" was silently ignored: Intent.k 0 means "no K given"."""
    chat = Conversation()
    chat.answer("group by mood", [], 40)
    reply = chat.answer(text, [], 40)
    assert "K must be 2 or more, not 0" in reply.text and chat.request.k == 0


@pytest.mark.parametrize(("text", "action"), [
    ("drop the empty groups", Remove()), ("remove the empty clusters", Remove()), ("get rid of the empty ones", Remove()),
    ("delete Sad", Remove("Sad")), ("remove cluster 2", Remove("Sad")), ("drop the Angry group", Remove("Angry")),
    ("please remove the sad ones", Remove("Sad")),
    # phrasings a newcomer used that had reached only the LLM
    ("I don't want the Angry group", Remove("Angry")), ("we don't need cluster 2 any more", Remove("Sad"))])
def test_remove_a_cluster_or_the_empty_ones_in_words(text, action):
    intent = read_intent(text, NAMES)
    assert (intent.kind, intent.action) == ("change", action)


def test_remove_names_a_cluster_that_is_not_there_and_leaves_other_words_alone():
    assert read_intent("remove cluster Purple", NAMES).problem.startswith("no cluster 'Purple'")
    assert read_intent("drop gender", NAMES).kind == "unclear"  # no cluster "gender": not a removal
    assert read_intent("I don't want gender", NAMES).action is None  # nor here
    assert read_intent("I don't want the other group", [*NAMES, "other"]).action == Remove("other")
    assert read_intent("I don't want an other group", []).action == Remove("other")  # before a run: the reading drops it
    # a ninth newcomer's "I don't want the Purple group" (no Purple) had a generic reply; "3 groups" is about K,
    # and had removed cluster 3
    assert read_intent("I don't want the Purple group", NAMES).problem.startswith("no cluster 'Purple'; the clusters are")
    assert read_intent("I don't want 3 groups", NAMES).action is None
    assert read_intent("we don't need two clusters", NAMES).action is None
    chat = Conversation()
    reply = chat.answer("drop the empty groups", NAMES, 40, preview=lambda action: "nothing (no image)")
    assert reply.text == "Applying (no model is called): remove the empty clusters." and reply.apply == [Remove()]


def test_every_phrase_the_help_guides_quote_is_read():
    """The guides "help" shows quote phrasings; each must be one the chat reads (not "unclear"), before a run and
    after one, or the guide would teach what fails."""
    import re

    from ictc.ui.conversation import REFINE_GUIDE, SETUP_GUIDE

    names = ["Happy", "Joyful", "Sad", "yellow", "Purple", "Red", "Misc", "Calm"]
    for guide, clusters in ((SETUP_GUIDE, []), (REFINE_GUIDE, names)):
        quoted = re.findall(r'"([^"]+)"', guide)
        assert len(quoted) >= 5
        for phrase in quoted:
            intent = read_intent(phrase, clusters)
            assert intent.kind != "unclear", (phrase, intent.problem)


@pytest.mark.parametrize(("text", "pair"), [("merge 2,3", ("Sad", "Angry")), ("merge 2, 3", ("Sad", "Angry")),
                                            ("merge clusters 2,3", ("Sad", "Angry")),
                                            ("merge clusters 1 and 3", ("Happy", "Angry")),
                                            ("merge happy, sad", ("Happy", "Sad"))])
def test_a_merge_with_a_comma_between_the_clusters_is_a_merge_not_a_k(text, pair):
    """A newcomer's "merge 2,3" was read as "use K=3" (and "merge clusters 2,3" as a new criterion)."""
    intent = read_intent(text, NAMES)
    assert (intent.kind, intent.action) == ("change", Merge(pair))


def test_own_categories_and_the_rest_in_other_in_one_message():
    """The help suggests saying both; the categories were dropped and only "other" kept (a newcomer)."""
    text = "sort them into cat, dog and bird, put the rest in other"
    before = read_intent(text, [])
    assert (before.kind, before.names, before.other) == ("request", ["cat", "dog", "bird"], True)
    assert read_intent(text, NAMES).action == SetNames(("cat", "dog", "bird", "other"))
    assert read_intent("put the rest in other", NAMES).action == AddOther()


def test_k_0_beside_a_criterion_keeps_the_criterion_and_is_said_back():
    """"group by colour, 0 groups" became the criterion "group by colour, 0 groups" after the chat had asked
    what to group by (a newcomer)."""
    from ictc.ui.conversation import ASK_CRITERION

    for text in ("group by colour, 0 groups", "colour, 0 groups"):
        chat = Conversation()
        chat.say("assistant", f"Hello. {ASK_CRITERION}")
        reply = chat.answer(text, [], 40)
        assert chat.request.criterion == "colour" and chat.request.k == 0 and "K must be 2 or more, not 0" in reply.text


@pytest.mark.parametrize("text", ["how do I delete a group?", "I need help", "what can I do now?", "how do I use this",
                                  "what is this app?"])
def test_more_ways_of_asking_for_help(text):
    assert read_intent(text, NAMES).kind == "help" and read_intent(text, []).kind == "help"


@pytest.mark.parametrize(("text", "problem"), [
    ("remove Sad and Angry", "removing takes one cluster at a time: remove Sad first, then Angry"),
    ("delete clusters 2 and 3", "removing takes one cluster at a time: remove 2 first, then 3"),
    ("remove", 'which cluster? Say e.g. "remove 2", or "drop the empty groups"'),
    ("remove Orange", "no cluster 'Orange'; the clusters are: Happy, Sad, Angry")])
def test_removals_the_rules_cannot_do_are_said_plainly(text, problem):
    assert read_intent(text, NAMES).problem == problem
    assert read_intent("lose the empty group", NAMES).action == Remove()
    assert read_intent("remove cluster #2", NAMES).action == Remove("Sad")


@pytest.mark.parametrize(("text", "criterion", "k"), [
    ("I want to group them by colour. Maybe 3?", "colour", 3), ("colour; maybe 4", "colour", 4), ("colour (3)", "colour", 3),
    ("maybe 3?", "", 3), ("what's the mood, 4 groups?", "mood", 4),
    ("what about the mood of the person?", "mood of the person", 0)])
def test_a_k_said_with_doubt_and_a_criterion_asked_as_a_question(text, criterion, k):
    """A second newcomer: "Maybe 3?" and "colour (3)" lost their K; "what's the mood, 4 groups?" its criterion."""
    intent = read_intent(text, [])
    assert (intent.kind, intent.criterion, intent.k) == ("request", criterion, k)


def test_a_bare_phrase_corrects_the_reading_but_a_greeting_does_not():
    chat = Conversation()
    chat.answer("colour, 4 groups", [], 40)
    assert "group by **object**" in chat.answer("object", [], 40).text and chat.request.criterion == "object"
    chat.answer("hello", [], 40)
    assert chat.request.criterion == "object"


def test_before_a_run_the_other_group_can_be_dropped_and_goes_with_the_categories_a_k_replaces():
    """A third newcomer could not get rid of the "other" that came with their categories; a run got it."""
    chat = Conversation()
    chat.answer("sort them into cat, dog and bird, put the rest in other", [], 40)
    assert chat.request.other and chat.answer("colour, 4", [], 40).text.startswith("My reading: group by **colour**; K = **4**.")
    assert not chat.request.other and not chat.request.names
    chat = Conversation()
    chat.answer("sort them into cat, dog and bird, put the rest in other", [], 40)
    chat.answer("no other group", [], 40)
    assert not chat.request.other and chat.request.names == ["cat", "dog", "bird"]
    assert chat.answer("start over", [], 40).text.startswith("OK, starting over") and chat.request.names == []
    assert read_intent("remove the other group", ["Cats", "other"]).action == Remove("other")


def test_a_new_criterion_drops_the_instruction_that_leaves_it_out():
    chat = Conversation()
    chat.answer("by brightness, not colour", [], 40)
    assert chat.request.instructions == ["Do not consider colour"]
    chat.answer("colour instead", [], 40)
    assert chat.request.criterion == "colour" and chat.request.instructions == []


@pytest.mark.parametrize(("text", "criterion", "k", "instructions"), [
    ("k=3, criterion=colour", "colour", 3, []), ("criterion: colour", "colour", 0, []),
    ("group by colour — not too many, say 3", "colour", 3, []),
    ("colour but ignore the frame", "colour", 0, ["Do not consider the frame"])])
def test_more_setup_phrasings(text, criterion, k, instructions):
    intent = read_intent(text, [])
    assert (intent.kind, intent.criterion, intent.k, intent.instructions) == ("request", criterion, k, instructions)


def test_fewer_groups_counts_the_names_not_the_other_group_and_too_many_means_fewer():
    names = ["A", "B", "C", "D", "other"]
    assert read_intent("fewer groups", names).k == 3  # K is 4 (+ other): it was refused as "K is already 4"
    assert read_intent("I think there are too many groups", names).k == 3
    assert read_intent("actually no, keep it", names).kind == "cancel"


@pytest.mark.parametrize("text", ["undo the last two changes", "undo twice", "undo both", "revert the last 3", "undo everything"])
def test_an_undo_of_several_versions_says_how(text):
    """One undo goes back one version; several at once had reached only the LLM."""
    intent = read_intent(text, NAMES)
    assert intent.kind == "unclear" and 'go back to version N' in intent.problem


@pytest.mark.parametrize("text", ["what would you suggest?", "any suggestions?", "what do you recommend"])
def test_asking_for_suggestions_gets_the_guide_and_asking_for_k_still_proposes_one(text):
    assert read_intent(text, NAMES).kind == "help"  # had reached only the LLM
    assert read_intent("how many groups would you suggest?", NAMES).action == ProposeK()


@pytest.mark.parametrize(("text", "criterion", "k", "instructions"), [
    ("colour, 4 groups, ignore the border", "colour", 4, ["Do not consider the border"]),
    ("colour; 4; ignore the border", "colour", 4, ["Do not consider the border"]),
    ("colour, 4 groups, don't look at the border", "colour", 4, ["Do not consider the border"]),
    ("sort by colour into 3 groups but do not look at the white corner mark", "colour", 3,
     ["Do not consider the white corner mark"]),
    ("group by colour without looking at the border, 4 groups", "colour", 4, ["Do not consider the border"]),
    ("colour, ignore the border, not brightness", "colour", 0, ["Do not consider the border", "Do not consider brightness"]),
    ("group by colour, not brightness", "colour", 0, ["Do not consider brightness"]),
    ("cluster by people with or without glasses", "people with or without glasses", 0, [])])
def test_a_clause_that_says_what_to_leave_out_is_an_instruction_and_the_rest_is_read_alone(text, criterion, k, instructions):
    """The seventh newcomer's "colour, 4 groups, ignore the border" had the criterion "colour, 4 groups"; with
    "don't look at" the criterion and the instruction were both lost."""
    intent = read_intent(text, [])
    assert (intent.kind, intent.criterion, intent.k, intent.instructions) == ("request", criterion, k, instructions)


def test_a_bare_criterion_after_own_categories_and_a_no_is_read():
    """A seventh newcomer: categories, "no", then "animal" got "I could not tell ..."; "go" asked for the criterion
    with an example whose K fits no categories."""
    chat = Conversation()
    chat.answer("sort them into cat, dog and bird, put the rest in other", [], 20)
    chat.answer("no", [], 20)
    assert chat.answer("animal", [], 20).text.startswith("My reading: group by **animal**; into your categories")
    chat = Conversation()
    chat.answer("sort them into cat, dog and bird", [], 20)
    assert chat.answer("go", [], 20).text == "Not yet: I still need what to group by. What should the images be grouped by?"
    assert chat.answer("species", [], 20).text.startswith("My reading: group by **species**")


def test_a_message_not_understood_says_the_reading_again():
    """A newcomer's questions ("what does K mean?") got the generic answer, without the reading so far."""
    chat = Conversation()
    chat.answer("colour, 4 groups", [], 20)
    assert chat.answer("hmm", [], 20).text.endswith("My reading stays: group by **colour**; K = **4**; say **go** to run "
                                                    "it, or correct me.")
    chat = Conversation()
    chat.answer("group by colour", [], 20)
    assert "My reading so far: group by **colour**; K: *not given yet*." in chat.answer("hmm", [], 20).text


def test_the_eighth_newcomer_s_misreadings():
    """The same instruction said three times was listed three times; "too many groups" and "what is K?" became
    criteria; "by colour (3)" kept "(3)" in the criterion; two renames in one message made one name of both."""
    chat = Conversation()
    for text in ("colour, 4 groups, ignore the border", "colour; 4; ignore the border",
                 "colour, 4 groups, don't look at the border"):
        reply = chat.answer(text, [], 20)
    assert reply.text.count("Do not consider the border") == 1
    chat = Conversation()
    chat.answer("sort them into cat, dog and bird", [], 20)
    assert chat.answer("too many groups", [], 20).text.startswith("I could not tell") and chat.request.criterion == ""
    # a question before a run: said to wait for the run's clusters (ui/questions.py), never a criterion
    assert chat.answer("what is K?", [], 20).text.startswith("Questions about the clusters are answered once a run")
    assert chat.request.criterion == ""
    assert (read_intent("by colour (3)", []).criterion, read_intent("by colour (3)", []).k) == ("colour", 3)
    assert read_intent("rename green to Grass and blue to Sky", ["green", "blue"]).problem == (
        "one rename at a time: rename green to Grass first, then blue to Sky")
    assert read_intent("rename green to Salt and Pepper", ["green", "blue"]).action == Rename("green", "Salt and Pepper")


def test_the_tenth_newcomer_s_misreadings():
    """Courtesy became part of names ("Violet please", a merge into "please"); a K said as "I want 3" after the
    criterion was not read (and the K before it was kept unsaid); fillers and possessives reached the criterion."""
    names = ["green", "red", "Purple"]
    assert read_intent("rename Purple to Violet please", names).action == Rename("Purple", "Violet")
    assert read_intent("merge red and Purple please", names).action == Merge(("red", "Purple"), "")
    assert read_intent("merge red and Purple, thanks", names).action == Merge(("red", "Purple"), "")
    assert read_intent("get rid of purple please", names).action == Remove("Purple")
    assert read_intent("rename 1 Calm please", names).action == Rename("green", "Calm")
    assert (read_intent("ok thanks", names).kind, read_intent("go please", []).kind) == ("thanks", "go")
    for text, criterion, k in (("group these by their main colour, I want 3", "main colour", 3),
                               ("by main colour, I'd like 4", "main colour", 4), ("sort by shape, give me 5", "shape", 5),
                               ("actually colour please, four groups", "colour", 4)):
        intent = read_intent(text, [])
        assert (intent.criterion, intent.k) == (criterion, k), text
    # adding images to a run: said how it goes, in help too ("how do I add more images to this run?" got the list)
    assert read_intent("add the images in /tmp/new", names).problem.startswith("a run keeps the images it started with")
    assert "More images: choose them on the left" in Conversation().answer("help", names, 10).text


def test_the_eleventh_newcomer_s_misreadings():
    """A greeting, thanks or filler before a message: "thanks, go" became the criterion, "hi, 3 groups" one called
    "hi"; "I don't want 3 groups" ran by the criterion "i don't want"; "how do I add images" had the general guide."""
    names = ["Green", "Red", "Blue"]
    assert read_intent("thanks, go", []).kind == read_intent("thanks, go", names).kind == "go"
    assert read_intent("thanks, undo", names).kind == "undo"
    assert (read_intent("hi, 3 groups please", names).k, read_intent("hi, 3 groups please", names).criterion) == (3, "")
    intent = read_intent("hi! actually colour please, 4 groups", [])
    assert (intent.criterion, intent.k) == ("colour", 4)
    assert read_intent("actually rename Green to Leaf", names).action == Rename("Green", "Leaf")
    assert (read_intent("ok 6", []).k, read_intent("ok thanks", names).kind, read_intent("actually no", names).kind) == (
        6, "thanks", "cancel")
    assert read_intent("I don't want 3 groups", names).problem == ('there are 3 groups now: how many do you want? '
                                                                   'Say e.g. "2 groups"')
    assert read_intent("I don't want 3 groups", []).problem == 'how many groups instead of 3? Say e.g. "2 groups"'
    assert read_intent("I don't want 3 groups, make it 2", names).k == 2
    assert read_intent("how do I add images to this run?", names).problem.startswith("a run keeps the images")


@pytest.mark.parametrize(("text", "criterion", "k"), [("Group by: mood. K: 4", "mood", 4), ("mood (4 groups)", "mood", 4),
                                                       ("sort by:shape; 3", "shape", 3)])
def test_a_colon_after_by_and_a_k_in_brackets_keep_the_criterion(text, criterion, k):
    """A newcomer's "Group by: mood. K: 4" lost its criterion; "mood (4 groups)" was read as the criterion "mood ( )"."""
    intent = read_intent(text, [])
    assert (intent.kind, intent.criterion, intent.k) == ("request", criterion, k), intent


@pytest.mark.parametrize("text", ["and ignore the background", "also ignore the background", "but ignore the background"])
def test_an_instruction_said_as_an_addition_is_an_instruction(text):
    """A newcomer's "and ignore the background" after the reading was "I could not tell what to group by"."""
    assert read_intent(text, []).instructions == ["ignore the background"]
