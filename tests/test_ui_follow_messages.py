"""A second tab on the session redrawn while the first tab's job runs shows that job's progress and the first tab's
messages that started it (they had shown only once the job ended), and takes in messages said there meanwhile."""

from __future__ import annotations

from pathlib import Path

from test_ui_app import (  # noqa: F401 (workspace: a fixture)
    SlowVLM,
    messages,
    open_app,
    say,
    token_of,
    use_folder,
    workspace,
)
from test_ui_follow_and_stop import _a_change_in_the_first_tab

from ictc.ui import follow

from fakes import fake_context


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


def tabs_before_the_run(colour_images):
    """Tabs A and B on one new session with the 8 colour images chosen and no run yet (a slow VLM: A's run lasts)."""
    paths, _ = colour_images
    ctx = fake_context(vlm=SlowVLM(), concurrency=1)
    tab_a = open_app(ctx)
    use_folder(tab_a, Path(paths[0]).parent)
    tab_b = open_app(ctx, token=token_of(tab_a))
    assert tab_b.session_state["ictc_session"].run_dir is None
    return tab_a, tab_b


def test_a_second_tab_opened_before_the_first_run_follows_it(colour_images):
    """Tab B, open on the session before any run, showed neither the first run's progress nor its outcome (it had no
    run to follow) until a reload: it now loads the session again once the other tab's run is in session.json."""
    tab_a, tab_b = tabs_before_the_run(colour_images)
    try:
        assert not follow.news(tab_b.session_state["ictc_session"])
        say(tab_a, "group by colour, 3 groups")
        say(tab_a, "go")
        assert follow.news(tab_b.session_state["ictc_session"])  # B's watch redraws B
        shown = tab_b.run()
        session = shown.session_state["ictc_session"]
        assert session.busy and session.run_dir == tab_a.session_state["ictc_session"].run_dir
        assert "go" in messages(shown) and any(c.key == "stop" for c in shown.button)
    finally:
        job = tab_a.session_state["ictc_session"].job
        job.stop.set()
        job.thread.join(60)
