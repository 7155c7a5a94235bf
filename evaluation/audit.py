"""The fairness audit's figures (IC|TC paper §4.4, Fig. 5b): per cluster, the shares of an attribute's
perceived values and their disparity; written as audit.json, a bar chart, a report section, a table."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ictc.evaluation.outputs import write_atomic, write_json

UNCLEAR = "unclear"
DEFAULT_THRESHOLD = 0.10  # the paper's Fig. 5b colours a cluster red above a 10-point gap
NOTE = ("The values are what the vision model perceives in each picture, not facts about the people "
        "pictured; a disparity says how the clustering treats that perception.")


def slug(attribute: str) -> str:
    """A file-name form of `attribute` ("perceived gender" -> "perceived-gender")."""
    return re.sub(r"[^a-z0-9]+", "-", attribute.lower()).strip("-")[:40] or "attribute"


def _shares(counts: dict[str, int], values: list[str]) -> tuple[int, dict[str, float]]:
    """Shares of each value among the answers that are one of `values` ("unclear" left out)."""
    answered = sum(counts.get(v, 0) for v in values)
    return answered, {v: (counts.get(v, 0) / answered if answered else 0.0) for v in values}


def disparity(shares: dict[str, float]) -> float:
    """The largest difference between two values' shares (0..1); 0 with fewer than two values.

    With two values this is the paper's gender-ratio gap of a cluster (§4.4: 27.2% -> 4.4% for craftsman)."""
    return max(shares.values()) - min(shares.values()) if len(shares) >= 2 else 0.0


def compute_audit(rows: list[dict[str, Any]], answers: dict[str, str], attribute: str, values: list[str],
                  threshold: float = DEFAULT_THRESHOLD, names: list[str] | None = None) -> dict[str, Any]:
    """The audit of one run version.

    rows: results.json "images" (image, cluster, status); answers: image path -> one of `values` or
    "unclear" (images without an answer count as unclear); threshold: a share gap (0..1) above which a
    cluster is flagged; names: the version's clusters (results.json "cluster_names"), listed in their order, an
    empty one too ("empty": True, n 0; it had been left out of the table). Returns a dict with, per cluster, n, counts
    (values and "unclear"), shares among the answered images, disparity, flagged and the largest deviation from the
    baseline; the baseline (whole clustered set) the same way; summary: largest and mean disparity over clusters
    with an answer. Shares leave "unclear" out so an image the model could not read does not count for any value."""
    if not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be between 0 and 1, not {threshold}")
    clustered = [r for r in rows if r.get("status") == "ok" and r.get("cluster")]

    def tally(members: list[dict[str, Any]]) -> dict[str, int]:
        counts = dict.fromkeys([*values, UNCLEAR], 0)
        for row in members:
            answer = answers.get(row["image"], UNCLEAR)
            counts[answer if answer in counts else UNCLEAR] += 1
        return counts

    base_counts = tally(clustered)
    base_answered, base_shares = _shares(base_counts, values)
    clusters = []
    for name in dict.fromkeys([*(names or []), *(r["cluster"] for r in clustered)]):
        members = [r for r in clustered if r["cluster"] == name]
        counts = tally(members)
        answered, shares = _shares(counts, values)
        gap = disparity(shares) if answered else 0.0
        clusters.append({"cluster": name, "n": len(members), "empty": not members, "answered": answered, "counts": counts,
                         "shares": shares, "disparity": round(gap, 4), "flagged": bool(answered) and gap > threshold,
                         "deviation_from_baseline": round(max(abs(shares[v] - base_shares[v]) for v in values), 4)
                         if answered and values else 0.0})
    measured = [c["disparity"] for c in clusters if c["answered"]]
    return {"attribute": attribute, "values": values, "threshold": threshold, "note": NOTE,
            "baseline": {"n": len(clustered), "answered": base_answered, "counts": base_counts,
                         "shares": base_shares, "disparity": round(disparity(base_shares), 4)},
            "clusters": clusters,
            "summary": {"largest_disparity": max(measured, default=0.0),
                        "mean_disparity": round(sum(measured) / len(measured), 4) if measured else 0.0,
                        "flagged": [c["cluster"] for c in clusters if c["flagged"]],
                        "unclear": base_counts[UNCLEAR]}}


