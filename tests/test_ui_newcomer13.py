"""What a thirteenth newcomer found driving the chat app: progress lines that counted to another total ("label 0/30"
of 60 images, "assign 0/0"), a criterion change that changed K and named "the shade", a quiet shutdown, an
interrupted change said as an interrupted run, and replies that did not see what was already chosen."""

from __future__ import annotations

import time
from typing import Any

from test_refine import SplitLLM  # splits Red by its 40-pixel image
from test_ui_app import finished_app, say, wait_for_job  # noqa: F401 (finished_app: a fixture)

from ictc.graph.run import progress_so_far
from ictc.ui import views
from ictc.ui.jobs import Job

from fakes import fake_context


def _images(count: int) -> list[dict[str, str]]:
    return [{"path": f"/x/{i}.jpg", "sha256": f"{i:064x}"} for i in range(count)]


def test_a_continue_mid_step_1_counts_step_2a_to_all_its_images():
    """Stopped during Step 1 at 30 of 60 and continued: the line read "Step 2a · label: 0/30"."""
    images = _images(60)
    state = {"images": images, "descriptions": {i["path"]: {"text": "x"} for i in images[:30]}}
    told = {event["step"]: (event["done"], event["total"]) for event in progress_so_far(state)}
    assert told == {"describe": (30, 60), "label": (0, 60)}


def test_a_criterion_change_resumed_counts_step_3_to_the_images_it_will_place():
    """Finishing a criterion change (labels being redone, the old names kept) said "Step 3 · assign: 0/0"."""
    images = _images(60)
    state = {"images": images, "descriptions": {i["path"]: {"text": "x"} for i in images},
             "labels": {i["path"]: {"label": "y"} for i in images[:10]}, "naming": {"names": ["a", "b"]},
             "failures": {images[-1]["path"]: {"step": "label", "reason": "x"}}}
    told = {event["step"]: (event["done"], event["total"]) for event in progress_so_far(state)}
    assert told == {"describe": (60, 60), "label": (10, 59), "assign": (0, 59)}


class _Page:
    """Records what views.progress draws."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, text: str) -> None:
        self.lines.append(text)

    def progress(self, value: float, text: str) -> None:
        self.lines.append(text)

    def caption(self, text: str) -> None:
        self.lines.append(text)


def test_a_step_with_nothing_counted_says_so_rather_than_0_of_0(monkeypatch: Any):
    page = _Page()
    monkeypatch.setattr(views, "st", page)
    job = Job("criterion", lambda on_event, stop: None)
    job.on_event({"step": "assign", "total": 0, "done": 0})
    job.on_event({"step": "name_clusters", "calls": 2})
    views.progress(job)
    # in the pipeline's order, whichever step reported first (ui/jobs.Job.progress)
    assert page.lines == ["Step 2b · name clusters: 2 model call(s)", "Step 3 · assign: nothing to redo"]


def test_a_criterion_change_after_a_split_keeps_k_and_leaves_the_article_out(finished_app):  # noqa: F811
    """After a split (K=5), "focus on the shade instead" then go was headed "the shade · K=4 + other": K seemed changed,
    the "other" Step 2b padded the names with (fewer colours than K) read as an "other" group asked for, and the
    criterion kept its article."""
    app, ctx = finished_app
    session = app.session_state["ictc_session"]
    session._factory, session._context = lambda settings: fake_context(llm=SplitLLM()), None  # both parts get images
    say(app, "split Red in two")
    say(app, "go")
    assert "Split **Red** into 2: Light red (1), Dark red (2)." in wait_for_job(app)
    session._factory, session._context = lambda settings: ctx, None
    assert "criterion 'shade'" in say(app, "focus on the shade instead")
    say(app, "go")
    wait_for_job(app)
    results = app.session_state["ictc_session"].job.result.results
    # 3 colours for K=4: 3 clusters, said in the results' warnings, no "other" made up (nodes/label_counts.short_of)
    assert results["criterion"]["text"] == "shade" and sorted(results["cluster_names"]) == ["Blue", "Green", "Red"]
    assert any("only 3 distinct kinds, so 3 clusters, not K=4" in w for w in results["warnings"])
    head = next(m.value for m in app.markdown if " · K=" in m.value)
    # the clusters made, and K=4 asked, kept apart (n_clusters had said 4 of 3 names)
    assert (results["n_clusters"], results["asked_k"]) == (3, 4) and head.startswith("**shade** · K=3 · version 3"), head


EXIT_MID_JOB = """# starts a run in an ictc.ui Job, then lets the interpreter exit while the job works (as `ictc ui` stopped)
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, sys.argv[1])  # tests/
from fakes import FakeVLM, fake_context, make_images  # noqa: E402

