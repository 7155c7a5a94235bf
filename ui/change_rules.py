"""Changes to the clusters that exist, read from plain words by rules: merge, split, rename, fewer / more, remove
("merge Happy and Joyful", "put Purple into Red", "call the yellow ones Sunny", "one more group", "drop the empty
groups")."""

from __future__ import annotations

import re
from typing import Any

from ictc.core.errors import UsageError
from ictc.models.other import OTHER
from ictc.nodes.actions import Merge, Remove, Rename, Split
from ictc.ui.chat_words import GROUP_WORDS, MERGE_VERBS, NUMBER_WORD, cluster_named, number
from ictc.ui.intent import Intent

REMOVE_VERBS = r"(?:remove|drop|delete|get rid of|discard|throw away|take out|lose)"
REMOVE_EMPTY = re.compile(rf"(?:please\s+)?{REMOVE_VERBS}\s+(?:all\s+)?(?:of\s+)?(?:the\s+)?empty(?:\s+ones|\s+{GROUP_WORDS})?$",
                          re.I)  # a newcomer's "drop the empty groups"
REMOVE_ONE = re.compile(rf"(?:please\s+)?{REMOVE_VERBS}\s+(?:the\s+)?(?:(cluster|group|category)\s+)?(.+?)"
                        rf"(?:\s+(cluster|group|category|ones))?$", re.I)
CALL_THE_ONES = re.compile(r"(?:call|name)\s+(?:the\s+)?(.+?)\s+(?:ones?|images|pictures|photos|cluster|group)\s+(.+)$",
                           re.I)  # "call the yellow ones Sunny", "call the first one Warm"
# "I don't want the Blue group", "we don't need cluster 3 any more": a removal when what follows names a cluster
NOT_WANTED = re.compile(r"(?:i\s+|we\s+)?(?:don'?t|do not)\s+(?:want|need)\s+(?:the\s+)?(?:(?:cluster|group|category)\s+)?"
                        r"(.+?)(?:\s+(?:cluster|group|category|ones))?(?:\s+any\s*more)?$", re.I)
PUT_INTO = re.compile(r"(?:put|move|merge)\s+(?:all\s+(?:of\s+)?)?(?:the\s+)?(.+?)(?:\s+ones)?\s+(?:in\s+with|into|in|with|"
                      r"under)\s+(?:the\s+)?(.+?)(?:\s+(?:ones|cluster|group))?$", re.I)


