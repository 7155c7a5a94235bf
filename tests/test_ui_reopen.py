"""Opening a run again (Recent runs, another browser, after New run) shows the conversation that produced it,
kept in the run's folder (ui/run_chat.py); a bad kept chat does not stop the run from opening; a stopped run is
listed with its criterion and K."""

from __future__ import annotations

import pytest
from test_ui_app import (  # noqa: F401 (workspace, finished_app: fixtures)
    finished_app,
    open_app,
    say,
    slow_run,
    stop_after,
    wait_for_job,
    workspace,
)

from ictc.nodes.actions import SetK


def chat_of(app) -> list[tuple[str, str]]:
    return [(m["role"], m["text"]) for m in app.session_state["ictc_session"].conversation.messages]


def test_a_run_opened_in_another_session_shows_its_conversation(finished_app):  # noqa: F811
    app, ctx = finished_app
    say(app, "merge Green and Blue into Cool")
    wait_for_job(app)
    run_dir = app.session_state["ictc_session"].run_dir
    produced = chat_of(app)
    other = open_app(ctx)  # another browser: its own, empty chat
    assert ("user", "group these by colour, 3 groups") not in chat_of(other)
    assert other.selectbox(key="recent-run").value == str(run_dir)
    other.button(key="open-run").click().run()
    assert not other.exception, other.exception
    shown = chat_of(other)
    assert shown[:len(produced)] == produced  # the criterion, the go, the merge and their replies, in order
    assert shown[-1][1].startswith(f"Opened {run_dir}")
    assert "merge Green and Blue into Cool" in "\n".join(m.value for m in other.markdown)  # on the page too


def test_a_run_opened_again_after_new_run_shows_its_conversation_not_the_new_one(finished_app):  # noqa: F811
    app, ctx = finished_app
    run_dir = app.session_state["ictc_session"].run_dir
    app.button(key="new-run").click().run()
    say(app, "group by shape, 2 groups")
    session = app.session_state["ictc_session"]
    session.queued = [SetK(2)]  # left by another run's stopped change: Continue on this one must not apply it
    app.selectbox(key="recent-run").set_value(str(run_dir)).run()
    app.button(key="open-run").click().run()
    shown = chat_of(app)
    assert ("user", "group these by colour, 3 groups") in shown and ("user", "group by shape, 2 groups") not in shown
    assert session.queued == []
    app.button(key="new-run").click().run()
    app.selectbox(key="recent-run").set_value(str(run_dir)).run()
    app.button(key="open-run").click().run()  # opened again with no talk between: one "Opened" line, not two
    assert sum(text.startswith(f"Opened {run_dir}: ") for _, text in chat_of(app)[-2:]) == 1, chat_of(app)[-3:]
    from ictc.ui.sources import from_folder  # a path to one image: said as a file, not "not found"

    with pytest.raises(ValueError, match="is a file: give the folder that holds the images"):
        from_folder(__file__)


def test_a_bad_kept_chat_is_said_in_one_line_and_the_run_opens(finished_app):  # noqa: F811
    app, ctx = finished_app
    run_dir = app.session_state["ictc_session"].run_dir
    for bad in ("{not json", '{"messages": [{"role": "robot", "text": 3}]}', "[1, 2]"):
        (run_dir / "chat.json").write_text(bad, "utf-8")
        other = open_app(ctx)
        other.button(key="open-run").click().run()
        assert not other.exception, other.exception
        shown = chat_of(other)
        assert len(shown) == 2, (bad, shown)
        assert shown[0][1].startswith("The earlier chat of this run is not shown: ") and str(run_dir / "chat.json") in shown[0][1]
        assert shown[1][1].startswith(f"Opened {run_dir}: **colour**, 3 clusters")


def test_a_stopped_run_is_listed_with_its_criterion_and_k(colour_images):
    app, ctx = slow_run(colour_images)
    stop_after(app, ctx, 2)
    run_dir = app.session_state["ictc_session"].run_dir
    label = open_app(ctx).selectbox(key="recent-run").format_func(str(run_dir))
    assert " · colour · K=3 · interrupted, 8 images" in label, label


def test_the_chat_names_images_with_their_sub_folder(colour_images):
    """A blue photo saved as more/red_0.png was said as "red_0.png", the name of a red photo beside it."""
    import shutil
    from pathlib import Path

    from fakes import fake_context

    paths, labels = colour_images
    folder = Path(paths[0]).parent
    labels.unlink()
    (folder / "more").mkdir()
    shutil.copy(folder / "blue_0.png", folder / "more" / "red_0.png")
    app = open_app(fake_context())
    from test_ui_app import use_folder

    use_folder(app, folder)
    say(app, "group by colour, 3 groups")
    say(app, "go")
    assert wait_for_job(app).startswith("Done in")
    say(app, "remove Blue")  # Step 3 again on Blue's images only: each said as moved
    say(app, "go")
    done = wait_for_job(app)
    assert "- more/red_0.png: 'Blue' → " in done and "- blue_0.png: 'Blue' → " in done, done
    assert "- red_0.png" not in done
    from ictc.ui.views import short_name  # the thumbnails' captions too (both had read "red_0.png")

    labels = []
    for cluster in app.session_state["ictc_session"].names():  # each cluster opened, its thumbnails drawn
        app.session_state["cluster-pick"] = cluster
        app.run()
        labels += [b.label for b in app.button]
    assert short_name("more/red_0.png") == "more/red_0.png" and "more/red_0.png" in labels and "red_0.png" in labels, labels


def test_files_that_are_no_image_are_named_with_their_sub_folder():
    from ictc.ui.outcomes import failed_said

    rows = [{"image": "/photos/a/x.jpg", "status": "failed", "reason": "read: cannot identify image file"},
            {"image": "/photos/b/x.jpg", "status": "failed", "reason": "read: cannot identify image file"},
            {"image": "/photos/ok.png", "status": "ok", "reason": ""}]
    assert "(a/x.jpg, b/x.jpg;" in failed_said(rows)
    one_folder = [rows[1], {**rows[2], "image": "/photos/b/ok.png"}]
    assert "(x.jpg;" in failed_said(one_folder)  # all in one folder: the file name alone, as before


def test_enter_in_the_folder_path_chooses_the_folder(colour_images):
    """Enter in the path box had only kept the text: the folder was chosen only by the button. In a form (Enter
    submits it, as in a real browser, checked by hand in Chromium) the box and the button choose it alike."""
    from pathlib import Path

    from fakes import fake_context

    paths, _ = colour_images
    app = open_app(fake_context())
    app.radio(key="source").set_value("Folder on the server").run()
    box, button = app.text_input(key="folder"), app.button(key="use-folder")
    assert box.form_id and box.form_id == button.form_id  # one form: Enter in the box submits it
    box.input(str(Path(paths[0]).parent))
    button.click().run()
    assert "8 images" in app.success[0].value
