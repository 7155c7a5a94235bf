"""The plans of the actions that change the grouping itself: the user's names, an "other" group,
a coarser level, K proposed. Each resets only what its change makes stale (see nodes/actions.py)."""

from __future__ import annotations

from typing import Any

from ictc.core.errors import UsageError
from ictc.models.other import OTHER
from ictc.nodes.actions import Action, AddOther, Coarser, Plan, ProposeK, SetNames
from ictc.nodes.state import RESET
from ictc.nodes.user_names import parse_names


def plan_grouping(state: dict[str, Any], action: Action) -> Plan:
    """The plan for SetNames, AddOther, Coarser or ProposeK on a run's `state` (its values); no model is
    called here. Raises UsageError naming the value when the action does not fit the run."""
    names = list(state.get("naming", {}).get("names", []))
    images = len(state["images"])
    assigned = len(state.get("assignments", {}))
    match action:
        case SetNames(given):
            chosen = parse_names(list(given))
            other = bool(state.get("other")) or OTHER in names
            return Plan({"user_names": [n for n in chosen if n != OTHER], "other": other or OTHER in chosen,
                         "n_clusters": len([n for n in chosen if n != OTHER]), "scope": {},
                         "assignments": {RESET: True}}, "name_clusters",
                        f"Step 3 on {images} images into {', '.join(chosen)} (no Step 2b: your names are used)")
        case AddOther():
            if OTHER in names:
                raise UsageError("the run already has an 'other' group")
            return Plan({"other": True, "naming": {**state["naming"], "names": [*names, OTHER]}, "scope": {},
                         "assignments": {RESET: True}}, "assign_dispatch",
                        f"Step 3 on {images} images, which may now answer 'other'")
        case Coarser(n):
            named = [x for x in names if x != OTHER]
            if not assigned:
                raise UsageError("a coarser level needs the clusters' members: finish Step 3 first")
            if n < 2 or n >= len(named):
                raise UsageError(f"a coarser level needs between 2 and {len(named) - 1} parents for {len(named)} names, not {n}")
            return Plan({"coarsen": {"n": n}}, "coarsen",
                        f"one LLM call grouping {len(named)} names into {n}; images follow their cluster (no other model call)")
        case ProposeK():
            return Plan({"n_clusters": 0, "k_pick": "best", "user_names": [], "scope": {}, "assignments": {RESET: True}}, "propose_k",
                        f"K proposed from the labels (one LLM call), then Step 2b and Step 3 on {images} images")
    raise UsageError(f"{action} is not a grouping change")
