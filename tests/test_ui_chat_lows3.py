"""Lows a newcomer found in the chat app (third pass): a message in a second window on a run while the first
window's change ran was told a change had "stopped half-way", and lost; an undo refused dropped the change waiting
for go unsaid; a K out of range in a first message dropped its criterion; the Overview's share and its warning
counted different images; the same folder sent twice said "Images ready" twice."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from test_ui_app import (  # noqa: F401 (workspace, finished_app: fixtures)
    finished_app,
    messages,
    open_app,
    say,
    use_folder,
    wait_for_job,
    workspace,
)

from ictc.ui.run_chat import read_chat

from fakes import FakeLLM, fake_context


class GatedLLM(FakeLLM):
    """Once `gate` is given, Step 2b and Step 3 wait for it to be set: a change is running for as long as a test needs."""

    gate: Any = None

    def respond(self, messages, **kwargs):
        if self.gate is not None and "sort images" in messages[0].content:
            assert self.gate.wait(60)
        return super().respond(messages, **kwargs)


def gated_finished_run(colour_images) -> tuple[Any, Any, GatedLLM]:
    """A session whose first run on the 8 colour images (3 groups) is done, with a GatedLLM whose Step-3 calls wait
    once its gate is set: (app, ctx, llm)."""
    paths, _ = colour_images
    llm = GatedLLM()
    ctx = fake_context(llm=llm)
    first = open_app(ctx)
    use_folder(first, Path(paths[0]).parent)
    say(first, "group by colour, 3 groups")
    say(first, "go")
    wait_for_job(first)
    return first, ctx, llm

def test_a_message_in_a_second_window_during_the_first_window_s_change_is_held_for_it(colour_images):
    """Window A split a cluster; while it ran, window B said a rename: it was answered "That waits: the change stopped
    half-way (split ...) comes first", which was false (nothing had stopped), and the rename was dropped."""
    first, ctx, llm = gated_finished_run(colour_images)
    second = open_app(ctx)
    second.button(key="open-run").click().run()
    llm.gate = threading.Event()
    try:
        say(first, "split Red in two")
        say(first, "go")
        assert first.session_state["ictc_session"].busy
        said = say(second, "rename Blue to Sea")
    finally:
        llm.gate.set()
    assert "stopped half-way" not in said, said
    assert said.startswith("A job is running") and "I will read “rename Blue to Sea” when it is done" in said, said
    wait_for_job(first)
    done = wait_for_job(second)  # the rename, read once the split was done
    assert done.startswith("Now “rename Blue to Sea”: Applying (no model is called)"), done
    wait_for_job(second)
    session = second.session_state["ictc_session"]
    assert "Sea" in session.names() and "Blue" not in session.names(), session.names()
    first.run()  # both windows saw the split end: its outcome is said once in the run's chat, not once per window
    said = [m["text"] for m in read_chat(session.run_dir)[0]]
    assert sum(m.startswith("Done in") and "(split 'Red' into 2)" in m for m in said) == 1, said
    assert sum(m.startswith("Done in") and "(split 'Red' into 2)" in m for m in messages(first)) == 1


def test_an_undo_refused_on_the_first_version_keeps_the_change_waiting_for_go(finished_app):  # noqa: F811
    """"4 groups" (previewed, "Say go to apply"), then "undo" on the first version: "Nothing to undo", and the "go"
    after it found "Nothing is waiting to be applied": the refused undo had dropped the K unsaid."""
    app, _ = finished_app
    assert "Say **go** to apply" in say(app, "4 groups")
    said = say(app, "undo")
    assert said == "Nothing to undo: this is the first version's state. Still waiting: use K=4; say **go** to apply it."
    assert say(app, "go") == "Applying: use K=4."
    assert wait_for_job(app).startswith("Done in")
    assert app.session_state["ictc_session"].results()["version"] == 2
    assert say(app, "5 groups").endswith("Say **go** to apply, or correct me.")  # an undo done drops it, and says so
    assert say(app, "undo").endswith("No longer waiting: use K=5.")


