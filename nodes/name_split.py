"""Step 2b for a split (planned by nodes/actions.py): the split cluster's images' labels named as its parts."""

from __future__ import annotations

from typing import Any, Literal

from langgraph.runtime import Runtime
from langgraph.types import Command

from ictc.models.other import OTHER
from ictc.nodes.context import Context
from ictc.nodes.kept_edits import EDITS, RENAMED, with_edit
from ictc.nodes.label_counts import normalize_label
from ictc.nodes.name_clusters import propose_names
from ictc.nodes.state import RESET, RunState
from ictc.prompts import Criterion


def split_parts(cluster: str, proposed: list[str], names: list[str], n: int, was: tuple[str, ...] = ()) -> list[str]:
    """Exactly `n` distinct names for the parts of `cluster`: the proposed ones that no other cluster
    already has, nor "other" (the split cluster's own name may be kept by one part, spelt as it was, so that
    part's images do not count as moved; so may a name in `was`, the Step-2b names the user renamed to `cluster`,
    spelt as Step 2b gave it), then "<cluster> 1", "<cluster> 2"... for any part still missing, so a
    split always yields the parts asked for. These are the names Step 3 is asked (part_names: the clusters)."""
    # "other" is the other group's name (models/other.py): a part called so was read as that group
    taken = {normalize_label(x) for x in names if x != cluster} | {normalize_label(OTHER)}
    spelt = {normalize_label(x): x for x in (*was, cluster)}
    parts: list[str] = []
    for name in proposed:
        if len(parts) < n and name.strip() and normalize_label(name) not in taken:
            parts.append(spelt.get(normalize_label(name), name.strip()))
            taken.add(normalize_label(name))
    number = 1
    while len(parts) < n:
        candidate = f"{cluster} {number}"
        number += 1
        if normalize_label(candidate) not in taken:
            parts.append(candidate)
            taken.add(normalize_label(candidate))
    return parts


def part_names(cluster: str, asked: list[str], was: tuple[str, ...], users: bool) -> list[str]:
    """The clusters the parts `asked` (split_parts) become: the part Step 2b named as the cluster was named (`cluster`,
    or one of `was`, the Step-2b names the user renamed to it) keeps the cluster's name, the user's, so its images
    do not move; when none is and the name is the user's (`users`: renamed, or one of the user's categories), each
    part is named under it, "Bob's reds: crimson", so the user's name is not lost. A split of the user's
    "Bob's reds" had made 'red' and 'yellow' and listed all its images moved."""
    own = {normalize_label(x) for x in (*was, cluster)}
    keeper = next((a for a in asked if normalize_label(a) in own), None)
    if keeper is None and users:
        return [a if a.startswith(cluster) else f"{cluster}: {a}" for a in asked]
    return [cluster if a == keeper else a for a in asked]


