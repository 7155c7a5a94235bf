"""Short typed commands for review pauses and chat ("k 5", "merge 2 3", "rename 1 Happy people")."""

from __future__ import annotations

import re

from ictc.core.errors import UsageError, whole_number
from ictc.nodes.actions import (
    Accept,
    Action,
    AddInstruction,
    Merge,
    Rename,
    SetCriterion,
    SetK,
    Split,
)
from ictc.prompts import STEP_ALIASES, step_name

HELP = ("Enter: accept | rename N NEW NAME | merge N M [NEW NAME] | split N COUNT | k K | "
        "criterion NEW TEXT | instruction [1|2a|2b|3|all] TEXT")


def cluster_by_token(names: list[str], token: str) -> str:
    """The cluster `token` names among `names` (the current cluster names, in order): its 1-based number as
    printed, or else its exact name, or else the one name equal to it but for case. Raises UsageError naming
    the token and the valid numbers, or when the token is one cluster's number and another's name
    (ambiguous: nothing is guessed)."""
    numbered = names[int(token) - 1] if token.isdigit() and 1 <= int(token) <= len(names) else None
    if numbered is not None and token in names and numbered != token:  # names that are numbers ("1", "2", "3+")
        raise UsageError(f"{token!r} is ambiguous: cluster {token} is {numbered!r}, and the cluster named {token!r} is "
                         f"number {names.index(token) + 1}")
    if numbered is not None:
        return numbered
    if token in names:
        return token
    def plain(text: str) -> str:  # "RED" for "red", as the chat reads it; " red " (a name copied with its spaces) too
        return " ".join(text.casefold().split())

    folded = [name for name in names if plain(name) == plain(token)]
    if len(folded) == 1:
        return folded[0]
    raise no_cluster(token, names)


def no_cluster(token: str, names: list[str]) -> UsageError:
    """The error for `token`, which names none of `names`: the valid numbers and (the first 12) names."""
    shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
    return UsageError(f"no cluster {token!r}: give its number, 1 to {len(names)}, or its name ({shown})")


def take_cluster(names: list[str], words: list[str]) -> tuple[str, list[str]]:
    """The cluster the leading `words` name and the words after it: the longest run of two or more words that is
    a cluster's name (case aside: "other 2", "Blue 1", names the tool makes), else the first word as
    cluster_by_token reads it. Raises UsageError as cluster_by_token, or when `words` is empty.

    Why: "merge other 2 and other 3" merged 'other' and cluster 2 into a cluster called "and other 3"."""
    folded = {name.casefold(): name for name in names}
    for n in range(len(words), 1, -1):
        if (name := folded.get(" ".join(words[:n]).casefold())) is not None:
            return name, words[n:]
    if not words:
        raise UsageError("which cluster? give its number or its name")
    named = f"{words[0]} {words[1]}" if len(words) > 1 and words[1].isdigit() else ""
    if named and any(n.casefold().startswith(f"{words[0]} ".casefold()) for n in names):
        raise no_cluster(named, names)  # "other 7" beside "other 2" ... "other 6": not 'other' and cluster 7
    return cluster_by_token(names, words[0]), words[1:]


def _merge(names: list[str], rest: list[str]) -> Merge:
    """`merge A B [as|into|to] [new name]`: the two clusters A and B (numbers or names) and the new name, its
    leading "as"/"into"/"to" dropped. Raises UsageError when A or B is no cluster ("merge 2 and 3" is left to the
    chat's rules), or when a number follows the two ("merge 1 2 3 as All" merged 1 and 2 into a cluster called
    "3 as All"): a merge takes two clusters at a time."""
    first, after = take_cluster(names, rest)
    if after and after[0].lower() in ("and", "with", "&", "+"):  # "merge 2 and 3", "merge other 2 with other 3"
        after = after[1:]
    second, into = take_cluster(names, after)
    if into and into[0].isdigit():  # a third cluster number, even one the run does not have
        there = 1 <= int(into[0]) <= len(names)
        raise UsageError(f"a merge takes two clusters at a time: merge {rest[0]} {rest[1]} first"
                         + (f", then merge the result with {into[0]}" if there else f" (there is no cluster {into[0]})"))
    if into and into[0].lower() in ("as", "into", "to"):
        into = into[1:]
    return Merge((first, second), " ".join(into))


def parse_command(line: str, names: list[str]) -> Action:
    """The action a typed review line asks for (see HELP); an empty line or "a"/"ok"/"y" accepts.

    `names` are the current cluster names: a cluster is given by its 1-based number or its exact name.
    `split N` splits in 2; a merge without a new name keeps the bigger cluster's name. Raises UsageError for an
    unknown verb, a missing or non-numeric argument, or a cluster that is not there."""
    words = re.sub(r"^\s*k\s*[=:]\s*", "k ", line, flags=re.I).split()  # "k = 3", "K: 3" as "k 3"
    if not words or words[0].lower() in ("a", "accept", "ok", "yes", "y"):
        return Accept()
    verb, rest = words[0].lower(), words[1:]
    if verb in ("m", "merge") and rest and re.fullmatch(r"\d+,\d+", rest[0]):  # "merge 2,3" as the chat reads it
        rest = [*rest[0].split(","), *rest[1:]]
    try:
        if verb in ("r", "rename") and len(rest) >= 2:
            cluster, to = take_cluster(names, rest)
            return Rename(cluster, " ".join(to or rest[1:]))
        if verb in ("m", "merge") and len(rest) >= 2:
            return _merge(names, rest)
        if verb in ("s", "split") and rest:
            cluster, parts = take_cluster(names, rest)
            if len(parts) <= 1:
                return Split(cluster, whole_number(parts[0], "the number of parts of a split") if parts else 2)
        if verb in ("k", "k=") or verb.startswith("k="):
            value = verb[2:] if verb.startswith("k=") and len(verb) > 2 else rest[0]
            if not re.fullmatch(r"[-+]?\d+", value):  # "k=2.5" had been answered with the whole command list
                raise UsageError(f"K must be a whole number, not {value!r}")
            return SetK(int(value))
        if verb in ("c", "criterion") and rest:
            return SetCriterion(" ".join(rest))
        if verb in ("i", "instruction") and rest:
            if rest[0].lower() in STEP_ALIASES and len(rest) == 1:  # "instruction 3" had added "3" to every step
                raise UsageError(f"instruction {rest[0]} needs its text, e.g. instruction {rest[0]} Do not consider "
                                 f"gender.")
            if rest[0].lower() in STEP_ALIASES:
                return AddInstruction(" ".join(rest[1:]), step_name(rest[0]))
            return AddInstruction(" ".join(rest))
    except (IndexError, ValueError) as exc:
        if "cluster" in str(exc) or "must be a whole number" in str(exc) or str(exc).startswith(("K must", "instruction ")):
            raise
        raise UsageError(f"cannot read {line.strip()!r}. {HELP}") from exc
    raise UsageError(f"cannot read {line.strip()!r}. {HELP}")
