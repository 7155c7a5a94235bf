"""Run, resume, review, refine, undo, search: the one entry used by the CLI, the API and the UI.
(`evaluate_run` is re-exported from evaluation/results.py for the same callers.)"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from langgraph.types import Command

from ictc.evaluation.metrics import match_labels, read_labels
from ictc.evaluation.outputs import write_json
from ictc.evaluation.results import evaluate_run, write_outputs
from ictc.graph.actions import Action, action_dict, describe_action, parse_action, plan_action
from ictc.graph.build import build_graph
from ictc.graph.context import Context
from ictc.graph.state import RESET, RunState, merged_fields, primaries
from ictc.graph.versions import add_version, diff, load_meta, run_lock, version_rows
from ictc.images import hash_or_reason, list_images
from ictc.memory import limit_arenas
from ictc.prompts import Criterion
from ictc.settings import Settings, settings_from_public

MAX_CRITERION_CHARS = 300
Events = Callable[[dict[str, Any]], None]
ContextFactory = Callable[[Settings], Context]


@dataclass
class RunResult:
    run_dir: Path
    results: dict[str, Any]
    rows: list[dict[str, Any]]
    pause: dict[str, Any] | None = None  # set when the run waits at a review point
    version: int | None = None
    changes: dict[str, Any] | None = None  # against the previous version (refinements)

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


class RunSession:
    """A run folder opened for work: its checkpointer, compiled graph, thread and runtime context."""

    def __init__(self, run_dir: Path, meta: dict[str, Any], ctx: Context, connection: sqlite3.Connection):
        from langgraph.checkpoint.sqlite import SqliteSaver

        self.run_dir, self.meta, self.ctx = run_dir, meta, ctx
        limit_arenas()
        self.calls: dict[str, dict[str, int]] = {}
        self.graph = build_graph().compile(checkpointer=SqliteSaver(connection))
        # In sync streaming, LangGraph's stream waiter occupies one thread of the max_concurrency pool
        # (with max_concurrency=1 the fan-out tasks would never run), hence the + 1.
        self.config = {"configurable": {"thread_id": meta["thread_id"]},
                       "max_concurrency": ctx.settings.concurrency + 1, "recursion_limit": 1000}

    def state(self) -> dict[str, Any]:
        return dict(self.graph.get_state(self.config).values)

    def pause(self) -> dict[str, Any] | None:
        return _pause_of(self.graph.get_state(self.config))

    def drive(self, graph_input: Any, on_event: Events | None) -> None:
        # LangGraph's default (async) checkpointing is enough: every finished model call is already on
        # disk in the description journal or the step cache, so a kill -9 loses only calls in flight
        # (measured: sync checkpoints cost ~20% of throughput at 64 calls in flight)
        version = len(self.meta.get("versions", [])) + 1  # the version this pass works towards
        with open(self.run_dir / "traces.jsonl", "a", encoding="utf-8") as traces:
            for mode, chunk in self.graph.stream(graph_input, self.config, context=self.ctx,
                                                 stream_mode=["custom", "updates"]):
                if mode != "custom":
                    continue
                if "trace" in chunk:
                    traces.write(json.dumps({"version": version, **chunk["trace"]}, ensure_ascii=False) + "\n")
                    continue
                self._count(chunk, on_event)

    def _count(self, chunk: dict[str, Any], on_event: Events | None) -> None:
        if "calls" in chunk:  # what this pass cost, step by step
            tally = self.calls.setdefault(chunk["step"], {"model_calls": 0, "from_store": 0})
            tally["model_calls"] += chunk["calls"]
            tally["from_store"] += chunk.get("stored", 0)
        if on_event:
            on_event(chunk)

    def finish(self, action: str | None) -> RunResult:
        """Write the outputs; a completed pass (not paused, not interrupted) becomes a new version."""
        snapshot = self.graph.get_state(self.config)  # read once: it replays the run's writes (graph/state.py)
        state, pause = dict(snapshot.values), _pause_of(snapshot)
        new_version = action if pause is None else None
        results, rows = write_outputs(self.run_dir, self.meta, state, self.ctx, self.calls, new_version)
        result = RunResult(self.run_dir, results, rows, pause=pause)
        if new_version is not None:
            previous = list(self.meta.get("versions", []))  # before this version is added
            checkpoint = snapshot.config["configurable"]["checkpoint_id"]
            result.version = add_version(self.run_dir, self.meta, new_version, checkpoint)
            if previous:
                result.changes = diff(version_rows(self.run_dir, previous[-1]["version"]), result.rows)
        return result


def _pause_of(snapshot: Any) -> dict[str, Any] | None:
    """What a run paused at a review point shows the user; None when it is not paused."""
    return snapshot.interrupts[0].value if snapshot.interrupts else None


@contextmanager
def open_run(run_dir: Path, meta: dict[str, Any], ctx: Context) -> Iterator[RunSession]:
    with run_lock(run_dir):
        connection = sqlite3.connect(run_dir / "checkpoints.sqlite", check_same_thread=False)
        try:
            yield RunSession(run_dir, meta, ctx, connection)
        finally:
            connection.close()


def _make_context(settings: Settings, factory: ContextFactory | None) -> Context:
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


def _context_for(meta: dict[str, Any], context: Context | None, factory: ContextFactory | None) -> Context:
    return with_stores(context or _make_context(settings_from_public(meta["settings"]), factory))


def start_run(images: str | Path | list[str], criterion: Criterion, n_clusters: int, settings: Settings,
              out_dir: str | Path, labels: str | None = None, on_event: Events | None = None,
              context: Context | None = None, context_factory: ContextFactory | None = None,
              review: bool = False) -> RunResult:
    paths = list_images(images if isinstance(images, list | tuple) else Path(images))
    check_request(paths, criterion, n_clusters, labels)
    items, unreadable = [], {}
    for path in paths:
        digest, reason = hash_or_reason(path)
        # an unreadable file keeps a unique placeholder hash, so it is never taken for a twin
        items.append({"path": path, "sha256": digest or f"unreadable:{path}"})
        if reason:
            unreadable[path] = {"step": "read", "reason": reason}
    if n_clusters > len(items) - len(unreadable):
        raise ValueError(f"K={n_clusters} is more than the {len(items) - len(unreadable)} readable images")
    ctx = with_stores(context or _make_context(settings, context_factory))  # loads models: fails before any work
    run_dir = Path(out_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    meta = {"format": 1, "thread_id": uuid.uuid4().hex, "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "settings": settings.public_dict(), "labels": str(Path(labels).resolve()) if labels else None,
            "image_count": len(items), "versions": []}
    write_json(run_dir / "run.json", meta)
    with open_run(run_dir, meta, ctx) as session:
        session.drive({"images": items, "criterion": criterion.to_dict(), "n_clusters": n_clusters,
                       "review": review, "failures": unreadable}, on_event)
        return session.finish("first run")


def resume_run(run_dir: str | Path, on_event: Events | None = None, context: Context | None = None,
               context_factory: ContextFactory | None = None, answer: dict[str, Any] | Action | None = None) -> RunResult:
    """Continue an interrupted run, or answer the review pause it waits at."""
    run_dir = Path(run_dir)
    meta = load_meta(run_dir)
    ctx = _context_for(meta, context, context_factory)
    with open_run(run_dir, meta, ctx) as session:
        waiting = session.pause()
        if answer is not None:
            if waiting is None:
                raise ValueError(f"{run_dir} is not waiting at a review point; use ictc refine")
            session.drive(Command(resume=action_dict(parse_action(answer))), on_event)
            return session.finish(_version_label(meta, describe_action(parse_action(answer))))
        if waiting is not None:
            return session.finish(None)  # waits for the user: outputs rewritten only
        state = session.state()
        if is_complete(state) and not state.get("failures"):
            return session.finish(None)  # finished: outputs rewritten only
        retry = is_complete(state)  # finished with failures: retry those, keep everything else
        if session.graph.get_state(session.config).next:
            session.drive(None, on_event)  # continue from the last checkpoint
        if retry or not is_complete(session.state()):
            # after Ctrl-C the checkpoint may say "nothing next" with work missing: every node skips
            # what is done, so running from the start again does only the missing work
            session.drive(Command(update={"failures": {RESET: True}} if retry else {}, goto="start"), on_event)
        label = meta.pop("pending_action", None) or (
            f"resume: retried {len(state['failures'])} failed image(s)" if retry else _version_label(meta, "resumed"))
        return session.finish(label)


def is_complete(state: dict[str, Any]) -> bool:
    """Every image (first of its twins) has a cluster or a recorded failure."""
    if "naming" not in state:
        return False
    done = {**state.get("assignments", {}), **state.get("failures", {})}
    return all(primary in done for primary in set(primaries(state["images"]).values()))


def _version_label(meta: dict[str, Any], action: str) -> str:
    return action if meta.get("versions") else "first run"


def refine_run(run_dir: str | Path, action: dict[str, Any] | Action, on_event: Events | None = None,
               context: Context | None = None, context_factory: ContextFactory | None = None) -> RunResult:
    """Apply an action to a finished run as a new version; only the work whose inputs changed is redone."""
    from ictc.nodes.review import split_names

    run_dir = Path(run_dir)
    meta = load_meta(run_dir)
    parsed = parse_action(action)
    ctx = _context_for(meta, context, context_factory)
    with open_run(run_dir, meta, ctx) as session:
        snapshot = session.graph.get_state(session.config)
        if snapshot.interrupts:  # paused at a review point: the action is its answer
            session.drive(Command(resume=action_dict(parsed)), on_event)
        elif snapshot.next:
            raise ValueError(f"{run_dir} was interrupted: finish it first with ictc resume {run_dir}")
        else:
            state = dict(snapshot.values)
            criterion = Criterion.from_dict(state["criterion"])
            plan = plan_action(state, parsed, split_names=lambda labels, n: split_names(ctx, criterion, labels, n))
            if on_event:
                on_event({"step": "plan", "redo": plan.redo})
            meta["pending_action"] = describe_action(parsed)  # so a resume after a crash names this version
            write_json(run_dir / "run.json", meta)
            session.drive(Command(update=plan.update, goto=plan.goto or "review_clusters"), on_event)
        meta.pop("pending_action", None)
        return session.finish(describe_action(parsed))


def run_state(run_dir: str | Path) -> dict[str, Any]:
    """The run's current state, read only (no models, no lock): for previews and inspection."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    run_dir = Path(run_dir)
    meta = load_meta(run_dir)
    connection = sqlite3.connect(run_dir / "checkpoints.sqlite", check_same_thread=False)
    try:
        graph = build_graph().compile(checkpointer=SqliteSaver(connection))
        return dict(graph.get_state({"configurable": {"thread_id": meta["thread_id"]}}).values)
    finally:
        connection.close()


