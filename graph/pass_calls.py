"""A pass's model calls per step, kept on disk as the pass goes (calls.pass.json), so that a pass killed before it
could add them to run.json (kill -9, a second Ctrl-C, a power cut) still counts in the version a resume records.
Why: run.json's "calls_unsaved" was written only on a clean stop, and a resumed run's results.json said 8 describe
calls where 20 had been made, 12 of them by the killed pass.

The file holds {"pass": id, "calls": {step: {"model_calls", "from_store"}}}, the whole tally of one pass. Whoever
adds a pass's tally to run.json (the pass itself: graph/session.py keep_calls or finish; the next pass, for a killed
one: `adopt_killed`) records its id as run.json's "calls_counted_pass" in the same write, so a process that dies
between that write and the file's removal cannot have the tally counted twice."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import orjson

from ictc.evaluation.outputs import write_atomic, write_json
from ictc.evaluation.results import step_calls
from ictc.graph.versions import load_meta

PASS_FILE = "calls.pass.json"
COUNTED = "calls_counted_pass"  # run.json: the id of the last pass whose tally run.json holds
SAVE_SECONDS = 0.5  # at most this long between two saves while calls come in: a kill loses at most this much


class PassCalls:
    """The on-disk tally of the pass running in a run folder (`run_dir`): saved as it grows, removed once counted."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / PASS_FILE
        self.id = uuid.uuid4().hex
        self._saved_at = 0.0  # perf_counter of the last save; 0: not saved since the tally last grew
        self._dirty = False

    def grew(self, calls: dict[str, dict[str, int]]) -> None:
        """The tally `calls` ({step: {"model_calls", "from_store"}}) has grown: saved if SAVE_SECONDS have passed
        since the last save, else at the next `settle` or `grew`."""
        self._dirty = True
        if time.perf_counter() - self._saved_at >= SAVE_SECONDS:
            self.save(calls)

    def settle(self, calls: dict[str, dict[str, int]]) -> None:
        """Save `calls` if it grew since the last save (a task ended: its traces were just flushed too)."""
        if self._dirty:
            self.save(calls)

    def save(self, calls: dict[str, dict[str, int]]) -> None:
        """Write the tally now (atomically; no fsync: a power cut loses at most the last few saves)."""
        write_atomic(self.path, orjson.dumps({"pass": self.id, "calls": calls}), durable=False)
        self._saved_at, self._dirty = time.perf_counter(), False

    def drop(self) -> None:
        """Remove the file: run.json counts the tally now (under this pass's id, `COUNTED`)."""
        self.path.unlink(missing_ok=True)


def adopt_killed(run_dir: Path, meta: dict[str, Any]) -> None:
    """Add the tally a killed pass left in `run_dir` (its PASS_FILE) to run.json's "calls_unsaved", on disk and in
    `meta` (the caller's run.json, changed in place), unless run.json already counts that pass; then remove the
    file. Call it holding the folder's lock, before a new pass starts. An unreadable file (torn by a crash of the
    disk) is removed unread: its calls are then not counted, as a killed pass's were not before."""
    path = Path(run_dir) / PASS_FILE
    try:
        left = orjson.loads(path.read_bytes())
        killed, calls = left["pass"], left["calls"]
    except FileNotFoundError:
        return
    except (OSError, ValueError, KeyError, TypeError):
        path.unlink(missing_ok=True)
        return
    on_disk = load_meta(Path(run_dir))
    if on_disk.get(COUNTED) != killed:
        on_disk["calls_unsaved"] = step_calls(on_disk.get("calls_unsaved", {}), calls)
        on_disk[COUNTED] = killed
        write_json(Path(run_dir) / "run.json", on_disk)
        meta["calls_unsaved"], meta[COUNTED] = on_disk["calls_unsaved"], killed
    path.unlink(missing_ok=True)
