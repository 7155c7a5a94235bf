"""A run folder opened for work: its checkpointer, compiled graph, event stream and the finish of a pass."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from langchain_core.runnables import RunnableConfig

from ictc.core.memory import collector_paused, limit_arenas
from ictc.evaluation.crosstab import refresh_group_of
from ictc.evaluation.outputs import write_json
from ictc.evaluation.results import results_of, step_calls, write_result_files
from ictc.evaluation.traces import TraceWriter, trace_lines
from ictc.graph.build import build_graph
from ictc.graph.checkpointer import RunSaver, run_saver
from ictc.graph.pass_calls import COUNTED, PassCalls, adopt_killed
from ictc.graph.versions import (
    add_version,
    clusters_before,
    diff_from,
    load_meta,
    run_lock,
    version_clusters,
)
from ictc.nodes.context import Context

Events = Callable[[dict[str, Any]], None]


class Known(NamedTuple):
    """What a caller already has of a pass's end (graph/refine.py after a rename or a merge), so that finish()
    neither replays the run's writes nor reads the last version's results.csv again.

    state: the final state; checkpoint_id: its checkpoint; moved_from: for each image the change moved (by the
    first path of its content, nodes/state.py primaries), its cluster in the last version, when the change
    started from that version's state; None otherwise."""

    state: dict[str, Any]
    checkpoint_id: str
    moved_from: dict[str, str] | None = None


@dataclass
class RunResult:
    """The outcome of one pass over a run folder.

    results: results.json's content; rows: one per image (evaluation/outputs.py image_rows); version: the
    number of the version this pass made, None when it paused or was interrupted."""

    run_dir: Path
    results: dict[str, Any]
    rows: list[dict[str, Any]]
    pause: dict[str, Any] | None = None  # set when the run waits at a review point
    version: int | None = None
    changes: dict[str, Any] | None = None  # against the previous version (refinements)

    @property
    def failed(self) -> int:
        """Number of images that failed (results.json summary)."""
        return self.results["summary"]["failed"]


