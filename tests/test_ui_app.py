"""The Streamlit app driven by streamlit.testing's AppTest with fake models: choose images, set the
criterion in the chat, see the clusters, refine with an instruction (only Step 3 re-runs), inspect an
image's traces, export; plus stop/continue, missing K, upload limits, session isolation; a reload (a new
browser session with the same ?session= token) bringing the work back, a running job re-attached, recent
runs, undo and restore, the overview and warnings, paging, splits after merges, new images."""

from __future__ import annotations

import io
import re
import time
import zipfile
from pathlib import Path
from typing import Any

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


class SlowVLM(FakeVLM):
    """0.3 s per description: a run lasts long enough to be stopped or reloaded during it."""

    def respond(self, messages, **kwargs):
        time.sleep(0.3)
        return super().respond(messages, **kwargs)


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
    app.text_input(key="folder").input(str(folder))  # in a form: typing reruns nothing, the button sends it
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


def slow_run(colour_images) -> tuple[AppTest, Any]:
    """A session whose first run (SlowVLM, one call at a time) was just started on the 8 colour images."""
    paths, _ = colour_images
    ctx = fake_context(vlm=SlowVLM(), concurrency=1)
    app = open_app(ctx)
    use_folder(app, Path(paths[0]).parent)
    say(app, "group by colour, 3 groups")
    say(app, "go")
    return app, ctx


def stop_after(app: AppTest, ctx: Any, calls: int) -> str:
    """Presses Stop once the fake VLM has answered `calls` times; returns the job's outcome message."""
    while len(ctx.vlm.calls) < calls:
        time.sleep(0.05)
    app.run()
    app.button(key="stop").click().run()
    return wait_for_job(app)


def restart_server(app: AppTest, ctx: Any) -> AppTest:
    """The same page after `ictc ui` restarted: no job in memory, only the folders on disk."""
    from ictc.ui import jobs

    with jobs._jobs_lock:
        jobs._jobs.clear()
    return open_app(ctx, token=token_of(app))


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


def test_the_instructions_in_force_are_shown_under_the_headline(finished_app):
    """A newcomer could not see which instructions a run carried (they act on every later change)."""
    app, _ = finished_app
    assert not [c for c in app.caption if c.value.startswith("Instructions in force")]
    say(app, "instruction 3 prefer warm colours")
    say(app, "go")
    wait_for_job(app)
    shown = [c.value for c in app.caption if c.value.startswith("Instructions in force")]
    assert shown == ["Instructions in force: “prefer warm colours” (assign)"]


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
    assert "redoes only Step 3, on 8 images" in preview and "Say **go** to apply" in preview
    say(app, "go")
    done = wait_for_job(app)
    assert "assign 8" in done and "describe 0" in done and "label 0" in done and "0 image(s) moved" in done
    assert len(ctx.vlm.calls) == before["vlm"] and step_calls(ctx.llm, "Criterion: colour") == before["label"]
    run_dir = app.session_state["ictc_session"].run_dir
    assert pass_summary(read_traces(run_dir))[2] == {"assign": {"called": 8, "cached": 0}}
    assert "version 2" in texts(app)
    # the instruction out again: Step 3's prompts are version 1's, answered from the store, and the chat says so
    say(app, "remove the instruction about warm")
    say(app, "go")
    assert "assign 0 (8 from store)" in wait_for_job(app)  # it said "assign 0", as if nothing had been done


def test_merge_by_name_in_words_reports_the_merge_and_moves_no_image(finished_app):
    """Two clusters gone whole under a new name are a merge (graph/versions.py diff_from): said so, not all their
    images listed as moved, nor each as "Renamed"."""
    app, _ = finished_app
    applying = say(app, "merge Green and Blue into Cool")  # no model is called: no "go" needed
    assert "Applying (no model is called): merge 'Green' and 'Blue' into 'Cool'" in applying
    done = wait_for_job(app)
    assert "image(s) moved" not in done and done.endswith("Merged: 'Green' and 'Blue' into 'Cool'.")
    assert headings(app) == ["1. Cool · 5", "2. Red · 3"]
    assert "**ictc:** Done in" in texts(app)  # the status line above the results says it too
    open_tab(app, "Versions")
    assert "From v1 to v2: 0 image(s) moved, merged: Green + Blue → Cool" in texts(app)  # v1 beside v2


