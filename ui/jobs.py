"""A pipeline call (run, refine, resume) in a background thread, so the page stays responsive while it
works: its progress per step, a stop request, and its outcome. Jobs are registered per run folder for the
whole server process, so a reloaded page finds its running job again."""

from __future__ import annotations

import concurrent.futures.thread  # noqa: F401 (registers its exit hook now, before ours: ours then runs first (_end_jobs_at_exit))
import importlib
import logging
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from typing import Any

from ictc.core.errors import ModelUnavailableError, UsageError

STEP_TITLES = {"describe": "Step 1 · describe", "label": "Step 2a · label", "name_clusters": "Step 2b · name clusters",
               "assign": "Step 3 · assign", "finish": "Finishing"}
log = logging.getLogger(__name__)
_jobs: dict[str, Job] = {}  # run folder -> its latest job, for the whole server process
_jobs_lock = threading.Lock()
_running: set[Job] = set()  # the jobs whose thread runs (registered or not)
SHUTDOWN_WAIT = 10.0  # seconds the process's exit waits for running jobs to stop at their next check
_warming: threading.Thread | None = None
PIPELINE = ("ictc.graph.run", "ictc.graph.refine", "ictc.ui.fairness")  # LangGraph and the model clients: seconds


_chat_locks: dict[str, threading.Lock] = {}  # browser session id -> the lock its messages are answered under


def chat_lock(session_id: str) -> threading.Lock:
    """The lock under which `session_id`'s chat messages are answered, one at a time and in the order they
    were sent: a message typed while the previous one is still being read (an LLM reading takes seconds)
    starts a second script run, which would otherwise answer it first ("go" before the correction)."""
    with _jobs_lock:
        return _chat_locks.setdefault(session_id, threading.Lock())


def warm_up() -> None:
    """Starts importing PIPELINE in a background thread, once per server process: called after the first page
    is drawn, so the landing page paints without waiting for these imports and the first message finds them
    loaded."""
    global _warming
    with _jobs_lock:
        if _warming is None:
            _warming = threading.Thread(target=_import_pipeline, name="ictc-warm-up", daemon=True)
            _warming.start()


def warmed() -> None:
    """Waits until warm_up's imports are done (at once when it was never started), so a page and the warm-up
    never import the same module at the same time."""
    if _warming is not None:
        _warming.join()


def _import_pipeline() -> None:
    for name in PIPELINE:
        try:
            importlib.import_module(name)
        except Exception:  # a broken install shows where the module is used; here it is only logged
            log.exception("warm-up import of %s failed", name)


def register(run_dir: str, job: Job) -> Job:
    """Make `job` the one a page showing `run_dir` finds (after a reload too); returns it."""
    with _jobs_lock:
        _jobs[run_dir] = job
    return job


def job_for(run_dir: str) -> Job | None:
    """The latest job started on `run_dir` by this server process (running or finished), or None."""
    with _jobs_lock:
        return _jobs.get(run_dir)


