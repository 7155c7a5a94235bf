"""A run's results from its final state: results.json, results.csv, report.html and the metrics."""

from __future__ import annotations

import json
from collections import Counter
from operator import itemgetter
from pathlib import Path
from typing import Any

from ictc.core.errors import UsageError
from ictc.evaluation.checks import degenerate_warnings, stranded_warnings
from ictc.evaluation.groupings import grouping_results
from ictc.evaluation.labels import match_labels, read_labels, several_said, why_none
from ictc.evaluation.metrics import Scores, plot_confusion, score
from ictc.evaluation.outputs import image_rows, read_json, write_csv, write_json, write_results
from ictc.evaluation.report import write_report
from ictc.models.other import OTHER
from ictc.nodes.context import Context
from ictc.nodes.label import label_prompt
from ictc.prompts import Criterion, prompt_hash, render
from ictc.store.thumbnails import ThumbnailCache

QUALITY_LEVERS = ("group_labels", "names_from_labels", "names_cover", "assign_by_label", "endpoint_choice",
                  "check_clusters", "name_groups", "assign_by_group", "label_levels", "embedding_prior",
                  "choice_orders", "category_hops", "category_reask", "category_look", "echo_check", "category_fold", "category_join",
                  "label_kinds", "category_kinds", "label_example", "name_ties_by_kind")


def template_hashes(criterion: Criterion, k: int, label_example: bool = False) -> dict[str, str]:
    """Hash of each step's prompt with its per-image slots left as placeholders (Step 2a's with its worked example
    when `label_example`, setting label_example)."""
    return {
        "describe": prompt_hash(render("describe", criterion)),
        "label": prompt_hash(label_prompt("label", criterion, "{description}", label_example)),
        "name_clusters": prompt_hash(render("name_clusters", criterion, label_counts="{counts}", groups="", k=k)),
        "assign": prompt_hash(render("assign", criterion, names="{names}", description="{description}")),
    }