def name_split(state: RunState, runtime: Runtime[Context]) -> Command[Literal["assign_dispatch"]]:
    """Step 2b for a split (planned by nodes/actions.py): names `n` parts from the split cluster's raw labels,
    then sends only its images back to Step 3, each choosing among the parts (state `scope`).

    Returns a Command updating naming, n_clusters, assignments (the cluster's images cleared) and scope."""
    request = state.get("split") or {}
    cluster, n = request["cluster"], int(request["n"])
    names = list(state["naming"]["names"])
    members = [p for p, a in state.get("assignments", {}).items() if a["cluster"] == cluster]
    labels, echoed = state.get("labels", {}), set(state["naming"].get("echoed", []))
    raw = [labels[p]["raw"] for p in members if p in labels]
    raw = [x for x in raw if x not in echoed] or raw  # as in name_clusters: an echo of the prompt names no part
    proposal = propose_names(runtime.context, Criterion.from_dict(state["criterion"]), raw, n)
    was = tuple(source for source, name in state["naming"].get(RENAMED, {}).items() if name == cluster)
    users = bool(was) or cluster in state.get("user_names", [])  # the user's name: renamed, or one of --names
    asked = split_parts(cluster, proposal["names"], names, n, was)
    parts = part_names(cluster, asked, was, users)
    at = names.index(cluster)  # the parts take the split cluster's place: the other clusters keep their numbers
    new_names = names[:at] + parts + names[at + 1:]
    unaffected = {p: a for p, a in state["assignments"].items() if a["cluster"] != cluster}
    # the version's own Step 2b record: the first naming's fallback or fewer kinds had been said of the split
    own: dict[str, Any] = {key: proposal[key] for key in ("source", "problems", "asked_names") if key in proposal}
    earlier: dict[str, Any] = {key: v for key, v in state["naming"].items() if key not in ("short", "kinds", "asked_names")}
    # names merged into the cluster before Step 3 no longer stand for it: its parts are what it holds now
    earlier["merged"] = {s: t for s, t in earlier.get("merged", {}).items() if t != cluster}
    naming: dict[str, Any] = with_edit({**earlier, **own, "names": new_names,
                                        "split": {"cluster": cluster, "proposed": proposal["names"], "parts": parts,
                                                  # Step 3 asks the parts as Step 2b named them: the user's "Bob's
                                                  # reds" would tell the model less than "red"
                                                  "asked": dict(zip(asked, parts, strict=True)),
                                                  # the user's edits before it, for a split that finds one group
                                                  "kept": {k: state["naming"].get(k) for k in (EDITS, RENAMED)}}},
                                       "splits")
    return Command(update={"naming": naming, "n_clusters": len(new_names), "split": {},
                           "assignments": {RESET: True, **unaffected}, "scope": {p: asked for p in members}},
                   goto="assign_dispatch")


def empty_parts(state: RunState) -> list[str]:
    """The parts of the split just made (state `scope`: its images choose among naming.split's parts, still among the
    names) that Step 3 gave no image, when another part got some; [] otherwise (no split in this pass, none empty, or
    every part empty)."""
    split, scope = state["naming"].get("split") or {}, state.get("scope") or {}
    parts = [p for p in split.get("parts", []) if p in state["naming"]["names"]]
    asked = list(split.get("asked") or split.get("parts", []))
    if not parts or next(iter(scope.values()), None) != asked:  # a removal's scope is the names left
        return []
    taken = {a["cluster"] for a in state.get("assignments", {}).values()}
    empty = [p for p in parts if p not in taken]
    return empty if len(empty) < len(parts) else []


def split_done(state: RunState) -> Command[Literal["review_clusters"]]:
    """After a split's Step 3 (routed here when empty_parts finds any): the parts no image went to leave the names, as
    "drop the empty groups" would (a split had kept "Warm 1 (0)", an empty cluster the user then had to drop). When
    one part took every image the split found no second group: that part takes back the split cluster's name and
    place, so the clusters stay as they were. naming.split keeps the parts left and the ones dropped ("dropped"), for
    what the chat and the CLI say of the split. Returns a Command updating naming, n_clusters, scope and (one group)
    the assignments of the cluster's images."""
    naming, assignments = state["naming"], state.get("assignments", {})
    split, empty = dict(naming["split"]), empty_parts(state)
    parts = [p for p in split["parts"] if p in naming["names"] and p not in empty]
    update: dict[str, Any] = {"scope": {}}
    if len(parts) == 1 and parts[0] != split["cluster"]:  # one group: it is the cluster, named as it was
        update["assignments"] = {p: {**a, "cluster": split["cluster"]} for p, a in assignments.items()
                                 if a["cluster"] == parts[0]}
    names = [split["cluster"] if n in parts and len(parts) == 1 else n for n in naming["names"] if n not in empty]
    kept = [split["cluster"]] if len(parts) == 1 else parts
    # one group: the user's edits as they were (no split to carry over; a rename of the cluster still stands)
    edits = {k: v for k, v in split.pop("kept", {}).items() if v is not None} if len(parts) == 1 else {}
    if len(parts) == 1:
        naming = {k: v for k, v in naming.items() if k not in (EDITS, RENAMED)}
    update["naming"] = {**naming, **edits, "names": names, "split": {**split, "parts": kept, "dropped": empty}}
    return Command(update={**update, "n_clusters": len(names)}, goto="review_clusters")
