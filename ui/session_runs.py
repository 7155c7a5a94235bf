"""A browser session's images and run folders (ui/session.py Session): the images of the next run, choosing
other images (a new run), opening a run folder again, and New run."""

from __future__ import annotations

import json
from pathlib import Path

from ictc.core.errors import UsageError
from ictc.core.folders import entries_said
from ictc.ui import jobs
from ictc.ui.conversation import Conversation, Request
from ictc.ui.outcomes import images_root, new_images_said
from ictc.ui.run_chat import read_chat
from ictc.ui.session_jobs import SessionJobs


class SessionRuns(SessionJobs):
    """The images-and-runs half of Session: which images the next run takes and which run folder is current."""

    _images: list[str] | None  # None: the current run's, read from its folder when first needed
    images_source: str
    source_choice: dict[str, str]  # the sidebar's widgets that chose the images ({"source", "folder"}), for a reload
    chat_base: tuple[str, list[dict[str, str]]]  # the run folder and its chat.json as last read or written (Session.save)

    @property
    def images(self) -> list[str]:
        """The images of the next run: those chosen, or the current run's, read from its results (or, before
        any, its checkpoint) when first needed after a reload, since session.json does not repeat them."""
        if self._images is None:
            images: list[str] = []
            try:
                results = self.results() if self.run_dir is not None else None
            except ValueError:  # results.json unreadable (said where the results are shown): the checkpoint lists them
                results = None
            if results is not None:
                images = [row["image"] for row in results["images"]]
            elif self.run_dir is not None and (self.run_dir / "run.json").is_file():
                from ictc.graph.session import run_state

                images = [item["path"] for item in run_state(self.run_dir).get("images", [])]
            self._images = images  # set once read: a failure above leaves it to be read again, not empty for good
        return self._images

    @images.setter
    def images(self, paths: list[str]) -> None:
        """Choose `paths` (image files) as the images of the next run."""
        self._images = paths

    def use_images(self, paths: list[str], source: str, labels: str | None = None, left_out: list[str] | None = None) -> None:
        """Choose the images of the next run. Other images than the current run's start a new run: the
        current one stays on disk (Recent runs) and its criterion is kept as the starting reading.
        `left_out`: one line per file of the source that was not taken and why ("notes.txt: not an image
        ..."), said in the chat too (the sidebar that lists them folds away once images are chosen)."""
        changed = self.run_dir is not None and sorted(paths) != sorted(self.images)
        self.images, self.images_source, self.labels = paths, source, labels
        if left_out:
            source += (f" ({entries_said(line.partition(': ')[0] for line in left_out)} left out: " + "; ".join(left_out[:2])
                       + ("; ..." if len(left_out) > 2 else "") + ")")
        if changed:
            results, pending = self.results(), self.conversation.pending
            self.run_dir, self.conversation.pending = None, []
            self.conversation.request = Request(results["criterion"]["text"] if results else "",
                                                len(results["cluster_names"]) if results else 0)
            self.conversation.say("assistant", new_images_said(len(paths), source, results, pending,
                                                               self.conversation.request.reading()))
        elif self.run_dir is None:  # the first images: the status line moves on from "Choose images..."
            reading = self.conversation.request
            then = (f"My reading: {reading.reading()}." if reading.criterion or reading.k else
                    'Now tell me what to group them by and how many groups, e.g. "by the mood of the person, 4 groups".')
            if len(paths) < 2 or reading.k > len(paths):  # said now, not first at "go" (a newcomer's 1 of 3 uploads)
                then += (" Only 1 image can be used: a clustering needs at least 2." if len(paths) < 2 else
                         f" K={reading.k} is more than these {len(paths)} images: give a smaller K.")
            said, messages = f"Images ready: {len(paths)} from {source}. {then}", self.conversation.messages
            if not messages or messages[-1] != {"role": "assistant", "text": said}:  # the same folder sent again
                self.conversation.say("assistant", said)  # (Enter in its box, then the button): said once, not twice
        self.save()

    def open_run(self, run_dir: Path) -> None:
        """Show a run folder again (its images become the session's, their folder the folder box's: source_choice);
        one interrupted before its results is opened for Continue. Raises UsageError when `run_dir` has no run.json."""
        if not (run_dir / "run.json").is_file():
            raise UsageError(f"{run_dir} is not a run folder (no run.json)")
        meta = json.loads((run_dir / "run.json").read_text("utf-8"))
        self.run_dir, self.job = run_dir, jobs.job_for(str(run_dir))
        if self.job is not None and not self.job.running:
            self.reported = self.job.id  # its outcome was said where it was started
        self.images_source, self.labels = f"run {run_dir.parent.name}/{run_dir.name}", meta.get("labels")
        # the run's own conversation, not the one of the run shown before (that one is kept in its own folder)
        self.conversation.messages, problem = read_chat(run_dir)
        self.chat_base = (str(run_dir), [dict(m) for m in self.conversation.messages])  # its "Opened" line may go
        self.conversation.pending, self.queued = [], []  # what waited, or was to follow a stop, was the other run's
        if problem:  # the run opens all the same
            self.conversation.say("assistant", f"The earlier chat of this run is not shown: {problem}.")
        if (results := self.results()) is not None:  # parsed once, kept for the page (self._read)
            self._images = None  # the run's, listed when first needed
            said = f"{len(results['cluster_names'])} cluster{'s' if len(results['cluster_names']) != 1 else ''}, version {results['version']}."
        else:  # interrupted before any results: Continue finishes it
            from ictc.graph.session import run_state

            results = run_state(run_dir)
            self.images = [item["path"] for item in results.get("images", [])]
            said = "interrupted before its results; press **Continue** (or say continue) to finish it."
        messages = self.conversation.messages
        if messages and messages[-1]["text"].startswith(f"Opened {run_dir}: "):  # opened again with no talk between:
            messages.pop()  # one line, not one per opening (a newcomer's four alike)
        self.conversation.say("assistant", f"Opened {run_dir}: **{results['criterion']['text']}**, {said}")
        if folder := images_root(self.images):  # the sidebar's folder box shows it (it had kept the folder used before)
            self.source_choice = {**self.source_choice, "folder": folder}
        self.save()

    def new_run(self) -> None:
        """Forget the current clusters in the chat (the run folder stays on disk); its images stay chosen."""
        self.images = self.images  # read from the run's results before the run is forgotten (after a reload)
        self.run_dir, self.job, self.conversation = None, None, Conversation()
        self.save()
