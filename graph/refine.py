"""Refinement of a finished run (one action, one new version), undo, and search over its descriptions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.types import Command

from ictc.core.errors import UsageError
from ictc.core.memory import collector_paused
from ictc.core.settings import settings_from_public
from ictc.evaluation.outputs import write_json
from ictc.graph.relocate import check_images_found
from ictc.graph.run import outcome
from ictc.graph.runtime import ContextFactory, context_without_models, with_models, with_stores
from ictc.graph.session import Events, Known, RunResult, RunSession, open_run
from ictc.graph.versions import load_meta
from ictc.nodes.actions import (
    Action,
    Split,
    action_dict,
    describe_action,
    parse_action,
    plan_action,
)
from ictc.nodes.context import Context
from ictc.nodes.describe import all_stored
from ictc.nodes.state import RESET, RunState, merge, merged_fields


def refine_run(run_dir: str | Path, action: dict[str, Any] | Action, on_event: Events | None = None,
               context: Context | None = None, context_factory: ContextFactory | None = None) -> RunResult:
    """Apply an action to a finished run as a new version; only the work whose inputs changed is redone."""
    run_dir = Path(run_dir)
    meta = load_meta(run_dir)
    parsed = parse_action(action)
    # models are loaded (or their server reached) only when a node must run: a rename or a merge needs none
    ctx = with_stores(context) if context else context_without_models(meta)
    with open_run(run_dir, meta, ctx) as session:
        known: Known | None = None
        unchanged: tuple[Any, ...] | None = None
        graph_input: Command[Any]
        with session.saver.reusing_history():  # the state is read once: a rename is written from it
            with collector_paused():  # the state's many objects make no cycles (core/memory.py)
                snapshot = session.graph.get_state(session.config)
            if snapshot.interrupts:  # paused at a review point: the action is its answer
                graph_input = Command(resume=action_dict(parsed))
            elif snapshot.next:
                raise UsageError(f"{run_dir} was interrupted: finish it first (ictc resume {run_dir}, or Continue in "
                                 f"the chat app), or drop the unfinished change with an undo")
            elif meta.get("pending_action"):
                # a change whose work is done but whose version was never written (a Stop while its outputs were
                # written): another change now would be saved under its own name with this one inside it. Also one
                # stopped before its first node: its input (assignments cleared) waits in the checkpoint's writes,
                # and a rename then had made a version of 0 clustered images (a ninth newcomer)
                raise UsageError(f"{run_dir} has a change stopped before it was saved as a version "
                                 f"({meta['pending_action']}): finish it first (ictc resume {run_dir}, or Continue "
                                 f"in the chat app), or drop it with an undo")
            else:
                state = dict(snapshot.values)
                with collector_paused():
                    plan = plan_action(state, parsed)
                # a split may find one group: the clusters are then as they were, and no version is made of that
                unchanged = outcome(state) if isinstance(parsed, Split) else None
                if plan.goto == "start":  # Step 1 reads the files: none found had failed each and stopped the run
                    check_images_found(meta, run_dir, [item["path"] for item in state["images"]], "redo Step 1",
                                       lambda: all_stored(session.ctx, dict(plan.update.get("criterion") or state["criterion"]),
                                                          state["images"]))
                if on_event:
                    on_event({"step": "plan", "redo": plan.redo})
                direct = not plan.goto  # a rename or a merge: no node to run
                if direct:
                    session.ctx.check_stop()  # a Stop before the change is written: nothing has changed
                # so a resume after a crash names this version; a crash before the change is written leaves the
                # latest checkpoint the last version's, and resume drops it (graph/run.py _pending_change)
                meta["pending_action"] = describe_action(parsed)
                write_json(run_dir / "run.json", meta)
                if direct:
                    with collector_paused():
                        known = _apply_directly(session, snapshot.config, state, plan.update)
                else:
                    # a finished run's change pauses at no review point: a run made with --review had stopped
                    # at its clusters pause after each refinement, and no version was recorded
                    graph_input = Command(update={**plan.update, "review": False}, goto=plan.goto or "review_clusters")
                del state
            del snapshot  # the drive reads the state afresh
        if known is None:
            session.ctx = with_models(ctx, context_factory)
            session.drive(graph_input, on_event)
        else:
            session.on_event = on_event  # finish() tells it its phases, as after a drive
        meta.pop("pending_action", None)  # run.json keeps it until finish() records the version
        if unchanged is not None and outcome(after := session.state()) == unchanged:
            # a version the same as the one before had been recorded (warned of before go, then "undo" to drop it)
            naming = after.get("naming", {})
            del after
            write_json(run_dir / "run.json", meta)
            # the split's state (its Step 2b fallback, Step 3's routes) had stayed the latest: the next change's
            # version carried its record and warning ("! Step 2b, splitting 'calm' ...") and the routes it changed
            _write_back(session, meta["versions"][-1]["checkpoint_id"])
            same = session.finish(None)
            session.calls.clear()  # they are in the results just written, not the next version's (keep_calls)
            # what the split found (its parts, its Step 2b's fallback), for the caller to say: the CLI, the chat
            same.results = {**same.results, "naming": naming}
            return same
        return session.finish(describe_action(parsed), known)


def _apply_directly(session: RunSession, read_at: RunnableConfig, state: dict[str, Any],
                    update: dict[str, Any]) -> Known:
    """Write `update` (a rename or merge: no node to run, no review pause to make) to the run as the review
    node would; returns the state it makes, its checkpoint id and, when `state` (read at `read_at`) is the
    last version's, the clusters the moved images had in it. Driving the graph through the review node and
    reading the state back would replay the run's writes twice more (seconds at 250,000 images)."""
    versions = session.meta.get("versions", [])
    same = bool(versions) and versions[-1]["checkpoint_id"] == read_at["configurable"]["checkpoint_id"]
    assignments = state.get("assignments", {})  # else finish() reads the last version's results.csv
    moved_from = {path: assignments[path]["cluster"] for path in update.get("assignments", {})} if same else None
    config = session.graph.update_state(session.config, update, as_node="review_clusters")
    merged = set(merged_fields())
    final = {**state, **{k: merge(state.get(k), [v]) if k in merged else v for k, v in update.items()}}
    return Known(final, config["configurable"]["checkpoint_id"], moved_from)


