"""A run stopped and then resumed (`ictc resume`, the chat's Continue): its version's results.json counts the model
calls made before the stop. A newcomer read "describe": {"model_calls": 0} in versions/v1/results.json after 40
describe and 40 label calls made before the stop."""

from __future__ import annotations

import json
import sqlite3
import threading
import time

import pytest

from ictc.evaluation.outputs import write_json
from ictc.graph.pass_calls import PASS_FILE, adopt_killed
from ictc.graph.run import resume_run, start_run
from ictc.graph.session import RunSession, open_run
from ictc.graph.versions import load_meta
from ictc.nodes.actions import Accept
from ictc.nodes.context import StopRequested
from ictc.prompts import make_criterion

from fakes import fake_context


def test_a_stopped_then_resumed_run_counts_the_calls_made_before_the_stop(colour_images, tmp_path):
    paths, _ = colour_images
    ctx = fake_context()
    ctx.stop = threading.Event()

    def stop_at_step_3(event):
        if event.get("step") == "assign":  # Steps 1, 2a and 2b done: 8 + 8 + 1 calls made
            ctx.stop.set()

    with pytest.raises(StopRequested):
        start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / "run", on_event=stop_at_step_3, context=ctx)
    before = {"describe": len(ctx.vlm.calls), "label": sum("label" in c["prompt"].lower() for c in ctx.llm.calls)}
    assert before["describe"] == 8
    resumed = fake_context()
    done = resume_run(tmp_path / "run", context=resumed)
    saved = json.loads((tmp_path / "run" / "versions" / "v1" / "results.json").read_text())
    calls, this_pass = saved["calls"], saved["calls_this_pass"]
    assert calls["describe"]["model_calls"] == 8 and calls["label"]["model_calls"] >= 8, calls
    assert calls["name_clusters"]["model_calls"] >= 1, calls
    assert this_pass["describe"]["model_calls"] == 0 and this_pass["assign"]["model_calls"] == len(resumed.llm.calls)
    assert calls["assign"] == this_pass["assign"] and done.results["calls"] == calls
    assert "calls_unsaved" not in json.loads((tmp_path / "run" / "run.json").read_text())  # counted once


def test_calls_before_a_review_pause_count_in_the_version_the_answer_makes(colour_images, tmp_path):
    paths, _ = colour_images
    ctx = fake_context()
    paused = start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / "run", context=ctx, review=True)
    assert paused.pause is not None and paused.version is None
    done = resume_run(tmp_path / "run", context=fake_context(), answer=Accept())
    while done.pause is not None:  # the review after Step 3
        done = resume_run(tmp_path / "run", context=fake_context(), answer=Accept())
    assert done.results["calls"]["describe"]["model_calls"] == 8 and done.results["calls_this_pass"]["describe"]["model_calls"] == 0


class Killed(BaseException):
    """A kill -9 as the pass sees it: nothing after it runs (RunSession.keep_calls is patched out with it)."""


def test_a_killed_pass_counts_in_the_version_its_resume_records(colour_images, tmp_path, monkeypatch):
    # run.json's "calls_unsaved" was written only on a clean stop: after kill -9 a resume's results said 0 describe
    # calls where every image had been described by the killed pass (graph/pass_calls.py keeps the tally as it goes)
    paths, _ = colour_images
    ctx = fake_context()

    def kill_in_step_3(event):
        if event.get("step") == "assign" and event.get("calls"):  # Steps 1, 2a and 2b done, Step 3 calling
            raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(RunSession, "keep_calls", lambda self: None)
        with pytest.raises(Killed):
            start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / "run", on_event=kill_in_step_3,
                      context=ctx)
    assert "calls_unsaved" not in json.loads((tmp_path / "run" / "run.json").read_text())  # the kill left no word there
    done = resume_run(tmp_path / "run", context=fake_context())
    calls = done.results["calls"]
    assert calls["describe"]["model_calls"] == len(ctx.vlm.calls) == 8 and calls["label"]["model_calls"] >= 8, calls
    assert calls["name_clusters"]["model_calls"] >= 1 and done.results["calls_this_pass"]["describe"]["model_calls"] == 0
    assert not (tmp_path / "run" / PASS_FILE).exists()


def test_a_killed_pass_already_counted_is_not_counted_again(tmp_path):
    # a process that died after run.json took a pass's tally and before the tally's file was removed
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    tally = {"describe": {"model_calls": 5, "from_store": 0}}
    (run_dir / PASS_FILE).write_text(json.dumps({"pass": "p1", "calls": tally}))
    write_json(run_dir / "run.json", {"thread_id": "t"})
    meta: dict = {"thread_id": "t"}
    adopt_killed(run_dir, meta)
    assert meta["calls_unsaved"]["describe"]["model_calls"] == 5 and not (run_dir / PASS_FILE).exists()
    (run_dir / PASS_FILE).write_text(json.dumps({"pass": "p1", "calls": tally}))  # the same pass's file again
    adopt_killed(run_dir, meta)
    on_disk = json.loads((run_dir / "run.json").read_text())
    assert on_disk["calls_unsaved"]["describe"]["model_calls"] == 5 == meta["calls_unsaved"]["describe"]["model_calls"]
    assert not (run_dir / PASS_FILE).exists()


def test_the_run_s_database_is_not_closed_under_a_checkpoint_write_still_running(colour_images, tmp_path):
    # a pass stopped by an exception leaves LangGraph's checkpoint writes running on other threads: the connection
    # had been closed under one of them (a segfault in sqlite3 in CI); it is closed once the write is done
    paths, _ = colour_images
    ctx = fake_context()
    start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / "run", context=ctx)
    run_dir = tmp_path / "run"
    writing, outcome = threading.Event(), []

    def late_write(saver):
        with saver.cursor() as cursor:  # holds the saver's lock, as LangGraph's put_writes does
            writing.set()
            time.sleep(0.3)  # the pass's main thread leaves meanwhile
            try:
                outcome.append(cursor.execute("SELECT count(*) FROM checkpoints").fetchone()[0])
            except sqlite3.ProgrammingError as exc:  # "Cannot operate on a closed database"
                outcome.append(exc)

    with pytest.raises(Killed), open_run(run_dir, load_meta(run_dir), ctx) as session:
        writer = threading.Thread(target=late_write, args=(session.saver,))
        writer.start()
        writing.wait(5)
        raise Killed
    writer.join(5)
    assert outcome and isinstance(outcome[0], int), outcome