from ictc.graph.run import start_run  # noqa: E402
from ictc.prompts import Criterion  # noqa: E402
from ictc.ui.jobs import Job  # noqa: E402

logging.basicConfig(level=logging.INFO, format="%(name)s %(message)s")


class Slow(FakeVLM):
    def respond(self, messages, **kwargs):
        time.sleep(0.2)
        return super().respond(messages, **kwargs)


out = Path(sys.argv[2])
paths, _ = make_images(out / "images", {"red": 40, "green": 40})
ctx = fake_context(vlm=Slow(), concurrency=4)
job = Job("first run", lambda on_event, stop: start_run(paths, Criterion("colour"), 2, ctx.settings, out / "run",
                                                         on_event=on_event, context=replace(ctx, stop=stop))).start()
while not ctx.vlm.calls and job.running:
    time.sleep(0.02)
print("job:", job.error or "running", flush=True)
time.sleep(0.3)
print("exiting", flush=True)
"""


def test_the_process_exiting_mid_job_stops_the_job_quietly_with_one_line(tmp_path):
    """`ictc ui` stopped (Ctrl-C) while a job ran printed five tracebacks "cannot schedule new futures after interpreter
    shutdown" from LangGraph's pool threads; the job is now stopped first, as a Stop, and says so in one line."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    tests = Path(__file__).parent
    (tmp_path / "exit_mid_job.py").write_text(EXIT_MID_JOB, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(tests.parent), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run([sys.executable, str(tmp_path / "exit_mid_job.py"), str(tests), str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120, env=env)
    said = done.stdout + done.stderr
    assert "Traceback" not in said and "job: running" in said, said
    assert said.count("ended by the server's shutdown") == 1, said
    assert not (tmp_path / "out" / "run" / "results.json").exists()  # stopped, not finished: Continue finishes it


def test_after_new_run_the_chat_says_the_images_are_chosen(finished_app):  # noqa: F811
    """After New run the chat said "Choose images on the left..." beside the 8 images already chosen and shown."""
    from test_ui_app import messages

    app, _ = finished_app
    app.button(key="new-run").click().run()
    said = messages(app)
    assert said[-1].startswith("8 images are chosen (shown on the right); tell me what to group them by"), said
    assert not any("Choose images on the left" in m for m in said)


def test_not_wanting_a_k_is_answered_with_examples_of_another():
    """ "I don't want 3 groups" on 3 clusters was answered with examples that included "3 groups"."""
    from ictc.ui.conversation import Conversation

    reply = Conversation().answer("I don't want 3 groups", ["Red", "Green", "Blue"], 12).text
    assert reply.startswith("There are 3 groups now") and '"3 groups"' not in reply and '"4 groups"' in reply, reply


def test_a_change_cut_short_by_a_restart_is_said_as_the_change_not_the_run(colour_images):
    """After a restart the chat said "This run was interrupted before it finished" where a criterion change was cut
    short on a run whose version stood intact."""
    from test_ui_app import messages, restart_server, slow_run

    app, ctx = slow_run(colour_images)
    wait_for_job(app)
    described = len(ctx.vlm.calls)
    say(app, "focus on the shade instead")
    say(app, "go")
    while len(ctx.vlm.calls) < described + 2:
        time.sleep(0.05)
    session = app.session_state["ictc_session"]
    session.stop()  # the server goes away mid-change: its end is never said on this page
    session.job.thread.join(60)
    said = messages(restart_server(app, ctx))[-1]
    assert said.startswith("The change (criterion 'shade') was interrupted before it finished"), said
    assert "the run's version 1 stands as it was" in said and "**Continue**" in said
