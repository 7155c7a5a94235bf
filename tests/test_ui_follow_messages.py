"""A second tab on the session redrawn while the first tab's job runs shows that job's progress and the first tab's
messages that started it (they had shown only once the job ended), and takes in messages said there meanwhile."""

from __future__ import annotations

from test_ui_app import messages, say, workspace  # noqa: F401 (workspace: a fixture)
from test_ui_follow_and_stop import _a_change_in_the_first_tab

from ictc.ui import follow


def test_a_second_tab_shows_the_other_tab_s_messages_while_its_job_runs(colour_images):
    first, second, gate = _a_change_in_the_first_tab(colour_images)
    try:
        shown = second.run()  # B's watch redraws it: A's job is running
        two = second.session_state["ictc_session"]
        assert two.busy and any(c.key == "stop" for c in shown.button)  # progress and Stop, as before
        said = messages(shown)
        assert "one more group" in said and "go" in said, said  # and now what A said to start it
        assert not follow.news(two)  # taken in: no redraw loop
        say(first, "rename Red to Warm")  # held by A until the job ends ("I will read ... when it is done")
        assert follow.news(two)  # B's live status line redraws the page for it
        assert "rename Red to Warm" in messages(second.run())
    finally:
        gate.set()
        first.session_state["ictc_session"].job.thread.join(60)