def compare(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """Per cluster name in either audit: disparity before and after (None where the cluster is absent)."""
    old = {c["cluster"]: c for c in before["clusters"]}
    new = {c["cluster"]: c for c in after["clusters"]}
    rows = []
    for name in dict.fromkeys([*old, *new]):
        a, b = old.get(name), new.get(name)
        rows.append({"cluster": name, "n_before": a["n"] if a else None, "n_after": b["n"] if b else None,
                     # an empty cluster has no disparity: said "empty", not "-" as a cluster absent there; nor has one
                     # whose every image is "unclear" (said "n/a (all unclear)"; it had shown 0.0%, as a fair cluster)
                     "before": a["disparity"] if a and a["answered"] else None,
                     "after": b["disparity"] if b and b["answered"] else None,
                     "empty_before": a is not None and not a["n"], "empty_after": b is not None and not b["n"],
                     "unmeasured_before": bool(a and a["n"] and not a["answered"]),
                     "unmeasured_after": bool(b and b["n"] and not b["answered"]),
                     "flagged_before": bool(a and a["flagged"]), "flagged_after": bool(b and b["flagged"])})
    rows.append({"cluster": "(largest)", "n_before": None, "n_after": None,
                 "before": before["summary"]["largest_disparity"], "after": after["summary"]["largest_disparity"],
                 "flagged_before": False, "flagged_after": False})
    rows.append({"cluster": "(mean)", "n_before": None, "n_after": None,
                 "before": before["summary"]["mean_disparity"], "after": after["summary"]["mean_disparity"],
                 "flagged_before": False, "flagged_after": False})
    return rows


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


EMPTY = "empty (no image)"  # an empty cluster's disparity, where a measured one would stand
UNMEASURED = "n/a (all unclear)"  # a cluster none of whose images got a value: no share, no disparity


def side_said(row: dict[str, Any], side: str, pct: Callable[[float | None], str] = _pct) -> str:
    """A compare() row's disparity `side` ("before" or "after") in words: `pct` of it, "empty" for a cluster that
    had no image then (an audit fix that emptied a cluster had shown only "-"), UNMEASURED for one whose images were
    all "unclear" (it had shown 0.0%), `pct(None)` where it was no cluster."""
    return "empty" if row.get(f"empty_{side}") else UNMEASURED if row.get(f"unmeasured_{side}") else pct(row[side])


def format_table(audit: dict[str, Any]) -> str:
    """The audit as a plain-text table for the terminal (shares in %, flagged clusters marked with *)."""
    values = audit["values"]
    head = ["cluster", "n", *values, UNCLEAR, "disparity", ""]
    lines = [[c["cluster"], str(c["n"]), *(_pct(None if not c["n"] else c["shares"][v]) for v in values),
              str(c["counts"][UNCLEAR]), EMPTY if not c["n"] else _pct(c["disparity"]) if c["answered"] else UNMEASURED,
              "* over " + _pct(audit["threshold"]) if c["flagged"] else ""]
             for c in audit["clusters"]]
    base = audit["baseline"]
    lines.append(["(whole set)", str(base["n"]), *(_pct(base["shares"][v]) for v in values),
                  str(base["counts"][UNCLEAR]), _pct(base["disparity"]), "baseline"])
    summary = audit["summary"]
    title = (f"Perceived {audit['attribute']!r} by cluster (shares among answered images; "
             f"values: {', '.join(values)})" if not audit["attribute"].lower().startswith("perceived")
             else f"{audit['attribute'].capitalize()} by cluster (shares among answered images)")
    footer = (f"Largest disparity {_pct(summary['largest_disparity'])}, mean {_pct(summary['mean_disparity'])}; "
              f"{len(summary['flagged'])} cluster(s) over {_pct(audit['threshold'])}." if base["answered"] else
              "Not measurable: the model answered \"unclear\" for every image.")
    return "\n".join([title, _grid([head, *lines]), footer, f"Note: {audit['note']}"])


def format_comparison(rows: list[dict[str, Any]], attribute: str) -> str:
    """Before/after disparity per cluster (from compare) as a plain-text table."""
    head = ["cluster", "n before", "n after", "disparity before", "after", "change"]
    body = [[r["cluster"], "" if r["n_before"] is None else str(r["n_before"]),
             "" if r["n_after"] is None else str(r["n_after"]),
             side_said(r, "before") + (" *" if r["flagged_before"] else ""),
             side_said(r, "after") + (" *" if r["flagged_after"] else ""),
             "" if r["before"] is None or r["after"] is None else f"{100 * (r['after'] - r['before']):+.1f} pts"]
            for r in rows]
    return "\n".join([f"Disparity by {attribute!r} (as the model perceives it) before and after the fix (* over the threshold)",
                      _grid([head, *body]), f"Note: {NOTE}"])


def _grid(table: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in table)


def plot_audit(audits: list[tuple[str, dict[str, Any]]], out: Path) -> None:
    """A bar chart in the manner of the paper's Fig. 5b: one panel per audit (e.g. before, after), per
    cluster one bar per value's share, red where the cluster's disparity is over the threshold; the
    whole set's shares as dashed lines. `audits`: (panel title, audit) pairs. Written atomically."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    values = audits[0][1]["values"]
    order = list(dict.fromkeys(c["cluster"] for _, a in audits for c in a["clusters"]))  # same place in every panel
    width = max(len(a["clusters"]) for _, a in audits)
    fig, axes = plt.subplots(1, len(audits), figsize=(1.0 + len(audits) * max(4.6, 1.0 + 0.9 * width), 4.6), squeeze=False,
                             sharey=True)
    hatches = ["", "//", "..", "xx", "\\\\", "++", "oo"]
    bar = 0.8 / max(len(values), 1)
    for ax, (title, audit) in zip(axes[0], audits, strict=True):
        clusters = sorted(audit["clusters"], key=lambda c: order.index(c["cluster"]))
        for c_index, cluster in enumerate(clusters):
            colour = "#d62728" if cluster["flagged"] else "#4c72b0"
            for v_index, value in enumerate(values):
                x = c_index - 0.4 + bar * (v_index + 0.5)
                ax.bar(x, cluster["shares"][value], bar * 0.95, color=colour, edgecolor="black", linewidth=0.5,
                       hatch=hatches[v_index % len(hatches)])
        for value in values:
            ax.axhline(audit["baseline"]["shares"][value], color="grey", linestyle="--", linewidth=0.8)
        ax.set_xticks(range(len(clusters)),
                      [f"{c['cluster']}\n(n={c['n']}, " + (f"gap {100 * c['disparity']:.0f}%)" if c["n"] else "empty)")
                       for c in clusters],
                      fontsize=8, rotation=20, ha="right")
        ax.set_ylim(0, 1.3)
        ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
        whole = ", ".join(f"{v} {100 * audit['baseline']['shares'][v]:.0f}%" for v in values)
        ax.set_title(f"{title}\nlargest gap {100 * audit['summary']['largest_disparity']:.1f}%, "
                     f"mean {100 * audit['summary']['mean_disparity']:.1f}%\nwhole set (dashed): {whole}", fontsize=8)
        legend = [Patch(facecolor="white", edgecolor="black", hatch=hatches[i % len(hatches)], label=v)
                  for i, v in enumerate(values)]
        legend += [Patch(facecolor="#d62728", label="gap over threshold"), Patch(facecolor="#4c72b0", label="within")]
        ax.legend(handles=legend, fontsize=7, loc="upper center", ncol=min(len(legend), 4), frameon=False)
    axes[0][0].set_ylabel(f"share (as perceived: {audits[0][1]['attribute']})")
    fig.suptitle(f"{audits[0][1]['attribute']} per cluster; red: gap over "
                 f"{100 * audits[0][1]['threshold']:.0f}%. Perceived by the model, not facts.", fontsize=9)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    write_atomic(out, buffer.getvalue())


def read_audits(folder: Path) -> dict[str, Any]:
    """The audits recorded in `folder`'s audit.json ({} when there is none): attribute -> audit."""
    path = folder / "audit.json"
    if not path.is_file():
        return {}
    return dict(json.loads(path.read_text("utf-8")).get("attributes", {}))


def write_audit(folders: list[Path], version: int, audit: dict[str, Any]) -> None:
    """Add `audit` (keyed by its attribute) to audit.json in each of `folders` (the version's folder and
    the run folder) and draw its chart there as audit-<attribute>.png, beside the previous version's
    audit when it has a `before` part. An earlier audit of an attribute spelt alike (the same chart file:
    "Perceived Gender" for "perceived gender") is replaced: two had shown the same chart in the report."""
    for folder in folders:
        audits = read_audits(folder) if (folder / "audit.json").is_file() and _version_of(folder) == version else {}
        audits = {name: kept for name, kept in audits.items() if slug(name) != slug(audit["attribute"])}
        audits[audit["attribute"]] = audit
        write_json(folder / "audit.json", {"version": version, "note": NOTE, "attributes": audits})
        panels = [(f"version {audit['before']['version']} (before)", audit["before"])] if audit.get("before") else []
        plot_audit([*panels, (f"version {version}" + (" (after)" if panels else ""), audit)],
                   folder / f"audit-{slug(audit['attribute'])}.png")


def _version_of(folder: Path) -> int | None:
    return json.loads((folder / "audit.json").read_text("utf-8")).get("version")
