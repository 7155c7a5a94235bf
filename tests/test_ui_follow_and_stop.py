"""What a newcomer found driving the chat app in Chromium: a second tab on the session did not follow a change started
in the first (and then acted on clusters it had never shown), "stop" typed during a job was held and read as a
criterion, a reading before any image promised "go", and a message said while a change waited half-done was dropped."""

from __future__ import annotations

import threading
from typing import Any

import streamlit as st
from test_ui_app import (  # noqa: F401 (workspace: a fixture)
    messages,
    open_app,
    say,
    slow_run,
    stop_after,
    token_of,
    wait_for_job,
    workspace,
)
from test_ui_chat_lows2 import stopped_change
from test_ui_chat_lows3 import gated_finished_run

from ictc.core.settings import load_settings
from ictc.ui import follow
from ictc.ui.conversation import Conversation
from ictc.ui.jobs import Job
from ictc.ui.stopped import stopped_said


def _a_change_in_the_first_tab(colour_images) -> tuple[Any, Any, Any]:
    """Tabs A and B on one session after a finished first run (version 1, 3 groups); A started "one more group" and
    its job waits at Step 3 behind the returned gate (set it to let the change end). B has not been redrawn since."""
    first, ctx, llm = gated_finished_run(colour_images)
    second = open_app(ctx, token=token_of(first))
    llm.gate = threading.Event()
    say(first, "one more group")
    say(first, "go")
    return first, second, llm.gate


def _chat(app: Any) -> list[str]:
    """The texts of the chat `app` shows (the older ones fold into an expander)."""
    return [m["text"] for m in app.session_state["ictc_session"].conversation.messages]


def test_an_idle_tab_on_a_run_looks_for_another_tab_s_job(colour_images, monkeypatch: Any):
    """Tab B, drawn once and idle, never redrew during A's change: no "Working", progress or Stop. An idle page on a
    run now looks every few seconds (a fragment run on a timer) and redraws itself when another tab's job started."""
    first, second, gate = _a_change_in_the_first_tab(colour_images)
    try:
        two = second.session_state["ictc_session"]
        assert follow.news(two)  # A's job, not taken by B yet: B's watch redraws B
        timers: list[Any] = []
        fragment = st.fragment

        def recorded(*args: Any, **kwargs: Any) -> Any:
            timers.append(kwargs.get("run_every"))
            return fragment(*args, **kwargs)

        monkeypatch.setattr(st, "fragment", recorded)
        third = open_app(first.session_state["context_factory"](None), token=token_of(first))
        gate.set()
        first.session_state["ictc_session"].job.thread.join(60)
        third.run()  # idle again, on the new version: a page that looks on a timer
        assert follow.WATCH_SECONDS in timers, timers
        redrawn = second.run()  # the watch's redraw: B now shows A's change as its own job's outcome
        assert not follow.news(second.session_state["ictc_session"])
        assert " · version 2 · " in "\n".join(m.value for m in redrawn.markdown)
    finally:
        gate.set()


def test_a_second_tab_takes_in_a_change_that_ended_unseen_and_says_its_view_was_stale(colour_images):
    """After A's change ended, B (not redrawn meanwhile) lacked A's messages and still showed version 1; its "merge the
    last two" then merged clusters it had never shown, unsaid."""
    first, second, gate = _a_change_in_the_first_tab(colour_images)
    gate.set()
    first.session_state["ictc_session"].job.thread.join(60)
    said = say(second, "merge the last two")
    chat = _chat(second)
    assert "one more group" in chat and any(m.startswith("Done in") for m in chat), chat  # A's words and outcome
    assert said.endswith("(this window was showing version 1; now version 2)"), said
    assert chat.index("one more group") < chat.index("merge the last two")


def test_a_second_tab_redrawn_after_the_change_shows_the_other_tab_s_messages(colour_images):
    first, second, gate = _a_change_in_the_first_tab(colour_images)
    gate.set()
    first.session_state["ictc_session"].job.thread.join(60)
    shown = messages(second.run())  # a tab click, no message: A's chat was missing until a reload
    assert any(m.startswith("Done in") and "(use K=4)" in m for m in shown), shown
    chat = _chat(second)
    assert "one more group" in chat and sum(m.startswith("Done in") and "(use K=4)" in m for m in chat) == 1, chat
    assert " · version 2 · " in "\n".join(m.value for m in second.markdown)


def test_stop_typed_during_a_job_stops_it(colour_images):
    """ "stop" typed while a run worked was held, and read after the run as a criterion ("I could not tell what to
    group by...")."""
    app, ctx = slow_run(colour_images)
    say(app, "stop")
    # the reply, then (the Stop taking effect at once under load) the job's outcome may already follow it
    assert any(m.startswith("Stopping first run: what is done is kept") for m in messages(app)), messages(app)
    done = wait_for_job(app)
    assert done.startswith("Stopped during "), done
    assert not any("could not tell" in m for m in messages(app))
    assert app.session_state["ictc_session"].held == ""


def test_stop_typed_with_nothing_running_says_so(colour_images):
    app, ctx = slow_run(colour_images)
    wait_for_job(app)
    assert say(app, "stop") == "Nothing is running to stop."
    assert say(app, "stop considering colour") != "Nothing is running to stop."  # a change, read as before


def test_a_reading_before_any_image_says_they_must_be_chosen_first():
    """Before any image: "My reading: group by colour; K = 3. Say go to run it", then "go": "Choose the images first"."""
    said = Conversation().answer("group these by colour, 3 groups", [], 0).text
    assert "Say **go** to run it" not in said and "choose the images first, on the left" in said, said


def test_one_image_says_it_cannot_run_and_1_group_is_refused_in_words():
    chat = Conversation()
    chat.answer("group these by colour, 3 groups", [], 0)
    said = chat.answer("1 group", [], 1).text
    assert "K must be 2 or more, not 1" in said and "It cannot run yet: only 1 image is chosen" in said, said
    assert "Say **go** to run it" not in said


def test_a_change_said_while_another_waits_half_done_is_kept_and_read_after_continue(colour_images):
    """ "rename 1 to First" said while a stopped change waited was dropped with "...then say it again"."""
    app, ctx = stopped_change(colour_images)
    said = say(app, "rename 1 to First")
    assert said.startswith("That waits: the change stopped half-way (") and "say it again" not in said, said
    assert "I will read “rename 1 to First” then" in said, said
    say(app, "continue")
    wait_for_job(app)  # the change finished, then the rename read
    done = wait_for_job(app)
    assert done.startswith("Done in") and "(rename " in done, done
    assert any(m.startswith("Now “rename 1 to First”: Applying") for m in _chat(app)), _chat(app)
    assert "First" in app.session_state["ictc_session"].names()


def test_a_stop_counts_the_images_done_as_the_continue_does_the_failed_ones_apart():
    """A folder with one unreadable file, stopped during Step 1: the Stop said "22/26 done" counting the broken file,
    which has no description, and the Continue "21 done before the stop": the failed file is now said apart."""
    job = Job("criterion change", lambda on_event, stop: None)
    job.on_event({"step": "describe", "total": 26, "done": 0})
    job.on_event({"step": "describe", "advance": 2, "failed": 1})  # broken.png and one described
    job.on_event({"step": "describe", "advance": 20})
    settings = load_settings({"backend": "openai", "concurrency": 2, "batch_size": 1}, env_file=None)
    said = stopped_said(job, settings)
    assert said.startswith("Stopped during Step 1 · describe (21/26 done, 1 failed: **Continue** tries it again; "
                           "up to 2 more, in flight at the Stop"), said