def test_redraws_read_run_summaries_not_every_image_row_again(finished_app, monkeypatch):
    """At 250,000 images a results.json is ~170 MB: the recent-runs list and the Versions tab read the small
    results-summary.json and results.csv's two columns, and list at most MOVED_SHOWN moved images."""
    from ictc.evaluation import outputs
    from ictc.ui import panels

    app, _ = finished_app
    say(app, "merge Green and Blue")  # under Green's name, there before: Blue's 2 images moved to it
    wait_for_job(app)
    monkeypatch.setattr(panels, "MOVED_SHOWN", 1)
    read: list[str] = []
    real = outputs.read_json
    monkeypatch.setattr(outputs, "read_json", lambda path: read.append(Path(path).name) or real(path))
    open_tab(app, "Versions")
    assert "From v1 to v2: 2 image(s) moved (the first 1 listed)" in texts(app)
    assert len(app.table[-1].value) == 1
    other = open_app(finished_app[1])  # another session: its sidebar lists the run
    listed = other.selectbox(key="recent-run")
    shown = listed.format_func(listed.value)
    # when it last changed first (the list's order), then what it is; short enough for the sidebar
    assert re.fullmatch(r"\d\d-\d\d \d\d:\d\d · colour · K=2 · 8 images · v2", shown), shown
    assert Path(listed.value).parent.name[:4] not in shown  # the session folder (a newcomer read it as a token)
    assert "results-summary.json" in read and "results.json" not in read


def test_clicking_an_image_shows_its_description_label_answer_and_traces(finished_app):
    app, _ = finished_app
    first = app.session_state["ictc_session"].results()["images"][0]
    app.selectbox(key="cluster-pick").set_value(first["cluster"]).run()  # one cluster: thumbnails with names
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
    app, ctx = slow_run(colour_images)
    session = app.session_state["ictc_session"]
    stopped = stop_after(app, ctx, 2)
    assert session.job.stopped and re.match(r"Stopped during Step \w+ · \w+ \(\d+/\d+ done", stopped)  # how far it got
    described = len(ctx.vlm.calls)
    assert 2 <= described < 8
    # "help" after Stop names Continue (a ninth newcomer's guide listed only changes)
    assert say(app, "help").startswith("This run has work left (stopped, or images failed): press **Continue**")
    app.button(key="continue").click().run()
    assert wait_for_job(app).startswith("Done in")
    assert len(ctx.vlm.calls) == 8  # only the images not yet described were described
    # Continue went on mid-step: its status line counted from what was done, of all 8 (a newcomer saw "40/40"
    # with 129 images missing: only the images of the Continue were counted)
    steps = dict(session.job.progress())
    assert (steps["Step 1 · describe"]["done"], steps["Step 1 · describe"]["total"]) == (8, 8)


def test_a_two_part_change_stopped_in_its_first_part_is_finished_whole_by_continue(colour_images):
    """Newcomer: "by shape instead, 3 groups", Stop during Step 1, Continue: the criterion was applied and K=3
    silently lost. Now the rest of the change is kept (through a reload) and applied after the interrupted part."""
    app, ctx = slow_run(colour_images)
    wait_for_job(app)
    assert "I read:" in say(app, "group by shade instead, 2 groups")
    say(app, "go")
    described = len(ctx.vlm.calls)
    stopped = stop_after(app, ctx, described + 2)
    assert stopped.startswith("Stopped during ") and "Continue then applies what was to follow: use K=2." in stopped
    app = open_app(ctx, token=token_of(app))  # a reload in between
    app.button(key="continue").click().run()
    done = wait_for_job(app)
    assert done.startswith("Done in") and "(finishing criterion 'shade'; then use K=2)" in done  # names the change
    results = app.session_state["ictc_session"].results()
    assert results["criterion"]["text"] == "shade" and len(results["cluster_names"]) == 2
    assert app.session_state["ictc_session"].queued == []


def test_continue_into_the_same_missing_server_says_it_tried_again(colour_images):
    from ictc.core.errors import ModelUnavailableError

    def gone(settings):
        raise ModelUnavailableError("vlm", "vision-model", "cannot reach the server (connection refused)", "openai")

    app, ctx = slow_run(colour_images)
    session = app.session_state["ictc_session"]
    stop_after(app, ctx, 2)
    session._factory, session._context = gone, None  # the model server went away while stopped
    app.button(key="continue").click().run()
    first = wait_for_job(app)
    assert "could not be reached" in first and not first.startswith("Tried again")
    app.button(key="continue").click().run()
    assert wait_for_job(app) == f"Tried again: the same problem. {first}"  # newcomer: the same words, as if unheard


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
    assert chosen.source == "5 uploaded file(s)"  # the files given ("2 from 2" hid the three left out)
    assert all(Path(p).parent == tmp_path / "up" for p in chosen.paths)
    assert chosen.problems[:2] == ["notes.txt: not an image format the installed Pillow decodes ('.txt')",
                                   "big.jpg: 2.0 MB; the limit is 1 MB per file"]
    assert chosen.problems[2] == "text.jpg: not an image (cannot identify image file)"  # no "<_io.BytesIO object ...>"


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


