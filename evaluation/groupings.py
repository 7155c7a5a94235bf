"""What results.json and report.html add for K proposed, the user's own names, the "other" group and levels."""

from __future__ import annotations

from collections import Counter
from html import escape
from typing import Any

from ictc.models.other import OTHER


def tree_of(state: dict[str, Any], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The latest coarser level as a tree of the clusters as they are now: [{"name", "size", "children": [{"name",
    "size"}], and "direct" when some of its images came by a later Step 3, with no finer cluster}] ([] if none).

    A child's size counts the images whose former cluster (`fine`) it was. A parent renamed or merged since the
    coarsening is shown under its name now (its images went with it): the tree had kept the names of the coarsening,
    and shown every size 0 once Step 3 had run again."""
    levels = state.get("naming", {}).get("levels") or []
    if not levels:
        return []
    fine = {p: a.get("fine", "") for p, a in state.get("assignments", {}).items()}
    primary = {r["image"]: r["same_as"] or r["image"] for r in rows}
    sizes: Counter[tuple[str, str]] = Counter((row["cluster"], fine.get(primary[row["image"]], ""))
                                              for row in rows if row["status"] == "ok")
    parents: dict[str, list[str]] = levels[-1]["parents"]
    parent_of = {child: parent for parent, children in parents.items() for child in children}
    now: dict[str, str] = {}  # a parent at the coarsening -> the cluster its images are in now
    for cluster, child in sizes:
        if child in parent_of:
            now.setdefault(parent_of[child], cluster)
    tree = []
    for name in [n for n in state["naming"]["names"] if n != OTHER]:
        children = [c for parent, kids in parents.items() if now.get(parent, parent) == name for c in kids]
        children += sorted({c for cluster, c in sizes if cluster == name and c and c not in children})
        node: dict[str, Any] = {"name": name, "size": sum(n for (cluster, _), n in sizes.items() if cluster == name),
                                "children": [{"name": c, "size": sizes[(name, c)]} for c in children]}
        if direct := node["size"] - sum(c["size"] for c in node["children"]):
            node["direct"] = direct
        tree.append(node)
    return tree


def grouping_results(state: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The results.json fields: k_choice (proposal and choice), names_source, other (size), tree."""
    extra: dict[str, Any] = {"names_source": state.get("naming", {}).get("source", "")}
    if choice := state.get("k_choice"):
        k = state.get("n_clusters")
        # a K set after the proposal (`k 2` at a review pause, `refine -k`) is the user's: the summary had still
        # said "K=3 (best proposed)" of a run that ended with 2 clusters
        extra["k_choice"] = choice if choice.get("chosen") in (None, k) else {**choice, "chosen": k, "by": "user"}
    if OTHER in state.get("naming", {}).get("names", []):
        extra["other"] = {"size": sum(r["cluster"] == OTHER for r in rows)}
    if tree := tree_of(state, rows):
        extra["tree"] = tree
    return extra


def grouping_sections(results: dict[str, Any]) -> list[str]:
    """HTML for the report: how K was chosen, the "other" group's size, the tree of a coarser level.
    Every text from a model or a user is escaped."""
    parts: list[str] = []
    choice = results.get("k_choice")
    if choice and choice.get("proposal"):
        parts.append(f"<h2>K proposed</h2><p>Chosen: K={choice.get('chosen', '?')} ({escape(str(choice.get('by', '')))})</p><ul>")
        for candidate in choice["proposal"]["candidates"]:
            reasons = "; ".join(escape(r) for r in candidate["reasons"]) or "next best silhouette"
            score = f", silhouette {candidate['silhouette']:.3f}" if candidate.get("silhouette") is not None else ""
            parts.append(f"<li>K={candidate['k']}{score}: {reasons}</li>")
        parts.append("</ul>")
    if "other" in results:
        parts.append(f"<p>Other group (none of the names fits): <b>{results['other']['size']}</b> images</p>")
    if results.get("tree"):
        parts.append("<h2>Levels</h2><ul>")
        for parent in results["tree"]:
            children = ", ".join([f"{escape(c['name'])} ({c['size']})" for c in parent["children"]]
                                 + ([f"{parent['direct']} placed by Step 3 since"] if parent.get("direct") else []))
            parts.append(f"<li><b>{escape(parent['name'])}</b> ({parent['size']}): {children}</li>")
        parts.append("</ul>")
    return parts
