"""One browser session's work, without Streamlit: its images, its conversation, its run folders (each with
its own LangGraph thread), its background job. Orchestration stays in graph/run.py."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from ictc.core.settings import Settings
from ictc.graph.refine import refine_run
from ictc.graph.run import resume_run, start_run
from ictc.graph.runtime import with_stores
from ictc.graph.session import run_state
from ictc.nodes.actions import Action, describe_action, preview_action
from ictc.nodes.context import Context
from ictc.prompts import make_criterion
from ictc.ui import fairness
from ictc.ui.conversation import Conversation, Reply, Request
from ictc.ui.jobs import Job

ContextFactory = Callable[[Settings], Context]


class Session:
    def __init__(self, settings: Settings, context_factory: ContextFactory, root: Path | None = None):
        self.id = uuid.uuid4().hex[:12]
        self.settings = settings
        self.folder = (root or settings.resolved_workspace() / "ui") / self.id
        self._factory = context_factory
        self._context: Context | None = None
        self.model_problem = ""  # why the models could not be loaded, said once in the chat
        self._warned = False
        self.conversation = Conversation()
        self.images: list[str] = []
        self.images_source = ""
        self.labels: str | None = None
        self.run_dir: Path | None = None
        self.runs = 0
        self.job: Job | None = None
        self.reported: Job | None = None  # the last job whose outcome was said in the chat

    # models -------------------------------------------------------------------------------------------
    def context(self) -> Context:
        """The models, loaded on first use (raises ModelUnavailableError with what to configure)."""
        if self._context is None:
            self._context = with_stores(self._factory(self.settings))
        return self._context

    def llm_json(self) -> Any:
        """The LLM for reading intents, or None (the rule parser then reads alone)."""
        try:
            return self.context().llm_json
        except Exception as exc:  # noqa: BLE001 (shown to the user; runs will fail with the same message)
            self.model_problem = str(exc)
            return None

    # images -------------------------------------------------------------------------------------------
    def use_images(self, paths: list[str], source: str, labels: str | None = None) -> None:
        self.images, self.images_source, self.labels = paths, source, labels

    # state --------------------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.job is not None and self.job.running

    def results(self) -> dict[str, Any] | None:
        if self.run_dir is None or not (self.run_dir / "results.json").is_file():
            return None
        return json.loads((self.run_dir / "results.json").read_text("utf-8"))

    def names(self) -> list[str]:
        results = self.results()
        return list(results["cluster_names"]) if results and results["summary"]["clustered"] else []

    # the chat -----------------------------------------------------------------------------------------
    def chat(self, text: str) -> Reply:
        if fairness.handle(self, text):  # audit requests, their values and fix (ui/fairness.py)
            return Reply(self.conversation.messages[-1]["text"])
        if self.busy:
            reply = Reply("A job is running: wait for it, or press Stop.")
            self.conversation.say("user", text)
            self.conversation.say("assistant", reply.text)
            return reply
        results = self.results()
        criterion = results["criterion"]["text"] if results else self.conversation.request.criterion
        state = run_state(self.run_dir) if self.names() and self.run_dir is not None else None
        llm_json = self.llm_json()
        reply = self.conversation.answer(text, self.names(), len(self.images), criterion, llm_json,
                                         preview=(lambda action: preview_action(state, action)) if state else None)
        if llm_json is None and not self._warned:
            self._warned = True
            self.conversation.say("assistant", f"Note: {self.model_problem} Until then I read your messages with "
                                               "simple rules, and runs cannot start.")
        if reply.start is not None:
            self.start(reply.start)
        elif reply.apply:
            self.apply(reply.apply)
        return reply

    def new_run(self) -> None:
        """Forget the current clusters in the chat (the run folder stays on disk)."""
        self.run_dir, self.conversation = None, Conversation()

    # jobs ---------------------------------------------------------------------------------------------
    def _with_stop(self, stop: threading.Event) -> Context:
        return replace(self.context(), stop=stop)

    def start(self, request: Request) -> Job:
        criterion = make_criterion(request.criterion, request.preset)
        for text in request.instructions:
            criterion = criterion.with_instruction(text)
        self.runs += 1
        self.run_dir = self.folder / f"run-{self.runs}"
        run_dir, images, labels = self.run_dir, list(self.images), self.labels

        def work(on_event: Callable[[dict[str, Any]], None], stop: threading.Event) -> Any:
            return start_run(images, criterion, settings=self.settings, out_dir=run_dir, labels=labels, on_event=on_event,
                             context=self._with_stop(stop), **request.run_args())

        return self._launch("first run", work)

    def apply(self, actions: list[Action]) -> Job:
        run_dir = self.run_dir
        assert run_dir is not None

        def work(on_event: Callable[[dict[str, Any]], None], stop: threading.Event) -> Any:
            result = None
            for action in actions:
                result = refine_run(run_dir, action, on_event=on_event, context=self._with_stop(stop))
            return result

        return self._launch("; ".join(describe_action(a) for a in actions), work)

    def resume(self) -> Job:
        run_dir = self.run_dir
        assert run_dir is not None
        return self._launch("resume", lambda on_event, stop: resume_run(run_dir, on_event=on_event,
                                                                         context=self._with_stop(stop)))

    def _launch(self, title: str, work: Callable[..., Any]) -> Job:
        self.job = Job(title, work).start()
        return self.job

    def stop(self) -> None:
        if self.job is not None:
            self.job.stop.set()

    def report_job(self) -> str | None:
        """Once per finished job: what it did, said in the chat."""
        job = self.job
        if job is None or job.running or self.reported is job:
            return None
        self.reported = job
        text = (not job.error and not job.stopped and fairness.outcome(self, job.result)) or outcome(job)
        self.conversation.say("assistant", text)
        return text


def outcome(job: Job) -> str:
    if job.stopped:
        return ("Stopped. Everything finished so far is kept; press **Continue** to finish the run "
                "(only the missing work is done).")
    if job.error:
        return f"That did not work: {job.error}"
    result = job.result
    results = result.results
    sizes = ", ".join(f"{c['name']} ({c['size']})" for c in results["clusters"])
    calls = ", ".join(f"{step} {c['model_calls']}" for step, c in results["calls"].items())
    lines = [f"Done in {job.seconds:.1f} s ({job.title}): {len(results['cluster_names'])} clusters: {sizes}.",
             f"Model calls by step: {calls}."]
    if result.failed:
        lines.append(f"{result.failed} image(s) failed; see the Clusters tab. **Continue** retries them.")
    if result.changes is not None:
        moved, renamed = result.changes["moved"], result.changes["renamed"]
        lines.append(f"{len(moved)} image(s) moved" + (":" if moved else "."))
        lines += [f"- {Path(m['image']).name}: {m['from'] or '(none)'} → {m['to'] or '(none)'}" for m in moved[:10]]
        if len(moved) > 10:
            lines.append(f"- … and {len(moved) - 10} more (Versions tab)")
        lines += [f"Renamed: {old} → {new}" for old, new in renamed.items()]
    return "\n".join(lines)
