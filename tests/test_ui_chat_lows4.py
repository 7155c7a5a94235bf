"""Lows a newcomer found in the chat app (fourth pass): two tabs on one session each kept their own change waiting
for go, and "go" in one applied what the other had replaced; two tabs watching one job both said its outcome."""

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
from test_ui_chat_lows2 import stopped_first_run
from test_ui_chat_lows3 import gated_finished_run

from ictc.ui.run_chat import read_chat


def test_two_tabs_on_one_session_share_the_change_waiting_for_go(finished_app):  # noqa: F811
    """Tab A previewed "split Red in two"; tab B (the same ?session=) said "4 groups", previewed without "No longer
    waiting: split ..."; "go" in A then applied the split, and the K the shared chat last previewed was dropped."""
    first, ctx = finished_app
    second = open_app(ctx, token=token_of(first))
    assert say(first, "split Red in two").endswith("Say **go** to apply, or correct me.")
    said = say(second, "4 groups")
    assert "No longer waiting: split 'Red' into 2." in said, said
    assert say(first, "go") == "Applying: use K=4."
    done = wait_for_job(first)
    assert done.startswith("Done in") and "(use K=4)" in done, done
    assert "No longer waiting" not in say(second, "5 groups")  # the K applied in A no longer waits in B



def two_tabs_after_a_change(colour_images) -> tuple[Any, Any]:
    """Tabs A and B on one session; A split Red, and B said "rename Blue to Sea" while it ran (held); the split is
    done, and neither tab has reported it yet."""
    first, ctx, llm = gated_finished_run(colour_images)
    second = open_app(ctx, token=token_of(first))
    llm.gate = threading.Event()
    try:
        say(first, "split Red in two")
        say(first, "go")
        assert say(second, "rename Blue to Sea").startswith("A job is running")
    finally:
        llm.gate.set()
    first.session_state["ictc_session"].job.thread.join(60)
    return first, second


def said_once(*chats: list[dict[str, str]]) -> None:
    """The split's outcome, the rename held and its reply, once each in each of `chats`."""
    for chat in chats:
        said = [m["text"] for m in chat]
        assert sum(m.startswith("Done in") and "(split 'Red' into 2)" in m for m in said) == 1, said
        assert said.count("rename Blue to Sea") == 1, said
        assert sum(m.startswith("Now “rename Blue to Sea”: Applying") for m in said) == 1, said


def test_two_tabs_watching_one_job_say_its_outcome_once(colour_images):
    """Two tabs on one session watched a change run; both said its "Done in ..." (in each tab, session.json and the
    run's chat.json): B checked the chat for it after A had, and before A had written it."""
    first, second = two_tabs_after_a_change(colour_images)
    one, two = first.session_state["ictc_session"], second.session_state["ictc_session"]
    save, saves = one.save, []

    def save_then_the_other_tab_reports(**kwargs: Any) -> None:  # B reports while A is between its steps
        save(**kwargs)
        saves.append(1)
        if len(saves) == 1:
            two.report_job()

    one.save = save_then_the_other_tab_reports
    one.report_job()
    del one.save
    wait_for_job(second)
    first.run()
    said_once(read_chat(one.run_dir)[0], one.conversation.messages, two.conversation.messages)


def test_a_message_held_in_one_tab_is_shown_once_when_another_tab_talks_meanwhile(colour_images):
    """B's message held during A's change was shown twice once read ("rename Blue to Sea", then its reply without
    "Now ..."): A's messages, merged in before it as B read it, had hidden it from report_job."""
    first, second = two_tabs_after_a_change(colour_images)
    two = second.session_state["ictc_session"]
    chat = two.chat

    def a_talks_first(text: str) -> Any:  # A is answered while B reads its held message
        say(first, "thanks")
        return chat(text)

    two.chat = a_talks_first
    two.report_job()
    del two.chat
    wait_for_job(second)
    said_once(read_chat(two.run_dir)[0], two.conversation.messages)


