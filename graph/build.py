"""The graph: describe -> label -> name_clusters -> [review] -> assign -> [review], per-image steps fanned out.

Fan-out choice: one `Send` task per batch of images. Each task's result is written to the checkpoint
as soon as it finishes (LangGraph keeps the writes of finished tasks of an unfinished step), so a
killed run resumes without redoing finished images; `max_concurrency` caps the tasks in flight, which
is what an endpoint needs; and a batch of several images lets a local model run one batched
`generate` instead of one per image. Batch size 1 for endpoints, 4 for local models by default.

Windows: LangGraph prepares every task of a step at once (~15 KiB of bookkeeping each), so a step
sends at most `window_size` images and loops back for the rest. A window is many times the
concurrency, so the pause between windows is short; and at most ~16 per step, so the checkpoint of
the whole state is not rewritten too often on very large sets."""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Send

from ictc.graph.context import Context
from ictc.graph.state import RunInput, RunState, primaries
from ictc.memory import release_free_memory
from ictc.nodes.assign import assign
from ictc.nodes.common import report
from ictc.nodes.describe import describe
from ictc.nodes.label import label
from ictc.nodes.name_clusters import name_clusters
from ictc.nodes.review import review_clusters, review_names

WINDOW_PER_SLOT = 16  # images per window for each call allowed in flight
MIN_WINDOW = 256
MAX_WINDOWS = 16


def window_size(n_images: int, concurrency: int) -> int:
    return max(MIN_WINDOW, WINDOW_PER_SLOT * concurrency, -(-n_images // MAX_WINDOWS))


def _window(state: RunState, runtime: Runtime[Context], pending: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return pending[:window_size(len(state["images"]), runtime.context.settings.concurrency)]


def _batches(items: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _pending(state: RunState, done_key: str, need_key: str | None) -> list[dict[str, Any]]:
    """Images not yet through this step, that did not fail before it, and have what the step reads."""
    done, failed = state.get(done_key, {}), state.get("failures", {})
    needed = state.get(need_key, {}) if need_key else None
    primary = primaries(state["images"])
    return [img for img in state["images"] if primary[img["path"]] == img["path"]  # twins: once
            and img["path"] not in done and img["path"] not in failed and (needed is None or img["path"] in needed)]


def start(state: RunState) -> dict[str, Any]:
    report("describe", total=len(state["images"]), done=len(state.get("descriptions", {})))
    return {}


def fan_out_describe(state: RunState, runtime: Runtime[Context]) -> list[Send] | str:
    pending = _window(state, runtime, _pending(state, "descriptions", None))
    size = runtime.context.settings.resolved_batch_size()
    return [Send("describe", {"items": batch, "criterion": state["criterion"]}) for batch in _batches(pending, size)] \
        or "descriptions_done"


def window_done(state: RunState) -> dict[str, Any]:
    """Between two windows of a step: hand the freed memory back before the next window."""
    release_free_memory()
    return {}


def descriptions_done(state: RunState, runtime: Runtime[Context]) -> dict[str, Any]:
    store = runtime.context.descriptions
    if store is not None:  # Step 1 complete: write the buffered descriptions, and any a crash kept out
        store.flush()
        sha = {i["path"]: i["sha256"] for i in state["images"]}
        store.store_missing([(d["key"], d["text"], {"sha256": sha[p], "prompt_hash": d["prompt_hash"]})
                             for p, d in state.get("descriptions", {}).items() if d.get("key")])
    report("label", total=len(state.get("descriptions", {})), done=len(state.get("labels", {})))
    return {}


def fan_out_label(state: RunState, runtime: Runtime[Context]) -> list[Send] | str:
    descriptions = state.get("descriptions", {})
    pending = [{**img, "description": descriptions[img["path"]]["text"]}
               for img in _window(state, runtime, _pending(state, "labels", "descriptions"))]
    size = runtime.context.settings.resolved_batch_size()
    return [Send("label", {"items": batch, "criterion": state["criterion"]}) for batch in _batches(pending, size)] \
        or "name_clusters"


def assign_dispatch(state: RunState) -> dict[str, Any]:
    release_free_memory()
    pending = len(_pending(state, "assignments", "labels"))
    report("assign", total=pending + len(state.get("assignments", {})), done=len(state.get("assignments", {})))
    return {}


def fan_out_assign(state: RunState, runtime: Runtime[Context]) -> list[Send] | str:
    descriptions = state.get("descriptions", {})
    names, scope = state["naming"]["names"], state.get("scope", {})
    # Step 3 scores one image at a time on local models too (each is one scoring pass), so batch = 1
    # keeps resume granular; endpoints get their parallelism from max_concurrency. After a split, the
    # split cluster's images choose among its new names only (scope).
    return [Send("assign", {"items": [{**img, "description": descriptions[img["path"]]["text"]}],
                            "criterion": state["criterion"], "names": scope.get(img["path"], names)})
            for img in _window(state, runtime, _pending(state, "assignments", "labels"))] or "review_clusters"


def build_graph() -> StateGraph:
    """The uncompiled builder: callers compile it with their own checkpointer."""
    builder = StateGraph(RunState, input_schema=RunInput, context_schema=Context)
    builder.add_node("start", start)
    builder.add_node("describe", describe)
    builder.add_node("describe_window_done", window_done)
    builder.add_node("descriptions_done", descriptions_done)
    builder.add_node("label", label)
    builder.add_node("label_window_done", window_done)
    builder.add_node("name_clusters", name_clusters)
    builder.add_node("review_names", review_names, destinations=(
        "assign_dispatch", "review_names", "name_clusters", "descriptions_done", "start"))
    builder.add_node("assign_dispatch", assign_dispatch)
    builder.add_node("assign", assign)
    builder.add_node("review_clusters", review_clusters, destinations=(
        END, "review_clusters", "assign_dispatch", "name_clusters", "descriptions_done", "start"))
    builder.add_edge(START, "start")
    builder.add_conditional_edges("start", fan_out_describe, ["describe", "descriptions_done"])
    # each per-image step loops through a no-op node until no image is left for it
    builder.add_edge("describe", "describe_window_done")
    builder.add_conditional_edges("describe_window_done", fan_out_describe, ["describe", "descriptions_done"])
    builder.add_conditional_edges("descriptions_done", fan_out_label, ["label", "name_clusters"])
    builder.add_edge("label", "label_window_done")
    builder.add_conditional_edges("label_window_done", fan_out_label, ["label", "name_clusters"])
    builder.add_edge("name_clusters", "review_names")
    builder.add_conditional_edges("assign_dispatch", fan_out_assign, ["assign", "review_clusters"])
    builder.add_edge("assign", "assign_dispatch")
    return builder
