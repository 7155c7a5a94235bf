"""Names merged at the pause before Step 3: Step 3 still chooses among the names as Step 2b gave them, and each
choice goes to the cluster its name was merged into (the merged name alone would tell the model nothing of
what was merged: a newcomer's "merge 1,2 Cool" left Cool empty)."""

from __future__ import annotations

from typing import Any


def with_merge(naming: dict[str, Any], pair: tuple[str, str], target: str) -> dict[str, Any]:
    """`naming` (Step 2b's record) with the two names of `pair` merged into `target` in its "merged" map (name as
    Step 3 is asked it -> cluster), names merged before included: merging "Cool" (green + blue) with red sends
    green, blue and red to the target."""
    merged = dict(naming.get("merged", {}))
    sources = [s for s, t in merged.items() if t in pair] + [n for n in pair if n not in merged.values()]
    return {**naming, "merged": {**merged, **{source: target for source in sources}}}


def with_rename(naming: dict[str, Any], cluster: str, to: str) -> dict[str, Any]:
    """`naming` with the merged names that went to `cluster` sent to `to` instead (unchanged without a merge)."""
    if not naming.get("merged"):
        return naming
    return {**naming, "merged": {s: to if t == cluster else t for s, t in naming["merged"].items()}}


def step3_names(naming: dict[str, Any], names: list[str]) -> list[str]:
    """The names Step 3 chooses among for `names` (the clusters): each merged cluster as the names it was merged
    from, in their order; the others as they are."""
    merged = naming.get("merged", {})
    return [source for name in names for source in ([s for s, t in merged.items() if t == name] or [name])]
