"""The user's edits of a run's clusters as its Step-2b record (the state's "naming") keeps them, so that a Step 2b run
again over every label with Step 3's answers in place (`ictc resume` of a run with failed images) can say which of
them it could not keep.

A key of the naming, dropped whenever Step 2b names the clusters afresh (its record is new):
- EDITS: the kinds of edits made since ("renames", "merges", "splits", "removals", "coarser levels"), in order.
Why: a resume's Step 2b names had replaced the user's renames and splits of the version it started from, and
nothing said so (only the version's label in run.json had recorded a rename).

No langgraph or model import here: nodes/actions.py, which the chat app's first paint imports, uses it."""

from __future__ import annotations

from typing import Any

EDITS = "edits"
KINDS = ("renames", "merges", "splits", "removals", "coarser levels")  # the order a notice lists them in


def with_edit(naming: dict[str, Any], kind: str) -> dict[str, Any]:
    """`naming` with `kind` (one of KINDS) among its edits (once)."""
    edits = list(naming.get(EDITS, []))
    return {**naming, EDITS: edits if kind in edits else [*edits, kind]}


def carried_over(earlier: dict[str, Any], fresh: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A Step 2b's `fresh` naming, and the kinds of the `earlier` naming's edits it does not keep (KINDS' order; []
    when none): all of them when the names differ from the earlier ones, none when they are the same (the clusters
    Step 3 chose are all there: the edits are kept)."""
    edits = list(earlier.get(EDITS, []))
    if set(fresh["names"]) == set(earlier.get("names", [])):
        return {**fresh, **({EDITS: edits} if edits else {})}, []
    return fresh, [kind for kind in KINDS if kind in edits]


def not_kept_said(kinds: list[str], version: int | None, source: str, names: list[str]) -> str:
    """One line saying that the user's edits of `kinds` (KINDS) made up to `version` (None: no version yet) were
    not carried over because `source` ("Step 2b", or "your categories") named the clusters `names` afresh."""
    said = " and ".join([", ".join(kinds[:-1]), kinds[-1]] if len(kinds) > 1 else kinds)
    of = f" of version {version}" if version else ""
    return (f"your {said}{of} were not carried over: {source} named the clusters afresh "
            f"(names: {', '.join(names)})")
