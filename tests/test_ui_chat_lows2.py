"""Lows a newcomer found in the chat app (second pass): a Continue that made two versions said only the last one's
model calls; a new K said in words did not say the K it replaced; the stopped run's help suggested a K it refuses;
two browsers on one run overwrote each other's chat.json; the folder box kept the previous folder after a run was
opened; a new K previewed with "say go" while a change stopped half-way made it wait."""

from __future__ import annotations

from pathlib import Path

from test_ui_app import (  # noqa: F401 (workspace, finished_app: fixtures)
    SlowVLM,
    finished_app,
    open_app,
    say,
    stop_after,
    use_folder,
    wait_for_job,
    workspace,
)

from fakes import fake_context


def stopped_first_run(colour_images, k: int, **settings):
    """A session whose first run on the 8 colour images (`k` groups; SlowVLM, one call at a time; `settings` for
    fake_context) was stopped after its second description: (app, ctx)."""
    paths, _ = colour_images
    ctx = fake_context(vlm=SlowVLM(), concurrency=1, **settings)
    app = open_app(ctx)
    use_folder(app, Path(paths[0]).parent)
    say(app, f"group by colour, {k} groups")
    say(app, "go")
    stop_after(app, ctx, 2)
    return app, ctx


def stopped_change(colour_images):
    """A session whose finished run on the 8 colour images had its criterion change ("shade") stopped after two more
    descriptions: (app, ctx)."""
    from test_ui_app import slow_run

    app, ctx = slow_run(colour_images)
    wait_for_job(app)
    say(app, "group by shade instead")
    say(app, "go")
    stop_after(app, ctx, len(ctx.vlm.calls) + 2)
    return app, ctx

def test_a_continue_that_makes_two_versions_says_the_calls_of_each(colour_images):
    """A new K taken on a stopped first run, then Continue: the outcome said "describe 0, label 0, ..." after Step 1
    had just finished: version 2's calls alone (and the images placed by label of both versions added up)."""
    app, ctx = stopped_first_run(colour_images, 3, names_from_labels="on", assign_by_label="on")
    assert say(app, "actually 2 groups").startswith("Taken: K=2")
    say(app, "continue")
    done = wait_for_job(app)
    assert "(resume; then use K=2): 2 clusters" in done, done
    tally = app.session_state["ictc_session"].job.steps["describe"]
    kept, calls, stored = tally["before"], tally["calls"], tally["stored"]
    store = f", {stored} of them found in the store" if stored else ""
    first = f"finishing the run (version 1): describe {calls} ({kept + stored} done before the stop{store}), label 8, "
    assert f"Model calls by step: {first}" in done, done
    assert "; then use K=2 (version 2): describe 0, label 0, " in done, done
    assert "assign 0 (8 image(s) placed by their label: no model call); then" in done, done  # version 1's 8, not both's


def test_a_new_k_in_words_says_the_k_it_replaces(colour_images):
    """"actually 3 groups" at K=2 was said back as K=3 alone, before a run, after one and on a stopped first run."""
    paths, _ = colour_images
    app = open_app(fake_context())
    use_folder(app, Path(paths[0]).parent)
    assert "K was" not in say(app, "group by colour, 2 groups")
    said = say(app, "actually 3 groups")
    assert said.startswith("My reading: group by **colour**; K = **3**. K was 2; now 3. Say **go**"), said
    say(app, "go")
    wait_for_job(app)  # 3 clusters
    said = say(app, "actually 2 groups")
    assert said.startswith("I read:\n- use K=2") and "\n\nK was 3; now 2.\n\nSay **go**" in said, said


def test_a_new_k_for_astopped_first_run_says_the_k_it_replaces(colour_images):
    app, _ = stopped_first_run(colour_images, 2)
    assert say(app, "actually 3 groups").startswith("Taken: K=3 applies when the run continues. K was 2; now 3. ")
    assert say(app, "no, 4 groups").startswith("Taken: K=4 applies when the run continues. K was 3; now 4. ")