def _values_at(graph: Any, config: dict[str, Any]) -> dict[str, Any]:
    """The state as that checkpoint saved it. Not get_state(): it would also apply the writes the next
    refinement left pending on the checkpoint, i.e. show the later version. The channels are rebuilt
    as LangGraph does (graph/state.py: the per-image fields are replayed from the tasks' writes)."""
    from langgraph.pregel._checkpoint import channels_from_checkpoint  # langgraph is pinned exactly

    saved = graph.checkpointer.get_tuple(config)
    channels, _ = channels_from_checkpoint(graph.channels, saved.checkpoint, saver=graph.checkpointer,
                                           config=saved.config)
    return {k: channels[k].get() for k in RunState.__annotations__ if k in channels and channels[k].is_available()}


def undo_run(run_dir: str | Path, context: Context | None = None, context_factory: ContextFactory | None = None) -> RunResult:
    """Back to the version before the current one, recorded as a new version (nothing is lost)."""
    run_dir = Path(run_dir)
    meta = load_meta(run_dir)
    versions = meta.get("versions", [])
    if len(versions) < 2:
        raise ValueError(f"{run_dir} has no earlier version to go back to")
    target = versions[-2]
    ctx = _context_for(meta, context, context_factory)
    with open_run(run_dir, meta, ctx) as session:
        old_config = {"configurable": {**session.config["configurable"], "checkpoint_id": target["checkpoint_id"]}}
        old = _values_at(session.graph, old_config)
        restore = {k: ({RESET: True, **v} if k in merged_fields() else v) for k, v in old.items()}
        session.graph.update_state(session.config, restore, as_node="review_clusters")
        return session.finish(f"undo: back to version {target['version']}")


def search_run(run_dir: str | Path, query: str, n: int = 5, context: Context | None = None) -> list[dict[str, Any]]:
    """The run's images whose stored descriptions are closest to `query` (same embedder as the store)."""
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


__all__ = ["RunResult", "evaluate_run", "refine_run", "resume_run", "run_state", "search_run", "start_run",
           "undo_run"]
