"""The Streamlit app driven by streamlit.testing's AppTest with fake models: choose images, set the
criterion in the chat, see the clusters, refine with an instruction (only Step 3 re-runs), inspect an
image's traces, export; plus stop/continue, missing K, upload limits, session isolation; a reload (a new
browser session with the same ?session= token) bringing the work back, a running job re-attached, recent
runs, undo and restore, the overview and warnings, paging, splits after merges, new images."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ictc.evaluation.traces import pass_summary, read_traces

from fakes import FakeVLM, fake_context, step_calls

APP = str(Path(__file__).parent.parent / "ui" / "app.py")


@pytest.fixture(autouse=True)
def workspace(tmp_path, monkeypatch):
    """Each test's sessions and runs in its own workspace."""
    monkeypatch.setenv("ICTC_WORKSPACE", str(tmp_path / "workspace"))
    return tmp_path / "workspace"


def open_app(ctx, token: str = "", tab: str = "") -> AppTest:
    """A new browser session; with `token` it is a reload of that session's page."""
    app = AppTest.from_file(APP, default_timeout=60)
    app.session_state["context_factory"] = lambda settings: ctx
    if token:
        app.query_params["session"] = token
    if tab:
        app.session_state["tab"] = tab
    return app.run()


def open_tab(app: AppTest, tab: str) -> AppTest:
    app.session_state["tab"] = tab
    return app.run()


def headings(app: AppTest) -> list[str]:
    """The cluster headings of the Clusters tab ("1. Green · 3")."""
    return [m.value[5:] for m in app.markdown if m.value.startswith("#### ")]


def texts(app: AppTest) -> str:
    return "\n".join(m.value for m in app.markdown)


def use_folder(app: AppTest, folder: Path) -> None:
    app.radio(key="source").set_value("Folder on the server").run()
    app.text_input(key="folder").input(str(folder)).run()
    app.button(key="use-folder").click().run()


def say(app: AppTest, text: str) -> str:
    app.chat_input(key="chat").set_value(text).run()
    assert not app.exception, app.exception
    return app.chat_message[-1].markdown[0].value


def wait_for_job(app: AppTest) -> str:
    session = app.session_state["ictc_session"]
    session.job.thread.join(60)
    assert not session.job.running
    app.run()
    assert not app.exception, app.exception
    return app.chat_message[-1].markdown[0].value


@pytest.fixture
def finished_app(colour_images):
    paths, _ = colour_images
    ctx = fake_context()
    app = open_app(ctx)
    use_folder(app, Path(paths[0]).parent)
    assert "8 images" in app.success[0].value and "metrics on" in app.success[0].value
    reading = say(app, "group these by colour, 3 groups")
    assert "group by **colour**" in reading and "K = **3**" in reading and "go" in reading
    assert app.session_state["ictc_session"].job is None  # nothing runs before the user says go
    say(app, "go")
    done = wait_for_job(app)
    assert done.startswith("Done in") and "3 clusters" in done
    return app, ctx


def test_set_criterion_by_chat_and_see_the_clusters(finished_app):
    app, ctx = finished_app
    assert headings(app) == ["1. Green · 3", "2. Red · 3", "3. Blue · 2"]
    assert len(ctx.vlm.calls) == 8
    open_tab(app, "Metrics")
    assert [m.label for m in app.metric][:3] == ["ACC (Hungarian)", "NMI", "ARI"]
    assert app.metric[0].value == "1.000"


def test_refine_with_an_instruction_reruns_only_step_3_and_says_what_changed(finished_app):
    app, ctx = finished_app
    before = {"vlm": len(ctx.vlm.calls), "label": step_calls(ctx.llm, "Criterion: colour")}
    preview = say(app, "instruction 3 Prefer warm colours.")
    assert "redoes Step 3 on 8 images only" in preview and "Say **go** to apply" in preview
    say(app, "go")
    done = wait_for_job(app)
    assert "assign 8" in done and "describe 0" in done and "label 0" in done and "0 image(s) moved" in done
    assert len(ctx.vlm.calls) == before["vlm"] and step_calls(ctx.llm, "Criterion: colour") == before["label"]
    run_dir = app.session_state["ictc_session"].run_dir
    assert pass_summary(read_traces(run_dir))[2] == {"assign": {"called": 8, "cached": 0}}
    assert "version 2" in texts(app)


def test_merge_by_name_in_words_reports_the_images_that_moved(finished_app):
    app, _ = finished_app
    applying = say(app, "merge Green and Blue into Cool")  # no model is called: no "go" needed
    assert "Applying (no model is called): merge 'Green' and 'Blue' into 'Cool'" in applying
    done = wait_for_job(app)
    assert "5 image(s) moved" in done and "→ Cool" in done
    assert headings(app) == ["1. Cool · 5", "2. Red · 3"]
    assert "**ictc:** Done in" in texts(app)  # the status line above the results says it too
    open_tab(app, "Versions")
    assert "From v1 to v2: 5 image(s) moved" in texts(app)  # the Versions tab, v1 beside v2


