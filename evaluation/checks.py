"""Checks that catch a degenerate clustering (empty clusters; one cluster holding most images while the
raw labels say they differ): plain-language warnings for results.json and report.html. They flag, never
change, the result."""

from __future__ import annotations

import warnings
from collections import Counter
from typing import Any

from ictc.models.other import OTHER
from ictc.nodes.assign import NO_CALL_ROUTES
from ictc.nodes.label_counts import normalize_label

DOMINANT_SHARE = 0.5  # a cluster above this share of the clustered images is looked at
MIXED_SHARE = 0.5  # ...and flagged when its most common label group covers less than this share of it



class StrandedImagesWarning(UserWarning):
    """Images whose cluster is none of the run's cluster names: a bug of ictc, never the user's doing. Warned (and
    said in results.json), so a user keeps the outputs; the tests turn it into an error (pyproject.toml)."""


def stranded_warnings(rows: list[dict[str, Any]], names: list[str]) -> list[str]:
    """[one sentence] when some clustered `rows` (results.json images: cluster, status) sit under a cluster that is
    none of `names`, also warned as StrandedImagesWarning; [] when every image's cluster is one of them. (A resume
    whose Step 2b named other clusters had left 5 of 8 images under names no cluster had: the report and the
    export showed the other 3 only.)"""
    known = set(names)
    gone = Counter(r["cluster"] for r in rows if r["status"] == "ok" and r["cluster"] not in known)
    if not gone:
        return []
    message = (f"{sum(gone.values())} image(s) sit under cluster names the run does not have "
               f"({', '.join(repr(n) for n in sorted(gone))}; the clusters are {', '.join(names) or 'none'}): "
               "a bug of ictc; `ictc refine RUN -k K` assigns every image again")
    warnings.warn(message, StrandedImagesWarning, stacklevel=2)
    return [message]


def degenerate_warnings(rows: list[dict[str, Any]], names: list[str], groups: list[list[str]],
                        categories: dict[str, str] | None = None, joins: dict[str, str] | None = None) -> list[str]:
    """Warnings, each one sentence naming the cluster, for `rows` (results.json images: cluster, raw_label,
    route, status) clustered into `names`, given Step 2b's label groups (lists of normalized labels; may be
    empty) and, when Step 2b named the clusters from categories, `categories` (normalized label -> category);
    `joins`: the labels that joined another label of the run as their kind (naming.label_kinds, label -> the label
    it joined), read as that label: groups and categories are of the labels after those joins.

    Rules: (1) a name with no image is an empty cluster (but "other", OTHER); (2) a cluster holding more than half of the
    clustered images whose images' labels mostly differ: the most common kind of label among them (the
    label's category on a run named from categories, else its Step-2b group, else the label itself) covers
    less than half of them. Rule 2 is why issue 18's "plant" cluster of clothes, food and vehicles is caught
    while a truly big class with one label (or one category: red and yellow under "warm") is not. The warning
    blames Step 3's lean only when some of the cluster's images were placed by a Step-3 model call."""
    ok = [r for r in rows if r.get("status") == "ok" and r.get("cluster")]
    sizes = Counter(r["cluster"] for r in ok)
    # an empty "other" group is expected (every image fit one of the names): said as such with its size, not warned
    warnings = [f"cluster '{name}' is empty: no image was assigned to it" for name in names
                if not sizes[name] and name != OTHER]
    group_of = {label: i for i, group in enumerate(groups) for label in group}

    def kind(raw: str) -> Any:
        # pony, bullfrog, toad: labels that joined their kind (horse, frog) are that kind, not labels that differ
        label = (joins or {}).get(normalize_label(raw), normalize_label(raw))
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
