"""Small faults a newcomer found in the chat app (the "lows" pass): after a restart the chat still said
"Running", a resumed run listed as interrupted, thanks not read as thanks, counts that did not add up."""

from __future__ import annotations

import threading

from test_ui_app import (  # noqa: F401 (workspace: a fixture)
    messages,
    open_app,
    restart_server,
    slow_run,
    stop_after,
    texts,
    wait_for_job,
    workspace,
)

from ictc.ui import jobs
from ictc.ui.jobs import Job


def test_a_job_lost_to_a_restart_is_said_interrupted_in_the_chat_not_left_running(colour_images):
    """`ictc ui` stopped while the first run ran: the page's last chat line had still said "Running: ..."."""
    app, ctx = slow_run(colour_images)
    session = app.session_state["ictc_session"]
    session.stop()  # the server goes away mid-job: its end is never said on this page
    session.job.thread.join(60)
    assert messages(app)[-1].startswith("Running: ")
    restarted = restart_server(app, ctx)
    said = messages(restarted)
    assert said[-2].startswith("Running: ")  # the history stays as it was
    assert said[-1].startswith("This run was interrupted before it finished") and "**Continue**" in said[-1]
    again = restart_server(restarted, ctx)  # said once, not at every reload
    assert messages(again) == said
    assert texts(again).count("This run was interrupted") == 1
    again.button(key="continue").click().run()
    assert wait_for_job(again).startswith("Done in")
    assert messages(restart_server(again, ctx))[-1].startswith("Done in")  # a job reported is no job lost


def test_a_run_being_resumed_is_listed_as_resuming_not_interrupted(colour_images):
    """Recent runs listed a run Continue was finishing (no results yet) as "interrupted: open it to continue"."""
    app, ctx = slow_run(colour_images)
    stop_after(app, ctx, 2)
    run_dir = app.session_state["ictc_session"].run_dir
    label = open_app(ctx).selectbox(key="recent-run").format_func
    assert "interrupted, 8 images" in label(str(run_dir))  # stopped: nothing runs on it
    gate = threading.Event()
    job = jobs.register(str(run_dir), Job("resume", lambda on_event, stop: gate.wait(60)).start())
    try:
        label = open_app(ctx).selectbox(key="recent-run").format_func
        assert "resuming now, 8 images" in label(str(run_dir)) and "interrupted" not in label(str(run_dir))
    finally:
        gate.set()
        job.thread.join(60)
    assert "interrupted" in open_app(ctx).selectbox(key="recent-run").format_func(str(run_dir))
