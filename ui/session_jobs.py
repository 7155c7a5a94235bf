"""A browser session's jobs (ui/session.py Session): the first run, refinements, undo and restore, Continue
and Stop, each in a background thread (ui/jobs.py) on the session's current run folder."""

from __future__ import annotations

import contextlib
import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ictc.core.settings import Settings
from ictc.nodes.actions import Action, describe_action
from ictc.prompts import make_criterion
from ictc.ui import jobs
from ictc.ui.guides import k_change_said
from ictc.ui.jobs import Job
from ictc.ui.outcomes import retryable
from ictc.ui.run_chat import drop_chat, keep_chat, started_reading

if TYPE_CHECKING:
    from ictc.nodes.context import Context
    from ictc.ui.conversation import Conversation, Request


class SessionJobs:
    """The job half of Session: what it starts runs on (the attributes Session sets) and how."""

    settings: Settings
    folder: Path
    run_dir: Path | None
    labels: str | None
    job: Job | None
    queued: list[Action]  # the changes of an apply after the one a Stop or an error interrupted: Continue applies them
    conversation: Conversation
    reported: str  # id of the last job whose outcome was said in the chat
    launched: str  # id of the last job started (kept in session.json): one a restart lost was never reported
    held: str  # a message said during a job, read when the job is done (Session.report_job)
    starting: Request | None = None  # the reading the last first run was started with (reading_kept)
    chat_base: tuple[str, list[dict[str, str]]]  # the run folder and its chat.json as last read or written (Session.save)

    def save(self) -> None:
        """Write the session's record to session.json (Session.save)."""
        raise NotImplementedError

    def results(self) -> dict[str, Any] | None:
        """The current run's results.json (Session.results)."""
        raise NotImplementedError

    @property
    def images(self) -> list[str]:
        """The images of the next run (Session.images)."""
        raise NotImplementedError

    def context(self) -> Context:
        """The models (Session.context)."""
        raise NotImplementedError

    def llm_json(self) -> Any:
        """The LLM for reading intents, or None (Session.llm_json)."""
        raise NotImplementedError

    def _with_stop(self, stop: threading.Event) -> Context:
        return replace(self.context(), stop=stop)

    def _without_models(self, run_dir: Path, stop: threading.Event) -> Context:
        """For a pass that runs no node (rename, merge, undo, restore): the session's models when they load,
        else the run's context without models (graph/runtime.py), so such a pass works with no model
        server or weights, as `ictc refine` does."""
        from ictc.core.errors import ModelUnavailableError

        try:
            return self._with_stop(stop)
        except ModelUnavailableError:
            from ictc.graph.runtime import context_without_models
            from ictc.graph.versions import load_meta

            return replace(context_without_models(load_meta(run_dir)), stop=stop)

    def next_run_dir(self) -> Path:
        """run-N for the first N not yet used in this session's folder."""
        number = 1
        while (self.folder / f"run-{number}").exists():
            number += 1
        return self.folder / f"run-{number}"

    def start(self, request: Request) -> Job:
        """Starts the first run of `request` on the chosen images in a new folder run-N (next_run_dir), as the
        session's job; returns the job. Raises UsageError for an unknown preset or an empty criterion before any folder
        is made; errors of the run itself end up in the job (Job.error)."""
        criterion = make_criterion(request.criterion, request.preset)
        for text in request.instructions:
            criterion = criterion.with_instruction(text)
        self.run_dir, self.queued, self.starting = self.next_run_dir(), [], request
        self.run_dir.mkdir(parents=True)
        keep_chat(self.run_dir, self.conversation.messages, request)  # its criterion and K, for Recent runs
        self.chat_base = (str(self.run_dir), [dict(m) for m in self.conversation.messages])  # as written (Session.save)
        run_dir, images, labels = self.run_dir, list(self.images), self.labels

        def work(on_event: Callable[[dict[str, Any]], None], stop: threading.Event) -> Any:
            from ictc.graph.run import start_run

            return start_run(images, criterion, settings=self.settings, out_dir=run_dir, labels=labels, on_event=on_event,
                             context=self._with_stop(stop), **request.run_args())

        return self._launch("first run", work)

    def reading_kept(self, job: Job) -> str:
        """After `job`, a first run refused at its start (a UsageError before its run.json: a labels file changed
        since it was chosen, K above the readable images), its reading is the chat's again and its empty run folder
        is gone, so "go" runs it again (the reading had been lost, and run-N left empty); a labels file it was
        refused for is set aside (metrics off). Returns the words that say so: "" for any other job."""
        run_dir, request = self.run_dir, self.starting
        if not job.usage or job.title != "first run" or request is None or run_dir is None \
                or (run_dir / "run.json").is_file():
            return ""
        self.starting, self.run_dir, self.conversation.request = None, None, request
        with contextlib.suppress(OSError):  # made by start and empty but for its chat (it never showed in Recent runs)
            drop_chat(run_dir)
            run_dir.rmdir()
        said = ""
        if self.labels and self.labels in job.error:
            self.labels, said = None, " The labels file is set aside: metrics off."
        return f"{said} My reading stays: {request.reading()}; say **go** to run it."

    def apply(self, actions: list[Action]) -> Job:
        """Applies the refinements `actions` to the current run, in order, each as a new version (refine_run),
        as one job; returns the job. Errors end up in the job. Needs a current run (asserted)."""
        run_dir = self.run_dir
        assert run_dir is not None

        def work(on_event: Callable[[dict[str, Any]], None], stop: threading.Event) -> Any:
            from ictc.graph.refine import refine_run
            from ictc.ui.conversation import calls_no_model

            no_model = all(calls_no_model(action) for action in actions)
            context = self._without_models(run_dir, stop) if no_model else self._with_stop(stop)
            result = None
            for number, action in enumerate(actions):
                self.queued = list(actions[number + 1:])  # kept if this one is interrupted (Continue applies them)
                result = refine_run(run_dir, action, on_event=on_event, context=context)
            return result

        return self._launch("; ".join(describe_action(a) for a in actions), work)

    def back_to(self, version: int) -> Job:
        """Undo (`version` 0) or go back to version `version`, as a new version; no model is called."""
        run_dir = self.run_dir
        assert run_dir is not None
        from ictc.graph.refine import restore_run, undo_run

        self.queued = []  # going back drops an interrupted change, and what was to follow it
        if version:
            return self._launch(f"back to version {version}",
                                lambda on_event, stop: restore_run(run_dir, version,
                                                                   context=self._without_models(run_dir, stop)))
        return self._launch("undo", lambda on_event, stop: undo_run(run_dir, context=self._without_models(run_dir, stop)))

    def resume(self) -> Job:
        """Finishes the current run as a job (resume_run: only the missing or failed work is done), then applies
        the changes `queued` behind an interrupted one, each as its version; returns the job. Needs a current
        run (asserted)."""
        run_dir = self.run_dir
        assert run_dir is not None

        passes: list[tuple[str, dict[str, Any], dict[str, int]]] = []  # Job.passes: one per version made

        def work(on_event: Callable[[dict[str, Any]], None], stop: threading.Event) -> Any:
            from ictc.graph.refine import refine_run
            from ictc.graph.run import resume_run

            context, placed = self._with_stop(stop), Counter[str]()

            def tally(event: dict[str, Any]) -> None:  # each version's own placed count (the job's adds them up)
                placed[event.get("step", "")] += event.get("placed", 0)
                on_event(event)

            def made(what: str, result: Any) -> Any:
                passes.append((what, result.results, dict(placed)))
                placed.clear()
                return result

            result = made(f"finishing {pending}" if pending else "finishing the run",
                          resume_run(run_dir, on_event=tally, context=context))
            while self.queued:  # "by shape instead, 3 groups" stopped in its first part: K=3 still follows
                result = made(describe_action(self.queued[0]),
                              refine_run(run_dir, self.queued[0], on_event=tally, context=context))
                self.queued = self.queued[1:]
            return result

        then = "; then " + "; ".join(describe_action(a) for a in self.queued) if self.queued else ""
        # the change Continue finishes, by its name (run.json's pending_action), not "resume" (a newcomer's note)
        try:
            pending = json.loads((run_dir / "run.json").read_text("utf-8")).get("pending_action")
        except (OSError, ValueError):
            pending = None
        job = self._launch(f"{'finishing ' + pending if pending else 'resume'}{then}", work)
        job.passes = passes  # the list the work fills
        return job

    def _launch(self, title: str, work: Callable[..., Any]) -> Job:
        assert self.run_dir is not None
        self.job = jobs.register(str(self.run_dir), Job(title, work).start())
        self.launched = self.job.id
        self.save()  # on disk at once (Continue's button saves nothing else): a restart finds the job lost
        return self.job

    def say_lost_job(self) -> None:
        """After `ictc ui` restarted: a job started here whose end was never said (this server knows no job of
        the run, and it is not the last reported) is said to have ended, so the chat's last "Running: ..." does
        not stand as if it still ran (a newcomer read it under a status line saying the run was interrupted)."""
        if self.job is not None or not self.launched or self.launched == self.reported:
            return
        self.reported = self.launched
        # a message held for that job's end is said unread: it had been read after a later, unrelated job (a newcomer's)
        held, self.held = self.held, ""
        unread = f" Your message “{held}”, said while it ran, was not read: say it again if it still stands." if held else ""
        change, results = self.change_left(), self.results()
        if change and results is not None:  # a change cut short: "This run was interrupted" had read as the whole run's
            self.conversation.say("assistant", f"The change ({change}) was interrupted before it finished (`ictc ui` "
                                  f"stopped while it ran); the run's version {results['version']} stands as it was. "
                                  "Press **Continue** (or say continue) to finish the change, or say **undo** to drop it."
                                  + unread)
            self.save()
            return
        self.conversation.say("assistant", ("This run was interrupted before it finished (`ictc ui` stopped while it "
                              "ran): press **Continue** (or say continue) to finish it; what is done is kept."
                              if self.unfinished() else
                              "`ictc ui` restarted after the last job started, so its end was not seen here: the "
                              "results on the right are what it left (the Versions tab lists them); if a change is "
                              "missing, say it again.") + unread)
        self.save()

    def change_left(self) -> str:
        """The change stopped half-way on the current run (run.json's pending_action, in words), or "": another
        change must wait until Continue finishes it or an undo drops it (graph/refine.py refuses it)."""
        if self.run_dir is None or not (self.run_dir / "run.json").is_file():
            return ""
        return str(json.loads((self.run_dir / "run.json").read_text("utf-8")).get("pending_action") or "")

    def unfinished(self) -> bool:
        """True when the current run has work left for Continue: a change stopped half-way (run.json's
        pending_action, kept by graph/refine.py until it is done), no results yet, unfinished images, or failed
        images a retry may mend (not files that are no image: ui/outcomes.py retryable)."""
        if self.run_dir is None or not (self.run_dir / "run.json").is_file():
            return False
        if self.change_left():
            return True
        results = self.results()
        if results is None or results["summary"]["unfinished"] > 0:
            return True
        # a file that is no image fails the same way on every Continue: it is not work left
        return results["summary"]["failed"] > 0 and retryable(results["images"]) > 0

    def k_alone(self, text: str) -> int:
        """The K `text` asks for when that is all it asks ("make it 4 groups", "k=4", "by colour, 4 groups" for a run
        by colour), else 0. For a first run stopped before its results (k_for_continue)."""
        from ictc.nodes.actions import SetK, same_text
        from ictc.ui.intent import read_intent

        started = started_reading(self.run_dir) if self.run_dir is not None else {}
        intent = read_intent(text, [], str(started.get("criterion") or ""), self.llm_json())
        k = intent.k or (intent.action.k if isinstance(intent.action, SetK) else 0)
        same = not intent.criterion or same_text(intent.criterion, str(started.get("criterion") or ""))
        return k if same and not (intent.instructions or intent.names or intent.auto_k or intent.other) else 0

    def k_for_continue(self, k: int) -> str:
        """Takes K=`k` for a first run stopped before its results: Continue finishes the run as it was started, then
        names `k` groups afresh (a queued "use K=k": Step 2b and Step 3 again, as version 2; Step 1's descriptions
        and Step 2a's labels are not redone). The run's own K is not changed in its checkpoint: it stays the K its
        first version was made with. Returns the chat's answer (a K out of range, or the run's own, is said)."""
        from ictc.nodes.actions import SetK

        started = started_reading(self.run_dir) if self.run_dir is not None else {}
        if not 2 <= k <= len(self.images):
            return f"K must be between 2 and the {len(self.images)} images, not {k}: say another, or **continue**."
        if k == started.get("k") and not started.get("names"):
            self.queued = []
            return f"This run was started with K={k}: say **continue** (or press **Continue**) to finish it."
        taken = next((a.k for a in self.queued if isinstance(a, SetK)), 0) or started.get("k") or 0
        self.queued = [SetK(k)]
        was = f" (K={started['k']})" if started.get("k") else ""
        said = k_change_said(taken, k)  # once: "K was 3; now 2", or "" when the K taken is the run's
        changed = f" {said}" if said else ""
        return (f"Taken: K={k} applies when the run continues.{changed} **Continue** (or say continue) finishes the run as it "
                f"was started{was}, then names {k} groups afresh from the same descriptions and labels (Step 2b, then "
                "Step 3 sorts every image again), as version 2: Step 1 is not redone.")

    def undo_taken(self) -> str:
        """The answer to "undo" on a first run stopped before its results: the new K taken for Continue (k_for_continue)
        is dropped, and said; without one, that nothing is done yet to undo (the generic "stopped before its results"
        had left a newcomer's K taken, unsaid)."""
        from ictc.nodes.actions import SetK

        started = started_reading(self.run_dir) if self.run_dir is not None else {}
        was = f" (K={started['k']})" if started.get("k") else ""
        taken = next((a.k for a in self.queued if isinstance(a, SetK)), 0)
        if not taken:
            return (f"Nothing to undo: this run stopped before its results, and no new K waits for it. Say **continue** "
                    f"(or press **Continue**) to finish it as it was started{was}.")
        self.queued = [a for a in self.queued if not isinstance(a, SetK)]
        return (f"Dropped: K={taken} no longer applies when the run continues. **Continue** (or say continue) finishes "
                f"the run as it was started{was}.")

    def k_example(self) -> int:
        """A K that k_for_continue would take now for the stopped first run, to give as an example: one more than the
        K it was started with (or one less when that is past its images), 4 when that K is unknown; 0 when none is
        in range (2 images, K=2)."""
        from ictc.nodes.actions import SetK

        started = started_reading(self.run_dir) if self.run_dir is not None else {}
        own = int(started.get("k") or 0)  # asked again, it is "the run's own K", not a new one
        k = next((a.k for a in self.queued if isinstance(a, SetK)), 0) or own
        return next((n for n in ([k + 1, k - 1, k + 2] if k else [4, 3, 2]) if 2 <= n <= len(self.images)
                     and n not in (k, own)), 0)

    def stop(self) -> None:
        """Asks the job to stop (sets its stop event): a run checks it around each model call, a change that
        calls no model (rename, merge, undo, restore) before it is written, and every pass between the phases
        of writing its outputs; what is done stays on disk for Continue. Does nothing without a job."""
        if self.job is not None:
            self.job.stop.set()