def test_a_rename_merge_or_undo_in_the_chat_needs_no_model(finished_app):
    """As `ictc refine` (tests/test_cli_refine.py): a change that runs no node works with the models gone."""
    from ictc.core.errors import ModelUnavailableError

    def no_models(settings):
        raise ModelUnavailableError("llm", "some/llm", "cannot reach the server", "openai")

    app, _ = finished_app
    session = app.session_state["ictc_session"]
    session._factory, session._context = no_models, None  # the model server went away after the run
    say(app, "rename Red to Warm")
    assert "Renamed" in wait_for_job(app) and "Warm" in session.names()
    say(app, "merge Warm and Blue")
    wait_for_job(app)
    assert len(session.names()) == 2
    say(app, "undo")
    wait_for_job(app)
    assert sorted(session.names()) == ["Blue", "Green", "Warm"]


def test_remove_a_cluster_in_words_and_drop_the_empty_ones_without_a_model(finished_app):
    """A newcomer's "drop the empty groups" was not read. "remove Blue" is previewed and waits for go (Step 3 on
    Blue's images only); "drop the empty groups" applies at once and needs no model: the empty "other" goes."""
    from ictc.core.errors import ModelUnavailableError

    app, _ = finished_app
    session = app.session_state["ictc_session"]
    assert "no cluster is empty" in say(app, "drop the empty groups")
    preview = say(app, "remove Blue")
    assert "remove 'Blue': redoes Step 3 on the 2 images of 'Blue' only, among the 2 names left" in preview
    say(app, "go")
    assert "2 image(s) moved" in wait_for_job(app) and session.names() == ["Green", "Red"]
    say(app, "put the rest in other")
    say(app, "go")
    wait_for_job(app)
    assert session.names() == ["Green", "Red", "other"]
    assert any("· K=2 + other ·" in m.value for m in app.markdown)  # the headline had said K=2 beside 3 clusters

    def no_models(settings):
        raise ModelUnavailableError("llm", "some/llm", "cannot reach the server", "openai")

    session._factory, session._context = no_models, None
    say(app, "drop the empty groups")  # its reply, then the note that no model is ready
    assert "Applying (no model is called): remove the empty clusters." in [m["text"] for m in session.conversation.messages]
    wait_for_job(app)
    assert session.names() == ["Green", "Red"]


def test_a_folder_source_takes_every_pillow_format_and_names_the_other_files(tmp_path):
    """Issue 17 case 8 in the UI: the same rule as the command line (core/images.py)."""
    from PIL import Image

    from ictc.ui import sources

    Image.new("RGB", (8, 8), (200, 0, 0)).save(tmp_path / "a.avif")
    Image.new("RGB", (8, 8), (0, 0, 200)).save(tmp_path / "b.qoi")
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "labels.csv").write_text("image,label\na.avif,red\n")
    chosen = sources.from_folder(str(tmp_path))
    assert [Path(p).name for p in chosen.paths] == ["a.avif", "b.qoi"]
    assert chosen.labels == str(tmp_path / "labels.csv")
    assert chosen.problems == [f"{tmp_path / 'notes.txt'}: not an image format the installed Pillow decodes ('.txt')"]


# issue 22: work survives, feedback in view, scannable results, honest splits, new images, natural replies ---
def token_of(app: AppTest) -> str:
    return app.query_params["session"]


def messages(app: AppTest) -> list[str]:
    return [m.markdown[0].value for m in app.chat_message]


def test_a_reload_brings_back_images_chat_and_clusters(finished_app):
    app, ctx = finished_app
    reloaded = open_app(ctx, token=token_of(app))  # F5: a new browser session with the same address
    assert not reloaded.exception
    assert reloaded.session_state["ictc_session"] is not app.session_state["ictc_session"]
    assert "8 images" in reloaded.success[0].value
    assert reloaded.radio(key="source").value == "Folder on the server"  # not the default "Sample photos"
    assert reloaded.text_input(key="folder").value == app.text_input(key="folder").value
    assert "group these by colour, 3 groups" in messages(reloaded)
    assert any(m.startswith("Done in") for m in messages(reloaded))
    assert headings(reloaded) == ["1. Green · 3", "2. Red · 3", "3. Blue · 2"]
    assert sum(m.startswith("Done in") for m in messages(reloaded)) == 1  # the outcome is not said twice


def test_a_running_job_is_reattached_after_a_reload(colour_images):
    app, ctx = slow_run(colour_images)
    job = app.session_state["ictc_session"].job
    reloaded = open_app(ctx, token=token_of(app))
    session = reloaded.session_state["ictc_session"]
    assert session.job is job and session.busy
    assert reloaded.button(key="stop").label == "Stop"  # the progress resumes in the new page
    assert any("Step 1 · describe" in str(bar.proto) for bar in reloaded.get("progress"))
    job.thread.join(60)
    reloaded.run()
    assert messages(reloaded)[-1].startswith("Done in") and headings(reloaded)[0].startswith("1. ")