def test_a_split_into_fewer_than_two_parts_is_refused(finished_app):  # noqa: F811
    """"split 1 into 0" was read as "split 'Green' into 2", unsaid: a part count under 2 is refused, as "k=1" is."""
    app, _ = finished_app
    for text, n in (("split 1 into 0", 0), ("split Red into 1", 1), ("split green into one", 1)):
        said = say(app, text)
        assert said.endswith(f"cannot be done: a split needs at least 2 parts, not {n}."), said
        assert "\n" not in said
    assert say(app, "go").startswith("Nothing is waiting")


def test_the_llm_s_split_into_fewer_than_two_parts_is_kept_for_the_split_to_refuse():
    """The LLM's reading of a split into 0 parts had become a split into 2, as the rules' had."""
    import json

    from ictc.nodes.actions import Split
    from ictc.ui.intent_llm import read_by_llm

    class Answers:
        def __init__(self, parts: object):
            self.parts = parts

        def invoke(self, *args: object, **kwargs: object) -> tuple[str, None]:
            return json.dumps({"intent": "split", "clusters": ["Red"], "parts": self.parts}), None

    names = ["Green", "Red", "Blue"]
    assert read_by_llm(Answers(0), "split red into none", names, "colour").action == Split("Red", 0)
    assert read_by_llm(Answers(3), "split red in three", names, "colour").action == Split("Red", 3)
    assert read_by_llm(Answers(None), "split red", names, "colour").action == Split("Red", 2)


def test_the_overview_s_warning_rounds_the_share_as_its_table_does():
    """The warning said "green holds 67% of the clustered images" beside the table's 66.7%."""
    from ictc.ui.views import overview_table, warnings

    results = {"clusters": [{"name": "green", "size": 6}, {"name": "red", "size": 2}, {"name": "blue", "size": 1}],
               "images": [], "summary": {"images": 9, "clustered": 9}}
    assert overview_table(results)["share"][0] == 66.7
    assert warnings(results)[0].startswith("**green** holds 66.7% of the clustered images.")


def test_an_undo_on_astopped_first_run_drops_the_new_k_taken_for_it(colour_images):
    """"actually 3 groups" on a first run stopped before its results (taken for Continue), then "undo": the generic
    "This run ... stopped before its results" reply, and the K stayed taken, unsaid."""
    app, ctx = stopped_first_run(colour_images, 2)
    assert say(app, "actually 3 groups").startswith("Taken: K=3 applies when the run continues.")
    assert say(app, "undo") == ("Dropped: K=3 no longer applies when the run continues. **Continue** (or say continue) "
                                "finishes the run as it was started (K=2).")
    assert say(app, "undo").startswith("Nothing to undo: this run stopped before its results, and no new K waits")
    say(app, "continue")
    done = wait_for_job(app)
    assert done.startswith("Done in") and "K=3" not in done, done


def test_a_split_that_found_one_group_says_so_and_no_new_names(finished_app):  # noqa: F811
    """A split whose images all went to one part (they share one label) was said as "Split Warm into 2: Red (3),
    Warm 1 (0)", an empty cluster listed as a part, then "New names from Step 2b: Green, Red, Warm 1, Blue": names
    the split had not changed said as new. Then the empty part stayed as a cluster ("Warm 1 (0)") for the user to drop:
    now the one group keeps the cluster's name and no empty part is made."""
    app, _ = finished_app
    say(app, "rename Red to Warm")
    wait_for_job(app)
    say(app, "split Warm in two")
    say(app, "go")
    done = wait_for_job(app)
    assert ("\nSplit **Warm** found only one group: its 3 images stay in Warm (Warm 1 got none), so the clusters are as "
            "they were and no new version was made. Try another change (an instruction, or more groups).") in done, done
    assert "New names" not in done and "(0)" not in done, done
    assert app.session_state["ictc_session"].names() == ["Green", "Warm", "Blue"]