def test_the_stopped_run_s_help_gives_as_example_a_k_it_takes(colour_images):
    """A run started with K=4 and stopped: its help said 'a new K, e.g. "4 groups", is taken now', the very K it then
    refused ("This run was started with K=4")."""
    import re

    app, _ = stopped_first_run(colour_images, 4)
    for asked in ("help", "what now?"):
        said = say(app, asked)
        example = re.search(r'a new K, e\.g\. "(\d+) groups"', said)
        assert example and example[1] != "4", said
        assert say(app, f"{example[1]} groups").startswith(f"Taken: K={example[1]} applies"), example[1]
        assert f'"{example[1]} groups"' not in say(app, asked)  # once taken, another is given
    session = app.session_state["ictc_session"]
    session.images = session.images[:2]  # no K but the run's own would be taken: none is given
    assert session.k_example() == 0


def test_two_browsers_on_one_run_keep_each_other_s_messages(finished_app):  # noqa: F811
    """Two browsers open on one run each wrote their whole chat to its chat.json: the last save won, the other
    session's messages were gone from the run's conversation."""
    from ictc.ui.run_chat import read_chat

    first, ctx = finished_app
    run_dir = first.session_state["ictc_session"].run_dir
    second = open_app(ctx)
    second.button(key="open-run").click().run()
    for n in range(2):  # alternately; alike messages ("thanks") are both kept
        say(first, f"thanks {n}")
        say(second, "thanks")
        say(second, f"hello from the second {n}")
        say(first, "thanks")
    kept = [m["text"] for m in read_chat(run_dir)[0] if m["role"] == "user"]
    assert kept[:2] == ["group these by colour, 3 groups", "go"]
    assert kept[2:] == ["thanks 0", "thanks", "hello from the second 0", "thanks",
                        "thanks 1", "thanks", "hello from the second 1", "thanks"], kept
    assert sum(m["text"].startswith(f"Opened {run_dir}") for m in read_chat(run_dir)[0]) == 1
    reopened = open_app(ctx)  # a third browser sees the whole conversation
    reopened.button(key="open-run").click().run()
    assert "hello from the second 1" in [m["text"] for m in reopened.session_state["ictc_session"].conversation.messages]


def test_the_folder_box_shows_the_folder_of_a_run_opened_from_recent_runs(finished_app, tmp_path):  # noqa: F811
    """After a run was opened from Recent runs, the sidebar's folder box still showed the folder used before."""
    from fakes import make_images

    app, ctx = finished_app
    session = app.session_state["ictc_session"]
    first_run, first_folder = session.run_dir, str(Path(session.images[0]).parent)
    others, _ = make_images(tmp_path / "others", {"red": 2, "blue": 2})
    use_folder(app, Path(others[0]).parent)
    assert app.text_input(key="folder").value == str(Path(others[0]).parent)
    app.selectbox(key="recent-run").set_value(str(first_run)).run()
    app.button(key="open-run").click().run()
    assert not app.exception, app.exception
    assert session.run_dir == first_run and app.text_input(key="folder").value == first_folder
    reloaded = open_app(ctx, token=app.query_params["session"])  # a reload shows it too (session.json)
    assert reloaded.text_input(key="folder").value == first_folder


def test_a_change_previewed_while_another_waits_half_done_is_told_to_wait_at_once(colour_images):
    """With a criterion change stopped half-way, "3 groups" was previewed with "Say **go** to apply", and the go
    then answered "That waits": the preview had promised what could not be done."""
    app, ctx = stopped_change(colour_images)
    said = say(app, "2 groups")
    assert said.startswith("That waits: the change stopped half-way (") and "Say **go**" not in said, said
    session = app.session_state["ictc_session"]
    assert session.conversation.pending == [] and session.job.stopped  # nothing waits for a go, nothing started
    assert say(app, "go").startswith("Continuing the run")  # nothing waits: go finishes the change (RETRY)