def test_recent_runs_open_in_another_session(finished_app):
    app, ctx = finished_app
    run_dir = app.session_state["ictc_session"].run_dir
    other = open_app(ctx)
    assert other.selectbox(key="recent-run").value == str(run_dir)
    other.button(key="open-run").click().run()
    assert headings(other) == ["1. Green · 3", "2. Red · 3", "3. Blue · 2"]
    assert messages(other)[-1].startswith(f"Opened {run_dir}")



def test_a_reload_shows_its_own_run_chosen_among_recent_runs(finished_app, colour_images):
    """After a reload Recent runs had the newest run of the workspace chosen, another session's, with Open enabled."""
    app, ctx = finished_app
    run_dir = app.session_state["ictc_session"].run_dir
    other = open_app(ctx)
    use_folder(other, Path(colour_images[0][0]).parent)
    say(other, "group by colour, 2 groups")
    say(other, "go")
    wait_for_job(other)  # a newer run, of another session
    reloaded = open_app(ctx, token=token_of(app))
    assert reloaded.selectbox(key="recent-run").value == str(run_dir)
    # and marked as this chat's: two runs of one folder and criterion had looked the same
    picker = reloaded.selectbox(key="recent-run")
    assert sorted(label.endswith("run-1 of this chat") for label in picker.options) == [False, True]


def test_undo_from_the_chat_and_go_back_from_the_versions_tab(finished_app):
    app, _ = finished_app
    # nothing to undo yet: said at once (it said "Going back to ..." and then that it did not work)
    assert say(app, "undo") == "Nothing to undo: this is the first version's state."
    assert app.session_state["ictc_session"].job.title != "undo"
    assert say(app, "merge the first two") == ("Applying (no model is called): merge 'Green' and 'Red' (the bigger one's "
                                              "name stays, the first's on a tie).")  # which name stays is said (an eleventh newcomer's)
    wait_for_job(app)
    assert headings(app) == ["1. Green · 6", "2. Blue · 2"]
    assert say(app, "undo").startswith("Going back to the version before this one")
    # which version it is now and the instructions in force: a newcomer's undo had brought one back unsaid
    said = wait_for_job(app)
    assert "Now version 3 (undo: back to version 1): grouped by" in said and "no instructions" in said
    assert headings(app) == ["1. Green · 3", "2. Red · 3", "3. Blue · 2"]
    open_tab(app, "Versions")
    assert app.selectbox(key=f"v-a-{app.session_state['ictc_session'].run_dir}-3").value == 2
    app.button(key="restore-version").click().run()  # back to v2 (the merge), as version 4
    assert "back to version 2" in wait_for_job(app)
    results = app.session_state["ictc_session"].results()
    assert results["version"] == 4 and results["cluster_names"] == ["Green", "Blue"]
    assert say(app, "go back to version 1").startswith("Going back to version 1")
    wait_for_job(app)
    assert app.session_state["ictc_session"].results()["cluster_names"] == ["Green", "Red", "Blue"]


def test_the_overview_lists_every_cluster_and_a_row_opens_it(finished_app):
    app, _ = finished_app
    open_tab(app, "Overview")
    table = app.dataframe[0].value
    assert list(table["cluster"]) == ["Green", "Red", "Blue"] and list(table["images"]) == [3, 3, 2]
    assert list(table["share"]) == [37.5, 37.5, 25.0]  # percent of the clustered images, to one decimal
    assert all(str(x).startswith("data:image/jpeg;base64,") for x in table["examples"])


def test_empty_and_lopsided_clusters_are_warned_with_a_fix():
    from ictc.ui.views import warnings

    results = {"clusters": [{"name": "Cats", "size": 9}, {"name": "Dogs", "size": 1}, {"name": "Frogs", "size": 0}],
               "summary": {"clustered": 10}}
    said = warnings(results)
    assert said[0].startswith("**Cats** holds 90.0% of the clustered images. Try \"split Cats in two\"")
    assert said[1].startswith("**Frogs** has no image") and "fewer groups" in said[1]
    # all of Cats' images share one label: a split would leave a part empty, so it is not the fix offered
    results["images"] = [{"cluster": "Cats", "raw_label": "cat"}] * 9 + [{"cluster": "Dogs", "raw_label": "dog"}]
    said = warnings(results)
    assert said[0].startswith("**Cats** holds 90.0% of the clustered images, all labelled 'cat'. Try a criterion") and "split" not in said[0]


