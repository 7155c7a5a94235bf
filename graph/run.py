"""Run, resume and evaluate: the one entry point used by the CLI, the Python API and the UI."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ictc.evaluation.metrics import Scores, match_labels, plot_confusion, read_labels, score
from ictc.evaluation.outputs import image_rows, write_csv, write_json
from ictc.evaluation.report import write_report
from ictc.graph.build import build_graph
from ictc.graph.context import Context
from ictc.prompts import Criterion, prompt_hash, render

from ictc.images import list_images, sha256_of
from ictc.settings import Settings, settings_from_public

MAX_CRITERION_CHARS = 300
Events = Callable[[dict[str, Any]], None]


@dataclass
class RunResult:
    run_dir: Path
    results: dict[str, Any]
    rows: list[dict[str, Any]]

    @property
    def failed(self) -> int:
        return self.results["summary"]["failed"]


def check_request(paths: list[str], criterion: Criterion, n_clusters: int, labels: str | None) -> None:
    """Everything a user can get wrong, refused before any model is loaded or called."""
    if len(criterion.text) > MAX_CRITERION_CHARS:
        raise ValueError(f"the criterion is {len(criterion.text)} characters long; the limit is {MAX_CRITERION_CHARS}")
    if not paths:
        raise ValueError("no images found (looked for .jpg .jpeg .png .webp .gif .bmp .tif .tiff)")
    if n_clusters < 2:
        raise ValueError(f"K must be at least 2, not {n_clusters}")
    if n_clusters > len(paths):
        raise ValueError(f"K={n_clusters} is more than the {len(paths)} images found")
    if labels is not None and not match_labels(paths, read_labels(labels)):
        raise ValueError(f"labels file {labels} names none of the {len(paths)} images")


@contextmanager
def _compiled(run_dir: Path):
    from langgraph.checkpoint.sqlite import SqliteSaver

    connection = sqlite3.connect(run_dir / "checkpoints.sqlite", check_same_thread=False)
    try:
        yield build_graph().compile(checkpointer=SqliteSaver(connection))
    finally:
        connection.close()


def _drive(run_dir: Path, thread_id: str, graph_input: dict[str, Any] | None, ctx: Context,
           on_event: Events | None) -> dict[str, Any]:
    # In sync streaming, LangGraph's stream waiter occupies one thread of the max_concurrency pool
    # (with max_concurrency=1 the fan-out tasks would never run), hence the + 1.
    config = {"configurable": {"thread_id": thread_id}, "max_concurrency": ctx.settings.concurrency + 1,
              "recursion_limit": 100}
    with _compiled(run_dir) as graph:
        for mode, chunk in graph.stream(graph_input, config, context=ctx, stream_mode=["custom", "updates"]):
            if mode == "custom" and on_event:
                on_event(chunk)
        return dict(graph.get_state(config).values)


def start_run(images: str | Path | list[str], criterion: Criterion, n_clusters: int, settings: Settings,
              out_dir: str | Path, labels: str | None = None, on_event: Events | None = None,
              context: Context | None = None, context_factory: Callable[[Settings], Context] | None = None) -> RunResult:
    paths = list_images(images if isinstance(images, list | tuple) else Path(images))
    check_request(paths, criterion, n_clusters, labels)
    ctx = with_stores(context or _make_context(settings, context_factory))  # loads models: fails before any work
    run_dir = Path(out_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    items = [{"path": p, "sha256": sha256_of(p)} for p in paths]
    meta = {"format": 1, "thread_id": uuid.uuid4().hex, "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "settings": settings.public_dict(), "criterion": criterion.to_dict(), "n_clusters": n_clusters,
            "labels": str(Path(labels).resolve()) if labels else None, "image_count": len(items)}
    write_json(run_dir / "run.json", meta)
    state = _drive(run_dir, meta["thread_id"], {"images": items, "criterion": criterion.to_dict(),
                                                 "n_clusters": n_clusters}, ctx, on_event)
    return _finish(run_dir, meta, state, ctx)


def resume_run(run_dir: str | Path, on_event: Events | None = None, context: Context | None = None,
               context_factory: Callable[[Settings], Context] | None = None) -> RunResult:
    run_dir = Path(run_dir)
    meta_path = run_dir / "run.json"
    if not meta_path.is_file():
        raise ValueError(f"{run_dir} is not a run folder (no run.json)")
    meta = json.loads(meta_path.read_text("utf-8"))
    settings = settings_from_public(meta["settings"])
    ctx = with_stores(context or _make_context(settings, context_factory))
    state = _drive(run_dir, meta["thread_id"], None, ctx, on_event)
    return _finish(run_dir, meta, state, ctx)


def _make_context(settings: Settings, factory: Callable[[Settings], Context] | None) -> Context:
    if factory is not None:
        return factory(settings)
    from ictc.models.factory import build_context

    return build_context(settings)


def with_stores(ctx: Context) -> Context:
    """The context with the workspace's stores attached (kept when the caller brought its own)."""
    from ictc.store.descriptions import DescriptionStore
    from ictc.store.step_cache import StepCache

    workspace = ctx.settings.resolved_workspace()
    return replace(ctx, descriptions=ctx.descriptions or DescriptionStore(workspace / "chroma", ctx.embedder),
                   cache=ctx.cache or StepCache(workspace / "steps.sqlite"))


