"""The graph: describe -> label -> [propose_k -> pick_k] -> name_clusters -> [review] -> assign -> [review]
(-> coarsen, on request), per-image steps fanned out.

Fan-out choice: a step's window goes out as TASKS_PER_WINDOW `Send` tasks (chunks of whole batches);
every task hands its batches to the context's call pool (`in_batches`, nodes/context.py), shared by
the step's tasks, whose `concurrency` threads each take the next batch as soon as a call returns. So
the calls in flight stay at `concurrency` until the window runs out, whatever a single call takes, and
LangGraph has a handful of tasks per window to schedule and checkpoint. (One task per image made the
runner's rescan of pending tasks after every completion the limit, bench/task_scan.py; chunks that ran
their batches one after another left slots idle behind slow calls and at the end of each chunk.) Each
batch's answers go to the description store or the step cache as they land, so a killed run resumes
without a model call for a finished image. A batch of several images lets a local model run one
batched `generate` instead of one per image (batch 1 for endpoints, 4 for local models by default).

Windows: LangGraph prepares every task of a step at once (~15 KiB of bookkeeping each), so a step
sends at most `window_size` images and loops back for the rest. A window is many times the
concurrency, so the pause between windows is short; and there are at most ~16 per step, so a very
large set does not make thousands of pauses and checkpoints (each holds its window's task payloads;
the per-image results are not in it: graph/state.py)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Send

from ictc.core.errors import SystematicFailureError
from ictc.core.memory import release_free_memory
from ictc.nodes.assign import assign, label_shares
from ictc.nodes.coarsen import coarsen
from ictc.nodes.common import in_batches, report
from ictc.nodes.context import Context, recoverable_errors
from ictc.nodes.describe import describe, stored_descriptions
from ictc.nodes.label import echoes_prompt, label, label_template
from ictc.nodes.label_counts import normalize_label
from ictc.nodes.label_kinds import with_kind
from ictc.nodes.label_levels import CATEGORY, LABEL, level_label
from ictc.nodes.merged_names import step3_names
from ictc.nodes.name_clusters import name_clusters
from ictc.nodes.name_split import empty_parts, name_split, split_done
from ictc.nodes.propose_k import pick_k, propose_k
from ictc.nodes.review import review_clusters, review_names
from ictc.nodes.state import ImageItem, RunInput, RunState, primaries
from ictc.nodes.watch import diagnose
from ictc.prompts import Criterion

WINDOW_PER_SLOT = 16  # images per window for each call allowed in flight
MIN_WINDOW = 256
MAX_WINDOWS = 16
TASKS_PER_WINDOW = 4  # tasks per window; their batches share the context's call pool


def window_size(n_images: int, concurrency: int) -> int:
    """Images a step sends at once: at least MIN_WINDOW and WINDOW_PER_SLOT per call in flight, and large
    enough that the set takes at most MAX_WINDOWS windows."""
    return max(MIN_WINDOW, WINDOW_PER_SLOT * concurrency, -(-n_images // MAX_WINDOWS))


def _window(state: RunState, runtime: Runtime[Context], pending: list[ImageItem]) -> list[ImageItem]:
    return pending[:window_size(len(state["images"]), runtime.context.settings.concurrency)]


def chunk_size(n_items: int, batch: int) -> int:
    """Images per task: whole batches, so that `n_items` make about TASKS_PER_WINDOW tasks."""
    return batch * max(1, -(-n_items // (batch * TASKS_PER_WINDOW)))


def _sends(node: str, items: Sequence[Mapping[str, Any]], runtime: Runtime[Context], **payload: Any) -> list[Send]:
    settings = runtime.context.settings
    size = chunk_size(len(items), settings.resolved_batch_size())
    return [Send(node, {"items": items[i:i + size], **payload}) for i in range(0, len(items), size)]


def _pending(state: RunState, done_key: str, need_key: str | None) -> list[ImageItem]:
    """Images not yet through this step, that did not fail before it, and have what the step reads."""
    fields: dict[str, Any] = dict(state)  # keyed by name: TypedDict keys must be literals for mypy
    done, failed = fields.get(done_key, {}), fields.get("failures", {})
    needed = fields.get(need_key, {}) if need_key else None
    primary = primaries(state["images"])
    return [img for img in state["images"] if primary[img["path"]] == img["path"]  # twins: once
            and img["path"] not in done and img["path"] not in failed and (needed is None or img["path"] in needed)]


def step_progress(state: RunState | dict[str, Any], step: str) -> dict[str, int]:
    """What `step` ("describe", "label" or "assign") reports when it starts: {"total", "done"} in images, from
    the run's `state`. The step nodes report it, and a Continue mid-step tells it first (graph/run.py)."""
    fields: dict[str, Any] = dict(state)
    if step == "describe":  # contents, as Steps 2a and 3 count (twins are described once): a finished Step 1
        # had shown "describe 8/9" with one pair of identical files (the CLI says "9 images (8 distinct ...)")
        return {"total": len(set(primaries(state["images"]).values())), "done": len(fields.get("descriptions", {}))}
    # Steps 2a and 3 count every image that has not failed, described (labelled) yet or not: told mid-Step 1 (a
    # Continue), "label 0/30" of 60 had counted only the images described so far, and told as a criterion change
    # resumed, "assign 0/0" only the images labelled so far
    key = "labels" if step == "label" else "assignments"
    done = len(fields.get(key, {}))
    return {"total": len(_pending(state, key, None)) + done, "done": done}  # type: ignore[arg-type]


