"""A range typed for K ("2-3 groups") is read as its larger end and said so, with the way to the smaller one and to
a proposed K (ui/k_range.py): it had become K = 3 without a word, "colour, 3 to 4 groups" had lost its criterion,
and "2 - 3 groups" had been refused as K = -3."""

from __future__ import annotations

import pytest

from ictc.nodes.actions import Merge, Rename, SetK
from ictc.ui.conversation import Conversation
from ictc.ui.intent import read_intent

NAMES = ["Red", "Green", "Blue", "Grey"]


@pytest.mark.parametrize(("text", "criterion", "low", "high"), [
    ("group by colour, 2-3 groups", "colour", 2, 3),
    ("by colour into 2 or 3 groups", "colour", 2, 3),
    ("colour, 3 to 4 groups", "colour", 3, 4),
    ("by colour, 2 - 3 groups", "colour", 2, 3),
    ("group by mood, maybe 3 or 4", "mood", 3, 4),
    ("two or three groups by shape", "shape", 2, 3),
    ("between 2 and 4 groups", "", 2, 4),
    ("colour (2-3)", "colour", 2, 3),
])
def test_a_k_range_before_a_run_takes_the_larger_end_and_says_so(text, criterion, low, high):
    chat = Conversation()
    reply = chat.answer(text, [], 8).text
    assert (chat.request.k, chat.request.criterion) == (high, criterion), reply
    assert f"you gave a range, {low} to {high} groups" in reply and f"I took K = {high}" in reply, reply
    assert f'say "{low} groups" for fewer' in reply and "how many groups would you suggest?" in reply, reply


def test_a_k_range_after_a_run_is_previewed_as_one_k_and_said():
    chat = Conversation()
    reply = chat.answer("make it 2-3 groups", NAMES, 8, preview=lambda action: "Step 2b and Step 3").text
    assert chat.pending == [SetK(3)], reply
    assert "You gave a range, 2 to 3 groups; a run takes one K, so I took K = 3" in reply, reply


@pytest.mark.parametrize(("text", "action"), [
    ("merge 2 and 3", Merge(("Green", "Blue"))),
    ("rename 1 to 2", None),
])
def test_cluster_numbers_are_no_k_range(text, action):
    intent = read_intent(text, NAMES)
    assert "range" not in intent.problem, intent
    if action is not None:
        assert intent.action == action, intent
    else:
        assert not isinstance(intent.action, SetK) and not intent.k, intent


def test_one_k_said_alone_has_no_range_note():
    assert read_intent("group by colour, 3 groups", []).problem == ""
    assert isinstance(read_intent("rename 1 Warm", NAMES).action, Rename)