def test_an_empty_cluster_s_overview_row_shows_a_blank_picture_not_none(finished_app):
    from ictc.ui.views import BLANK, overview_table

    app, _ = finished_app
    results = app.session_state["ictc_session"].results()
    results = {**results, "clusters": [*results["clusters"], {"name": "Frogs", "size": 0}]}
    table = overview_table(results)
    assert table["cluster"][-1] == "Frogs" and table["examples"][-1] == BLANK  # newcomer: the cell read "None"
    assert all(x.startswith("data:image/jpeg;base64,") for x in table["examples"][:-1])


def test_pages_and_details_with_previous_and_next(finished_app, monkeypatch):
    from ictc.ui import views

    app, _ = finished_app
    monkeypatch.setattr(views, "FIRST_ROW", 2)
    monkeypatch.setattr(views, "PAGE", 2)
    app.run()
    assert len(app.image) == 3  # one strip of (two) thumbnails per cluster when all are shown
    app.button(key="more-1").click().run()  # "Open Green: 3 image(s)..."
    assert app.selectbox(key="cluster-pick").value == "Green"
    assert app.number_input(key="page-Green").max == 2 and len(app.image) == 2
    app.number_input(key="page-Green").set_value(2).run()
    assert len(app.image) == 1
    first = app.session_state["ictc_session"].results()["images"]
    green = [i for i, r in enumerate(first) if r["cluster"] == "Green"]
    app.button(key=f"img-{green[2]}").click().run()
    assert any("3 of 3 in <b>Green</b>" in m.value for m in app.markdown)
    app.button(key="detail-prev").click().run()
    assert any("2 of 3 in <b>Green</b>" in m.value for m in app.markdown)
    assert first[green[1]]["image"] in [c.value for c in app.caption]


def test_a_split_after_a_merge_yields_the_parts_asked_for_and_says_so(finished_app):
    app, _ = finished_app
    say(app, "merge Green and Blue")
    wait_for_job(app)
    preview = say(app, "split Green in two")
    assert "Step 2b on the raw labels of 'Green' (2 distinct, into 2 parts), then Step 3 on its 5 images only" in preview
    say(app, "go")
    done = wait_for_job(app)
    assert "Split **Green** into 2: Green (3), Blue (2)." in done
    assert headings(app) == ["1. Green · 3", "2. Blue · 2", "3. Red · 3"]  # the parts stand where Green stood


def test_choosing_other_images_starts_a_new_run(finished_app, tmp_path):
    from fakes import make_images

    app, _ = finished_app
    first = app.session_state["ictc_session"].run_dir
    say(app, "instruction 3 prefer warm colours")
    say(app, "go")
    wait_for_job(app)
    assert "I read:" in say(app, "split Green in two")  # waits for go
    other, _ = make_images(tmp_path / "other", {"red": 2, "yellow": 2})
    use_folder(app, Path(other[0]).parent)
    assert messages(app)[-1].startswith("New images: 4 from folder")
    assert "group by **colour**" in messages(app)[-1] and headings(app) == []
    # what does not carry over is said: a ninth newcomer's waiting change vanished unsaid
    assert "The change that waited (split 'Green' into 2) was for the previous run and is dropped." in messages(app)[-1]
    assert "Its instructions (“prefer warm colours” (assign)) are not carried over" in messages(app)[-1]
    assert "no run has finished on these images" in say(app, "undo")
    assert "K = **2**" in say(app, "2 groups")
    say(app, "go")
    wait_for_job(app)
    session = app.session_state["ictc_session"]
    assert session.run_dir != first and len(session.results()["images"]) == 4


def test_no_model_is_said_on_the_landing_page(monkeypatch):
    monkeypatch.setenv("ICTC_BACKEND", "openai")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    app = AppTest.from_file(APP, default_timeout=60).run()
    assert any("No model is ready" in m and "OPENAI_API_KEY" in m for m in messages(app))


def test_a_bad_setting_is_one_error_line_on_the_page_not_a_traceback(monkeypatch):
    """`streamlit run ui/app.py` with ICTC_CATEGORY_LOOK=maybe: the page says what is wrong and where to fix it
    (a newcomer got a raw UsageError traceback)."""
    monkeypatch.setenv("ICTC_CATEGORY_LOOK", "maybe")
    app = AppTest.from_file(APP, default_timeout=60).run()
    assert not app.exception
    assert [e.value for e in app.error] == ["ictc cannot start: category_look (ICTC_CATEGORY_LOOK) must be 'on' or "
                                            "'off', not 'maybe'. Fix it in .env or the environment, then reload the page."]


def test_an_all_spaces_message_makes_no_bubble(finished_app):
    app, _ = finished_app
    before = len(app.chat_message)
    app.chat_input(key="chat").set_value("   ").run()
    assert len(app.chat_message) == before