def start(state: RunState) -> dict[str, Any]:
    """Entry node: reports Step 1's progress (images, descriptions already made); changes no state."""
    report("describe", **step_progress(state, "describe"))
    return {}


def fan_out_describe(state: RunState, runtime: Runtime[Context]) -> list[Send] | str:
    """Step 1 router: one `describe` task per chunk of the next window of undescribed images, or
    "descriptions_done" when none is left."""
    pending = _window(state, runtime, _pending(state, "descriptions", None))
    return _sends("describe", pending, runtime, criterion=state["criterion"]) or "descriptions_done"


def window_done(state: RunState) -> dict[str, Any]:
    """Between two windows of a step: hand the freed memory back before the next window."""
    release_free_memory()
    return {}


def descriptions_done(state: RunState, runtime: Runtime[Context]) -> dict[str, Any]:
    """After Step 1: write the thumbnails Step 1 made and, into the description store, any description it
    lacks; report Step 2a's progress. Changes no state. (The store's journal moves into Chroma at the first search: store/descriptions.py.)"""
    if runtime.context.thumbnails is not None:  # Step 1's thumbnails: the last ones written
        runtime.context.thumbnails.flush()
    store = runtime.context.descriptions
    if store is not None:  # Step 1 complete: any description a crash kept out of the store
        sha = {i["path"]: i["sha256"] for i in state["images"]}
        store.store_missing([(d["key"], d["text"], {"sha256": sha[p], "prompt_hash": d["prompt_hash"]})
                             for p, d in state.get("descriptions", {}).items() if d.get("key")])
    report("label", **step_progress(state, "label"))
    return {}


def fan_out_label(state: RunState, runtime: Runtime[Context]) -> list[Send] | str:
    """Step 2a router: one `label` task per chunk of the next window of described, unlabelled images (each item
    carries its description), or "name_clusters" when none is left."""
    descriptions = state.get("descriptions", {})
    pending = [{**img, "description": descriptions[img["path"]]["text"]}
               for img in _window(state, runtime, _pending(state, "labels", "descriptions"))]
    return _sends("label", pending, runtime, criterion=state["criterion"]) or "propose_k"  # passes through when K is set


def assign_dispatch(state: RunState) -> dict[str, Any]:
    """Before each Step-3 window: release free memory and report Step 3's progress. Changes no state."""
    release_free_memory()
    report("assign", **step_progress(state, "assign"))
    return {}


