"""Checks that catch a degenerate clustering (empty clusters; one cluster holding most images while the
raw labels say they differ): plain-language warnings for results.json and report.html. They flag, never
change, the result."""

from __future__ import annotations

from collections import Counter
from typing import Any

from ictc.nodes.assign import NO_CALL_ROUTES
from ictc.nodes.label_counts import normalize_label

DOMINANT_SHARE = 0.5  # a cluster above this share of the clustered images is looked at
MIXED_SHARE = 0.5  # ...and flagged when its most common label group covers less than this share of it




def degenerate_warnings(rows: list[dict[str, Any]], names: list[str], groups: list[list[str]],
                        categories: dict[str, str] | None = None) -> list[str]:
    """Warnings, each one sentence naming the cluster, for `rows` (results.json images: cluster, raw_label,
    route, status) clustered into `names`, given Step 2b's label groups (lists of normalized labels; may be
    empty) and, when Step 2b named the clusters from categories, `categories` (normalized label -> category).

    Rules: (1) a name with no image is an empty cluster; (2) a cluster holding more than half of the
    clustered images whose images' labels mostly differ: the most common kind of label among them (the
    label's category on a run named from categories, else its Step-2b group, else the label itself) covers
    less than half of them. Rule 2 is why issue 18's "plant" cluster of clothes, food and vehicles is caught
    while a truly big class with one label (or one category: red and yellow under "warm") is not. The warning
    blames Step 3's lean only when some of the cluster's images were placed by a Step-3 model call."""
    ok = [r for r in rows if r.get("status") == "ok" and r.get("cluster")]
    sizes = Counter(r["cluster"] for r in ok)
    warnings = [f"cluster '{name}' is empty: no image was assigned to it" for name in names if not sizes[name]]
    group_of = {label: i for i, group in enumerate(groups) for label in group}

    def kind(raw: str) -> Any:
        label = normalize_label(raw)
        if categories and categories.get(label):
            return normalize_label(categories[label])
        return group_of.get(label, label)

    for name, size in sizes.items():
        if size <= DOMINANT_SHARE * len(ok):
            continue
        members = [r for r in ok if r["cluster"] == name]
        kinds = Counter(kind(r.get("raw_label", "")) for r in members)
        top = kinds.most_common(1)[0][1] if kinds else 0
        if top < MIXED_SHARE * size:
            asked = any(r.get("route", "") not in NO_CALL_ROUTES for r in members)
            warnings.append(f"cluster '{name}' holds {size} of {len(ok)} images, but their labels differ (the most "
                            f"common kind of label covers only {top})"
                            + (": Step 3 may lean toward this name" if asked else ""))
    return warnings
