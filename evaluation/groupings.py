"""What results.json and report.html add for K proposed, the user's own names, the "other" group and levels."""

from __future__ import annotations

from collections import Counter
from html import escape
from typing import Any

from ictc.models.other import OTHER
from ictc.nodes.formers import formers


def tree_of(state: dict[str, Any], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The coarser levels as a tree of the clusters as they are now: [{"name", "size", "children": [{"name", "size",
    and "children" when it was itself a parent at an earlier level, down to the finest}], and "direct" when some of
    its images came by a later Step 3, with no finer cluster}] ([] if none). After two coarsenings the tree had shown
    only the last two levels.

    A child's size counts the images that were in it (each image's "formers", nodes/coarsen.py). A parent renamed or
    merged since the coarsening is shown under its name now (its images went with it): the tree had kept the names
    of the coarsening, and shown every size 0 once Step 3 had run again."""
    levels = state.get("naming", {}).get("levels") or []
    if not levels:
        return []
    chain = {p: formers(a) for p, a in state.get("assignments", {}).items()}
    primary = {r["image"]: r["same_as"] or r["image"] for r in rows}
    counted: Counter[tuple[str, ...]] = Counter()  # each path (cluster now, its former clusters...) and its prefixes
    for row in rows:
        if row["status"] == "ok":
            path = (row["cluster"], *chain.get(primary[row["image"]], []))
            counted.update(path[:depth] for depth in range(1, len(path) + 1))
    parents: dict[str, list[str]] = levels[-1]["parents"]
    parent_of = {child: parent for parent, children in parents.items() for child in children}
    now: dict[str, str] = {}  # a parent at the coarsening -> the cluster its images are in now
    for path in counted:
        if len(path) == 2 and path[1] in parent_of:
            now.setdefault(parent_of[path[1]], path[0])
    tree = []
    for name in [n for n in state["naming"]["names"] if n != OTHER]:
        children = [c for parent, kids in parents.items() if now.get(parent, parent) == name for c in kids]
        node = _node((name,), children, levels[:-1], counted)
        node.setdefault("children", [])
        if direct := node["size"] - sum(c["size"] for c in node["children"]):
            node["direct"] = direct
        tree.append(node)
    return tree


def _node(path: tuple[str, ...], kids: list[str], levels: list[dict[str, Any]], counted: Counter[tuple[str, ...]]) -> dict[str, Any]:
    """The tree node at `path` (a cluster now, then its former clusters down to this one): its size and its
    children, `kids` (the level that made it a parent named them) and any other former cluster its images were in,
    each with theirs from the finer `levels` (levels[-1]: the one just below; `counted`: images per path)."""
    kids = kids + sorted({p[len(path)] for p in counted if len(p) == len(path) + 1 and p[:len(path)] == path} - set(kids))
    node: dict[str, Any] = {"name": path[-1], "size": counted[path]}
    if kids:
        below = levels[-1]["parents"] if levels else {}
        node["children"] = [_node((*path, kid), list(below.get(kid, [])), levels[:-1], counted) for kid in kids]
    return node


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
        parts += [f"<li>{'&nbsp;' * 4 * depth}<b>{escape(name)}</b> ({size}): {', '.join(map(escape, said))}</li>"
                  for depth, name, size, said in tree_lines(results["tree"])]
        parts.append("</ul>")
    return parts


def tree_lines(tree: list[dict[str, Any]], depth: int = 0) -> list[tuple[int, str, int, list[str]]]:
    """The tree (tree_of) as lines, one per node with children, each followed by its children's lines: (depth, name,
    size, ["child (size)", ..., "N placed by Step 3 since"]); a parent with no child of its own is a line too."""
    lines: list[tuple[int, str, int, list[str]]] = []
    for node in tree:
        if "children" not in node and depth:
            continue
        kids = node.get("children", [])
        said = [f"{c['name']} ({c['size']})" for c in kids] + (
            [f"{node['direct']} placed by Step 3 since"] if node.get("direct") else [])
        lines.append((depth, node["name"], node["size"], said))
        lines += tree_lines(kids, depth + 1)
    return lines


# what "(WordNet)" beside the joined labels had left a newcomer asking: what it is, and whether a model was called
KINDS_BY = "by WordNet, an English dictionary of which word is a kind of which, shipped with ictc: no model call"


def kinds_said(results: dict[str, Any], arrow: str = "->", limit: int | None = None) -> str:
    """The labels that joined their kind by WordNet (results.json naming.label_kinds, label_kinds) as one line,
    "pony -> horse, toad -> frog" (`arrow` between them; the first `limit`, then " ..."), or "" when none did or no
    image is placed by them any more (no route "kind": a split took the joins apart, and naming them beside a
    separate pony cluster had read as a contradiction). The CLI summary, report.html and the Grouping tab say it."""
    kinds = (results.get("naming") or {}).get("label_kinds") or {}
    if not kinds or not (results.get("routes") or {}).get("kind"):
        return ""
    return _one_line([f"{label} {arrow} {kind}" for label, kind in kinds.items()], limit)


def categories_said(results: dict[str, Any], arrow: str = "->", limit: int | None = None) -> str:
    """The labels whose category ictc changed from the LLM's answer (results.json naming.categories_dropped: WordNet's
    kinds, category_kinds, or a label joined as a kind being its own category) as one line, "passenger ferry: car
    -> boat" (`arrow` between the LLM's category and the one used; the first `limit`, then " ..."), or "" when none
    changed or the clusters were not named from the categories (naming.label_level "label"). Why: a ferry in "boat"
    that the LLM had put under "car" was said nowhere but results.json. report.html and the Grouping tab say it."""
    naming = results.get("naming") or {}
    dropped, used = naming.get("categories_dropped") or {}, naming.get("label_categories") or {}
    if naming.get("label_level") != "category" or not dropped:
        return ""
    return _one_line([f"{label}: {was} {arrow} {used[label]}" for label, was in dropped.items() if label in used], limit)


def _one_line(pairs: list[str], limit: int | None) -> str:
    """`pairs` joined by commas, the first `limit` of them (all for None), then " ..." when some were left out."""
    return ", ".join(pairs[:limit]) + (" ..." if limit is not None and len(pairs) > limit else "")