def fan_out_assign(state: RunState, runtime: Runtime[Context]) -> list[Send] | str:
    """Step 3 router: one `assign` task per chunk of the next window of labelled, unassigned images (each item
    carries its description and the names it may choose from), or "review_clusters" when none is left ("split_done"
    first when a split's part got no image)."""
    descriptions = state.get("descriptions", {})
    names, scope = state["naming"]["names"], state.get("scope", {})
    # After a split, the split cluster's images choose among its new names only (scope).
    labels = state.get("labels", {})
    shares = label_shares(state["naming"].get("counts", {}))
    level = state["naming"].get("label_level", LABEL)
    categories = state["naming"].get("label_categories")
    looked = state["naming"].get("looked", {})  # label -> name from a look at its description (category_look)
    joined = state["naming"].get("joined", {})  # label -> the category it joined after a look (category_join)
    kinds = state["naming"].get("label_kinds", {})  # label -> the label of the run it joined as a kind (label_kinds)
    # a split's parts are asked as Step 2b named them and go to the clusters they are (nodes/name_split.part_names)
    split_asked = (state["naming"].get("split") or {}).get("asked", {})

    def kind_of(label: str) -> str:
        return kinds.get(normalize_label(label), normalize_label(label))

    def at_level(path: str) -> tuple[str, str]:
        """The image's label at `level` after its kind join, and without it: route kind only where they differ
        (not for a label_levels=json category of its own). A split's parts were named from its images' own labels
        (name_split): no join there, or a sub-kind (pony, in horse) would go back to its kind, its part empty; and no
        category either (label_levels): each image of a "boat" cluster named from its categories carried "boat", went
        to the part of that name by its label, and the split found one group."""
        in_split = path in scope and scope[path] == list(split_asked)  # not a removal's scope: the names left
        own = level_label(labels.get(path, {}), LABEL if in_split else level, categories)
        return (own if path in scope else level_label(with_kind(labels.get(path, {}), kinds), level, categories)), own

    prior_label = _prior_label(state, runtime)
    # names merged before Step 3: asked as they were, sent to the merged cluster while it is still there (a part
    # of a later split may be called like a name merged away)
    asked = step3_names(state["naming"], names)
    merged = {s: t for s, t in state["naming"].get("merged", {}).items() if t in names}
    parts = {s: t for s, t in split_asked.items() if s != t}
    pending = [{**img, "description": descriptions[img["path"]]["text"], "names": scope.get(img["path"], asked),
                "merged": (parts if scope[img["path"]] == list(split_asked) else {}) if img["path"] in scope else merged,
                # the level Step 2b named from (nodes/label_levels.py); the specific label for the embedding prior
                "raw_label": (raw := (leveled := at_level(img["path"]))[0]), "kind": raw != leveled[1],
                "specific_label": (specific := prior_label(img["path"])),
                # a look chose among the K names, not among a split's parts
                # looks and joins were made for the label after its kind join (label_kinds)
                "looked": "" if img["path"] in scope else looked.get(kind_of(specific), ""),
                "joined": level == CATEGORY and img["path"] not in scope and kind_of(specific) in joined,
                "label_share": shares.get(normalize_label(raw), 0.0),
                "group_name": state["naming"].get("label_names", {}).get(normalize_label(raw), "")}
               for img in _window(state, runtime, _pending(state, "assignments", "labels"))]
    # a split's parts Step 3 gave no image leave the names before the version is made (nodes/name_split.split_done)
    return _sends("assign", pending, runtime, criterion=state["criterion"]) or (
        "split_done" if empty_parts(state) else "review_clusters")


def _prior_label(state: RunState, runtime: Runtime[Context]) -> Callable[[str], str]:
    """path -> the image's specific Step-2a label for Step 3's embedding prior: "" when that label repeats the
    prompt for this image (Step 2b's `echoed`, checked against its own description: nodes/label.echoes_prompt)."""
    labels, descriptions = state.get("labels", {}), state.get("descriptions", {})
    echoed = set(state["naming"].get("echoed", []))
    criterion = Criterion.from_dict(state["criterion"])
    template = label_template(runtime.context.settings.label_levels)

    def prior_label(path: str) -> str:
        own = labels.get(path, {}).get("raw", "")
        echo = own in echoed and echoes_prompt(own, descriptions.get(path, {}).get("text", ""), criterion, template,
                                               runtime.context.settings.label_example == "on")
        return "" if echo else own

    return prior_label