def call_counts(state: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Per step: model calls made, and answers taken from the store instead."""
    counts = {}
    for step, key in (("describe", "descriptions"), ("label", "labels"), ("assign", "assignments")):
        records = list(state.get(key, {}).values())
        counts[step] = {"model_calls": sum(r.get("calls", 1) for r in records),
                        "from_store": sum(r.get("calls", 1) == 0 for r in records)}
    naming = state.get("naming", {})
    counts["name_clusters"] = {"model_calls": naming.get("calls", 0), "from_store": int(naming.get("calls", 1) == 0)}
    return counts


def template_hashes(criterion: Criterion, k: int) -> dict[str, str]:
    """Hash of each step's prompt with its per-image slots left as placeholders."""
    return {
        "describe": prompt_hash(render("describe", criterion)),
        "label": prompt_hash(render("label", criterion, description="{description}")),
        "name_clusters": prompt_hash(render("name_clusters", criterion, label_counts="{counts}", groups="", k=k)),
        "assign": prompt_hash(render("assign", criterion, names="{names}", description="{description}")),
    }


def _finish(run_dir: Path, meta: dict[str, Any], state: dict[str, Any], ctx: Context) -> RunResult:
    criterion = Criterion.from_dict(state["criterion"])
    rows = image_rows(state)
    naming = state.get("naming", {})
    names = naming.get("names", [])
    status = Counter(r["status"] for r in rows)
    results: dict[str, Any] = {
        "run_id": meta["thread_id"], "created": meta["created"], "criterion": criterion.to_dict(),
        "n_clusters": state["n_clusters"], "settings": meta["settings"],
        "models": {"backend": ctx.settings.backend, "vlm": ctx.vlm_id, "llm": ctx.llm_id, "embedder": ctx.embedder.name},
        "prompt_hashes": template_hashes(criterion, state["n_clusters"]),
        "cluster_names": names,
        "clusters": [{"name": n, "size": sum(r["cluster"] == n for r in rows)} for n in names],
        "naming": {k: v for k, v in naming.items() if k != "names"},
        "routes": dict(Counter(r["route"] for r in rows if r["route"])),
        "calls": call_counts(state),
        "summary": {"images": len(rows), "clustered": status["ok"], "failed": status["failed"],
                    "unfinished": status["unfinished"]},
        "images": rows,
    }
    if meta.get("labels"):
        results["metrics"] = _metrics(run_dir, rows, meta["labels"], names).as_dict()
    write_json(run_dir / "results.json", results)
    write_csv(run_dir / "results.csv", rows)
    write_report(run_dir / "report.html", results, rows)
    return RunResult(run_dir, results, rows)


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
        raise ValueError(f"{run_dir} has no results.json: finish the run first (ictc resume {run_dir})")
    results = json.loads(results_path.read_text("utf-8"))
    scores = _metrics(run_dir, results["images"], labels_path, results["cluster_names"])
    results["metrics"] = scores.as_dict()
    write_json(results_path, results)
    return scores