def _values_at(graph: Any, config: RunnableConfig) -> dict[str, Any]:
    """The state as that checkpoint saved it. Not get_state(): it would also apply the writes the next
    refinement left pending on the checkpoint, i.e. show the later version. The channels are rebuilt
    as LangGraph does (graph/state.py: the per-image fields are replayed from the tasks' writes)."""
    from langgraph.pregel._checkpoint import channels_from_checkpoint  # langgraph is pinned exactly

    saved = graph.checkpointer.get_tuple(config)
    channels, _ = channels_from_checkpoint(graph.channels, saved.checkpoint, saver=graph.checkpointer,
                                           config=saved.config)
    return {k: channels[k].get() for k in RunState.__annotations__ if k in channels and channels[k].is_available()}


def undo_run(run_dir: str | Path, context: Context | None = None) -> RunResult:
    """Back to the version before the current one, recorded as a new version (nothing is lost). Undo after undo
    steps further back (v3 → undo to v2 → undo to v1), rather than undoing the undo (_undo_target).

    A change left unfinished (stopped or failed half-way) is what is undone: back to the current version.
    Raises UsageError when there is no earlier version to go back to and nothing unfinished."""
    run_dir = Path(run_dir)
    meta = load_meta(run_dir)
    if (choice := _undo_choice(meta)) is None:  # the folder is named by the CLI's own message; the chat names none
        raise UsageError("nothing to undo: this is the first version's state" if len(meta.get("versions", [])) > 1
                         else "nothing to undo: this is the first version")
    return _back_to(run_dir, *choice, context)


def can_undo(run_dir: str | Path) -> bool:
    """Whether undo_run would go anywhere: a change left unfinished, or an earlier version to go back to."""
    return _undo_choice(load_meta(Path(run_dir))) is not None


def _undo_choice(meta: dict[str, Any]) -> tuple[dict[str, Any], str] | None:
    """(the version an undo goes back to, its history label) for run.json's `meta`, or None when there is none:
    a change left unfinished is dropped (back to the current version), else _undo_target."""
    versions = meta.get("versions", [])
    if meta.get("pending_action") and versions:
        return versions[-1], f"undo: the unfinished change dropped, back to version {versions[-1]['version']}"
    target = _undo_target(versions)
    return (target, f"undo: back to version {target['version']}") if target is not None else None


