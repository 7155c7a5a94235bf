"""One browser session's work, without Streamlit: its images, its conversation, its run folders (each with
its own LangGraph thread), its background job. Kept on disk (session.json) so a reload brings it back;
orchestration stays in graph/run.py and graph/refine.py, imported when first needed (the landing page
paints without the pipeline's imports)."""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ictc.core.errors import UsageError
from ictc.core.settings import Settings
from ictc.evaluation.outputs import read_json, write_json
from ictc.nodes.actions import Action, action_dict, describe_action, parse_action, preview_action
from ictc.prompts import make_criterion
from ictc.ui import jobs
from ictc.ui.conversation import Conversation, Reply, Request
from ictc.ui.jobs import Job
from ictc.ui.outcomes import explain, outcome

if TYPE_CHECKING:
    from ictc.nodes.context import Context

ContextFactory = Callable[[Settings], "Context"]
TOKEN = re.compile(r"^[0-9a-f]{12}$")  # a session's id as it appears in the page's address (?session=...)
RETRY = {"go", "go again", "try again", "retry", "again"}  # Continue, when nothing waits for "go"
CONTINUE = re.compile(r"(?:please\s+)?(?:continue|resume|finish(?: the run| it)?|carry on|keep going)(?:\s+(?:the run|please))?")


def new_token() -> str:
    """A fresh session id (12 hex digits)."""
    return uuid.uuid4().hex[:12]


