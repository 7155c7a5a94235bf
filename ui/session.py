"""One browser session's work, without Streamlit: its images, its conversation, its run folders (each with
its own LangGraph thread), its background job. Kept on disk (session.json) so a reload brings it back;
orchestration stays in graph/run.py and graph/refine.py, imported when first needed (the landing page
paints without the pipeline's imports)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ictc.core.errors import UsageError
from ictc.core.settings import Settings
from ictc.evaluation.outputs import read_json, write_json
from ictc.nodes.actions import Action, action_dict, describe_action, parse_action
from ictc.ui import jobs
from ictc.ui.conversation import Conversation, Reply, Request, previewer
from ictc.ui.guides import JOB_HELP, REFINE_GUIDE
from ictc.ui.intent_rules import HELP, read_by_rules
from ictc.ui.jobs import Job
from ictc.ui.outcomes import (
    UNFINISHED_HELP,
    explain,
    first_run_unfinished_said,
    outcome,
)
from ictc.ui.run_chat import keep_chat, said_once
from ictc.ui.session_runs import SessionRuns
from ictc.ui.session_tabs import SessionTabs, saving

if TYPE_CHECKING:
    from ictc.nodes.context import Context

ContextFactory = Callable[[Settings], "Context"]
TOKEN = re.compile(r"^[0-9a-f]{12}$")  # a session's id as it appears in the page's address (?session=...)
RETRY = {"go", "go again", "try again", "retry", "again"}  # Continue, when nothing waits for "go"
CONTINUE = re.compile(r"(?:please\s+)?(?:continue|resume|finish(?: the run| it)?|carry on|keep going)(?:\s+(?:the run|please))?")


def new_token() -> str:
    """A fresh session id (12 hex digits)."""
    return uuid.uuid4().hex[:12]


class Session(SessionRuns, SessionTabs):
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
        self._images: list[str] | None = []  # None: the current run's, read from its folder when first needed
        self.images_source = ""
        self.source_choice: dict[str, str] = {}  # the sidebar's widgets that chose them ({"source", "folder"}), for a reload
        self.labels: str | None = None
        self.run_dir: Path | None = None
        self.job: Job | None = None
        self.reported = self.launched = ""  # ids of the last job whose outcome was said, and of the last started
        self.last_error = ""  # the error the last reported job ended on ("" when it did not fail)
        self.queued: list[Action] = []
        self.held = ""  # a message said during a job, read when the job is done (report_job)
        self.held_read = ""  # the id of the last job whose end read a held message, in whichever tab (take_held)
        self.audit_wait: dict[str, Any] = {}  # the audit's question waiting for an answer (ui/fairness.py), kept on disk
        self._read: tuple[str, float, dict[str, Any]] | None = None  # results.json as last read, by path and mtime
        self.chat_base: tuple[str, list[dict[str, str]]] = ("", [])  # a run's chat.json as last read or written here
        # the reading, the changes waiting for go and the held message as session.json had them when last read or
        # written here, and the file's mtime then: another tab on this session may have changed them (ui/session_tabs.py)
        self.waiting_base: tuple[int, dict[str, Any]] = (0, {})

    # kept on disk ---------------------------------------------------------------------------------------
    def save(self, once: dict[str, str] | None = None) -> None:
        """Write this session's record (images, chat, current run, last reported job) to session.json. The
        images are left out (null) once the current run's results list them: 12 MB at 250,000 images. `once`: a job's
        outcome, added to the chat unless another window on the run has said it already (run_chat.keep_chat)."""
        with saving(self.folder):  # another tab's save cannot come between the merge and the write
            self._save(once)

    def _save(self, once: dict[str, str] | None) -> None:
        said = self.adopt_waiting()  # this tab's change gave way to the other tab's: said under this reply
        if said and self.conversation.messages and self.conversation.messages[-1]["role"] == "assistant":
            self.conversation.messages[-1]["text"] += f"\n\n{said}"
        chat = self.conversation
        listed = self.run_dir is not None and (self.run_dir / "results.json").is_file()
        record = {"images": None if listed or self._images is None else self._images, "images_source": self.images_source,
                  "source_choice": self.source_choice, "labels": self.labels,
                  "run_dir": str(self.run_dir) if self.run_dir else None, "reported": self.reported,
                  "warned": self.warned, "messages": chat.messages, "request": asdict(chat.request),
                  "pending": [action_dict(a) for a in chat.pending], "queued": [action_dict(a) for a in self.queued],
                  "audit_wait": self.audit_wait, "held": self.held, "launched": self.launched,
                  "held_read": self.held_read}
        if self.run_dir is None:
            chat.messages = record["messages"] = said_once(chat.messages, once)
        if self.run_dir is not None:  # the run keeps its own chat too: opened again later, it shows it (ui/run_chat.py)
            # with what another browser on the run said since this one last wrote it (their chats merge, not overwrite)
            base = self.chat_base[1] if self.chat_base[0] == str(self.run_dir) else None  # None: written as it is
            chat.messages = record["messages"] = keep_chat(self.run_dir, chat.messages, base=base, once=once)
            self.chat_base = (str(self.run_dir), [dict(m) for m in chat.messages])  # copies: replies are edited in place
        write_json(self.folder / "session.json", record)
        self._waiting_read(record)

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
        images = record.get("images", [])
        session._images, session.images_source = None if images is None else list(images), record.get("images_source", "")
        session.labels, session.reported, session.launched = record.get("labels"), record.get("reported", ""), record.get("launched", "")
        session.source_choice = dict(record.get("source_choice") or {})
        session.queued = [parse_action(a) for a in record.get("queued", [])]
        session.warned, session.held = bool(record.get("warned")), str(record.get("held") or "")
        session.held_read = str(record.get("held_read") or "")
        session.audit_wait = dict(record.get("audit_wait") or {})
        session.run_dir = Path(record["run_dir"]) if record.get("run_dir") else None
        session.conversation = Conversation(Request(**record.get("request", {})),
                                            [parse_action(a) for a in record.get("pending", [])],
                                            list(record.get("messages", [])))
        # the record's messages are the run's chat.json as this session last wrote it (save)
        session.chat_base = (str(session.run_dir), [dict(m) for m in session.conversation.messages])
        session._waiting_read(record)
        if session.run_dir is not None:
            session.job = jobs.job_for(str(session.run_dir))
            session.say_lost_job()
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

    # state ----------------------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """True while this session's job is running (the page then disables what would start another)."""
        return self.job is not None and self.job.running

    def results(self) -> dict[str, Any] | None:
        """The current run's results.json (read again only when the file changed), or None before any. Raises
        UsageError naming the file when it is not JSON (cut short: a full disk), said by the page in one line."""
        if self.run_dir is None:
            return None
        path = self.run_dir / "results.json"
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return None
        if self._read is None or self._read[:2] != (str(path), mtime):
            try:
                self._read = (str(path), mtime, read_json(path))  # orjson: ~4x the stdlib's speed on 170 MB
            except ValueError as exc:
                raise UsageError(f"{path} cannot be read ({exc})") from exc
        return self._read[2]

    def names(self) -> list[str]:
        """The current run's cluster names, or [] before a run or while no image is clustered yet."""
        results = self.results()
        return list(results["cluster_names"]) if results and results["summary"]["clustered"] else []

    def follow_run_job(self) -> None:
        """A job another session (a second browser on the current run) started on the run since becomes this session's
        job too: its progress and Stop show here, and a message said meanwhile is held until it is done, as during one's
        own job (a second window's rename had been told the first window's split in flight had "stopped half-way",
        and was dropped). Called before each message and each redraw."""
        if self.run_dir is not None and not self.busy:
            job = jobs.job_for(str(self.run_dir))
            if job is not None and job.running:
                self.job = job

    # the chat -------------------------------------------------------------------------------------------
    def chat(self, text: str) -> Reply:
        """Answer one message; starts the run or the change it asks for when it may (see Conversation). During
        a job "help" is answered and any other message is held (one at a time, kept in session.json) and read
        by report_job once the job has ended, however it ended."""
        jobs.warmed()
        from ictc.ui import fairness
        from ictc.ui.typed_stop import typed_stop

        self.follow_run_job()
        self.adopt_waiting()  # what another tab on this session left waiting for go
        if (stop_said := typed_stop(self, text)) is not None:  # "stop" during a job is the Stop button
            return Reply(stop_said)
        if fairness.handle(self, text):  # audit requests, their values and fix (ui/fairness.py)
            self.save()
            return Reply(self.conversation.messages[-1]["text"])
        if self.busy:  # help changes nothing, so it is answered during a job too (not with the reading: a first
            # run has taken it, and a newcomer saw it empty); anything else is read once the job is done (a newcomer
            # typed a split during a rename, and it was refused and lost)
            helps, before = HELP.match(text.strip().lower().rstrip(".!")), self.held
            if not helps:
                self.held = text
            stopping = self.job is not None and self.job.stop.is_set()  # Stop pressed: "or press Stop" misread
            elsewhere = " (started in another window on this run)" if self.job and self.job.id != self.launched else ""
            reply = Reply(JOB_HELP + REFINE_GUIDE if helps else
                          f"{'Stopping' if stopping else 'A job is running'}{elsewhere}: I will read “{text}” when it is "
                          + (f"done, instead of “{before}” (one message waits at a time)." if before else
                             "done." if stopping else "done (or press **Stop**)."))
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
        if results is None and self.run_dir is not None and self.unfinished():  # a first run stopped before results
            self.conversation.say("user", text)
            k = 0 if HELP.match(lowered) else self.k_alone(text)  # a new K is taken for Continue (k_for_continue)
            self.conversation.say("assistant", self.k_for_continue(k) if k else
                                  self.undo_taken() if read_by_rules(text, []).kind == "undo" else
                                  first_run_unfinished_said(self.conversation.messages, HELP.match(lowered),
                                                            self.k_example()))
            self.save()
            return Reply(self.conversation.messages[-1]["text"])
        if CONTINUE.fullmatch(lowered) and not self.conversation.pending:  # nothing to continue: it had been read as
            self.conversation.say("user", text)  # the criterion ("My reading: group by continue"), by the LLM
            missing = " and ".join(self.conversation.request.missing())
            self.conversation.say("assistant", "Nothing to continue: " + (
                'the run is finished; say what to change ("help" lists it).' if results else
                f"no run has started yet; tell me {missing}." if missing else "no run has started yet; say **go** to start it."))
            self.save()
            return Reply(self.conversation.messages[-1]["text"])
        criterion = results["criterion"]["text"] if results else self.conversation.request.criterion
        names = self.names()
        llm_json = self.llm_json()
        waiting = list(self.conversation.pending)
        reply = self.conversation.answer(text, names, len(self.images), criterion, llm_json,
                                         preview=previewer(self.run_dir, results, names) if results and names else None)
        if HELP.match(lowered) and self.unfinished():  # after Stop the guide had left out the one way on
            reply = Reply(f"{UNFINISHED_HELP}\n\n{reply.text}")
            self.conversation.messages[-1]["text"] = reply.text
        if llm_json is None and not self.warned:
            self.warned = True
            self.conversation.say("assistant", f"Note: {explain(self.model_problem, self.settings)} Until then I read "
                                               "your messages with simple rules, and runs cannot start.",
                                  detail=self.model_problem)
        if reply.start is not None:
            self.start(reply.start)
        # said in the chat's words, not refine's CLI hint; a change previewed is told so at once, not promised "go"
        elif (reply.apply or self.conversation.pending not in ([], waiting)) and (left := self.change_left()):
            before, self.held = self.held, text  # kept, read once Continue or undo has ended (report_job): not retyped
            reply = Reply(f"That waits: the change stopped half-way ({left}) comes first: press **Continue** (or say "
                          "continue) to finish it, or say **undo** to drop it; I will read “" + text + "” then"
                          + (f", instead of “{before}” (one message waits at a time)." if before and before != text else "."))
            self.conversation.messages[-1]["text"], self.conversation.pending = reply.text, waiting
        elif reply.apply:
            self.apply(reply.apply)
        elif reply.back_to is not None:
            from ictc.graph.refine import can_undo
            from ictc.graph.versions import load_meta

            made = len(load_meta(self.run_dir).get("versions", [])) if self.run_dir is not None else 0
            if self.run_dir is None or (0 < reply.back_to <= made) or (not reply.back_to and can_undo(self.run_dir)):
                self.back_to(reply.back_to)
            else:  # said at once, not "Going back to ..." and then a failure (a newcomer); nothing is done, so what
                self.conversation.pending = waiting  # waited for go still waits (it had been dropped unsaid)
                still = ("; ".join(describe_action(a) for a in waiting) if waiting else "")
                has = f"versions 1 to {made}" if made > 1 else "version 1 only" if made else "no version yet"
                reply = Reply((f"There is no version {reply.back_to}: this run has {has} (the Versions tab lists them)."
                               if reply.back_to else "Nothing to undo: this is the first version's state.")
                              + (f" Still waiting: {still}; say **go** to apply it." if still else ""))
                self.conversation.messages[-1]["text"] = reply.text
        self.save()
        return reply

    def report_job(self) -> str | None:
        """Once per finished job: what it did, said in the chat."""
        job = self.job
        if job is None or job.running or self.reported == job.id:
            return None
        self.reported = job.id
        from ictc.ui import fairness

        text = (not job.error and not job.stopped and fairness.outcome(self, job.result)) or outcome(job, self.settings)
        if job.error and job.error == self.last_error:  # a Continue into the same dead server: say so, not repeat
            text = f"Tried again: the same problem. {text}"
        self.last_error, text = job.error, text + self.reading_kept(job)  # a first run refused: its reading kept
        if job.usage:  # the change could not be done: what was to follow it is dropped with it
            self.queued = []
        if (job.stopped or job.error) and self.queued:
            text += " Continue then applies what was to follow: " + "; ".join(describe_action(a) for a in self.queued) + "."
        detail = "" if job.usage else job.detail  # said once in the run's chat, whichever window on it says it first
        self.save(once={"role": "assistant", "text": text, **({"detail": detail} if detail else {}), "job": job.id})
        held = self.take_held(job.id)  # the tab that reports first reads it (one held per session: ui/session_tabs.py)
        if held:  # read now, as if said now (after a Stop too: a newcomer typed just after it): its words stand above
            said = len(self.conversation.messages)
            self.chat(held)  # its save may put another window's messages before it: looked for, not taken at `said`
            chat = self.conversation.messages
            at = next((n for n in range(said, len(chat) - 1) if chat[n] == {"role": "user", "text": held}), None)
            if at is not None:
                del chat[at]
                chat[at]["text"] = f"Now “{held}”: {chat[at]['text']}"
        self.save()
        return text

