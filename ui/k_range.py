"""A range typed for K ("2-3 groups", "3 to 4 groups", "2 or 3 groups", "between 2 and 4 groups", "k=2-3"): one K is
taken, the larger, and said with the ways to the other ("2-3 groups" had become K = 3 without a word, "colour, 3 to 4
groups" had lost its criterion, and "2 - 3 groups" had read as K = -3). A run takes one K; `-k auto` proposes one
from the labels over its own range (2 to 10), not over a range the user gives, so the user is pointed at it too."""

from __future__ import annotations

import re

from ictc.ui.chat_words import GROUP_WORDS, NUMBER_WORD, number

# the range before a group word ("2-3 groups"), or ending the message after a word that introduces a K ("by mood,
# maybe 3 or 4", "into 2 or 3"): a bare "1 to 2" is a rename's or a move's, not a K
K_RANGE = re.compile(rf"(?:\b|(?P<lead>(?:[,;:(]\s*|\b(?:into|in|maybe|perhaps|about|around|say)\s+)))(?:between\s+)?"
                     rf"(?P<low>{NUMBER_WORD})\s*(?:-|–|—|to|or|and)\s*(?P<high>{NUMBER_WORD})"
                     rf"(?:(?P<groups>\s+{GROUP_WORDS}\b)|(?=\s*\)?\s*[?.!]*\s*$))|"
                     rf"\bk\s*[=:]\s*(?P<klow>\d+)\s*(?:-|–|—|to|or)\s*(?P<khigh>\d+)\b", re.I)
COMMANDS = re.compile(r"\s*(?:merge|combine|join|rename|move|put|split|swap)\b", re.I)  # their numbers are clusters'


def one_k_of_range(text: str) -> tuple[str, str]:
    """`text` with a K range in it replaced by its larger end, and what to say of it; `text` as it was and "" when
    it holds no range (one number twice, a change's cluster numbers: "merge 2 and 3", "rename 1 to 2")."""
    match = next((m for m in K_RANGE.finditer(text) if m["groups"] or m["lead"] or m["klow"]), None)
    if match is None or COMMANDS.match(text):
        return text, ""
    low, high = sorted((number(match["low"] or match["klow"]), number(match["high"] or match["khigh"])))
    if low == high:
        return text, ""
    taken = f"k={high}" if match["klow"] else f"{match['lead'] or ''}{high}{match['groups'] or ' groups'}"
    fewer = f'say "{low} groups" for fewer, or ' if low >= 2 else ""
    said = (f"you gave a range, {low} to {high} groups; a run takes one K, so I took K = {high}: {fewer}say \"how many "
            "groups would you suggest?\" to have K proposed from the labels")
    return text[:match.start()] + taken + text[match.end():], said