def test_the_finishing_phase_is_reported_with_progress(finished_app):
    app, _ = finished_app
    job = app.session_state["ictc_session"].job
    tally = dict(job.progress())["Finishing"]
    assert (tally["done"], tally["total"], job.phase) == (3, 3, "done")


def test_a_run_interrupted_before_a_server_restart_can_be_continued_and_is_listed(colour_images):
    # newcomer: after `ictc ui` restarted, no Continue button, "continue" not understood, the run not listed
    app, ctx = slow_run(colour_images)
    stop_after(app, ctx, 2)
    run_dir = app.session_state["ictc_session"].run_dir
    restarted = restart_server(app, ctx)
    assert restarted.session_state["ictc_session"].job is None
    assert restarted.button(key="continue").label == "Continue"
    other = open_app(ctx)
    assert other.selectbox(key="recent-run").value == str(run_dir)
    assert "interrupted" in other.selectbox(key="recent-run").format_func(str(run_dir))
    assert say(restarted, "continue").startswith("Continuing the run")
    assert wait_for_job(restarted).startswith("Done in")
    assert len(ctx.vlm.calls) == 8  # only the images not yet described were described


def test_choosing_the_first_images_is_answered_in_the_chat(colour_images):
    paths, _ = colour_images
    app = open_app(fake_context())
    use_folder(app, Path(paths[0]).parent)
    assert messages(app)[-1].startswith("Images ready: 8 from")  # newcomer: the status still said "Choose images..."
    assert "what to group them by" in messages(app)[-1]


def test_too_few_images_for_the_reading_are_said_when_chosen(colour_images, tmp_path):
    """A tenth newcomer read "K = 4. Say go" after 1 of 3 uploads could be used; only "go" said it was too few."""
    from fakes import make_images

    paths, _ = colour_images
    app = open_app(fake_context())
    say(app, "group by colour, 4 groups")
    one, _ = make_images(tmp_path / "one", {"red": 1})
    use_folder(app, Path(one[0]).parent)
    assert messages(app)[-1].endswith("Only 1 image can be used: a clustering needs at least 2.")
    three, _ = make_images(tmp_path / "three", {"red": 3})
    app = open_app(fake_context())
    say(app, "group by colour, 4 groups")
    use_folder(app, Path(three[0]).parent)
    assert messages(app)[-1].endswith("K=4 is more than these 3 images: give a smaller K.")


def test_a_change_stopped_half_way_is_finished_by_continue_or_go_after_a_server_restart(colour_images):
    # newcomer: after the model server died during a change, "go", "continue" and a rename all failed
    app, ctx = slow_run(colour_images)
    wait_for_job(app)
    described = len(ctx.vlm.calls)
    say(app, "focus on the shade instead")  # redoes Step 1: waits for go
    say(app, "go")
    stop_after(app, ctx, described + 2)
    restarted = restart_server(app, ctx)
    assert "interrupted before it finished" in texts(restarted)  # not the last reply's "Running"
    assert say(restarted, "go").startswith("Continuing the run")
    assert wait_for_job(restarted).startswith("Done in")
    assert restarted.session_state["ictc_session"].results()["criterion"]["text"] == "shade"
    assert len(ctx.vlm.calls) == described + 8  # each image described once under the new criterion


def test_several_empty_clusters_make_one_warning():
    from ictc.ui.views import warnings

    results = {"clusters": [{"name": "Cats", "size": 5}, {"name": "Dogs", "size": 5}, {"name": "other", "size": 0},
                            {"name": "other 2", "size": 0}], "summary": {"clustered": 10}}
    said = warnings(results)  # newcomer: six warnings filled the first screen
    assert said == ['2 clusters have no image (no image chose them in Step 3): **other**, **other 2**. Try "drop the empty '
                    'groups" (no model call), or "2 groups".']


def test_a_split_s_outcome_names_only_the_numbered_parts_as_replaced():
    from ictc.ui.outcomes import split_said

    said = split_said({"cluster": "Green", "parts": ["Green", "Green 1"], "proposed": ["green", "Blue"]},
                      {"Green": 26, "Green 1": 7})
    assert said.startswith("Split **Green** into 2: Green (26), Green 1 (7).")
    assert "the part(s) Green 1 got numbered names" in said  # "Green" kept the cluster's own name


