"""What the tabs of one browser session (the same ?session= in two tabs, each with its own Session in memory) share
through the session's session.json: the reading and the changes waiting for go, and the message held during a job.
Each tab remembers them as it last read or wrote the file (its base): what it did not change since is taken from the
file when another tab changed it, so one tab's save does not write back its stale copy over the other's."""

from __future__ import annotations

import json
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ictc.evaluation.outputs import write_json
from ictc.nodes.actions import action_dict, describe_action, parse_action
from ictc.ui.conversation import Conversation, Request

SHARED = ("request", "pending", "held", "held_read")  # session.json's keys the tabs share
_locks: dict[str, threading.RLock] = {}
_locks_lock = threading.Lock()


def saving(folder: Path) -> threading.RLock:
    """The lock of the session in `folder`: its session.json's read-merge-write, one at a time in this server (the
    tabs' pages answer in threads of their own); other sessions' saves do not wait for it."""
    with _locks_lock:
        return _locks.setdefault(str(folder), threading.RLock())


class SessionTabs:
    """The shared-state half of Session: the reading, the changes waiting for go and the held message, merged with
    what another tab on the session wrote to session.json."""

    folder: Path
    conversation: Conversation
    held: str  # a message said during a job, read when the job is done (Session.report_job)
    held_read: str  # the id of the last job whose end read a held message (take_held), in whichever tab
    # SHARED as session.json held them when last read or written here, and the file's mtime then
    waiting_base: tuple[int, dict[str, Any]] = (0, {})

    def _shared(self) -> dict[str, Any]:
        """This tab's SHARED values, as session.json keeps them."""
        return {"request": asdict(self.conversation.request),
                "pending": [action_dict(a) for a in self.conversation.pending], "held": self.held,
                "held_read": self.held_read}

    def _waiting_read(self, record: dict[str, Any]) -> None:
        """Remember `record`'s (session.json's) SHARED values as this tab's last view of them."""
        try:
            mtime = (self.folder / "session.json").stat().st_mtime_ns
        except OSError:
            mtime = 0
        self.waiting_base = (mtime, {"request": record.get("request", {}), "pending": record.get("pending", []),
                                     "held": str(record.get("held") or ""),
                                     "held_read": str(record.get("held_read") or "")})

    def adopt_waiting(self) -> str:
        """Take from session.json each SHARED value another tab on this session changed since this one last read or
        wrote it, and this one did not: one change waits, and one message is held, per session (two tabs had each
        kept their own: "go" in one applied a split the other had replaced by a new K, and a held message was written
        over by the other tab's empty one, lost on a reload). When both tabs changed the change waiting for go, the
        other's (saved first) is taken unless it is none (it applied or dropped the old one: this one's new change
        waits). Returns "" or, when this tab's change gave way, the one line that says so."""
        path = self.folder / "session.json"
        try:
            if path.stat().st_mtime_ns == self.waiting_base[0]:
                return ""
            record = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            return ""
        ours, base = self._shared(), self.waiting_base[1]
        theirs = {"request": record.get("request", {}), "pending": record.get("pending", []),
                  "held": str(record.get("held") or ""), "held_read": str(record.get("held_read") or "")}
        said = ""
        if base:  # a base read from the file (a new session has none: it takes nothing)
            take = [key for key in SHARED if theirs[key] != ours[key] and theirs[key] != base.get(key)
                    and (ours[key] == base.get(key) or (key == "pending" and theirs[key]))]
            if "request" in take:
                self.conversation.request = Request(**theirs["request"])
            if "pending" in take:
                self.conversation.pending = [parse_action(a) for a in theirs["pending"]]
                theirs_said = "; ".join(describe_action(a) for a in self.conversation.pending)
                if ours["pending"] and ours["pending"] != base.get("pending"):  # both changed it: the other's stands
                    said = (f"The other window changed the change waiting for go meanwhile, to: {theirs_said}. "
                            "Say **go** for that one, or say yours again.")
                elif ours["pending"] != base.get("pending"):  # this tab applied (or dropped) the old one
                    said = f"The other window left a change waiting for go meanwhile: {theirs_said}; say **go** to apply it."
            if "held" in take:
                self.held = theirs["held"]
            if "held_read" in take:
                self.held_read = theirs["held_read"]
        self._waiting_read(record)
        return said

    def take_held(self, job_id: str) -> str:
        """The message held during the job `job_id` (just ended), taken for this tab to read (session.json's, which
        every tab on the session writes as it holds one); "" when there is none, or another tab took it first at this
        job's end. Cleared here and in the file at once: two tabs reporting one job had both read it (a rename applied
        twice). The file also keeps the job whose end read it: the tab that read it may hold it again (for after
        Continue, when the job was stopped), and the other tab, reporting the same job, had read it a second time."""
        with saving(self.folder):
            self.adopt_waiting()  # the file's held message, unless this tab holds its own
            path = self.folder / "session.json"
            try:
                record = json.loads(path.read_text("utf-8")) if self.held else None
            except (OSError, ValueError):  # nothing saved (a session that never saved): its own, nothing to clear
                record = None
            if self.held_read == job_id or (isinstance(record, dict) and record.get("held_read") == job_id):
                return ""  # read at this job's end by another tab: what is held now waits for the next job
            held, self.held = self.held, ""
            if held:
                self.held_read = job_id
            if isinstance(record, dict):
                record["held"], record["held_read"] = "", job_id
                write_json(path, record)
                self._waiting_read(record)
            return held
