"""The plans of the actions that change the grouping itself: a split, the user's names, an "other" group,
a coarser level, a cluster removed, K proposed. Each resets only what its change makes stale (see nodes/actions.py)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from ictc.core.errors import UsageError
from ictc.models.other import OTHER, group_fields, is_other_name, same_name
from ictc.nodes.actions import (
    NAMES_AFRESH,
    Action,
    AddOther,
    Coarser,
    Merge,
    Plan,
    ProposeK,
    Remove,
    SetNames,
    Split,
    assigned,
    check_name,
)
from ictc.nodes.kept_edits import RENAMED, with_edit
from ictc.nodes.merged_names import with_merge
from ictc.nodes.state import RESET, files_of, images_said, twins_said
from ictc.nodes.user_names import parse_names


def plan_grouping(state: dict[str, Any], action: Action) -> Plan:
    """The plan for Merge, Split, SetNames, AddOther, Coarser, Remove or ProposeK on a run's `state` (its values); no model is
    called here. Raises UsageError naming the value when the action does not fit the run."""
    names = list(state.get("naming", {}).get("names", []))
    images = images_said(state)  # the images Step 3 works on: not those that failed before it
    n_assigned = len(state.get("assignments", {}))  # not `assigned`: that is the members of one cluster
    match action:
        case Merge(clusters, into):
            return _plan_merge(state, clusters, into)
        case Split(cluster, n):
            return _plan_split(state, cluster, n)
        case SetNames(given):
            chosen = parse_names(list(given))
            other = bool(state.get("other")) or OTHER in names
            return Plan({"user_names": [n for n in chosen if n != OTHER], "other": other or OTHER in chosen,
                         "n_clusters": len([n for n in chosen if n != OTHER]), "scope": {},
                         "assignments": {RESET: True}}, "name_clusters",
                        f"Step 3 into {', '.join(chosen)} on {images} (no Step 2b: your names are used)")
        case AddOther():
            if OTHER in names:
                raise UsageError("the run already has an 'other' group")
            # a cluster the user named "Other" is that group, its images in it, as among --names: it had stood beside
            # a second, empty "other", and Step 3 had sent its images elsewhere
            own = next((n for n in names if is_other_name(n)), None)
            kept = [OTHER if n == own else n for n in names] if own else [*names, OTHER]
            renamed = {s: t for s, t in state["naming"].get(RENAMED, {}).items() if t != own}
            stay = {p: {**a, "cluster": OTHER} for p, a in state.get("assignments", {}).items() if own and a["cluster"] == own}
            files = files_of(state["images"], [p for p in state.get("assignments", {}) if p not in stay])[0]
            return Plan({"other": True, "naming": {**state["naming"], "names": kept, RENAMED: renamed}, "scope": {},
                         "n_clusters": len(kept) - 1, "assignments": {RESET: True, **stay}}, "assign_dispatch",
                        f"Step 3 on {images}, which may now answer 'other'" if not own else
                        f"Step 3 on the {files} images outside {own!r}, which may now answer 'other' ({own!r} becomes "
                        "that group, its images in it)")
        case Coarser(n):
            named = [x for x in names if x != OTHER]
            if not n_assigned:
                raise UsageError("a coarser level needs the clusters' members: finish Step 3 first")
            if len(named) < 3:  # "between 2 and 1 parents" had been asked of a run of 2 names
                raise UsageError(f"a coarser level needs 3 names or more to group into 2 or more parents; the run has "
                                 f"{len(named)} ({', '.join(named)})")
            if n < 2 or n >= len(named):
                raise UsageError(f"a coarser level needs between 2 and {len(named) - 1} parents for {len(named)} names, not {n}")
            return Plan({"coarsen": {"n": n}}, "coarsen",
                        f"one LLM call grouping {len(named)} names into {n}; images follow their cluster (no other model call)")
        case Remove(cluster):
            return _plan_remove(state, cluster)
        case ProposeK():
            return Plan({"n_clusters": 0, "k_pick": "best", "user_names": [], "scope": {}, "assignments": {RESET: True}}, "propose_k",
                        f"the choice of K (one LLM call on the labels), then Step 2b and Step 3 on {images}")
    raise UsageError(f"{action} is not a grouping change")


def _plan_merge(state: dict[str, Any], clusters: tuple[str, str], into: str) -> Plan:
    """Merge `clusters` into `into` ("": the bigger one's name, the first on a tie), no model call. Raises UsageError
    for a cluster that is not there, the same one twice, a name another cluster has, or when fewer than 2 clusters
    would be left (as a remove: "merge the first two" on 2 clusters had made 1, and a third had crashed the chat)."""
    first, second = clusters
    names = list(state.get("naming", {}).get("names", []))
    check_name(state, first), check_name(state, second)
    if first == second:
        raise UsageError("merge needs two different clusters")
    if len(names) - 1 < 2:
        raise UsageError(f"merging {first!r} and {second!r} would leave 1 cluster; a clustering needs 2")
    # no name given: the bigger cluster's name stays (ties: the first), so fewer images change their name
    # ("merge Purple with Red", Purple empty, had renamed Red's 33 images "Purple")
    # in images (files): a cluster of 3 identical files is bigger than one of 2 images
    sizes = {name: files_of(state["images"], assigned(state, name))[0] for name in (first, second)}
    target = into.strip() or (second if sizes[second] > sizes[first] else first)
    if taken := next((n for n in names if n not in (first, second) and same_name(target, n)), None):
        raise UsageError(f"cannot merge into {target!r}: cluster {names.index(taken) + 1} is called {taken!r}")
    moved = {p: {**a, "cluster": target} for p, a in state.get("assignments", {}).items() if a["cluster"] in (first, second)}
    # the merged cluster keeps the place of the one whose name it keeps (the first's for a new name)
    stays, goes = (second, first) if target == second else (first, second)
    kept = [target if n == stays else n for n in names if n != goes]
    # before Step 3 (the names pause) Step 3 still asks with the names merged, then sends them to the target
    naming = with_merge(state["naming"], (first, second), target) if not state.get("assignments") else state["naming"]
    return Plan({"naming": with_edit({**naming, "names": kept}, "merges"), "assignments": moved,
                 **group_fields(kept, bool(state.get("other")))}, "", "nothing (a merge calls no model)")


def _plan_remove(state: dict[str, Any], cluster: str) -> Plan:
    """Remove `cluster` ("": every empty one). Its images go back to Step 3, each choosing among the names left
    (state `scope`, as a split's parts; the other images keep their cluster); empty clusters just leave the
    names (no node runs). Raises UsageError for a cluster that is not there, before Step 3, for no empty
    cluster, or when fewer than 2 clusters would be left."""
    names, assignments = list(state.get("naming", {}).get("names", [])), state.get("assignments", {})
    if not assignments:
        raise UsageError("removing a cluster needs the clusters' members: finish Step 3 first")
    if cluster:
        check_name(state, cluster)
    sizes = Counter(a["cluster"] for a in assignments.values())
    gone = [cluster] if cluster else [n for n in names if not sizes[n]]
    if not gone:
        raise UsageError("no cluster is empty: nothing to remove")
    kept = [n for n in names if n not in gone]
    if len(kept) < 2:
        raise UsageError(f"removing {', '.join(repr(n) for n in gone)} would leave {len(kept)} cluster; a clustering needs 2")
    members = [p for p, a in assignments.items() if a["cluster"] in gone]
    update: dict[str, Any] = {"naming": with_edit({**state["naming"], "names": kept}, "removals"),
                              **group_fields(kept, bool(state.get("other")))}
    if state.get("user_names"):  # the user's own names, less the removed: what a later Step 3 assigns to
        update["user_names"] = [n for n in state["user_names"] if n in kept]
    if not members:
        return Plan(update, "", f"nothing ({', '.join(repr(n) for n in gone)} had no image: no model call)")
    unaffected = {p: a for p, a in assignments.items() if a["cluster"] not in gone}
    files, twins = files_of(state["images"], members)  # images, not contents: 3 identical files are 3 images
    return Plan({**update, "assignments": {RESET: True, **unaffected}, "scope": {p: kept for p in members}},
                "assign_dispatch", f"Step 3 on the {files} image{'s' if files != 1 else ''} of {gone[0]!r} only"
                                   f"{twins_said(twins)}, among the {len(kept)} names left")


def _plan_split(state: dict[str, Any], cluster: str, n: int) -> Plan:
    """Split `cluster` into `n`: the name_split node asks Step 2b for the parts from its raw labels, then Step 3
    runs on its images only. Raises UsageError for a cluster that is not there, has no images, or fewer than `n`."""
    check_name(state, cluster)
    members = assigned(state, cluster)
    if not members and state.get("assignments"):
        raise UsageError(f"cannot split {cluster!r}: it has no images")
    if not members:
        raise UsageError("split needs the clusters' members: accept the names first, then split after Step 3")
    if n < 2:  # "--split 1 1" had read "cannot split 'Red' (12 images) into 1", as if the size were the trouble
        raise UsageError(f"a split needs at least 2 parts, not {n}")
    files, twins = files_of(state["images"], members)  # images, not contents: 3 identical files are 3 images
    if n > len(members):  # identical files go to one part: the contents are what a split can divide
        held = f"{len(members)} distinct of its {files} images" if twins else f"{files} image{'s' if files != 1 else ''}"
        raise UsageError(f"cannot split {cluster!r} ({held}) into {n}")
    # imported here, not at the top: the chat app's first paint imports this module
    from ictc.nodes.label_counts import normalize_label

    labels = {normalize_label(state["labels"][p]["raw"]) for p in members if p in state.get("labels", {})}
    # one label gives Step 2b nothing to divide: the parts then differ only by what Step 3 reads in the
    # descriptions, and an image whose label is a part's name goes there without a call: said before go
    alike = (f" (its images share one label, {next(iter(labels))!r}: a part may stay empty)"
             if len(labels) == 1 else "")
    return Plan({"split": {"cluster": cluster, "n": n}}, "name_split",
                f"Step 2b on the raw labels of {cluster!r} ({len(labels)} distinct, into {n} parts), "
                f"then Step 3 on its {files} image{'s' if files != 1 else ''} only{twins_said(twins)}{alike}")


def names_note(state: dict[str, Any], plan: Plan) -> str:
    """What `plan` does to the run's names, said before it runs ("" when nothing): Step 2b naming afresh loses
    renames, merges and removals (a newcomer's were gone after "don't consider the glare", unsaid); a K in place of
    the user's categories replaces them ("too many groups" said nothing); a new criterion keeps them (unsaid too)."""
    own = state.get("user_names") or []
    if plan.goto in NAMES_AFRESH and not (own or plan.update.get("user_names")):
        return "; Step 2b names the clusters afresh, so earlier renames, merges and removals are not kept"
    if own and plan.update.get("user_names") == []:
        return f"; Step 2b names the clusters afresh, in place of your own categories ({', '.join(own)})"
    if own and plan.goto in NAMES_AFRESH and "user_names" not in plan.update:  # new ones given: they are what Step 3 uses
        return (f"; your own categories stay ({', '.join(own)}; earlier renames, merges and removals are not kept): "
                "give new ones, or a K, to change them")
    return ""
