"""The "other" group (`--other`): its name, and the stated rule that maps a "none of these" answer to it."""

from __future__ import annotations

import re
from typing import Any

OTHER = "other"
# Answers that say no category fits, after lower-casing and dropping punctuation.
NONE_ANSWERS = {"other", "none", "none of these", "none of them", "none of the above", "no category",
                "neither", "no match", "not applicable", "n a", "unknown", "other category", "something else"}


def none_of_these(answer: str, names: list[str]) -> str | None:
    """OTHER when the names include it and `answer` says none of the categories fits; else None.

    The rule: the answer, lower-cased with punctuation and quotes removed, is one of NONE_ANSWERS."""
    if OTHER not in names:
        return None
    said = " ".join(re.sub(r"[^\w\s]", " ", answer.lower()).split())
    return OTHER if said in NONE_ANSWERS else None


def begins_none(token: str) -> bool:
    """True when a first answer token (lower-cased, spaces and quotes stripped) begins one of NONE_ANSWERS other
    than "other" itself ("None", "Neither", "unknown"): a calibrated choice counts it for OTHER, as the
    enum choice maps the whole answer. Two letters at least: "n" alone would begin them all."""
    return len(token) >= 2 and any(answer.startswith(token) for answer in NONE_ANSWERS if answer != OTHER)


def is_other_name(name: str) -> bool:
    """Whether `name` reads as the other group's, case, punctuation and a plural aside ("Other", "others.")."""
    return " ".join(re.sub(r"[^\w\s]", " ", name.lower()).split()) in (OTHER, f"{OTHER}s")


def same_name(a: str, b: str) -> bool:
    """Whether two cluster names are one to a user: case, spacing and a final full stop aside (as nodes/actions.py
    same_text reads typed texts), and "Others" beside the other group ("other"): a rename to "Others" had made a
    second other group, and `--other` after a rename to "Other" two."""
    def plain(text: str) -> str:
        return " ".join(text.casefold().replace("don't", "do not").replace("doesn't", "does not").split()).rstrip(".")

    return plain(a) == plain(b) or (OTHER in (a, b) and is_other_name(a) and is_other_name(b))


def group_fields(names: list[str], had_other: bool) -> dict[str, Any]:
    """The run state's "other" and "n_clusters" for the cluster `names` an edit leaves (`had_other`: the run had the
    other group before it): the group stays only while "other" is among the names, and K counts the named clusters.
    A rename of the group ("other" to "Misc") or a merge of it had left the run flagged as having one: a later Step
    2b put "other" back beside the user's name, K one short."""
    return {"other": had_other and OTHER in names, "n_clusters": sum(n != OTHER for n in names)}
