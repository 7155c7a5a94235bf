"""The "other" group (`--other`): its name, and the stated rule that maps a "none of these" answer to it."""

from __future__ import annotations

import re

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