def write_outputs(run_dir: Path, meta: dict[str, Any], state: dict[str, Any], ctx: Context,
                  calls: dict[str, dict[str, int]], new_version: str | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """results.json, results.csv and report.html of `state` (`results_of`, then `write_result_files`);
    returns results.json's content and the rows."""
    results, rows = results_of(run_dir, meta, state, ctx, calls, new_version)
    write_result_files(run_dir, results, rows, ctx)
    return results, rows


def results_of(run_dir: Path, meta: dict[str, Any], state: dict[str, Any], ctx: Context,
               calls: dict[str, dict[str, int]], new_version: str | None = None,
               consume: bool = False, notes: list[str] | None = None,
               calls_before: dict[str, dict[str, int]] | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """results.json's content (the rows under "images") and the rows (evaluation/outputs.py image_rows) of a
    run's `state` (nodes/state.py RunState), with the metrics when the run has a labels file and is done
    (confusion.png is written then). Nothing of `state`'s per-image records is kept beyond the rows, so a
    caller may drop the state before writing the files (its ~2 KB per image is then reused).
    `meta`: run.json; `calls`: this pass's model calls per step; `new_version`: the action this pass
    completed (the outputs become that version), if any; `consume`: the description and label records
    are taken out of `state` as the rows are made (image_rows), for a caller that drops the state after;
    `notes`: what the pass itself must say (graph/run.py resume_run: the user's edits it could not keep), listed
    under "notices" and first among the warnings, for this version only; `calls_before`: the model calls of earlier
    passes towards the same version that ended without one (stopped, or paused for review: run.json
    "calls_unsaved"), counted in "calls" with this pass's, which are also given alone as "calls_this_pass"."""
    history = [v["action"] for v in meta.get("versions", [])] + ([new_version] if new_version else [])
    criterion = Criterion.from_dict(state["criterion"])
    # descriptions ictc cut at their cap (nodes/describe.bounded): the server ignored it, said once
    cut = [d["cut"] for d in state.get("descriptions", {}).values() if isinstance(d, dict) and d.get("cut")]
    rows = image_rows(state, consume)
    naming = state.get("naming", {})
    names = naming.get("names", [])
    status = Counter(map(itemgetter("status"), rows))  # map and itemgetter: no Python frame per row
    sizes = Counter(map(itemgetter("cluster"), rows))
    results: dict[str, Any] = {
        "run_id": meta["thread_id"], "created": meta["created"], "version": len(history), "history": history,
        # n_clusters: the clusters made; asked_k: the K asked (fewer distinct labels than K make fewer clusters)
        "criterion": criterion.to_dict(), "n_clusters": clusters_made(naming, state["n_clusters"]),
        "asked_k": naming.get("asked_k", state["n_clusters"]), "settings": meta["settings"],
        "models": {"backend": ctx.settings.backend, "vlm": ctx.vlm_id, "llm": ctx.llm_id, "embedder": ctx.embedder.name},
        "prompt_hashes": template_hashes(criterion, state["n_clusters"], ctx.settings.label_example == "on"),
        "cluster_names": names,
        "clusters": [{"name": n, "size": sizes[n]} for n in names],
        "naming": {k: v for k, v in naming.items() if k != "names"},
        "routes": {route: n for route, n in Counter(map(itemgetter("route"), rows)).items() if route},
        # the quality levers of issue 18 as set for this run (README "Quality with small models")
        "levers": {name: getattr(ctx.settings, name) for name in QUALITY_LEVERS},
        "warnings": list(notes or []) + stranded_warnings(rows, names) + (degenerate_warnings(rows, names, naming.get("groups", []),
                                         naming.get("label_categories") if naming.get("label_level") == "category" else None,
                                         naming.get("label_kinds"))
                     if ctx.settings.check_clusters == "on" else [])
        # fewer kinds than K (nodes/label_counts.short_of), said while the names are still Step 2b's number of them
        + ([f"the VLM server ignored the answer cap: {len(cut)} description{'s' if len(cut) != 1 else ''} ran past "
             f"the {cut[0]}-token cap and {'were' if len(cut) != 1 else 'was'} cut by ictc (the server, or a proxy in "
             "front of it, drops max_tokens and stop)"] if cut else [])
        + ([naming["short"]] if naming.get("short") and naming.get("kinds") == len(set(names) - {OTHER}) else []),
        # model calls per step of the work these results are (a run stopped and resumed: both passes), and of the
        # pass that wrote them: a resume's results had said 0 describe calls where 40 were made before the stop
        "calls": step_calls(calls, calls_before or {}), "calls_this_pass": step_calls(calls, {}),
        "summary": {"images": len(rows), "clustered": status["ok"], "failed": status["failed"],
                    "unfinished": status["unfinished"], "skipped": len(meta.get("skipped", {}))},
        "images": rows,
        "skipped": [{"file": f, "reason": r} for f, r in meta.get("skipped", {}).items()],  # files not taken
    }
    if notes:
        results["notices"] = list(notes)
    results.update(grouping_results(state, rows))  # K proposed, names source, "other" size, levels
    # the metrics come when every image has a cluster or a failure: not at the pause before Step 3
    if meta.get("labels") and names and not status["unfinished"]:
        try:
            results["metrics"] = _metrics(run_dir, rows, meta["labels"], names).as_dict()
        except UsageError as exc:  # e.g. every labelled image failed: the results are still written
            results["metrics_error"] = str(exc)
    return results, rows


def step_calls(*tallies: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """The sum of `tallies` ({step: {"model_calls", "from_store"}}, steps missing counted 0), for the four steps,
    then any other step that called a model or found its answer stored (propose_k of -k auto, coarsen of a coarser
    level: "Model calls: describe 0, label 0, name_clusters 0, assign 0" had been said of a --coarser's LLM call)."""
    others = [s for t in tallies for s, c in t.items() if s not in FOUR_STEPS and (c.get("model_calls") or c.get("from_store"))]
    return {step: {key: sum(t.get(step, {}).get(key, 0) for t in tallies) for key in ("model_calls", "from_store")}
            for step in [*FOUR_STEPS, *dict.fromkeys(others)]}


FOUR_STEPS = ("describe", "label", "name_clusters", "assign")


def clusters_made(naming: dict[str, Any], k: int) -> int:
    """The number of clusters of a run whose Step 2b made `naming` ("other" aside, as K counts it); `k`, the state's
    K, before Step 2b has named any."""
    names = naming.get("names", [])
    return len([n for n in names if n != OTHER]) if names else k


def write_result_files(run_dir: Path, results: dict[str, Any], rows: list[dict[str, Any]], ctx: Context) -> None:
    """Write results.json (streamed) with its summary, results.csv and the report pages of `results` and its
    `rows` (from `results_of`); thumbnails come from the context's cache of Step 1 or the workspace's
    (store/thumbnails.py)."""
    write_results(run_dir, results)
    write_csv(run_dir / "results.csv", rows)
    # the context's cache holds the thumbnails Step 1 made (some maybe not yet written: flushed first)
    thumbnails = ctx.thumbnails or ThumbnailCache(ctx.settings.resolved_workspace() / "thumbnails.sqlite")
    try:
        thumbnails.flush()
        write_report(run_dir / "report.html", results, rows, thumbnails)
    finally:
        if thumbnails is not ctx.thumbnails:
            thumbnails.close()


def _metrics(run_dir: Path, rows: list[dict[str, Any]], labels_path: str, names: list[str]) -> Scores:
    """Scores of the clustered images the labels file names (evaluation/labels.py), with the coverage:
    how many of the run's images were scored, and which were not and why.

    Raises UsageError naming the labels file when it names none of the run's clustered images."""
    given = read_labels(labels_path)
    truth = match_labels([r["image"] for r in rows], given)
    scored = [r for r in rows if r["image"] in truth and r["status"] == "ok"]
    if not scored:
        clustered = [r["image"] for r in rows if r["status"] == "ok"]
        raise UsageError(f"labels file {labels_path} names none of the {len(clustered)} clustered images of the run "
                         f"({why_none(truth, given, clustered)})")
    scores = score([r["cluster"] for r in scored], [truth[r["image"]] for r in scored], names)
    scores.images = len(rows)
    # an image whose only rows each name several images was named, ambiguously: not "not named" (a newcomer's)
    several = {image for images in truth.ambiguous.values() for image in images}
    # a file that failed is said failed, whatever the labels file says of it (a broken file had been listed "no label")
    scores.failed = [r["image"] for r in rows if r["status"] == "failed"]
    kept = [r for r in rows if r["status"] != "failed"]
    scores.unlabelled = [r["image"] for r in kept if r["image"] not in truth and r["image"] not in several]
    scores.ambiguous = [r["image"] for r in kept if r["image"] not in truth and r["image"] in several]
    scores.not_clustered = [r["image"] for r in kept if r["image"] in truth and r["status"] != "ok"]
    if scores.n < len(rows):
        reasons = [f"{len(found)} {why}" for found, why in ((scores.failed, "failed"),
                                                            (scores.unlabelled, "not named in the labels file"),
                                                            (scores.ambiguous, "named ambiguously"),
                                                            (scores.not_clustered, "not clustered")) if found]
        scores.warning = f"scored {scores.n} of {len(rows)} images ({', '.join(reasons)})"
    notes = [f"{len(given.conflicting)} name(s) given two labels and left out, e.g. {given.conflicting[0]!r}"
             if given.conflicting else "",  # said even when every image was scored: rows of the file were left out
             # a one-hot file's rows that mark no class or several: no label to read
             f"{len(given.unmarked)} row(s) mark no class or several with 1 and were left out, e.g. {given.unmarked[0]!r}"
             if given.unmarked else "",
             # rows naming an image with an empty label cell: said as such, not only as images "not named"
             f"{len(given.blank)} row(s) leave the label cell empty and were left out, e.g. {given.blank[0]!r}"
             if given.blank else "",
             # a guessed encoding said, so that a garbled class name is explained (red_ŽÑ, a Mac file read as cp1252)
             f"the labels file is not UTF-8 and was read as {given.encoding}: if a class name looks garbled, save "
             "it as CSV UTF-8" if given.encoding else "",
             f"labels differing only in case read as one ({', '.join(given.recased[:3])})" if given.recased else "",
             # rows for images the run does not have: a file for another folder, or names spelt otherwise
             f"{len(truth.unused)} row(s) of the labels file name no image of the run, e.g. {truth.unused[0]!r}"
             if truth.unused else "",
             # a bare name of several folders' images had matched nothing without a word (scored 2 of 9)
             f"{len(truth.ambiguous)} row(s) name several images each, e.g. "
             f"{several_said(*next(iter(truth.ambiguous.items())))}: give paths" if truth.ambiguous else "",
             f"{len(truth.by_stem)} row(s) matched by file name alone (its extension or Label Studio's upload prefix "
             f"set aside), e.g. {truth.by_stem[0]!r}"
             if truth.by_stem else ""]
    scores.warning = "; ".join(note for note in (scores.warning, *notes) if note)
    # a header not in LABEL_COLUMNS beside the image column: which one was scored against, said as a note (it had
    # been printed "Warning:" though the file was read as meant)
    scores.note = f"labels read from the column {given.label_column!r} (the one beside the image column)" \
        if given.label_column else ""
    plot_confusion(scores, run_dir / "confusion.png")
    return scores


def evaluate_run(run_dir: str | Path, labels_path: str) -> Scores:
    """Score a finished run against a labels file; stores the metrics in its results.json, and the labels file
    in its run.json, so that a resume or refinement, which rewrites results.json, scores again against it (as
    for `ictc run --labels`; the metrics were lost at the next resume). Returns the Scores. Raises UsageError
    without results.json, or when the labels name none of the run's images."""
    run_dir = Path(run_dir)
    results_path = run_dir / "results.json"
    if not results_path.is_file():
        raise UsageError(f"{run_dir} has no results.json: finish the run first (ictc resume {run_dir})")
    results = json.loads(results_path.read_text("utf-8"))
    scores = _metrics(run_dir, results["images"], labels_path, results["cluster_names"])
    results["metrics"] = scores.as_dict()
    write_results(run_dir, results)
    meta_path = run_dir / "run.json"
    if meta_path.is_file():
        meta = read_json(meta_path)
        meta["labels"] = str(Path(labels_path).resolve())
        write_json(meta_path, meta)
    return scores
