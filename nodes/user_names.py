"""The user's own categories (`--names`), which stand in for Step 2b, and the "other" group (`--other`),
added after the names and offered to Step 3 with a note that it may answer "other"."""

from __future__ import annotations

import csv
from typing import Any

from ictc.core.errors import UsageError
from ictc.models.other import OTHER
from ictc.nodes.common import report
from ictc.nodes.label_counts import count_labels, normalize_label
from ictc.prompts import Criterion, render


def _unquoted(name: str) -> str:
    """`name` stripped, without one pair of quotes around it ('"red"' as typed for a shell is the name red)."""
    name = name.strip()
    return name[1:-1].strip() if len(name) >= 2 and name[0] == name[-1] and name[0] in "\"'" else name


def parse_names(names: str | list[str] | tuple[str, ...]) -> list[str]:
    """The user's categories from "a,b,c" (read as a CSV line: '"cats, dogs", birds' is two names) or a list:
    stripped, unquoted, empty ones dropped; a name that is "other" in any case or plural ("Other", "others") is
    the other group's, OTHER (it had stood as a second group beside the "other" of --other).

    Raises UsageError when fewer than 2 remain, one has no letter or digit, or two are the same (ignoring case and
    plurals)."""
    items = next(csv.reader([names], skipinitialspace=True), []) if isinstance(names, str) else list(names)
    given = [n for n in map(_unquoted, map(str, items)) if n]
    if len(given) < 2:
        raise UsageError(f"give at least 2 category names, comma-separated, not {names!r}")
    seen: dict[str, str] = {}
    for name in given:
        if not normalize_label(name):  # "." or "?" had been a category no answer could name
            raise UsageError(f"the category name {name!r} has no letter or digit (names: {names!r})")
        if normalize_label(name) in seen:
            raise UsageError(f"the category names {seen[normalize_label(name)]!r} and {name!r} are the same")
        seen[normalize_label(name)] = name
    return [OTHER if normalize_label(n) == OTHER else n for n in given]


def user_naming(user_names: list[str], raw_labels: list[str]) -> dict[str, Any]:
    """Step 2b's record when the user gave the names: no model call; the label counts are kept for the report."""
    counts = count_labels(raw_labels)
    report("name_clusters", advance=1, names=user_names, stored=0, calls=0, no_call="your categories")
    return {"names": list(user_names), "counts": dict(counts), "kept": dict(counts.most_common()), "dropped": {},
            "groups": [], "attempts": 0, "source": "user", "problems": [], "seconds": 0.0, "calls": 0}


def with_other(naming: dict[str, Any], other: bool) -> dict[str, Any]:
    """The naming with the "other" group last when the run has one (never twice: a name Step 2b gave that is
    "other" in any case or plural, "Other", is that group, not a second one beside it)."""
    if not other:
        return naming
    names = [n for n in naming["names"] if normalize_label(n) != OTHER]
    kept = [OTHER if normalize_label(n) == OTHER else n for n in naming["names"]]
    return {**naming, "names": kept if OTHER in kept and len(kept) == len(names) + 1 else [*names, OTHER]}


def other_note(rendered: list[tuple[str, str]], criterion: Criterion, names: list[str]) -> list[tuple[str, str]]:
    """Step 3's prompt with the note that "other" may be answered, when "other" is one of the names;
    the note (prompts/other_note.txt) joins the last user message, so the prompt's hash changes with it."""
    if OTHER not in names:
        return rendered
    note = render("other_note", criterion, step="assign")[0][1]
    role, text = rendered[-1]
    return [*rendered[:-1], (role, f"{text}\n{note}")]
