"""The words around a message that are no part of it: courtesy ("please", "thanks"), and the fillers and
possessives before a criterion, which would otherwise reach names and every prompt."""

from __future__ import annotations

import re

# words that, with a thanks after them, make a thanks: "ok thanks" is no "ok" that starts a run
THANKS_WITH = {"ok", "okay", "yes", "yeah", "yep", "sure", "fine", "great", "nice", "good", "perfect", "cool"}


def clean_criterion(text: str) -> str:
    """A criterion without the question mark, full stop or "please" typed after it, and without a leading filler or
    possessive ("actually colour", "their main colour": a newcomer's reached every prompt)."""
    text = re.sub(r"(?:[\s,]+(?:please|thanks|thank you))+$", "", text.strip().rstrip(".!?;:, "), flags=re.I).strip()
    return re.sub(r"^(?:(?:actually|well|so|hmm+|um+|ok(?:ay)?|now|their|its|these|those)[,\s]+)+", "", text,
                  flags=re.I).strip() or text


# courtesy around a message is no part of it: "rename Purple to Violet please" had named a cluster "Violet please",
# "merge red and Purple please" one called "please" (a tenth newcomer's)
# Before a message too, with greetings (an eleventh newcomer's "thanks, go" became the criterion, and "hi, 3 groups"
# a criterion "hi"). Not fillers ("hmm, ...", "actually ..."): the rules read them as a correction or a doubt
COURTESY = re.compile(r"^(?:(?:please|pls|kindly|hi|hello|hey|thanks|thank you|thx)(?:[,!.]\s*|\s+))+|"
                      r"(?:[,\s]+(?:please|pls|thanks|thank you|thx|cheers))+[.!]*$", re.I)


def without_courtesy(text: str) -> str:
    """`text` without a "please" or greeting before it or a "please"/"thanks" after it; `text` itself when
    nothing else is left,
    or when the thanks is the message ("ok thanks" is thanks, not the "ok" that starts a run)."""
    bare = COURTESY.sub("", text.strip()).strip()
    if not bare or (bare.lower().rstrip(".!,") in THANKS_WITH and re.search(r"thank|thx|cheers", text, re.I)):
        return text
    return bare