def test_files_left_out_of_a_folder_are_named_in_the_chat(colour_images, tmp_path):
    """A folder with a notes file: the chat's "Images ready" line names it (the sidebar that lists it folds away
    once images are chosen; a newcomer found it named nowhere)."""
    import shutil

    paths, _ = colour_images
    folder = tmp_path / "mixed"
    folder.mkdir()
    for path in paths[:3]:
        shutil.copy(path, folder)
    (folder / "notes.txt").write_text("not a picture")
    app = open_app(fake_context())
    use_folder(app, folder)
    ready = next(m for m in messages(app) if m.startswith("Images ready"))
    assert "Images ready: 3 from folder" in ready and "(1 file left out: " in ready and "notes.txt: not an image" in ready


def test_a_file_that_is_no_image_is_not_offered_for_retry_but_a_model_failure_is(colour_images, tmp_path):
    """A newcomer's broken .jpg failed at Step 1 on every Continue, which the chat kept offering."""
    import shutil

    from ictc.graph.run import start_run
    from ictc.prompts import make_criterion
    from ictc.ui.outcomes import failed_said

    paths, _ = colour_images
    folder = tmp_path / "photos"
    shutil.copytree(Path(paths[0]).parent, folder)
    (folder / "broken.jpg").write_bytes(b"not an image")
    ctx = fake_context()
    result = start_run(str(folder), make_criterion("colour"), 3, ctx.settings, tmp_path / "run", context=ctx)
    said = failed_said(result.rows)
    assert said.startswith("1 file(s) are not usable images and are left out (broken.jpg;") and "Continue" in said
    assert "**Continue** retries" not in said
    rows = [*result.rows, {"image": str(folder / "red_9.png"), "status": "failed", "reason": "assign: the LLM answered no name"}]
    assert failed_said(rows).endswith("1 image(s) failed at a model step; see the Clusters tab. **Continue** retries them.")
    # after the first job only counted: the sentence had come back in full after every change (a newcomer)
    assert failed_said(result.rows, first=False) == "(1 file(s) that are no usable image stay left out.)"
    app = open_app(ctx)  # the chat app on that folder: done, with nothing for Continue to do
    use_folder(app, folder)
    say(app, "group by colour, 3 groups")
    say(app, "go")
    done = wait_for_job(app)
    assert "1 file(s) are not usable images and are left out" in done and not app.session_state["ictc_session"].unfinished()
    assert not [b for b in app.button if b.label == "Continue"]


def test_a_stopped_run_is_said_at_the_step_its_error_names_not_the_last_step_that_reported():
    """Step 2a reports while Step 1 still runs; a newcomer read "Step 2a · label stopped" above details saying
    "stopped at Step 1 (describe)"."""
    from ictc.core.settings import Settings
    from ictc.ui.jobs import Job
    from ictc.ui.outcomes import outcome

    job = Job("first run", lambda on_event, stop: None)
    job.steps = {"describe": {}, "label": {}}
    job.error = ("stopped at Step 1 (describe): the first 3 model calls all failed: the VLM server could not be reached. "
                 "To fix: check that it is running.")
    job.detail = job.error
    said = outcome(job, Settings(backend="openai", base_url=["http://127.0.0.1:9/v1"]))
    assert said.startswith("Step 1 · describe stopped") and "Step 2a" not in said


def test_help_is_answered_while_a_job_runs(colour_images):
    """Help changes nothing, so it needs no wait (a newcomer got "A job is running: wait for it")."""
    app, ctx = slow_run(colour_images)
    session = app.session_state["ictc_session"]
    assert session.busy
    helped = say(app, "help")  # not the setup guide with an empty reading (a newcomer): the job, then what comes next
    assert helped.startswith("A job is running: wait for it, or press **Stop**") and "To change the clusters:" in helped
    assert say(app, "3 groups").startswith("A job is running")  # anything else still waits for the job


def test_a_message_said_during_a_job_is_read_when_it_is_done(colour_images):
    """A ninth newcomer typed a change during a job: it was refused ("wait for it") and had to be typed again."""
    app, ctx = slow_run(colour_images)
    assert say(app, "3 groups") == "A job is running: I will read “3 groups” when it is done (or press **Stop**)."
    assert say(app, "merge Green and Red").endswith("instead of “3 groups” (one message waits at a time).")
    done = wait_for_job(app)
    chat = messages(app)
    assert chat[-2].startswith("Done in") and done.startswith("Now “merge Green and Red”: Applying (no model is called)")
    assert chat.count("merge Green and Red") == 1  # its words stand once: where it was said, not again
    wait_for_job(app)
    assert headings(app) == ["1. Green · 6", "2. Blue · 2"]
    # a job stopped: the message is read after the stop too (a tenth newcomer typed "2 groups" just after Stop,
    # before the stop was said, and lost it); here a rename, which runs as a change of its own
    assert "I read:" in say(app, "group by shade instead")
    say(app, "go")
    assert say(app, "rename Blue to Sky").startswith("A job is running: I will read")
    app.button(key="stop").click().run()
    said = wait_for_job(app)
    assert messages(app)[-2].startswith("Stopped during ") and said.startswith("Now “rename Blue to Sky”: ")


