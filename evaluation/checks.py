"""Checks that catch a degenerate clustering (empty clusters; one cluster holding most images while the
raw labels say they differ): plain-language warnings for results.json and report.html. They flag, never
change, the result."""

from __future__ import annotations

from collections import Counter
from typing import Any

from ictc.nodes.label_counts import normalize_label

DOMINANT_SHARE = 0.5  # a cluster above this share of the clustered images is looked at
MIXED_SHARE = 0.5  # ...and flagged when its most common label group covers less than this share of it


def degenerate_warnings(rows: list[dict[str, Any]], names: list[str], groups: list[list[str]]) -> list[str]:
    """Warnings, each one sentence naming the cluster, for `rows` (results.json images: cluster, raw_label,
    status) clustered into `names`, given Step 2b's label groups (lists of normalized labels; may be empty).

    Rules: (1) a name with no image is an empty cluster; (2) a cluster holding more than half of the
    clustered images whose images' labels mostly differ: the most common label group among them (the
    Step-2b group of the normalized raw label, or the label itself when it is in no group) covers less
    than half of them. Rule 2 is why issue 18's "plant" cluster of clothes, food and vehicles is caught
    while a truly big class with one label is not."""
    ok = [r for r in rows if r.get("status") == "ok" and r.get("cluster")]
    sizes = Counter(r["cluster"] for r in ok)
    warnings = [f"cluster '{name}' is empty: no image was assigned to it" for name in names if not sizes[name]]
    group_of = {label: i for i, group in enumerate(groups) for label in group}
    for name, size in sizes.items():
        if size <= DOMINANT_SHARE * len(ok):
            continue
        kinds = Counter(group_of.get(normalize_label(r.get("raw_label", "")), normalize_label(r.get("raw_label", "")))
                        for r in ok if r["cluster"] == name)
        top = kinds.most_common(1)[0][1] if kinds else 0
        if top < MIXED_SHARE * size:
            warnings.append(f"cluster '{name}' holds {size} of {len(ok)} images, but their labels differ (the most "
                            f"common kind of label covers only {top}): Step 3 may lean toward this name")
    return warnings
