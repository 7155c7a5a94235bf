"""A second tab on a run following what the first does there. An idle page is drawn once and then waits for its user:
a change started in tab A (same ?session=) was never seen in tab B: no "Working", progress or Stop, and after it
the old K and version, the chat without A's messages, and a "merge the last two" typed in B merged clusters B had
never shown. Here: what tells an idle page to redraw (news), what it takes in when it does (catch_up), and the words
that say a message was read on a newer version than the page showed (answer)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ictc.ui import jobs
from ictc.ui.run_chat import merged_chat, read_chat

if TYPE_CHECKING:
    from ictc.ui.session import Session

WATCH_SECONDS = 1.5  # how often an idle page on a run looks for another tab's job or messages (a stat and a small read)


def run_started_elsewhere(session: Session) -> bool:
    """True when the page of `session` has no run but its session.json, written since this page last read or wrote it,
    names one: another tab on the session started the first run (that tab had been followed only once a run was
    shown in both; this one showed neither its progress nor its outcome until a reload). app.current_session then
    loads the session again from its record."""
    if session.run_dir is not None:
        return False
    path = session.folder / "session.json"
    try:
        if path.stat().st_mtime_ns == session.waiting_base[0]:  # not written since: a stat per look
            return False
        return bool(json.loads(path.read_text("utf-8")).get("run_dir"))
    except (OSError, ValueError):
        return False


def news(session: Session) -> bool:
    """True when the page of `session` (on a run: idle, or following a job) is behind the run: another tab started a
    job on it (running or ended since) that this page has not taken, or wrote messages to its chat.json this page does
    not show."""
    if session.run_dir is None:
        return run_started_elsewhere(session)
    job = jobs.job_for(str(session.run_dir))
    if job is not None and job is not session.job and job.id != session.reported:
        return True
    base = session.chat_base[1] if session.chat_base[0] == str(session.run_dir) else None
    theirs = read_chat(session.run_dir)[0]  # [] when unreadable: no news (a redraw would not mend it)
    return base is not None and bool(theirs) and theirs != base


def catch_up(session: Session) -> None:
    """Before a redraw or a message: the job another tab started on the run becomes this session's (running: its
    progress and Stop show here; ended: report_job says its outcome here, once in the run's chat), and the messages
    another tab wrote to the run's chat.json since this page last read or wrote it are taken in, before this page's
    own unsaved ones (run_chat.merged_chat), while a job runs too (app.status_line redraws the page for them)."""
    session.follow_run_job()
    run_dir = session.run_dir
    if run_dir is None:
        return
    job = jobs.job_for(str(run_dir))
    if not session.busy and job is not None and job is not session.job and job.id != session.reported:
        session.job = job  # ended before this page saw it
    # during a job too: the other tab's words that started it (and any said since) had shown only once it ended
    if session.chat_base[0] == str(run_dir):
        theirs = read_chat(run_dir)[0]
        if theirs and theirs != session.chat_base[1]:
            session.conversation.messages = merged_chat(session.conversation.messages, theirs, session.chat_base[1])
            session.chat_base = (str(run_dir), [dict(m) for m in theirs])


def watch(session: Session, fragment: Callable[..., Any], rerun: Callable[[], Any]) -> None:
    """Draws nothing; on an idle page (on a run, or before any), looks every WATCH_SECONDS for news and redraws the page when
    there is some. `fragment` and `rerun`: Streamlit's st.fragment and st.rerun (passed in: this module draws
    nothing itself, and its tests need no page)."""
    if session.busy:  # a running job's page redraws itself (app.status_line); a page with no run looks for the first
        return

    @fragment(run_every=WATCH_SECONDS)
    def look() -> None:
        if news(session):
            rerun()

    look()


def answer(session: Session, text: str, shown: tuple[str, int] | None) -> None:
    """Answers the message `text` (Session.chat) on the run's current version; `shown` (run folder, version) is what
    this page last drew. When the run has moved on since (another tab's change), the reply says so: "(this window was
    showing version 3; now version 4)" (it acts on version 4, as the chat beside now shows)."""
    results = session.results()
    now = results["version"] if results is not None else None
    stale = shown is not None and session.run_dir is not None and shown[0] == str(session.run_dir) \
        and now is not None and shown[1] != now
    said = len(session.conversation.messages)
    session.chat(text)
    if not stale or shown is None:
        return
    chat = session.conversation.messages
    # its reply: the first of ours after its words (another tab's messages may have been merged in before them)
    mine = next((n for n in range(said, len(chat)) if chat[n] == {"role": "user", "text": text}), len(chat))
    at = next((n for n in range(mine, len(chat)) if chat[n]["role"] == "assistant"), None)
    if at is not None:
        chat[at]["text"] += f"\n\n(this window was showing version {shown[1]}; now version {now})"
        session.save()
