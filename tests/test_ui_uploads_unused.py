"""Files in the Upload box without "Use the uploaded files" pressed: a "go" is answered by pointing at the button
(it had said "Choose the images first", or started the run on the images chosen before), once for those files."""

from __future__ import annotations

from pathlib import Path

from test_ui_app import (  # noqa: F401 (workspace: a fixture)
    messages,
    open_app,
    say,
    use_folder,
    wait_for_job,
    workspace,
)

from fakes import fake_context, make_images


def upload(app, folder: Path) -> None:
    app.radio(key="source").set_value("Upload").run()
    files = [(p.name, p.read_bytes(), "image/png") for p in sorted(folder.iterdir()) if p.suffix == ".png"]
    app.file_uploader(key="uploads").set_value(files).run()


def test_go_with_uploads_not_in_use_points_at_the_button(tmp_path):
    paths, _ = make_images(tmp_path / "up", {"red": 2, "blue": 2})
    app = open_app(fake_context())
    upload(app, Path(paths[0]).parent)
    say(app, "group by colour, 2 groups")
    reply = say(app, "go")
    assert "The 4 files uploaded are not in use yet: press **Use the uploaded files** in the sidebar" in reply, reply
    assert app.session_state["ictc_session"].job is None
    app.button(key="use-uploads").click().run()
    assert messages(app)[-1].startswith("Images ready: 4 from")
    assert say(app, "go").startswith("Running:")  # in use now: nothing more to point at
    assert wait_for_job(app).startswith("Done in")


def test_go_with_other_images_chosen_runs_on_them_when_said_again(colour_images, tmp_path):
    paths, _ = colour_images
    uploaded, _ = make_images(tmp_path / "up", {"red": 2, "blue": 2})
    app = open_app(fake_context())
    use_folder(app, Path(paths[0]).parent)
    upload(app, Path(uploaded[0]).parent)
    say(app, "group by colour, 3 groups")
    reply = say(app, "go")
    assert "press **Use the uploaded files**" in reply and "say **go** again to run on the 8 images chosen now" in reply
    assert app.session_state["ictc_session"].job is None
    assert say(app, "go").startswith("Running:")  # said once: the second go runs as asked
    wait_for_job(app)
    assert len(app.session_state["ictc_session"].results()["images"]) == 8
