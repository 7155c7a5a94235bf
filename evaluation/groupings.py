"""What results.json and report.html add for K proposed, the user's own names, the "other" group and levels."""

from __future__ import annotations

from html import escape
from typing import Any

from ictc.models.other import OTHER


def tree_of(state: dict[str, Any], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The latest coarser level as a tree: [{"name", "size", "children": [{"name", "size"}]}] ([] if none).
    A child's size counts the images whose former cluster (`fine`) it was."""
    levels = state.get("naming", {}).get("levels") or []
    if not levels:
        return []
    fine = {p: a.get("fine", "") for p, a in state.get("assignments", {}).items()}
    sizes: dict[str, int] = {}
    primary = {r["image"]: r["same_as"] or r["image"] for r in rows}
    for row in rows:
        if row["status"] == "ok":
            child = fine.get(primary[row["image"]], "")
            sizes[child] = sizes.get(child, 0) + 1
    tree = [{"name": parent, "size": sum(sizes.get(c, 0) for c in children),
             "children": [{"name": c, "size": sizes.get(c, 0)} for c in children]}
            for parent, children in levels[-1]["parents"].items()]
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
            children = ", ".join(f"{escape(c['name'])} ({c['size']})" for c in parent["children"])
            parts.append(f"<li><b>{escape(parent['name'])}</b> ({parent['size']}): {children}</li>")
        parts.append("</ul>")
    return parts