class RunSession:
    """A run folder opened for work: its checkpointer, compiled graph, thread and runtime context."""

    def __init__(self, run_dir: Path, meta: dict[str, Any], ctx: Context, connection: sqlite3.Connection):
        self.run_dir, self.meta, self.ctx = run_dir, meta, ctx
        limit_arenas()
        self.calls: dict[str, dict[str, int]] = {}
        self.tally = PassCalls(run_dir)  # self.calls on disk as they grow: a killed pass's count in the next version
        self.versioned = False  # this session recorded a version (its calls are in it); else keep_calls saves them
        self.on_event: Events | None = None  # the last drive's listener; finish() tells it its phases
        self.saver: RunSaver = run_saver(connection)
        self.graph = build_graph().compile(checkpointer=self.saver)
        # In sync streaming, LangGraph's stream waiter occupies one thread of the max_concurrency pool
        # (with max_concurrency=1 the fan-out tasks would never run), hence the + 1.
        self.config: RunnableConfig = {"configurable": {"thread_id": meta["thread_id"]},
                       "max_concurrency": ctx.settings.concurrency + 1, "recursion_limit": 1000}

    def state(self) -> dict[str, Any]:
        """The run's current state (nodes/state.py RunState) at the thread's latest checkpoint."""
        return dict(self.graph.get_state(self.config).values)

    def pause(self) -> dict[str, Any] | None:
        """What the run's review pause shows the user; None when it is not paused."""
        return _pause_of(self.graph.get_state(self.config))

    def drive(self, graph_input: Any, on_event: Events | None) -> None:
        """Stream the graph from `graph_input` (a RunInput, a Command, or None to continue) until it ends or
        pauses. Traces are appended to traces.jsonl.zst (evaluation/traces.py TraceWriter); call counts go to
        `self.calls`, saved as they grow (graph/pass_calls.py); every other custom event (progress) goes to `on_event`. Exceptions from nodes propagate
        (the checkpoint keeps finished work)."""
        # LangGraph's default (async) checkpointing is enough: every finished model call is already on
        # disk in the description journal or the step cache, so a kill -9 loses only calls in flight
        # (measured: sync checkpoints cost ~20% of throughput at 64 calls in flight)
        version = len(self.meta.get("versions", [])) + 1  # the version this pass works towards
        self.on_event = on_event
        with TraceWriter(self.run_dir) as traces:
            parts: Iterator[tuple[str, Any]] = self.graph.stream(  # type: ignore[assignment]  # a list of modes yields pairs
                graph_input, self.config, context=self.ctx, stream_mode=["custom", "updates"])
            for mode, chunk in parts:
                if mode != "custom":  # a task finished (its writes go to the next checkpoint): its traces to disk
                    traces.flush()
                    self.tally.settle(self.calls)
                    continue
                if "trace" in chunk or "traces" in chunk:  # one answer, or a batch's answers with its progress
                    traces.write(trace_lines(chunk, version))
                    chunk = {k: v for k, v in chunk.items() if k not in ("trace", "traces")}
                    if not chunk:
                        continue
                self._count(chunk, on_event)

    def _count(self, chunk: dict[str, Any], on_event: Events | None) -> None:
        if "calls" in chunk:  # what this pass cost, step by step
            tally = self.calls.setdefault(chunk["step"], {"model_calls": 0, "from_store": 0})
            tally["model_calls"] += chunk["calls"]
            tally["from_store"] += chunk.get("stored", 0)
            self.tally.grew(self.calls)
        if on_event:
            on_event(chunk)

    def finish(self, action: str | None, known: Known | None = None, restored_from: int | None = None,
               notes: list[str] | None = None, calls_before: dict[str, dict[str, int]] | None = None) -> RunResult:
        """Write the outputs; a completed pass (not paused, not interrupted) becomes a new version.
        Its three phases are told to the drive's listener as step "finish" events (total 3, then one advance
        per phase, with "phase" in words) so a page can say what the last seconds of a pass are spent on.
        `action` labels the new version (None: outputs rewritten, no new version). `known`: the final state and
        its checkpoint id when the caller has them (graph/refine.py after a rename), so that the run's writes
        are not replayed again. `restored_from`: the version an undo or a restore brought back (add_version).
        `notes`: lines this pass must say, among the version's warnings (evaluation/results.py results_of).
        `calls_before`: the calls the results count besides this pass's, when not run.json's "calls_unsaved" (the
        outputs of a finished version rewritten: that version's calls).
        Returns the RunResult, with `changes` against the previous version when
        there is one. A Stop (the context's stop event) is honoured between the phases: StopRequested is
        raised and run.json keeps the pending change, which `ictc resume` (Continue) finishes as its version."""
        with collector_paused():  # many objects, no cycles: the collector would walk them all (core/memory.py)
            self._phase(0, "reading the run's final state")
            if known is not None:
                state, pause, checkpoint = known.state, None, known.checkpoint_id
            else:
                snapshot = self.graph.get_state(self.config)  # read once: it replays the run's writes (graph/state.py)
                state, pause = dict(snapshot.values), _pause_of(snapshot)
                checkpoint = snapshot.config["configurable"]["checkpoint_id"]
                del snapshot
            new_version = action if pause is None else None
            self.ctx.check_stop()
            self._phase(1, "writing results.csv/json, the HTML report and the metrics")
            results, rows = results_of(self.run_dir, self.meta, state, self.ctx, self.calls, new_version,
                                       consume=known is None, notes=notes,  # a caller's state is left as it is
                                       calls_before=self.meta.get("calls_unsaved") if calls_before is None else calls_before)
            del state  # the run's per-image records (~2 KB per image) are not held while the files are written
            write_result_files(self.run_dir, results, rows, self.ctx)
            refresh_group_of(self.run_dir)  # the cross-tabs of the criteria it is one of (evaluation/crosstab.py)
            result = RunResult(self.run_dir, results, rows, pause=pause)
            self.ctx.check_stop()
            self._phase(2, "saving the version and comparing it with the previous one")
            if new_version is not None:
                previous = list(self.meta.get("versions", []))  # before this version is added
                unsaved = self.meta.pop("calls_unsaved", None)  # counted in this version's calls: run.json drops them
                self.meta[COUNTED] = self.tally.id  # and this pass's, whose file may outlive a kill (graph/pass_calls.py)
                try:
                    result.version = add_version(self.run_dir, self.meta, new_version, checkpoint, restored_from)
                except BaseException:
                    if unsaved is not None:
                        self.meta["calls_unsaved"] = unsaved
                    raise
                self.versioned = True
                if previous:
                    before = clusters_before(result.rows, known.moved_from) if known and known.moved_from is not None \
                        else version_clusters(self.run_dir, previous[-1]["version"])
                    result.changes = diff_from(before, result.rows)
        self._phase(3, "done")
        return result


    def keep_calls(self) -> None:
        """Add this session's model calls to run.json's "calls_unsaved" when it recorded no version (stopped,
        failed, or paused for review), so that the version a resume or Continue records counts them
        (evaluation/results.py results_of): a stopped run's results had said 0 describe calls where 40 were made
        before the stop. Then remove the pass's tally file (graph/pass_calls.py): run.json counts it. A pass
        killed before this leaves the file, which the next pass adds (`open_run`); calls in flight are not counted."""
        if not self.versioned and any(any(tally.values()) for tally in self.calls.values()):
            on_disk = load_meta(self.run_dir)  # only these keys change: this pass may have taken others out of self.meta
            on_disk["calls_unsaved"] = self.meta["calls_unsaved"] = step_calls(on_disk.get("calls_unsaved", {}), self.calls)
            on_disk[COUNTED] = self.meta[COUNTED] = self.tally.id
            write_json(self.run_dir / "run.json", on_disk)
        self.tally.drop()

    def _phase(self, done: int, words: str) -> None:
        if self.on_event:
            self.on_event({"step": "finish", "phase": words, **({"total": 3, "done": 0} if done == 0 else {"advance": 1})})