def test_a_change_said_while_another_waits_half_done_is_told_to_wait(colour_images):
    """An eleventh newcomer's rename after a stopped change was answered "Applying", then "That did not work: RUN has
    a change stopped before it was saved ... (ictc resume RUN ...)": refine's command-line words, with paths."""
    app, ctx = slow_run(colour_images)
    wait_for_job(app)
    assert "I read:" in say(app, "group by shade instead")
    say(app, "go")
    stop_after(app, ctx, len(ctx.vlm.calls) + 2)
    said = say(app, "rename 1 to First please")
    assert said.startswith("That waits: the change stopped half-way (") and "press **Continue**" in said
    assert app.session_state["ictc_session"].job.stopped  # nothing was started: the job is still the stopped one


def test_a_first_run_stopped_before_its_results_keeps_the_way_on_in_view(colour_images):
    """A tenth newcomer stopped the first run, said "make it 4 groups" (read into an empty reading), pressed
    Continue (which finished the K=3 run) and then "go" found nothing waiting: the request was gone unsaid."""
    app, ctx = slow_run(colour_images)
    stop_after(app, ctx, 2)
    said = say(app, "group by shape instead")  # a new K is taken for Continue (test_ui_chat_lows.py); this is not
    assert said.startswith("This run (group by **colour**; K = **3**) stopped before its results: say **continue**")
    assert "This run has work left" in say(app, "help") and "New run" in messages(app)[-1]
    assert say(app, "continue").startswith("Continuing the run")
    wait_for_job(app)
    assert say(app, "make it 4 groups").startswith("I read:\n- use K=4")  # now a change of the run, previewed
    wait_for_job(app)


def test_going_back_says_the_version_and_the_instructions_it_brings_back():
    from ictc.ui.outcomes import went_back_said

    results = {"version": 12, "history": ["first run", "undo: back to version 4"],
               "criterion": {"text": "colour", "instructions": {"all": ["don't consider the corner mark"]}}}
    assert went_back_said(results) == ("Now version 12 (undo: back to version 4): grouped by “colour”, instructions in "
                                       "force: “don't consider the corner mark” (all steps).")


def test_a_job_ended_by_the_server_s_shutdown_logs_no_traceback(caplog):
    """Stopping `ictc ui` mid-job printed LangGraph's "cannot schedule new futures after shutdown" tracebacks (a tenth
    newcomer's); the run is resumable, no bug. Any other failure is still logged with its traceback."""
    from ictc.ui.jobs import Job

    caplog.set_level("INFO")

    def shut(on_event, stop):
        raise RuntimeError("cannot schedule new futures after shutdown")

    def broken(on_event, stop):
        raise KeyError("bug")

    for work in (shut, broken):
        job = Job("first run", work).start()
        job.thread.join(10)
    assert [r.levelname for r in caplog.records if "failed" in r.getMessage() or "shutdown" in r.getMessage()] == [
        "INFO", "ERROR"]


def test_the_progress_bars_are_in_the_pipeline_s_order_whatever_step_reports_first():
    """A Continue's Step 3 reports what was done before the stop before Steps 2a and 2b run again: a newcomer read
    the bars as "describe, Step 3, Step 2a, Step 2b"."""
    from ictc.ui.jobs import Job

    job = Job("resume", lambda on_event, stop: None)
    for step in ("describe", "assign", "label", "name_clusters", "finish"):
        job.on_event({"step": step, "total": 4, "done": 2})
    assert [title for title, _ in job.progress()] == ["Step 1 · describe", "Step 2a · label", "Step 2b · name clusters",
                                                      "Step 3 · assign", "Finishing"]


def test_uploads_that_cannot_be_decoded_are_refused_at_upload(tmp_path):
    """A truncated JPEG (its header whole) and an empty file: the truncated one was taken ("Images ready: 6") and failed
    at Step 1, the chat then saying "replace them in the folder first", a folder an uploader does not have."""
    from PIL import Image

    from ictc.ui import sources

    buffer = io.BytesIO()
    Image.effect_noise((64, 64), 40).convert("RGB").save(buffer, "JPEG")
    jpeg = buffer.getvalue()
    chosen = sources.from_uploads([("whole.jpg", jpeg), ("cut.jpg", jpeg[:len(jpeg) // 2]), ("empty.png", b"")],
                                  tmp_path / "up")
    assert [Path(p).name for p in chosen.paths] == ["whole.jpg"]
    assert chosen.problems[0].startswith("cut.jpg: not an image (image file is truncated"), chosen.problems
    assert chosen.problems[1] == "empty.png: empty file (0 bytes)", chosen.problems