def read_change(message: str, names: list[str]) -> Intent | None:
    """Merge / split / rename / fewer / more, in words, once clusters exist; None when none of them fits.
    A polite question form ("can you merge 1 and 2?") reads as the request it is."""
    # "actually rename Green to Leaf": a correction's word before a change is no part of it (an eleventh newcomer's)
    message = re.sub(r"^(?:(?:can|could|would|will) you\s+|please\s+|(?:actually|ok(?:ay)?|so|then|now),?\s+(?=\w+\s))+",
                     "", message.strip(), flags=re.I).rstrip("?.! ")
    lowered = message.lower()
    named = [n for n in names if n != OTHER]  # K counts the names, not an "other" group ("fewer groups" was refused)
    if m := re.search(r"\btoo (many|few) (?:groups|clusters|categories)\b", lowered):  # "I think there are too many groups"
        lowered = message = "fewer groups" if m[1] == "many" else "more groups"
    if m := re.match(rf"(?:please\s+)?(?:(?:use|make|give me|i want|want)\s+)?(?:({NUMBER_WORD}|an?|one)\s+)?(fewer|less|more)"
                     rf"(?:\s+{GROUP_WORDS})?(?:\s+please)?$|(?:please\s+)?add\s+(?:another|an?|one)\s+{GROUP_WORDS}$",
                     lowered):  # "more groups", "one more group", "two fewer clusters", "add a group"
        step = 1 if m[1] in (None, "a", "an", "one") else number(m[1])
        k = len(named) + (-step if m[2] in ("fewer", "less") else step)
        if k < 2:
            return Intent("unclear", problem=f"there are {len(named)} clusters already; fewer than 2 is not a clustering")
        return Intent("request", k=k, sure=True)
    if m := re.match(rf"(?:please\s+)?{MERGE_VERBS}\s+(?:the\s+)?(first|last)\s+(?:two|2)(?:\s+{GROUP_WORDS})?"
                     rf"(?:\s+(?:into|as|called)\s+(.+))?$", message, re.I):
        if len(names) < 3:  # two would leave one cluster, one has nothing to merge with (a third "merge" had crashed)
            return Intent("unclear", problem=f"there {'is' if len(names) == 1 else 'are'} {len(names)} cluster"
                                             f"{'s' if len(names) != 1 else ''}: merging would leave fewer than 2", sure=True)
        pair = names[:2] if m[1].lower() == "first" else names[-2:]
        return _change(lambda: Merge((pair[0], pair[1]), _name(m[2] or "")))
    if (m := re.match(rf"(?:please\s+)?{MERGE_VERBS}\s+(.+?),\s*(.+?),?\s+(?:and|with|&)\s+(.+?)$", message, re.I)) and all(
            _is_cluster(x, names) for x in m.groups()):  # "combine Sky, yellow and Nature": said plainly
        return Intent("unclear", problem=f"a merge takes two clusters at a time: merge {m[1]} and {m[2]} first, then "
                                         f"the result with {m[3]}", sure=True)
    if m := re.match(rf"(?:please\s+)?{MERGE_VERBS}\s+(.+?)(?:\s+(?:and|with|&|\+)\s+|\s*,\s*)(.+?)"
                     rf"(?:\s+(?:into|as|called|to)\s+(.+))?$", message, re.I):
        return _change(lambda: Merge((cluster_named(m[1], names), cluster_named(m[2], names)), _name(m[3] or "")))
    if REMOVE_EMPTY.match(message):
        return _change(lambda: Remove())
    if re.fullmatch(rf"(?:please\s+)?{REMOVE_VERBS}(?:\s+(?:a|one|some)\s+{GROUP_WORDS})?", lowered):  # "remove": which?
        return Intent("unclear", problem='which cluster? Say e.g. "remove 2", or "drop the empty groups"', sure=True)
    if (m := re.fullmatch(rf"(?:please\s+)?{REMOVE_VERBS}\s+(?:the\s+)?(?:{GROUP_WORDS}\s+)?(.+?)(?:\s*,\s*|\s+and\s+|\s*&\s*)"
                          rf"(.+?)(?:\s+{GROUP_WORDS})?", message, re.I)) and all(_is_cluster(x, names) for x in m.groups()):
        return Intent("unclear", problem=f"removing takes one cluster at a time: remove {m[1]} first, then {m[2]}", sure=True)
    # one cluster is named in the singular: "I don't want 3 groups" is about K, and had removed cluster 3
    if (m := NOT_WANTED.match(message)) and not re.search(r"\b(?:groups|clusters|categories)\b", lowered):
        if _is_cluster(m[1], names):
            return _change(lambda: Remove(cluster_named(m[1], names)))
        if re.search(r"\b(?:group|cluster|category)\b", lowered) and len(m[1].split()) <= 2:
            try:  # "I don't want the Purple group" with no Purple: which clusters there are (it had a generic reply)
                cluster_named(m[1], names)
            except UsageError as exc:
                return Intent("unclear", source="rules", problem=str(exc), sure=True)
    if m := REMOVE_ONE.match(message):
        if m[1] or m[3] or _is_cluster(m[2], names):  # "remove cluster Misc": said back when there is no Misc
            return _change(lambda: Remove(cluster_named(m[2], names)))
        if len(m[2].split()) <= 2:  # "remove Orange": the clusters are named (not sure: the LLM may read an instruction)
            try:
                cluster_named(m[2], names)
            except UsageError as exc:
                return Intent("unclear", source="rules", problem=str(exc))
    if m := re.match(r"(?:please\s+)?(?:split|divide|break up|break)\s+(.+?)(?:\s+(?:in|into|up into)\s+(\w+)"
                     r"(?:\s+\w+)?)?$", message, re.I):
        # a count under 2 is kept, for the split to refuse it ("split 1 into 0" had split 'Green' into 2, unsaid)
        parts = {"zero": 0, "one": 1}.get((m[2] or "").lower(), number(m[2] or "2"))
        return _change(lambda: Split(cluster_named(m[1], names), parts if parts or (m[2] or "").isdigit() else 2))
    if m := re.match(r"(?:please\s+)?(?:rename|call|name)\s+(.+?)\s+(?:to|as|into)\s+(.+)$", message, re.I):
        if (two := re.match(r"(.+?)\s+and\s+(.+?)\s+(?:to|as|into)\s+(.+)$", m[2], re.I)) and _is_cluster(two[2], names):
            # "rename green to Grass and blue to Sky" had named one cluster "Grass and blue to Sky"
            return Intent("unclear", problem=f"one rename at a time: rename {m[1]} to {two[1]} first, then {two[2]} to "
                                             f"{two[3]}", sure=True)
        return _change(lambda: Rename(cluster_named(m[1], names), _name(m[2])))
    if m := re.match(r"(?:rename|call|name)\s+(?:the\s+)?(?:cluster|group)\s+(\d+)\s+(.+)$", message, re.I):  # "call cluster 1 Ocean"
        return _change(lambda: Rename(cluster_named(m[1], names), _name(m[2])))
    # the plainer phrasings below act only on clusters that are there; anything else is left to the LLM
    if (m := CALL_THE_ONES.match(message)) and _is_cluster(m[1], names):  # "call the yellow ones Sunny"
        return _change(lambda: Rename(cluster_named(m[1], names), _name(m[2])))
    if (m := re.match(r"(?:call|name)\s+(\S+)\s+(.+)$", message, re.I)) and _is_cluster(m[1], names):  # "call Red Warm"
        return _change(lambda: Rename(cluster_named(m[1], names), _name(m[2])))
    if (m := re.match(r"(?:change|set)\s+the\s+name\s+of\s+(.+?)\s+to\s+(.+)$|(.+?)\s*(?:->|→|=>)\s*(.+)$", message,
                      re.I)) and _is_cluster(m[1] or m[3], names):  # "change the name of yellow to Sunny", "yellow -> Bright"
        return _change(lambda: Rename(cluster_named(m[1] or m[3], names), _name(m[2] or m[4])))
    if (m := PUT_INTO.match(message)) and all(_is_cluster(x, names) for x in (m[1], m[2])):
        # "put Purple into Red", "merge Sunny into Cool": (Red, Purple), so the merged cluster keeps Red's name and place
        return _change(lambda: Merge((into := cluster_named(m[2], names), cluster_named(m[1], names)), into))
    return None