def one_call_step(step: str, node: Callable[..., Any]) -> Callable[..., Any]:
    """`node` (a LangGraph node taking (state, runtime)) of a step that makes single LLM calls (Step 2b's names,
    K's proposal, levels), whose failed call stops the run as SystematicFailureError naming `step`, what the
    server answered and the way out, as the per-image steps' failure watch says it (nodes/watch.diagnose): it had
    ended as "the model endpoint failed (...Error code: 400 ...)", cut mid-word, for answers cut by the server."""
    @functools.wraps(node)
    def run(state: Any, runtime: Runtime[Context]) -> Any:
        try:
            return node(state, runtime)
        except recoverable_errors() as exc:
            cause, fix = diagnose(exc, "LLM", runtime.context.llm_id, "its call failed", single=True)
            raise SystematicFailureError(step, cause, fix) from exc
    return run


def build_graph() -> StateGraph[RunState, Context, RunInput, RunState]:
    """The uncompiled builder: callers compile it with their own checkpointer."""
    builder = StateGraph(RunState, input_schema=RunInput, context_schema=Context)
    builder.add_node("start", start)
    builder.add_node("describe", in_batches(describe, stored_descriptions))  # type: ignore[arg-type]  # a Send target: takes its task, not the state
    builder.add_node("describe_window_done", window_done)
    builder.add_node("descriptions_done", descriptions_done)
    builder.add_node("label", in_batches(label))  # type: ignore[arg-type]  # a Send target: takes its task, not the state
    builder.add_node("label_window_done", window_done)
    builder.add_node("propose_k", one_call_step("Step 2b (propose K)", propose_k), destinations=("pick_k", "name_clusters"))
    builder.add_node("pick_k", one_call_step("Step 2b (propose K)", pick_k), destinations=("pick_k", "name_clusters"))
    builder.add_node("name_clusters", one_call_step("Step 2b (name clusters)", name_clusters))
    builder.add_node("coarsen", one_call_step("Levels (coarsen)", coarsen), destinations=("review_clusters",))
    builder.add_node("name_split", one_call_step("Step 2b (name the split)", name_split), destinations=("assign_dispatch",))
    builder.add_node("split_done", split_done, destinations=("review_clusters",))
    builder.add_node("review_names", review_names, destinations=(
        "assign_dispatch", "review_names", "name_clusters", "name_split", "descriptions_done", "start", "propose_k"))
    builder.add_node("assign_dispatch", assign_dispatch)
    builder.add_node("assign", in_batches(assign))  # type: ignore[arg-type]  # a Send target: takes its task, not the state
    builder.add_node("review_clusters", review_clusters, destinations=(
        END, "review_clusters", "assign_dispatch", "name_clusters", "name_split", "descriptions_done", "start",
        "propose_k", "coarsen"))
    builder.add_edge(START, "start")
    builder.add_conditional_edges("start", fan_out_describe, ["describe", "descriptions_done"])
    # each per-image step loops through a no-op node until no image is left for it
    builder.add_edge("describe", "describe_window_done")
    builder.add_conditional_edges("describe_window_done", fan_out_describe, ["describe", "descriptions_done"])
    builder.add_conditional_edges("descriptions_done", fan_out_label, ["label", "propose_k"])
    builder.add_edge("label", "label_window_done")
    builder.add_conditional_edges("label_window_done", fan_out_label, ["label", "propose_k"])
    builder.add_edge("name_clusters", "review_names")
    builder.add_conditional_edges("assign_dispatch", fan_out_assign, ["assign", "review_clusters", "split_done"])
    builder.add_edge("assign", "assign_dispatch")
    return builder