def _pause_of(snapshot: Any) -> dict[str, Any] | None:
    """What a run paused at a review point shows the user; None when it is not paused."""
    return snapshot.interrupts[0].value if snapshot.interrupts else None


@contextmanager
def open_run(run_dir: Path, meta: dict[str, Any], ctx: Context) -> Iterator[RunSession]:
    """Yield a RunSession on `run_dir` (meta: its run.json, given "calls_unsaved" of a killed pass if one is left)
    holding the folder's lock and a connection to checkpoints.sqlite, both released on exit. Raises UsageError when another process holds the folder."""
    with run_lock(run_dir):
        adopt_killed(run_dir, meta)  # the calls of a pass killed before it could count them (graph/pass_calls.py)
        connection = sqlite3.connect(run_dir / "checkpoints.sqlite", check_same_thread=False)
        # SqliteSaver switches the file to WAL; with synchronous=NORMAL a commit survives a killed process
        # without an fsync per task's writes (which held every other task behind the saver's lock)
        connection.execute("PRAGMA synchronous=NORMAL")
        session = RunSession(run_dir, meta, ctx, connection)
        try:
            yield session
        finally:
            try:
                session.keep_calls()  # a pass that made no version: its calls count in the next one
            finally:
                # a pass stopped by an exception (Ctrl-C, a kill as the tests make one) may leave LangGraph's checkpoint
                # writes running on its threads: closed under the saver's lock (every use of the connection holds it),
                # the connection is never closed in the middle of one (that crashed the process in sqlite3)
                with session.saver.lock:
                    connection.close()


def run_state(run_dir: str | Path) -> dict[str, Any]:
    """The run's current state, read only (no models, no lock): for previews and inspection.

    Raises UsageError when `run_dir` has no run.json."""
    run_dir = Path(run_dir)
    meta = load_meta(run_dir)
    connection = sqlite3.connect(run_dir / "checkpoints.sqlite", check_same_thread=False)
    try:
        graph = build_graph().compile(checkpointer=run_saver(connection))
        return dict(graph.get_state({"configurable": {"thread_id": meta["thread_id"]}}).values)
    finally:
        connection.close()


