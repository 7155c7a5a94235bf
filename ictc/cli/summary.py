"""A finished run or version at the terminal: its clusters, scores, failures and the files skipped."""

from __future__ import annotations

from collections import Counter
from typing import Any

from ictc.cli.groupings import print_groupings
from ictc.evaluation.groupings import KINDS_BY, kinds_said
from ictc.models.other import OTHER

SHOWN = 20  # lines of a long list printed in a summary; the full list is in results.json


def print_result(result: Any) -> None:
    """A finished run or version at the terminal: its clusters (numbered as refine takes them), scores, failures."""
    from ictc.nodes.state import twins_said

    results = result.results
    count = len(results['cluster_names'])  # "1 cluster", after merges (it had been "1 clusters")
    # identical files said once, as the chat's previews say them (the CLI had never mentioned them)
    per_content = Counter(row["sha256"] for row in result.rows)
    twins = sum(n for n in per_content.values() if n > 1)
    files = f" ({len(result.rows)} images{twins_said(twins)})" if twins else ""
    print(f"\n{count} cluster{'s' if count != 1 else ''} by {results['criterion']['text']!r}{files}:")
    for number, cluster in enumerate(results["clusters"], 1):  # the numbers refine's --rename/--merge/--split take
        print(f"  {number:2d}. {cluster['size']:5d}  {cluster['name']}")
    naming = results.get("naming", {})
    # the names were not the model's: said where the user looks (with fewer kinds than K, the warning below says it)
    if naming.get("source") == "fallback" and not naming.get("short"):
        problem = (naming.get("problems") or ["no usable answer"])[-1]
        # the names Step 2b asked for: K, or fewer when the labels hold fewer kinds (a merge since lowered K)
        asked = naming.get("asked_names", naming.get("asked_k", results["n_clusters"]))
        if split := naming.get("split"):  # its names are the parts of one cluster: "the names above" were not them
            print(f"! Step 2b, splitting {split['cluster']!r}: the LLM gave no usable {asked} names ({problem}); "
                  f"the parts ({', '.join(split['parts'])}) are its best try, completed by the most frequent raw labels.")
        else:
            print(f"! Step 2b: the LLM gave no usable {asked} names ({problem}); "
                  "the names above are its best try, completed by the most frequent raw labels.")
    for warning in results.get("warnings", []):
        print(f"! {warning}")
    if any(not cluster["size"] and cluster["name"] != OTHER for cluster in results["clusters"]):  # the way out, where
        # the problem is said (an empty "other" is none: every image fit one of the names)
        print(f"  (`ictc refine {result.run_dir} --remove` takes the empty clusters out, with no model call)")
    if results.get("routes"):
        print("Step-3 answers: " + ", ".join(f"{k} {v}" for k, v in sorted(results["routes"].items())))
    if kinds := kinds_said(results, limit=SHOWN):  # route "kind" had been said with no word on which labels joined which
        print(f"Labels joined as their kind ({KINDS_BY}): {kinds}")
    print_groupings(results)  # K proposed, "other", levels
    if "metrics" in results:
        print_scores(results["metrics"])
    elif results.get("metrics_error"):
        print(f"No metrics: {results['metrics_error']}")
    summary = results["summary"]
    if summary["failed"]:
        print(f"{summary['failed']} image(s) failed:")
        for row in result.rows:
            if row["status"] == "failed":
                print(f"  {row['image']}: {row['reason']}")
    _print_skipped(results.get("skipped", []))
    print(f"Results: {result.run_dir / 'results.csv'}, {result.run_dir / 'results.json'}, {result.run_dir / 'report.html'}")


def print_scores(m: dict[str, Any]) -> None:
    """The metrics `m` (Scores.as_dict()): their line, with how many of the run's images were scored and a warning when not all."""
    print(f"ACC {m['acc']:.3f}  NMI {m['nmi']:.3f}  ARI {m['ari']:.3f}  "
          f"(scored {m['n']} of {m.get('images', m['n'])} images)")
    if m.get("note"):
        print(f"Note: {m['note']}")
    if m.get("warning"):
        print(f"Warning: {m['warning']}")
        missing = ([(image, "failed, not scored") for image in m.get("failed", [])]
                   + [(image, "no label") for image in m["unlabelled"]]
                   + [(image, "named ambiguously: its row names several images") for image in m.get("ambiguous", [])]
                   + [(i, "not clustered") for i in m["not_clustered"]])
        for image, why in missing[:SHOWN]:
            print(f"  {image}: {why}")
        if len(missing) > SHOWN:
            print("  ... (all in results.json, metrics)")


def _print_skipped(skipped: list[dict[str, str]]) -> None:
    """Files and folders of the image folder that were not taken, each with its reason (the first SHOWN)."""
    from ictc.core.folders import entries_said

    if skipped:
        print(f"Skipped {entries_said(entry['file'] for entry in skipped)}:")
        for entry in skipped[:SHOWN]:
            print(f"  {entry['file']}: {entry['reason']}")
        if len(skipped) > SHOWN:
            print(f"  ... and {len(skipped) - SHOWN} more (all in results.json, skipped)")
