"""Chat phrasings of issue 21, read by plain patterns before anything else: "how many groups would you
suggest?", "sort them into X, Y and Z", "put the rest in other", "group them into 2 broader groups"."""

from __future__ import annotations

import re

from ictc.core.errors import UsageError
from ictc.models.other import OTHER
from ictc.nodes.actions import AddOther, Coarser, ProposeK, SetNames
from ictc.nodes.user_names import parse_names
from ictc.ui.chat_words import NUMBERS, preset_of
from ictc.ui.intent import Intent
from ictc.ui.intent_rules import read_by_rules

SUGGEST_K = re.compile(r"\bhow many (?:groups|clusters|categories)\b.*\b(?:suggest|recommend|propose|best|should)\b|"
                       r"\b(?:suggest|propose|recommend|choose|pick)\b.*\b(?:how many|the number of|k)\b|"
                       r"\byou (?:choose|decide|pick) (?:k|how many)\b", re.I)
SORT_INTO = re.compile(r"^(?:please\s+)?(?:sort|put|group|split|divide|classify)\s+(?:them|these|the images|"
                       r"the photos|everything|all)?\s*into\s+(.+?)\s*[.!]?$", re.I)
REST_IN_OTHER = re.compile(r"\b(?:the rest|everything else|anything else|what(?:ever)? does(?:n'?t| not) fit|leftovers?)\b"
                           r".*\b(?:in|into|to|as)\s+(?:an?\s+|the\s+)?[\"']?other\b|\badd an? [\"']?other[\"']? (?:group|cluster|category)\b", re.I)
COARSER = re.compile(r"\b(?:into|in)\s+(\d+|\w+)\s+(?:broader|bigger|larger|wider|coarser|parent|higher[- ]level|"
                     r"top[- ]level)\s+(?:groups?|clusters?|categories|ones)\b|\bcoarser\s+(\d+)\b", re.I)
DIGITS = {str(n): n for n in range(2, 21)}


def _count(word: str) -> int:
    return DIGITS.get(word, NUMBERS.get(word.lower(), 0))


def split_names(text: str) -> list[str]:
    """ "indoor, outdoor and vehicle" -> the names (commas, "and", "or", quotes, an "other" ending dropped)."""
    parts = re.split(r"\s*,\s*(?:and\s+|or\s+)?|\s+and\s+|\s+or\s+|\s*;\s*", text)
    return [p.strip().strip("\"'“”‘’ ") for p in parts if p.strip().strip("\"'“”‘’ ")]


def read_grouping(text: str, names: list[str]) -> Intent | None:
    """The intent for one of issue 21's phrasings; None when the message is none of them.
    `names`: the current clusters ([] before a run): the same words set up a run or change one."""
    message = " ".join(text.strip().split())
    if suggest := SUGGEST_K.search(message):
        if names:
            return Intent("change", action=ProposeK())
        # "group by the main colour, how many groups would you suggest?": the criterion beside it stands (a newcomer's
        # was dropped, and the chat asked what to group by)
        said = re.sub(r"[\s,;?.!]*(?:\b(?:and|but|so)\b)?[\s,;?.!]*$", "",
                      f"{message[:suggest.start()]} {message[suggest.end():]}", flags=re.I)
        beside = read_by_rules(said, []) if said else None
        criterion = beside.criterion if beside is not None and beside.kind == "request" else ""
        return Intent("request", criterion=criterion, preset=preset_of(criterion), auto_k=True)
    if rest := REST_IN_OTHER.search(message):
        # "sort them into cat, dog and bird, put the rest in other": the categories before it stand too (a
        # newcomer's were dropped, and the chat's own help suggests saying both)
        before = re.sub(r"[\s,;]*(?:and\s+)?(?:put|move|place|send|throw)?\s*$", "", message[:rest.start()], flags=re.I)
        sorted_into = read_grouping(before, names) if before else None
        if sorted_into is not None and (sorted_into.names or isinstance(sorted_into.action, SetNames)):
            if names:  # as `--names "a,b,other"`: the user's names and an "other" group, Step 3 again
                given_names = sorted_into.action.names if isinstance(sorted_into.action, SetNames) else ()
                return Intent("change", action=SetNames(tuple(dict.fromkeys((*given_names, OTHER)))))
            return Intent("request", names=sorted_into.names, other=True)
        return Intent("change", action=AddOther()) if names else Intent("request", other=True)
    if match := COARSER.search(message):
        n = _count(match[1] or match[2])
        if names and n:
            return Intent("change", action=Coarser(n))
        return Intent("unclear", problem="a broader level needs clusters and a number of groups, e.g. 'into 2 broader groups'")
    if match := SORT_INTO.match(message):
        given = split_names(match[1])
        if len(given) < 2 or _count(given[0].split()[0]):  # "into 3 groups" is K, read by the other rules
            return None
        try:
            chosen = parse_names(given)
        except UsageError as exc:
            return Intent("unclear", problem=str(exc))
        return Intent("change", action=SetNames(tuple(chosen))) if names else Intent("request", names=chosen)
    return None