class Session:
    """One browser session. `root`: the folder of all sessions (default <workspace>/ui); this one lives in
    root/<token>/ with session.json and its run folders run-1, run-2, ..."""

    def __init__(self, settings: Settings, context_factory: ContextFactory, root: Path | None = None,
                 token: str | None = None):
        self.id = token if token and TOKEN.match(token) else new_token()
        self.settings = settings
        self.root = root or settings.resolved_workspace() / "ui"
        self.folder = self.root / self.id
        self._factory = context_factory
        self._context: Context | None = None
        self.model_problem = ""  # why the models could not be loaded, said once in the chat
        self.warned = False
        self.conversation = Conversation()
        self.images: list[str] = []
        self.images_source = ""
        self.labels: str | None = None
        self.run_dir: Path | None = None
        self.job: Job | None = None
        self.reported = ""  # id of the last job whose outcome was said in the chat
        self._read: tuple[str, float, dict[str, Any]] | None = None  # results.json as last read, by path and mtime

    # kept on disk ---------------------------------------------------------------------------------------
    def save(self) -> None:
        """Write this session's record (images, chat, current run, last reported job) to session.json."""
        chat = self.conversation
        record = {"images": self.images, "images_source": self.images_source, "labels": self.labels,
                  "run_dir": str(self.run_dir) if self.run_dir else None, "reported": self.reported,
                  "warned": self.warned, "messages": chat.messages, "request": asdict(chat.request),
                  "pending": [action_dict(a) for a in chat.pending]}
        write_json(self.folder / "session.json", record)

    @classmethod
    def load(cls, settings: Settings, context_factory: ContextFactory, token: str, root: Path | None = None) -> Session:
        """The session saved under `token`, with its job re-attached when one is still known to this server;
        a fresh session with that token when nothing was saved (or the record is unreadable)."""
        session = cls(settings, context_factory, root, token)
        path = session.folder / "session.json"
        try:
            record = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            return session
        session.images, session.images_source = list(record.get("images", [])), record.get("images_source", "")
        session.labels, session.reported = record.get("labels"), record.get("reported", "")
        session.warned = bool(record.get("warned"))
        session.run_dir = Path(record["run_dir"]) if record.get("run_dir") else None
        session.conversation = Conversation(Request(**record.get("request", {})),
                                            [parse_action(a) for a in record.get("pending", [])],
                                            list(record.get("messages", [])))
        if session.run_dir is not None:
            session.job = jobs.job_for(str(session.run_dir))
        return session

    # models ---------------------------------------------------------------------------------------------
    def context(self) -> Context:
        """The models, loaded on first use (raises ModelUnavailableError with what to configure)."""
        if self._context is None:
            from ictc.graph.runtime import with_stores

            self._context = with_stores(self._factory(self.settings))
        return self._context

    def llm_json(self) -> Any:
        """The LLM for reading intents, or None (the rule parser then reads alone)."""
        try:
            return self.context().llm_json
        except Exception as exc:  # noqa: BLE001 (shown to the user; runs will fail with the same message)
            self.model_problem = str(exc)
            return None

    # images ---------------------------------------------------------------------------------------------
    def use_images(self, paths: list[str], source: str, labels: str | None = None) -> None:
        """Choose the images of the next run. Other images than the current run's start a new run: the
        current one stays on disk (Recent runs) and its criterion is kept as the starting reading."""
        changed = self.run_dir is not None and sorted(paths) != sorted(self.images)
        self.images, self.images_source, self.labels = paths, source, labels
        if changed:
            results = self.results()
            self.run_dir, self.conversation.pending = None, []
            self.conversation.request = Request(results["criterion"]["text"] if results else "",
                                                len(results["cluster_names"]) if results else 0)
            self.conversation.say("assistant", f"New images: {len(paths)} from {source}. The next run starts fresh on "
                                               "them; the previous run is kept (Recent runs, in the sidebar). "
                                               f"My reading: {self.conversation.request.reading()}. Say **go** to run it, "
                                               "or correct me.")
        elif self.run_dir is None:  # the first images: the status line moves on from "Choose images..."
            reading = self.conversation.request
            then = (f"My reading: {reading.reading()}." if reading.criterion or reading.k else
                    'Now tell me what to group them by and how many groups, e.g. "by the mood of the person, 4 groups".')
            self.conversation.say("assistant", f"Images ready: {len(paths)} from {source}. {then}")
        self.save()

    def open_run(self, run_dir: Path) -> None:
        """Show a run folder again (its images become the session's); one interrupted before its results is
        opened for Continue. Raises UsageError when `run_dir` has no run.json."""
        if not (run_dir / "run.json").is_file():
            raise UsageError(f"{run_dir} is not a run folder (no run.json)")
        meta = json.loads((run_dir / "run.json").read_text("utf-8"))
        self.run_dir, self.job = run_dir, jobs.job_for(str(run_dir))
        if self.job is not None and not self.job.running:
            self.reported = self.job.id  # its outcome was said where it was started
        self.images_source, self.labels = f"run {run_dir.parent.name}/{run_dir.name}", meta.get("labels")
        self.conversation.pending = []
        if (results := self.results()) is not None:  # parsed once, kept for the page (self._read)
            self.images = [row["image"] for row in results["images"]]
            said = f"{len(results['cluster_names'])} clusters, version {results['version']}."
        else:  # interrupted before any results: Continue finishes it
            from ictc.graph.session import run_state

            results = run_state(run_dir)
            self.images = [item["path"] for item in results.get("images", [])]
            said = "interrupted before its results; press **Continue** (or say continue) to finish it."
        self.conversation.say("assistant", f"Opened {run_dir}: **{results['criterion']['text']}**, {said}")
        self.save()

    # state ----------------------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """True while this session's job is running (the page then disables what would start another)."""
        return self.job is not None and self.job.running

    def results(self) -> dict[str, Any] | None:
        """The current run's results.json (read again only when the file changed), or None before any."""
        if self.run_dir is None:
            return None
        path = self.run_dir / "results.json"
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return None
        if self._read is None or self._read[:2] != (str(path), mtime):
            self._read = (str(path), mtime, read_json(path))  # orjson: ~4x the stdlib's speed on 170 MB
        return self._read[2]

    def names(self) -> list[str]:
        """The current run's cluster names, or [] before a run or while no image is clustered yet."""
        results = self.results()
        return list(results["cluster_names"]) if results and results["summary"]["clustered"] else []

    # the chat -------------------------------------------------------------------------------------------
    def chat(self, text: str) -> Reply:
        """Answer one message; starts the run or the change it asks for when it may (see Conversation)."""
        jobs.warmed()
        from ictc.graph.session import run_state
        from ictc.ui import fairness

        if fairness.handle(self, text):  # audit requests, their values and fix (ui/fairness.py)
            return Reply(self.conversation.messages[-1]["text"])
        if self.busy:
            reply = Reply("A job is running: wait for it, or press Stop.")
            self.conversation.say("user", text)
            self.conversation.say("assistant", reply.text)
            self.save()
            return reply
        results = self.results()
        lowered, idle = text.strip().lower().rstrip(".!"), not self.conversation.pending and self.conversation.request.missing()
        if (CONTINUE.fullmatch(lowered) or (idle and lowered in RETRY)) and self.unfinished():
            self.conversation.say("user", text)
            self.conversation.say("assistant", "Continuing the run: only the missing or failed work is done.")
            self.resume()
            self.save()
            return Reply(self.conversation.messages[-1]["text"])
        criterion = results["criterion"]["text"] if results else self.conversation.request.criterion
        names = self.names()
        state = run_state(self.run_dir) if names and self.run_dir is not None else None
        llm_json = self.llm_json()
        reply = self.conversation.answer(text, names, len(self.images), criterion, llm_json,
                                         preview=(lambda action: preview_action(state, action)) if state else None)
        if llm_json is None and not self.warned:
            self.warned = True
            self.conversation.say("assistant", f"Note: {explain(self.model_problem, self.settings)} Until then I read "
                                               "your messages with simple rules, and runs cannot start.",
                                  detail=self.model_problem)
        if reply.start is not None:
            self.start(reply.start)
        elif reply.apply:
            self.apply(reply.apply)
        elif reply.back_to is not None:
            self.back_to(reply.back_to)
        self.save()
        return reply

    def unfinished(self) -> bool:
        """True when the current run has work left for Continue: a change stopped half-way (run.json's
        pending_action, kept by graph/refine.py until it is done), no results yet, or failed or unfinished images."""
        if self.run_dir is None or not (self.run_dir / "run.json").is_file():
            return False
        if json.loads((self.run_dir / "run.json").read_text("utf-8")).get("pending_action"):
            return True
        results = self.results()
        return results is None or results["summary"]["failed"] > 0 or results["summary"]["unfinished"] > 0

    def new_run(self) -> None:
        """Forget the current clusters in the chat (the run folder stays on disk)."""
        self.run_dir, self.job, self.conversation = None, None, Conversation()
        self.save()

    # jobs -----------------------------------------------------------------------------------------------
    def _with_stop(self, stop: threading.Event) -> Context:
        return replace(self.context(), stop=stop)

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
        self.run_dir = self.next_run_dir()
        self.run_dir.mkdir(parents=True)
        run_dir, images, labels = self.run_dir, list(self.images), self.labels

        def work(on_event: Callable[[dict[str, Any]], None], stop: threading.Event) -> Any:
            from ictc.graph.run import start_run

            return start_run(images, criterion, settings=self.settings, out_dir=run_dir, labels=labels, on_event=on_event,
                             context=self._with_stop(stop), **request.run_args())

        return self._launch("first run", work)

    def apply(self, actions: list[Action]) -> Job:
        """Applies the refinements `actions` to the current run, in order, each as a new version (refine_run),
        as one job; returns the job. Errors end up in the job. Needs a current run (asserted)."""
        run_dir = self.run_dir
        assert run_dir is not None

        def work(on_event: Callable[[dict[str, Any]], None], stop: threading.Event) -> Any:
            from ictc.graph.refine import refine_run

            result = None
            for action in actions:
                result = refine_run(run_dir, action, on_event=on_event, context=self._with_stop(stop))
            return result

        return self._launch("; ".join(describe_action(a) for a in actions), work)

    def back_to(self, version: int) -> Job:
        """Undo (`version` 0) or go back to version `version`, as a new version; no model is called."""
        run_dir = self.run_dir
        assert run_dir is not None
        from ictc.graph.refine import restore_run, undo_run

        if version:
            return self._launch(f"back to version {version}",
                                lambda on_event, stop: restore_run(run_dir, version, context=self.context()))
        return self._launch("undo", lambda on_event, stop: undo_run(run_dir, context=self.context()))

    def resume(self) -> Job:
        """Finishes the current run as a job (resume_run: only the missing or failed work is done); returns
        the job. Needs a current run (asserted)."""
        run_dir = self.run_dir
        assert run_dir is not None
        from ictc.graph.run import resume_run

        return self._launch("resume", lambda on_event, stop: resume_run(run_dir, on_event=on_event,
                                                                         context=self._with_stop(stop)))

    def _launch(self, title: str, work: Callable[..., Any]) -> Job:
        assert self.run_dir is not None
        self.job = jobs.register(str(self.run_dir), Job(title, work).start())
        return self.job

    def stop(self) -> None:
        """Asks the job to stop (sets its stop event; the run checks it around each model call, and what is
        done stays on disk for Continue); does nothing without a job."""
        if self.job is not None:
            self.job.stop.set()

    def report_job(self) -> str | None:
        """Once per finished job: what it did, said in the chat."""
        job = self.job
        if job is None or job.running or self.reported == job.id:
            return None
        self.reported = job.id
        from ictc.ui import fairness

        text = (not job.error and not job.stopped and fairness.outcome(self, job.result)) or outcome(job, self.settings)
        self.conversation.say("assistant", text, detail="" if job.usage else job.detail)
        self.save()
        return text

