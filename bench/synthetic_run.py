"""A finished run of N images without running the pipeline N times: a real run's per-image records copied
under N made-up paths and written to a new run's checkpoint as a run writes them (refine_scale --synthetic)."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import uuid
from pathlib import Path
from typing import Any

TEMPLATE_IMAGES = 100  # photos of the real run whose records are copied
WINDOWS = 16  # windows per step, as graph/build.py makes for a large set
TASKS = 32  # task writes per window (a run at concurrency 32 makes ~128)


def template_run(photos: list[str], settings: Any, folder: Path, k: int) -> Path:
    """A real first run over `photos` (the bench endpoint's settings) in `folder`; returns its run folder."""
    from ictc.graph.run import start_run
    from ictc.prompts import make_criterion

    run_dir = folder / "template"
    start_run(photos, make_criterion("object"), k, settings, run_dir)
    return run_dir


def synthetic_run(template: Path, n: int, run_dir: Path) -> Path:
    """Write a finished run of `n` images to `run_dir` (version 1, outputs written) from `template`'s records.

    Image i copies the records of template image i % TEMPLATE_IMAGES under the path /synthetic/img_i.png and a
    sha256 of its own; its thumbnail is the template image's. Returns `run_dir`."""
    from langgraph.types import StateUpdate

    from ictc.graph.build import build_graph
    try:
        from ictc.graph.checkpointer import run_saver
    except ImportError:  # code from before the checkpoints were compressed (a "before" figure)
        from langgraph.checkpoint.sqlite import SqliteSaver as run_saver  # type: ignore[assignment]
    from ictc.graph.runtime import context_for
    from ictc.graph.session import RunSession, run_state
    from ictc.graph.versions import load_meta
    from ictc.store.thumbnails import ThumbnailCache

    state: dict[str, Any] = run_state(template)
    meta = load_meta(template)
    source = [i["path"] for i in state["images"]]
    images = [{"path": f"/synthetic/img_{i:07d}.png", "sha256": hashlib.sha256(str(i).encode()).hexdigest()}
              for i in range(n)]
    origin = {img["path"]: source[i % len(source)] for i, img in enumerate(images)}
    ctx = context_for(meta, None, None)
    workspace = ctx.settings.resolved_workspace()
    cache = ThumbnailCache(workspace / "thumbnails.sqlite")
    jpegs = cache.get_many((i["sha256"], i["path"]) for i in state["images"])
    by_path = {i["path"]: jpegs.get(i["sha256"]) for i in state["images"]}
    cache.put_many((img["sha256"], jpeg) for img in images if (jpeg := by_path[origin[img["path"]]]))
    cache.close()

    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    meta = {**meta, "thread_id": uuid.uuid4().hex, "image_count": n, "versions": []}
    shutil.copyfile(template / "run.json", run_dir / "run.json")
    connection = sqlite3.connect(run_dir / "checkpoints.sqlite", check_same_thread=False)
    try:
        graph = build_graph().compile(checkpointer=run_saver(connection))
        config: Any = {"configurable": {"thread_id": meta["thread_id"]}}
        first: dict[str, Any] = {key: state[key] for key in ("criterion", "n_clusters", "review", "user_names", "other", "k_pick")
                 if key in state}
        # as a run writes them: per step WINDOWS windows (LangGraph supersteps), each of TASKS task writes
        steps = [[StateUpdate({**first, "images": images, "failures": {}}, "review_clusters")]]
        window, task = -(-n // WINDOWS), -(-n // (WINDOWS * TASKS))
        for field in ("descriptions", "labels", "assignments"):
            records = state.get(field, {})
            for start in range(0, n, window):
                steps.append([StateUpdate({field: {img["path"]: records[origin[img["path"]]]
                                                   for img in images[at:at + task] if origin[img["path"]] in records}},
                                          "review_clusters")
                              for at in range(start, min(n, start + window), task)])
        steps.append([StateUpdate({"naming": state["naming"]}, "review_clusters")])
        graph.bulk_update_state(config, steps)
    finally:
        connection.close()
    from ictc.evaluation.outputs import write_json

    write_json(run_dir / "run.json", meta)
    connection = sqlite3.connect(run_dir / "checkpoints.sqlite", check_same_thread=False)
    try:
        RunSession(run_dir, meta, ctx, connection).finish("first run")
    finally:
        connection.close()
    return run_dir