def test_going_back_to_a_version_the_run_lacks_is_said_at_once_and_keeps_the_change_waiting(finished_app):  # noqa: F811
    """"go back to version 99" had said "Going back to version 99", started a job and then "That did not work:
    /…/workspace/ui/<session>/run-1 has no version 99 (it has 1 to 1)", and dropped the change waiting for go."""
    app, _ = finished_app
    assert "Say **go** to apply" in say(app, "4 groups")
    first_run = app.session_state["ictc_session"].job
    said = say(app, "go back to version 99")
    assert said == ("There is no version 99: this run has version 1 only (the Versions tab lists them). Still waiting: "
                    "use K=4; say **go** to apply it."), said
    assert app.session_state["ictc_session"].job is first_run  # nothing started
    assert say(app, "go") == "Applying: use K=4."
    assert wait_for_job(app).startswith("Done in")
    assert say(app, "go back to version 3").startswith("There is no version 3: this run has versions 1 to 2 ")

def test_a_k_out_of_range_in_the_first_message_keeps_its_criterion(tmp_path):
    """"group by animal type, 10 groups" of 4 images: the reading said "criterion: not given yet" as well as the K
    refused; the criterion was lost with it."""
    from fakes import make_images

    paths, _ = make_images(tmp_path / "four", {"red": 2, "blue": 2})
    app = open_app(fake_context())
    use_folder(app, Path(paths[0]).parent)
    said = say(app, "group by animal type, 10 groups")
    assert said.startswith("My reading so far: group by **animal type**; K: *not given yet* (K must be between 2 and "
                           "the 4 images chosen, not 10). How many groups do you want (K, 2 to 4)?"), said
    assert say(app, "3 groups").startswith("My reading: group by **animal type**; K = **3**.")


def test_the_overview_s_share_and_its_warning_count_the_same_images():
    """An unreadable file among 22: the warning said "green holds 57% of the images" (12 of the 21 clustered) and the
    table beside it 54.55% (12 of all 22)."""
    from ictc.ui.views import overview_table, warnings

    results = {"clusters": [{"name": "green", "size": 12}, {"name": "red", "size": 5}, {"name": "blue", "size": 4}],
               "images": [], "summary": {"images": 22, "clustered": 21}}
    assert warnings(results)[0].startswith("**green** holds 57.1% of the clustered images.")
    assert overview_table(results)["share"] == [57.1, 23.8, 19.0]


def test_the_same_folder_sent_twice_says_images_ready_once(colour_images):
    """Enter in the folder box, then a click on "Use this folder": "Images ready: 8 from folder ..." twice in the
    chat and in session.json."""
    import json

    paths, _ = colour_images
    app = open_app(fake_context())
    use_folder(app, Path(paths[0]).parent)
    app.button(key="use-folder").click().run()
    assert sum(m.startswith("Images ready: 8 from folder ") for m in messages(app)) == 1, messages(app)
    session = app.session_state["ictc_session"]
    saved = json.loads((session.folder / "session.json").read_text("utf-8"))["messages"]
    assert sum(m["text"].startswith("Images ready: ") for m in saved) == 1
    say(app, "by colour")  # said again after other talk, it is said again: the reading it gives may have changed
    app.button(key="use-folder").click().run()
    assert messages(app)[-1].startswith("Images ready: 8 from folder ") and "My reading: " in messages(app)[-1]


def test_continue_with_nothing_to_continue_says_so_and_is_no_criterion(finished_app):  # noqa: F811
    """A newcomer's "continue" before any run became the reading "group by continue; K = 5" (the LLM's reading)."""
    app, ctx = finished_app
    fresh = open_app(ctx)
    assert say(fresh, "continue") == ("Nothing to continue: no run has started yet; tell me what to group by and how "
                                      "many groups (K).")
    say(fresh, "5 groups")
    assert say(fresh, "resume") == "Nothing to continue: no run has started yet; tell me what to group by."
    assert fresh.session_state["ictc_session"].conversation.request.criterion == ""
    assert say(app, "continue").startswith("Nothing to continue: the run is finished")


def test_a_preview_that_shows_every_image_does_not_call_them_the_first_ones(tmp_path):
    """One image chosen was previewed as "1 image chosen (folder ...); the first ones:"."""
    from fakes import make_images

    make_images(tmp_path / "one", {"red": 1})
    app = open_app(fake_context())
    use_folder(app, tmp_path / "one")
    said = [m.value for m in app.markdown if "chosen**" in m.value]
    assert said and said[0].startswith("**1 image chosen**") and said[0].endswith(":") and "first ones" not in said[0]
