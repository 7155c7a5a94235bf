"""What the chat says of a job the user stopped (ui/outcomes.py outcome): how far it got, and the work in flight."""

from __future__ import annotations

from ictc.core.settings import Settings
from ictc.ui.jobs import STEP_TITLES, Job

PER_IMAGE = {STEP_TITLES[step] for step in ("describe", "label", "assign")}  # the steps whose calls run many at once


def stopped_said(job: Job, settings: Settings) -> str:
    """What a stopped `job` says: the step it stopped in with its images done, and the calls then in flight, which
    finish after the Stop and are kept (stored), so that a Continue counts them as done before the stop: the Stop had
    said "(23/60)" and the Continue "30 done before the stop", unexplained. In flight: at most a batch
    (settings.resolved_batch_size) per call at once (`concurrency`; one batch at a time for local models), and no
    more than the images left. The images whose call failed (an unreadable file) are said apart, not among those
    done: the Continue counts only the answers it finds, and tries the failed ones again (the Stop had said "22/26"
    and the Continue "21 done before the stop", the one broken file making the difference)."""
    steps = [(title, t) for title, t in job.progress() if t.get("total")]
    if not steps:
        return "Stopped. Everything finished so far is kept; press **Continue** to finish it (only the missing work is done)."
    title, tally = steps[-1]
    at_once = settings.resolved_batch_size() * (1 if settings.backend == "local" else max(settings.concurrency, 1))
    flight = min(at_once, tally["total"] - tally["done"]) if title in PER_IMAGE else 0
    failed = tally.get("failed", 0) if title in PER_IMAGE else 0
    more = f", {failed} failed: **Continue** tries {'it' if failed == 1 else 'them'} again" if failed else ""
    more += (f"; up to {flight} more, in flight at the Stop, finish and are kept: **Continue** counts them as done "
             "before the stop" if flight else "")
    return (f"Stopped during {title} ({tally['done'] - failed}/{tally['total']} done{more}). Everything finished so "
            "far is kept; press **Continue** to finish it (only the missing work is done).")
