"""A run's results from its final state: results.json, results.csv, report.html and the metrics."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from ictc.core.errors import UsageError
from ictc.evaluation.checks import degenerate_warnings
from ictc.evaluation.metrics import Scores, match_labels, plot_confusion, read_labels, score
from ictc.evaluation.outputs import image_rows, write_csv, write_json
from ictc.evaluation.report import write_report
from ictc.nodes.context import Context
from ictc.prompts import Criterion, prompt_hash, render

QUALITY_LEVERS = ("group_labels", "names_from_labels", "names_cover", "assign_by_label", "endpoint_choice",
                  "check_clusters")


def template_hashes(criterion: Criterion, k: int) -> dict[str, str]:
    """Hash of each step's prompt with its per-image slots left as placeholders."""
    return {
        "describe": prompt_hash(render("describe", criterion)),
        "label": prompt_hash(render("label", criterion, description="{description}")),
        "name_clusters": prompt_hash(render("name_clusters", criterion, label_counts="{counts}", groups="", k=k)),
        "assign": prompt_hash(render("assign", criterion, names="{names}", description="{description}")),
    }


def write_outputs(run_dir: Path, meta: dict[str, Any], state: dict[str, Any], ctx: Context,
                  calls: dict[str, dict[str, int]], new_version: str | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """`new_version`: the action this pass completed (the outputs become that version), if any."""
    history = [v["action"] for v in meta.get("versions", [])] + ([new_version] if new_version else [])
    criterion = Criterion.from_dict(state["criterion"])
    rows = image_rows(state)
    naming = state.get("naming", {})
    names = naming.get("names", [])
    status = Counter(r["status"] for r in rows)
    results: dict[str, Any] = {
        "run_id": meta["thread_id"], "created": meta["created"], "version": len(history), "history": history,
        "criterion": criterion.to_dict(), "n_clusters": state["n_clusters"], "settings": meta["settings"],
        "models": {"backend": ctx.settings.backend, "vlm": ctx.vlm_id, "llm": ctx.llm_id, "embedder": ctx.embedder.name},
        "prompt_hashes": template_hashes(criterion, state["n_clusters"]),
        "cluster_names": names,
        "clusters": [{"name": n, "size": sum(r["cluster"] == n for r in rows)} for n in names],
        "naming": {k: v for k, v in naming.items() if k != "names"},
        "routes": dict(Counter(r["route"] for r in rows if r["route"])),
        # the quality levers of issue 18 as set for this run (README "Quality with small models")
        "levers": {name: getattr(ctx.settings, name) for name in QUALITY_LEVERS},
        "warnings": (degenerate_warnings(rows, names, naming.get("groups", []))
                     if ctx.settings.check_clusters == "on" else []),
        # model calls made by the pass that wrote these results (run, resume or refinement), per step
        "calls": {step: calls.get(step, {"model_calls": 0, "from_store": 0})
                  for step in ("describe", "label", "name_clusters", "assign")},
        "summary": {"images": len(rows), "clustered": status["ok"], "failed": status["failed"],
                    "unfinished": status["unfinished"]},
        "images": rows,
    }
    if meta.get("labels") and names:
        results["metrics"] = _metrics(run_dir, rows, meta["labels"], names).as_dict()
    write_json(run_dir / "results.json", results)
    write_csv(run_dir / "results.csv", rows)
    write_report(run_dir / "report.html", results, rows)
    return results, rows


def _metrics(run_dir: Path, rows: list[dict[str, Any]], labels_path: str, names: list[str]) -> Scores:
    truth = match_labels([r["image"] for r in rows if r["status"] == "ok"], read_labels(labels_path))
    scored = [r for r in rows if r["image"] in truth]
    scores = score([r["cluster"] for r in scored], [truth[r["image"]] for r in scored], names)
    plot_confusion(scores, run_dir / "confusion.png")
    return scores


def evaluate_run(run_dir: str | Path, labels_path: str) -> Scores:
    """Score a finished run against a labels file; stores the metrics in its results.json."""
    run_dir = Path(run_dir)
    results_path = run_dir / "results.json"
    if not results_path.is_file():
        raise UsageError(f"{run_dir} has no results.json: finish the run first (ictc resume {run_dir})")
    results = json.loads(results_path.read_text("utf-8"))
    scores = _metrics(run_dir, results["images"], labels_path, results["cluster_names"])
    results["metrics"] = scores.as_dict()
    write_json(results_path, results)
    return scores
