"""The user's edits of a run's clusters as its Step-2b record (the state's "naming") keeps them, so that a Step 2b run
again over every label with Step 3's answers in place (`ictc resume` of a run with failed images) can carry them
over, or say that it could not.

Two keys of the naming, both dropped whenever Step 2b names the clusters afresh (its record is new):
- EDITS: the kinds of edits made since ("renames", "merges", "splits", "removals", "coarser levels"), in order;
- RENAMED: {a name as Step 2b gave it: the user's name for it now}, kept through later edits.
Why: a resume's Step 2b names had replaced the user's renames and splits of the version it started from, and
nothing said so (only the version's label in run.json had recorded a rename).

No langgraph or model import here: nodes/actions.py, which the chat app's first paint imports, uses it."""

from __future__ import annotations

from typing import Any

EDITS = "edits"
RENAMED = "renamed"
KINDS = ("renames", "merges", "splits", "removals", "coarser levels")  # the order a notice lists them in


def with_edit(naming: dict[str, Any], kind: str) -> dict[str, Any]:
    """`naming` with `kind` (one of KINDS) among its edits (once), and its renames kept only for the clusters still
    there (a merge or a split may have taken a renamed cluster away: its rename cannot come back)."""
    edits = list(naming.get(EDITS, []))
    names = set(naming.get("names", []))
    renamed = {source: name for source, name in naming.get(RENAMED, {}).items() if name in names}
    return {**naming, EDITS: edits if kind in edits else [*edits, kind], RENAMED: renamed}


def with_renamed(naming: dict[str, Any], cluster: str, to: str) -> dict[str, Any]:
    """`naming` (its "names" already holding `to` for `cluster`) with the rename recorded: the Step-2b name that
    `cluster` had (itself, unless the user had renamed it before) now maps to `to`."""
    renamed = dict(naming.get(RENAMED, {}))
    source = next((s for s, name in renamed.items() if name == cluster), cluster)
    return with_edit({**naming, RENAMED: {**renamed, source: to}}, "renames")


def _plain(name: str) -> str:
    return " ".join(name.casefold().split())


def carried_over(earlier: dict[str, Any], fresh: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A Step 2b's `fresh` naming with the user's renames of the `earlier` naming applied again where a fresh name
    is a Step-2b name the user renamed (case and spacing aside), unless the user's name would then be another
    cluster's too (Step 3 is still asked the Step-2b name: "merged"); and the kinds of the earlier edits not carried
    over (KINDS' order; [] when none).

    Kept whole when the names come out as the earlier ones (every edit is then carried: the clusters Step 3 chose
    are all there); else the renames applied are kept (RENAMED, "renames") and the other edits are lost."""
    renamed = earlier.get(RENAMED, {})
    by_plain = {_plain(source): name for source, name in renamed.items()}
    names = list(fresh["names"])
    applied: dict[str, str] = {}
    for at, name in enumerate(names):
        user = by_plain.get(_plain(name))
        if user is not None and not any(_plain(user) == _plain(other) for other in names if other != name):
            names[at], applied[name] = user, user
    # Step 3 is asked Step 2b's name and sends its answer to the user's (nodes/merged_names.py): the user's own name
    # ("Group A", "Warm") may tell the model less of what the cluster holds than the name it was given for
    merged = {**fresh.get("merged", {}), **applied}
    naming = {**fresh, "names": names, **({"merged": merged} if merged else {})}
    edits = list(earlier.get(EDITS, []))
    if set(names) == set(earlier.get("names", [])):
        return {**naming, **({EDITS: edits, RENAMED: applied} if edits else {})}, []
    lost = [kind for kind in edits if kind != "renames" or len(applied) < len(renamed)]
    kept = {EDITS: ["renames"], RENAMED: applied} if applied else {}
    return {**naming, **kept}, [kind for kind in KINDS if kind in lost]


def not_kept_said(kinds: list[str], version: int | None, source: str, names: list[str]) -> str:
    """One line saying that the user's edits of `kinds` (KINDS) made up to `version` (None: no version yet) were
    not carried over because `source` ("Step 2b", or "your categories") named the clusters `names` afresh."""
    said = " and ".join([", ".join(kinds[:-1]), kinds[-1]] if len(kinds) > 1 else kinds)
    of = f" of version {version}" if version else ""
    return (f"your {said}{of} were not carried over: {source} named the clusters afresh "
            f"(names: {', '.join(names)})")