class Job:
    """`work(on_event, stop)` runs in its own thread; everything here is read by the page as it redraws."""

    def __init__(self, title: str, work: Callable[[Callable[[dict[str, Any]], None], threading.Event], Any]):
        self.id = uuid.uuid4().hex[:12]
        self.title = title
        self.phase = ""  # what the finishing phase is doing, in words
        self.stop = threading.Event()
        self.steps: dict[str, dict[str, Any]] = {}
        self.plan = ""
        # the versions a Continue made one after another (the run finished, then the changes queued behind it): per
        # version (what, its results.json, step -> images placed without a call), for the outcome's calls per version
        self.passes: list[tuple[str, dict[str, Any], dict[str, int]]] = []
        self.result: Any = None
        self.error = ""  # what went wrong, in one line (the exception's text)
        self.usage = False  # the error is a UsageError: its one line is meant for the user as it is
        self.detail = ""  # all of it, for the chat's Details: the text, and for a bug its traceback
        self.stopped = False
        self.shutdown = False  # stopped by the process's exit (_end_jobs_at_exit), not by the user
        self.started = time.monotonic()
        self.seconds = 0.0
        self._lock = threading.Lock()
        self._work = work
        self.thread = threading.Thread(target=self._run, name=f"ictc-job-{title}", daemon=True)

    def start(self) -> Job:
        """Starts the work in its thread; returns this job. Raises RuntimeError when started twice."""
        with _jobs_lock:
            _running.add(self)
        self.thread.start()
        return self

    @property
    def running(self) -> bool:
        """True while the work's thread is alive (also before `start`: False)."""
        return self.thread.is_alive()

    def on_event(self, event: dict[str, Any]) -> None:
        """Records one progress event from the pipeline (called from the work's thread): {"step": "plan",
        "redo": text} sets the plan; otherwise the step's tally takes "total"/"done" (a (re)start; the first one's
        "done" is kept as "before"), "advance" (images done), "stored", "calls", "failed", "placed" (counts added; placed: Step 3's
        images decided without a call), "names" and
        "phase"."""
        step = event.get("step", "")
        with self._lock:
            if step == "plan":
                self.plan = event["redo"]
                return
            new = step not in self.steps
            tally = self.steps.setdefault(step, {"done": 0, "total": 0, "stored": 0, "calls": 0, "failed": 0,
                                                "placed": 0})
            if "total" in event:  # a step (re)starts: it knows how much there is and how much is done
                tally.update(total=event["total"], done=event.get("done", 0))
                if new:  # what the job found done: for a Continue, the work before the stop (its outcome says so)
                    tally["before"] = event.get("done", 0)
            if "advance" in event:
                tally["done"] += event["advance"]
                tally["total"] = max(tally["total"], tally["done"])
            for key in ("stored", "calls", "failed", "placed"):
                tally[key] += event.get(key, 0)
            if event.get("names"):
                tally["names"] = event["names"]
            if event.get("phase"):
                self.phase = event["phase"]

    def last_step(self) -> str:
        """The step that reported last ("describe", "label", "name_clusters", "assign", "finish"), or ""."""
        with self._lock:
            return next(reversed(self.steps), "")

    def progress(self) -> list[tuple[str, dict[str, Any]]]:
        """(step title, copy of its tally {"done", "total", "stored", "calls", "failed"[, "names"]}) per step,
        in the pipeline's order (STEP_TITLES), any other step after them in the order it first reported: a
        Continue's Step 3 reports what was done before Steps 2a and 2b run again, and a newcomer read the bars as
        "describe, Step 3, Step 2a, Step 2b"."""
        order = list(STEP_TITLES)
        with self._lock:
            steps = sorted(self.steps.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order))
            return [(STEP_TITLES.get(step, step), dict(tally)) for step, tally in steps]

    def _run(self) -> None:
        # imported here: the models' imports happen in the job's thread, not while a page is drawn
        from ictc.nodes.context import StopRequested

        try:
            self.result = self._work(self.on_event, self.stop)
        except StopRequested:
            self.stopped = True
            if self.shutdown:
                log.info("job %s ended by the server's shutdown; Continue finishes it", self.title)
        except UsageError as exc:  # what the user asked cannot be done: our own one line says why
            self.error = self.detail = str(exc)
            self.usage = True
        except ModelUnavailableError as exc:  # the models as configured: said plainly (ui/outcomes.explain)
            self.error = self.detail = str(exc)
            if exc.__cause__ is not None:  # a step's failed call (graph/build.one_call_step): the raw error in Details
                self.detail += f"\n\n{type(exc.__cause__).__name__}: {exc.__cause__}"
        except Exception as exc:  # a bug or a raw server error: one line on the page, the traceback in Details
            if sys.is_finalizing() or "after shutdown" in str(exc):  # `ictc ui` stopped mid-job: resumable, no bug
                log.info("job %s ended by the server's shutdown; Continue finishes it", self.title)
            else:
                log.exception("job %s failed", self.title)
            self.error = f"{type(exc).__name__}: {exc}"
            self.detail = traceback.format_exc()
        finally:
            self.seconds = time.monotonic() - self.started
            with _jobs_lock:
                _running.discard(self)


def _end_jobs_at_exit() -> None:
    """At the process's exit (`ictc ui` stopped by Ctrl-C or SIGTERM), before the thread pools refuse new work: asks
    every running job to stop and waits up to SHUTDOWN_WAIT for them, so each ends at its next check, as a Stop does
    (its finished work kept), with one line logged. Left running, LangGraph's pool threads had printed five
    tracebacks "cannot schedule new futures after interpreter shutdown" (a thirteenth newcomer's terminal)."""
    with _jobs_lock:
        running = list(_running)
    for job in running:
        job.shutdown = True
        job.stop.set()
    deadline = time.monotonic() + SHUTDOWN_WAIT
    for job in running:
        job.thread.join(max(0.0, deadline - time.monotonic()))


# threading's exit hooks run last registered first: this one before concurrent.futures' (imported above) stops its pools
threading._register_atexit(_end_jobs_at_exit)  # type: ignore[attr-defined]  # the hook concurrent.futures uses itself
