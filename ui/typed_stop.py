""""stop" typed in the chat: while a job runs it is the Stop button (a newcomer's "stop" was held, and read after the
job as a criterion: "I could not tell what to group by..."); when nothing runs it is told so."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ictc.nodes.actions import describe_action

if TYPE_CHECKING:
    from ictc.ui.session import Session

# the whole message; "cancel" (and "stop that") only during a job: with nothing running they drop what waits for go
STOP = re.compile(r"(?:please\s+)?(?:stop|halt|abort)(?:\s+(?:it|now|the run|the job|the change|running))?(?:\s+please)?")
STOP_JOB = re.compile(r"(?:please\s+)?(?:stop|halt|abort|cancel)(?:\s+(?:it|that|now|the run|the job|the change|running))?"
                      r"(?:\s+please)?")


def typed_stop(session: Session, text: str) -> str | None:
    """The reply to `text` when it asks to stop, as said in the chat (the user's words and the reply are added to
    the session's conversation; the job, when one runs, is asked to stop as the Stop button does: its outcome is
    said when it ends); None when `text` is not a stop ("stop considering colour" is a change, read as before)."""
    lowered = text.strip().lower().rstrip(".!")
    job = session.job
    if job is not None and job.running and STOP_JOB.fullmatch(lowered):
        elsewhere = " (started in another window on this run)" if job.id != session.launched else ""
        reply = (f"Stopping {job.title}{elsewhere}: what is done is kept; **Continue** finishes it."
                 if not job.stop.is_set() else f"Already stopping {job.title}: its outcome follows.")
        session.stop()
    elif (job is None or not job.running) and STOP.fullmatch(lowered):
        waiting = "; ".join(describe_action(a) for a in session.conversation.pending)
        reply = ("Nothing is running to stop." + (f" Waiting for go: {waiting}; say **no** to drop it." if waiting else ""))
    else:
        return None
    session.conversation.say("user", text)
    session.conversation.say("assistant", reply)
    session.save()
    return reply