def test_clicking_an_image_shows_its_description_label_answer_and_traces(finished_app):
    app, _ = finished_app
    app.button(key="img-0").click().run()
    assert not app.exception
    text = texts(app)
    assert "A plain square filled with blue" in text and "**Raw label (Step 2a):** blue" in text
    labels = [e.label for e in app.expander]
    assert any(label.startswith("Step 1 · describe · fake-vlm") for label in labels)
    assert any(label.startswith("Step 3 · assign · fake-llm") for label in labels)
    assert any("Criterion: colour" in c.value for c in app.code)  # the filled Step-2a prompt


def test_export_zip_has_one_folder_per_cluster(finished_app):
    app, _ = finished_app
    open_tab(app, "Export")
    assert [b.label for b in app.get("download_button")] == ["Results CSV", "Results JSON"]
    app.button(key="zip-make").click().run()
    run_dir = app.session_state["ictc_session"].run_dir
    archive = zipfile.ZipFile(io.BytesIO(app.session_state[f"zip-{run_dir}-1"]))
    folders = {name.split("/")[0] for name in archive.namelist() if "/" in name}
    assert folders == {"Green", "Red", "Blue"} and "results.csv" in archive.namelist()
    assert sum(name.endswith(".png") for name in archive.namelist()) == 8
    assert "Download zip" in [b.label for b in app.get("download_button")]


def test_missing_k_is_asked_for_not_guessed(colour_images):
    paths, _ = colour_images
    app = open_app(fake_context())
    use_folder(app, Path(paths[0]).parent)
    assert "How many groups" in say(app, "group them by colour")
    assert "I still need how many groups" in say(app, "go")
    assert app.session_state["ictc_session"].job is None
    assert "K must be between 2 and the 8 images" in say(app, "use 12 groups")
    assert "K = **4**" in say(app, "make it four groups")


def test_stop_keeps_finished_work_and_continue_finishes_the_run(colour_images):
    class SlowVLM(FakeVLM):
        def respond(self, messages, **kwargs):
            time.sleep(0.3)
            return super().respond(messages, **kwargs)

    paths, _ = colour_images
    ctx = fake_context(vlm=SlowVLM(), concurrency=1)
    app = open_app(ctx)
    use_folder(app, Path(paths[0]).parent)
    say(app, "group by colour, 3 groups")
    say(app, "go")
    session = app.session_state["ictc_session"]
    while len(ctx.vlm.calls) < 2:
        time.sleep(0.05)
    app.run()
    app.button(key="stop").click().run()
    stopped = wait_for_job(app)
    assert session.job.stopped and stopped.startswith("Stopped.")
    described = len(ctx.vlm.calls)
    assert 2 <= described < 8
    app.button(key="continue").click().run()
    assert wait_for_job(app).startswith("Done in")
    assert len(ctx.vlm.calls) == 8  # only the images not yet described were described


def test_two_sessions_have_their_own_runs_and_threads(colour_images):
    paths, _ = colour_images
    apps = [open_app(fake_context()), open_app(fake_context())]
    for app, k in zip(apps, (2, 3), strict=True):
        use_folder(app, Path(paths[0]).parent)
        say(app, f"group by colour, {k} groups")
        say(app, "go")
    for app in apps:
        wait_for_job(app)
    sessions = [app.session_state["ictc_session"] for app in apps]
    assert sessions[0].run_dir != sessions[1].run_dir
    assert [len(s.names()) for s in sessions] == [2, 3]
    threads = {(s.run_dir / "run.json").read_text().split('"thread_id": "')[1][:32] for s in sessions}
    assert len(threads) == 2


def test_uploads_over_the_limits_are_refused_by_name(tmp_path, monkeypatch):
    from PIL import Image

    from ictc.ui import sources

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buffer, "PNG")
    png = buffer.getvalue()
    monkeypatch.setattr(sources, "MAX_UPLOAD_FILE_MB", 1)
    files = [("a.png", png), ("notes.txt", b"hello"), ("big.jpg", b"x" * (2 * 2**20)), ("../evil.png", png),
             ("text.jpg", b"not a picture at all")]
    chosen = sources.from_uploads(files, tmp_path / "up")
    assert [Path(p).name for p in chosen.paths] == ["a.png", "evil.png"]
    assert all(Path(p).parent == tmp_path / "up" for p in chosen.paths)
    assert chosen.problems[:2] == ["notes.txt: not an image file name (.bmp .gif .jpeg .jpg .png .tif .tiff .webp)",
                                   "big.jpg: 2.0 MB; the limit is 1 MB per file"]
    assert chosen.problems[2].startswith("text.jpg: not an image (cannot identify image file")


def test_a_missing_model_is_said_in_the_chat_and_nothing_runs(colour_images):
    from ictc.core.errors import ModelUnavailableError

    def no_models(settings):
        raise ModelUnavailableError("vlm", "some/vlm", "not downloaded yet", "local")

    paths, _ = colour_images
    app = AppTest.from_file(APP, default_timeout=60)
    app.session_state["context_factory"] = no_models
    app.run()
    use_folder(app, Path(paths[0]).parent)
    say(app, "group by colour, 3 groups")
    messages = [m.markdown[0].value for m in app.chat_message]
    assert any("The VLM 'some/vlm' is not available" in m for m in messages)
    say(app, "go")
    assert "The VLM 'some/vlm' is not available" in wait_for_job(app)
    assert app.session_state["ictc_session"].results() is None
