"""Step 2b for a split (planned by nodes/actions.py): the split cluster's images' labels named as its parts."""

from __future__ import annotations

from typing import Any, Literal

from langgraph.runtime import Runtime
from langgraph.types import Command

from ictc.models.other import OTHER
from ictc.nodes.context import Context
from ictc.nodes.kept_edits import with_edit
from ictc.nodes.label_counts import normalize_label
from ictc.nodes.name_clusters import propose_names
from ictc.nodes.state import RESET, RunState
from ictc.prompts import Criterion


def split_parts(cluster: str, proposed: list[str], names: list[str], n: int) -> list[str]:
    """Exactly `n` distinct names for the parts of `cluster`: the proposed ones that no other cluster
    already has, nor "other" (the split cluster's own name may be kept by one part, spelt as it was, so that
    part's images do not count as moved), then "<cluster> 1", "<cluster> 2"... for any part still missing, so a
    split always yields the parts asked for."""
    # "other" is the other group's name (models/other.py): a part called so was read as that group
    taken = {normalize_label(x) for x in names if x != cluster} | {normalize_label(OTHER)}
    parts: list[str] = []
    for name in proposed:
        if len(parts) < n and name.strip() and normalize_label(name) not in taken:
            parts.append(cluster if normalize_label(name) == normalize_label(cluster) else name.strip())
            taken.add(normalize_label(name))
    number = 1
    while len(parts) < n:
        candidate = f"{cluster} {number}"
        number += 1
        if normalize_label(candidate) not in taken:
            parts.append(candidate)
            taken.add(normalize_label(candidate))
    return parts


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
    parts = split_parts(cluster, proposal["names"], names, n)
    at = names.index(cluster)  # the parts take the split cluster's place: the other clusters keep their numbers
    new_names = names[:at] + parts + names[at + 1:]
    unaffected = {p: a for p, a in state["assignments"].items() if a["cluster"] != cluster}
    # the version's own Step 2b record: the first naming's fallback or fewer kinds had been said of the split
    own: dict[str, Any] = {key: proposal[key] for key in ("source", "problems", "asked_names") if key in proposal}
    earlier: dict[str, Any] = {key: v for key, v in state["naming"].items() if key not in ("short", "kinds", "asked_names")}
    naming: dict[str, Any] = with_edit({**earlier, **own, "names": new_names,
                                        "split": {"cluster": cluster, "proposed": proposal["names"], "parts": parts}}, "splits")
    return Command(update={"naming": naming, "n_clusters": len(new_names), "split": {},
                           "assignments": {RESET: True, **unaffected}, "scope": {p: parts for p in members}},
                   goto="assign_dispatch")
