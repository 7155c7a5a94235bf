"""What a thirteenth newcomer found driving the chat app: progress lines that counted to another total ("label 0/30"
of 60 images, "assign 0/0"), a criterion change that changed K and named "the shade", a quiet shutdown, an
interrupted change said as an interrupted run, and replies that did not see what was already chosen."""

from __future__ import annotations

from typing import Any

from test_ui_app import finished_app, say, wait_for_job  # noqa: F401 (finished_app: a fixture)

from ictc.graph.run import progress_so_far
from ictc.ui import views
from ictc.ui.jobs import Job


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
    assert page.lines == ["Step 3 · assign: nothing to redo", "Step 2b · name clusters: 2 model call(s)"]


def test_a_criterion_change_after_a_split_keeps_k_and_leaves_the_article_out(finished_app):  # noqa: F811
    """After a split (K=5), "focus on the shade instead" then go was headed "the shade · K=4 + other": K seemed changed,
    the "other" Step 2b padded the names with (fewer colours than K) read as an "other" group asked for, and the
    criterion kept its article."""
    app, _ = finished_app
    say(app, "split Green in two")
    say(app, "go")
    wait_for_job(app)
    assert "criterion 'shade'" in say(app, "focus on the shade instead")
    say(app, "go")
    wait_for_job(app)
    results = app.session_state["ictc_session"].job.result.results
    assert results["criterion"]["text"] == "shade" and len(results["cluster_names"]) == 4
    head = next(m.value for m in app.markdown if " · K=" in m.value)
    assert head.startswith("**shade** · K=4 · version 3"), head
