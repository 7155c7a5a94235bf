"""The words a chat message is read with, shared by its readers (ui/intent.py and the rules, changes, groupings and
LLM readers beside it): assent and refusal, counts typed as digits or words, the words for a group, and a cluster
referred to by its number or name."""

from __future__ import annotations

import re

from ictc.core.errors import UsageError
from ictc.prompts import presets

CONFIRM = {"go", "yes", "y", "ok", "okay", "run", "run it", "start", "apply", "do it", "yes please", "go ahead", "sure",
           "ok go", "yes go", "go on", "apply it", "sounds good", "looks good", "fine", "yep", "yeah"}
CANCEL = {"no", "nope", "n", "cancel", "cancel that", "never mind", "nevermind", "forget it", "no thanks", "don't",
          "do not", "not that", "no, cancel", "no cancel", "stop that", "scrap that", "keep it", "leave it", "no, keep it",
          "actually no", "actually no, keep it", "no, leave it", "keep it as it is", "leave it as it is"}
NUMBERS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
           "eleven": 11, "twelve": 12, "half": 2, "halves": 2}
ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
            "ninth": 9, "tenth": 10, "1st": 1, "2nd": 2, "3rd": 3, "4th": 4, "5th": 5}
GROUP_WORDS = r"(?:groups?|clusters?|categories|category|classes|buckets|kinds|types|piles|sets)"
NUMBER_WORD = rf"(?:\d+|{'|'.join(NUMBERS)})"
MERGE_VERBS = r"(?:merge|combine|join|unite|put together|lump together|mix)"


def cluster_named(token: str, names: list[str]) -> str:
    """A cluster from its number, exact name, or name with 'the'/'cluster'/quotes around it."""
    # "cluster 2", "clusters 2 and 3" (the plural before the first), "#5", "no. 5"
    bare = re.sub(r"\b(the|clusters?|groups?|category|categories|one|number|no\.)(?=\s|$)|#", " ",
                  token.strip().strip("\"'“”‘’"), flags=re.I)
    bare = " ".join(bare.split()).strip("\"'“”‘’ ")
    if bare.lower() == "last" and names:
        return names[-1]
    number = ORDINALS.get(bare.lower(), int(bare) if bare.isdigit() else 0)
    if 1 <= number <= len(names):
        return names[number - 1]
    for candidate in (token.strip(), bare):
        for name in names:
            if candidate.lower() == name.lower():
                return name
    raise UsageError(f"no cluster {bare or token.strip()!r}; the clusters are: {', '.join(names)}")


def number(word: str) -> int:
    """A count typed as digits or a word (\"4\", \"four\", \"halves\"); 0 when it is neither."""
    word = word.lower()
    return int(word) if word.isdigit() else NUMBERS.get(word, 0)


def preset_of(criterion: str) -> str | None:
    """The presets.json name `criterion` spells (case aside), or None."""
    return criterion.lower() if criterion.lower() in presets() else None