def _is_cluster(token: str, names: list[str]) -> bool:
    """Whether `token` alone names one of `names` (cluster_named's rule), so a bare "call Red Warm" is a rename."""
    try:
        cluster_named(token, names)
    except UsageError:
        return False
    return True


def _name(text: str) -> str:
    """A new cluster name as typed, without one matched pair of quotes around it: a quote that closes a quoted word
    inside the name stays ("🌿 Grün 'quoted'" had lost its closing quote)."""
    text = text.strip()
    if len(text) >= 2 and (text[0], text[-1]) in (('"', '"'), ("'", "'"), ("“", "”"), ("‘", "’")):
        # a quote escaped inside the pair, as in code ('It\'s blue'), is the quote: kept with its backslash, the name
        # read "It's blue" in the chat's Markdown and no later message could name it
        return re.sub(r"\\(['\"])", r"\1", text[1:-1]).strip()
    return text


def _change(make: Any) -> Intent:
    """The change `make()` builds, or "unclear" with its message when it raises (a cluster that is not there)."""
    try:
        return Intent("change", action=make(), source="rules", sure=True)
    except ValueError as exc:
        return Intent("unclear", source="rules", problem=str(exc), sure=True)


def missing_cluster(message: str, names: list[str]) -> str:
    """For a message no rule read that has the shape of "call the yellow ones Sunny" or "put Purple into Red":
    what cluster_named says of the first part that is no cluster ("" when the shape does not fit)."""
    for pattern in (CALL_THE_ONES, PUT_INTO):
        if m := pattern.match(message):
            for token in m.groups()[: 1 if pattern is CALL_THE_ONES else 2]:
                try:
                    cluster_named(token, names)
                except UsageError as exc:
                    return str(exc)
    return ""
