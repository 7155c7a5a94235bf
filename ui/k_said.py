"""A K under 2 typed in a chat message, said back in one wording whichever way it was typed ("-3 groups", "k=0",
"0 groups", "1 group"); ui/intent.py's read_intent passes every reading through k_checked."""

from __future__ import annotations

import re

from ictc.nodes.actions import SetK
from ictc.ui.chat_words import GROUP_WORDS
from ictc.ui.intent import Intent

NEGATIVE_K = re.compile(rf"(?:^|[\s,;:(])-\s*(\d+)\s*{GROUP_WORDS}\b|\bk\s*[=:]?\s*-\s*(\d+)", re.I)


def k_checked(intent: Intent, text: str) -> Intent:
    """`intent` unless it asks for a K under 2 (typed "-3 groups", "k=0", "k 1", "1 group"): then one line, the same
    for every way of saying it, "K must be 2 or more, not -3"; a criterion read beside it stands. "-3 groups" had been
    taken as K=3, and "k=0" and "0 groups" had been refused in two wordings."""
    negative = NEGATIVE_K.search(text)
    said = intent.action.k if isinstance(intent.action, SetK) else intent.k
    if negative:
        said = -int(negative[1] or negative[2])
    if not negative and not (isinstance(intent.action, SetK) and said < 2) and said != 1:
        return intent
    problem = f"K must be 2 or more, not {said}"
    if intent.criterion or intent.instructions:
        return Intent("request", criterion=intent.criterion, preset=intent.preset, instructions=intent.instructions,
                      source=intent.source, problem=problem, sure=True)
    return Intent("unclear", source=intent.source, problem=problem, sure=True)
