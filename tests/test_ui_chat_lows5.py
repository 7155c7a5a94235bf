"""Lows a newcomer and a review found in the chat app (fifth pass): a message held in one tab during a job was lost on
that tab's reload (the other tab's save wrote its own empty one); two tabs changing the change waiting for go at once:
the last to save won, unsaid."""

from __future__ import annotations

import threading
from typing import Any

from test_ui_app import (  # noqa: F401 (workspace, finished_app: fixtures)
    finished_app,
    messages,
    open_app,
    say,
    token_of,
    wait_for_job,
    workspace,
)
from test_ui_chat_lows3 import gated_finished_run

from ictc.ui import jobs
from ictc.ui.run_chat import read_chat


def rename_held_during_a_split(colour_images):
    """Tabs A and B on one finished session whose LLM waits at a gate (left shut): A said "split Red in two" and "go",
    and B's "rename Blue to Sea" was held during it: (A, B, ctx, llm); the caller opens the gate."""
    first, ctx, llm = gated_finished_run(colour_images)
    second = open_app(ctx, token=token_of(first))
    llm.gate = threading.Event()
    try:
        say(first, "split Red in two")
        say(first, "go")
        assert say(second, "rename Blue to Sea").startswith("A job is running")
    except BaseException:
        llm.gate.set()  # the split's job is not left waiting
        raise
    return first, second, ctx, llm


def said_once(first, second, start: str) -> None:
    """Asserts that a reply beginning with `start` is in chat.json and in each tab's messages exactly once."""
    session = second.session_state["ictc_session"]
    for chat in (read_chat(session.run_dir)[0], first.session_state["ictc_session"].conversation.messages,
                 session.conversation.messages):
        said = [m["text"] for m in chat]
        assert sum(m.startswith(start) for m in said) == 1, said


def test_a_message_held_in_one_tab_survives_its_reload_and_is_read_once(colour_images):
    """Tabs A and B on one session; B said "rename Blue to Sea" during A's split (held), then A said "help": A's save
    wrote its own empty held message over B's, and B reloaded found nothing held: the rename was never read."""
    first, second, ctx, llm = rename_held_during_a_split(colour_images)
    try:
        say(first, "help")  # A saves the session while B's message waits
        second = open_app(ctx, token=token_of(first))  # B reloaded
        assert second.session_state["ictc_session"].held == "rename Blue to Sea"
    finally:
        llm.gate.set()
    wait_for_job(first)  # A reports the split first: B's message is read once, there
    wait_for_job(second)
    session = second.session_state["ictc_session"]
    jobs.job_for(str(session.run_dir)).thread.join(60)  # the rename
    first.run()
    second.run()
    assert "Sea" in session.names() and "Blue" not in session.names(), session.names()
    said_once(first, second, "Now “rename Blue to Sea”: Applying")
    assert session.results()["version"] == 2  # one rename (not two); the split found one group: no version of its own


def test_two_tabs_changing_the_waiting_change_at_once_say_which_one_waits(finished_app):  # noqa: F811
    """Tab A previewed a split; A's "4 groups" and B's "5 groups" were read at once: A saved last and its K=4 silently
    took the place of the K=5 B had just been told waits, and "go" in B applied K=4."""
    first, ctx = finished_app
    second = open_app(ctx, token=token_of(first))
    one = first.session_state["ictc_session"]
    assert say(first, "split Red in two").endswith("Say **go** to apply, or correct me.")
    llm_json = one.llm_json

    def b_talks_meanwhile() -> Any:  # B is answered while A reads its message
        assert "use K=5" in say(second, "5 groups")
        return llm_json()

    one.llm_json = b_talks_meanwhile
    one.chat("4 groups")
    del one.llm_json
    said = one.conversation.messages[-1]["text"]
    assert said.endswith("\n\nThe other window changed the change waiting for go meanwhile, to: use K=5. Say **go** "
                         "for that one, or say yours again."), said
    assert say(second, "go") == "Applying: use K=5."
    assert "(use K=5)" in wait_for_job(second)


def test_a_change_left_waiting_by_the_other_tab_while_this_one_applied_its_own_still_waits(finished_app):  # noqa: F811
    """A said "go" to its split while B previewed "5 groups" at once: B's K stays waiting (A's tab says so), not
    dropped with the split A applied."""
    first, ctx = finished_app
    second = open_app(ctx, token=token_of(first))
    one = first.session_state["ictc_session"]
    say(first, "split Red in two")
    llm_json = one.llm_json

    def b_talks_meanwhile() -> Any:
        assert "use K=5" in say(second, "5 groups")
        return llm_json()

    one.llm_json = b_talks_meanwhile
    one.chat("go")
    del one.llm_json
    assert one.conversation.messages[-1]["text"].endswith(
        "\n\nThe other window left a change waiting for go meanwhile: use K=5; say **go** to apply it.")
    wait_for_job(first)
    # A's split found one group (Red's images share one label): no version was made, so B's version 1 is still the
    # current one and its "go" applies the K with no word of another version
    assert say(second, "go") == "Applying: use K=5."


def test_the_stop_says_the_work_in_flight_that_continue_will_count_as_done():
    """Stopped at "describe (23/60)": the 8 calls then in flight finished after it and were kept, and the Continue's
    "30 done before the stop" disagreed with the Stop's count, unexplained."""
    from dataclasses import replace

    from ictc.core.settings import Settings
    from ictc.ui.jobs import Job
    from ictc.ui.outcomes import outcome

    job = Job("first run", lambda on_event, stop: None)
    job.stopped = True
    job.on_event({"step": "describe", "total": 60})
    job.on_event({"step": "describe", "advance": 23})
    endpoint = replace(Settings(), backend="openai", concurrency=8, batch_size=0)
    assert outcome(job, endpoint).startswith(
        "Stopped during Step 1 · describe (23/60 done; up to 8 more, in flight at the Stop, finish and are kept: "
        "**Continue** counts them as done before the stop). Everything finished so far is kept;")
    job.on_event({"step": "describe", "advance": 33})  # 4 left: no more than those in flight
    assert "(56/60 done; up to 4 more, in flight" in outcome(job, endpoint)
    job.on_event({"step": "name_clusters", "total": 1})  # one call, not many at once: nothing more to say
    assert outcome(job, endpoint).startswith("Stopped during Step 2b · name clusters (0/1 done). Everything")


def test_a_message_held_across_a_stop_in_two_tabs_is_answered_once(colour_images):
    """Tabs A and B; B said "rename Blue to Sea" during A's split, then A said "stop": the tab that reported the
    stopped split first read the rename and held it again for after Continue ("That waits: ..."), and the other tab,
    reporting the same split, found it held and read it again: the same reply twice in the chat (three times once)."""
    first, second, ctx, llm = rename_held_during_a_split(colour_images)
    try:
        assert say(first, "stop").startswith("Stopping")
    finally:
        llm.gate.set()
    wait_for_job(first)
    wait_for_job(second)
    first.run()
    second.run()
    session = second.session_state["ictc_session"]
    said_once(first, second, "Now “rename Blue to Sea”: That waits:")
    assert first.session_state["ictc_session"].held == session.held == "rename Blue to Sea"  # still read after Continue
