"""The chat app on a run of 250,000 images (issue 19), checked at small N with the fakes: session.json does not
repeat the run's image list, a rename sent through the chat reads the run's per-image history once (no
second read for its preview), Stop stops a rename while its outputs are written and Continue records it, and
the Traces tab streams the trace file and pages its image picker."""

from __future__ import annotations

import json
from pathlib import Path

from langgraph.checkpoint.sqlite import SqliteSaver
from test_ui_app import (  # noqa: F401
    finished_app,
    open_app,
    open_tab,
    say,
    texts,
    token_of,
    wait_for_job,
    workspace,
)

from ictc.graph.session import RunSession
from ictc.ui import panels


def test_session_json_does_not_repeat_the_run_s_images(finished_app, colour_images):  # noqa: F811
    app, ctx = finished_app
    session = app.session_state["ictc_session"]
    text = (session.folder / "session.json").read_text("utf-8")
    assert json.loads(text)["images"] is None
    assert not any(Path(path).name in text for path in colour_images[0])  # no per-image path at all
    reloaded = open_app(ctx, token=token_of(app))  # the images come back from the run folder
    assert "8 images" in reloaded.success[0].value
    assert sorted(reloaded.session_state["ictc_session"].images) == sorted(colour_images[0])


def test_images_chosen_before_a_run_are_kept_for_a_reload(colour_images):
    from test_ui_app import use_folder

    from fakes import fake_context

    ctx = fake_context()
    app = open_app(ctx)
    use_folder(app, Path(colour_images[0][0]).parent)
    reloaded = open_app(ctx, token=token_of(app))
    assert len(reloaded.session_state["ictc_session"].images) == 8


def test_a_rename_through_the_chat_reads_the_run_s_history_once(finished_app, monkeypatch):  # noqa: F811
    app, _ = finished_app
    reads = []
    original = SqliteSaver.get_delta_channel_history

    def counted(self, **kwargs):
        reads.append(1)
        return original(self, **kwargs)

    monkeypatch.setattr(SqliteSaver, "get_delta_channel_history", counted)
    assert "Applying (no model is called): rename 'Red' to 'Warm'" in say(app, "rename Red to Warm")
    done = wait_for_job(app)
    assert "'Red' → 'Warm'" in done
    assert len(reads) == 1  # the refinement's own read; none for the chat's preview, none for its finish


def test_stop_during_a_rename_s_outputs_then_continue_records_it(finished_app, monkeypatch):  # noqa: F811
    app, _ = finished_app
    session = app.session_state["ictc_session"]

    def stop_when_writing(self, done, words):  # Stop pressed while the outputs are being written
        if done == 1:
            self.ctx.stop.set()

    with monkeypatch.context() as patch:
        patch.setattr(RunSession, "_phase", stop_when_writing)
        say(app, "rename Red to Warm")
        stopped = wait_for_job(app)
    assert session.job.stopped and stopped.startswith("Stopped")
    app.button(key="continue").click().run()
    assert wait_for_job(app).startswith("Done in")
    assert session.results()["history"] == ["first run", "rename 'Red' to 'Warm'"]


def test_the_traces_tab_streams_the_traces_and_pages_the_image_picker(finished_app, monkeypatch):  # noqa: F811
    """No whole-file read (read_traces, wherever the app would import it from), and picking an image parses
    that image's trace lines only, not the file's."""
    import sys

    from ictc.evaluation import traces

    app, _ = finished_app

    def whole_file(*args):
        raise AssertionError("the whole trace file was read into memory")

    for module in [traces, *(m for name, m in sys.modules.items() if name.startswith("ictc.ui"))]:
        if hasattr(module, "read_traces"):
            monkeypatch.setattr(module, "read_traces", whole_file)
    parsed = []
    original = traces._parsed
    monkeypatch.setattr(traces, "_parsed", lambda line: parsed.append(line) or original(line))
    monkeypatch.setattr(panels, "IMAGES_LISTED", 3)
    open_tab(app, "Traces")
    assert not app.exception, app.exception
    assert "Answers per version and step" in texts(app)
    picker = app.selectbox(key="trace-image")
    assert len(picker.options) == 3
    rows = app.session_state["ictc_session"].results()["images"]
    wanted = Path(rows[6]["image"]).name
    lines = sum(1 for _ in traces.iter_trace_lines(app.session_state["ictc_session"].run_dir))
    parsed.clear()
    app.text_input(key="trace-find").input(wanted).run()
    assert app.selectbox(key="trace-image").options == [wanted]
    assert [json.loads(line)["image"] for line in parsed] == [rows[6]["image"]] * 3 and lines > 20  # its 3 steps
    labels = [e.label for e in app.expander]
    assert any(label.startswith("Step 1 · describe · fake-vlm") for label in labels)
    assert any(label.startswith("Step 3 · assign") for label in labels)
