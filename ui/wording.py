"""The words around a message that are no part of it: courtesy ("please", "thanks"), and the fillers and
possessives before a criterion, which would otherwise reach names and every prompt."""

from __future__ import annotations

import re

# words that, with a thanks beside them, make a thanks: "ok thanks" is no "ok" that starts a run, and "thanks,
# that's great" no criterion (a newcomer's was read as nothing). Not "looks good": that one says go.
PRAISE = (r"(?:(?:that'?s|that is|this is|it'?s|it is|very|really|so|all)\s+)?(?:ok(?:ay)?|yes|yeah|yep|sure|fine|great|"
          r"nice|good|perfect|cool|awesome|excellent|brilliant|wonderful|lovely|amazing)")
THANK = r"(?:many\s+)?(?:thanks?(?:\s+you)?|thx|ty|cheers)(?:\s+(?:a lot|so much|very much|again))?"
COURTESY_ONLY = re.compile(rf"(?:(?:{PRAISE}|{THANK})(?:[\s,!.]+|$))+", re.I)


def courtesy_only(text: str) -> bool:
    """Whether `text` is only thanks, with or without praise around it ("thanks, that's great", "great, thanks",
    "perfect thank you", "thanks a lot"): a thanks word and nothing else but praise. "thanks, now merge red and
    blue" is not: it asks for something."""
    text = text.strip()
    return bool(re.search(r"thank|thx|\bty\b|cheers", text, re.I)) and COURTESY_ONLY.fullmatch(text) is not None


def clean_criterion(text: str) -> str:
    """A criterion without the question mark, full stop or "please" typed after it, and without a leading filler or
    possessive ("actually colour", "their main colour": a newcomer's reached every prompt), or a leading article ("the
    shade" -> "shade": a thirteenth newcomer's run was grouped by "the shade")."""
    text = re.sub(r"(?:[\s,]+(?:please|thanks|thank you))+$", "", text.strip().rstrip(".!?;:, "), flags=re.I).strip()
    return re.sub(r"^(?:(?:actually|well|so|hmm+|um+|ok(?:ay)?|now|their|its|these|those|the|an?)[,\s]+)+", "", text,
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
    if not bare or courtesy_only(text):
        return text
    return bare