def _undo_target(versions: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The version an undo goes back to (run.json's `versions`, numbered from 1 in order): the one before the
    current; when the current is itself an undo, the one before the version that undo brought back (followed
    through undo after undo), so that repeated undos walk back through the history. None at the first version.
    Why: a newcomer's second --undo brought back the change the first had undone."""
    by_number = {v["version"]: v for v in versions}
    current = versions[-1] if versions else None
    while current is not None and str(current.get("action", "")).startswith("undo:") \
            and current.get("restored_from") in by_number and current["restored_from"] != current["version"]:
        current = by_number[current["restored_from"]]
    return by_number.get(current["version"] - 1) if current is not None else None


def restore_run(run_dir: str | Path, number: int, context: Context | None = None) -> RunResult:
    """Back to version `number` (1-based, as listed in run.json), recorded as a new version like undo_run:
    the later versions stay listed and can be restored in turn. No model is called.

    Going back to the current version drops a change left unfinished (stopped or failed half-way).
    Raises UsageError when `number` is not a version of the run or is already the current one with nothing
    unfinished."""
    run_dir = Path(run_dir)
    meta = load_meta(run_dir)
    versions = meta.get("versions", [])
    if not 1 <= number <= len(versions):
        raise UsageError(f"{run_dir} has no version {number} (it has 1 to {len(versions)})")
    if number == len(versions) and not meta.get("pending_action"):  # with a change left half-done, it drops it
        raise UsageError(f"version {number} is already the current one")
    return _back_to(run_dir, versions[number - 1], f"restore: back to version {number}", context)


def _write_back(session: RunSession, checkpoint_id: str) -> None:
    """The state saved at `checkpoint_id` (a version's) written back as the run's current state."""
    with collector_paused():  # the state's many objects make no cycles (core/memory.py)
        old_config: RunnableConfig = {"configurable": {**session.config.get("configurable", {}), "checkpoint_id": checkpoint_id}}
        old = _values_at(session.graph, old_config)
        restore = {k: ({RESET: True, **v} if k in merged_fields() else v) for k, v in old.items()}
        session.graph.update_state(session.config, restore, as_node="review_clusters")


def _back_to(run_dir: Path, target: dict[str, Any], action: str, context: Context | None) -> RunResult:
    """The state saved with version `target` written back as the current state, finished as a new version."""
    meta = load_meta(run_dir)
    ctx = with_stores(context) if context else context_without_models(meta)  # no node runs: no model needed
    with open_run(run_dir, meta, ctx) as session, collector_paused():
        session.ctx.check_stop()  # a Stop before the state is written back: nothing has changed
        meta["pending_action"] = action  # a stop or a crash before the version is recorded: resume records it
        meta.pop("calls_unsaved", None)  # a dropped change's calls are no part of the version brought back
        # (one before update_state leaves the last version's checkpoint latest: resume drops it, graph/run.py)
        write_json(run_dir / "run.json", meta)
        _write_back(session, target["checkpoint_id"])
        meta.pop("pending_action")
        return session.finish(action, restored_from=target["version"])


def search_run(run_dir: str | Path, query: str, n: int = 5, context: Context | None = None) -> list[dict[str, Any]]:
    """The run's images whose stored descriptions are closest to `query` (same embedder as the store).
    Raises UsageError for an empty query (it would rank the images by nothing) or a bad run folder."""
    if not query.strip():
        raise UsageError("the search query is empty: say what to look for, e.g. 'someone laughing outdoors'")
    from ictc.models.embed import make_embedder
    from ictc.store.descriptions import DescriptionStore

    run_dir = Path(run_dir)
    meta = load_meta(run_dir)
    settings = settings_from_public(meta["settings"])
    embedder = context.embedder if context else make_embedder(settings.embedder)
    rows = json.loads((run_dir / "results.json").read_text("utf-8"))["images"]
    by_key: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row.get("description_key"):
            by_key.setdefault(row["description_key"], []).append(row)
    store = DescriptionStore(settings.resolved_workspace() / "chroma", embedder)
    found = store.search(query, list(by_key), n)
    return [{"image": row["image"], "cluster": row["cluster"], "distance": distance, "description": text}
            for key, text, distance in found for row in by_key[key]][:n]


