"""The whole graph with fake models: results, interruption and resume, determinism."""

from __future__ import annotations

import json
import time

import pytest

from ictc.graph.run import resume_run, start_run
from ictc.prompts import make_criterion

from fakes import FakeLLM, FakeVLM, fake_context, step_calls


def test_end_to_end_clusters_every_image_with_one_of_k_names(colour_images, tmp_path):
    paths, labels = colour_images
    ctx = fake_context()
    events = []
    result = start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / "run", labels=str(labels),
                       on_event=events.append, context=ctx)
    names = result.results["cluster_names"]
    assert sorted(names) == ["Blue", "Green", "Red"]
    assert all(row["cluster"] in names and row["status"] == "ok" for row in result.rows)
    assert result.results["metrics"]["acc"] == 1.0
    assert {e["step"] for e in events} == {"describe", "label", "name_clusters", "assign", "finish"}
    finishing = [e for e in events if e["step"] == "finish"]  # the last phase says what it does, with progress
    assert [e["phase"] for e in finishing] == ["reading the run's final state",
                                               "writing results.csv/json, the HTML report and the metrics",
                                               "saving the version and comparing it with the previous one", "done"]
    assert finishing[0]["total"] == 3 and sum(e.get("advance", 0) for e in finishing) == 3
    assert sum(e.get("advance", 0) for e in events if e["step"] == "describe") == len(paths)
    # the criterion reaches every step's prompt
    for model, markers in ((ctx.vlm, ["colour"]), (ctx.llm, ["Criterion: colour", "grouped by colour"])):
        assert all(any(m in call["prompt"] for m in markers) for call in model.calls)
    for name in ("results.json", "results.csv", "report.html", "confusion.png", "run.json"):
        assert (result.run_dir / name).is_file()


def test_run_interrupted_mid_step_1_resumes_without_describing_finished_images(colour_images, tmp_path):
    paths, _ = colour_images
    crashing = FakeVLM(crash_after=3)
    ctx = fake_context(vlm=crashing, concurrency=1)
    with pytest.raises(RuntimeError, match="simulated crash"):
        start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / "run", context=ctx)
    first = [c["prompt"] for c in crashing.calls]
    assert len(first) == 3

    fresh = fake_context(concurrency=1)
    result = resume_run(tmp_path / "run", context=fresh)
    assert len(fresh.vlm.calls) == len(paths) - 3  # nothing described twice
    assert result.results["summary"]["clustered"] == len(paths)
    assert step_calls(fresh.llm, "Criterion: colour") == len(paths)  # Step 2a had not started


def test_resume_of_a_finished_run_calls_no_model(colour_images, tmp_path):
    paths, _ = colour_images
    ctx = fake_context()
    start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / "run", context=ctx)
    again = fake_context()
    resume_run(tmp_path / "run", context=again)
    assert again.vlm.calls == [] and again.llm.calls == []


def test_two_identical_runs_give_identical_outputs(colour_images, tmp_path):
    paths, _ = colour_images
    outputs = []
    for name in ("a", "b"):
        ctx = fake_context()
        result = start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / name, context=ctx)
        data = json.loads((result.run_dir / "results.json").read_text())
        outputs.append(((result.run_dir / "results.csv").read_text(), data["cluster_names"],
                        [(r["cluster"], r["route"]) for r in data["images"]]))
    assert outputs[0] == outputs[1]


def test_sentence_labels_are_reasked_and_stay_short(colour_images, tmp_path):
    paths, _ = colour_images
    ctx = fake_context(llm=FakeLLM(sentence_labels=True), label_max_words=3)
    result = start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / "run", context=ctx)
    assert {r["raw_label"] for r in result.rows} == {"red", "green", "blue"}
    assert step_calls(ctx.llm, "too long") == len(paths)
    assert all(c["kwargs"].get("max_tokens") == ctx.settings.label_max_tokens and c["stop"] == ["\n"]
               for c in ctx.llm.calls if "Criterion: colour" in c["prompt"])


def test_k_larger_than_images_is_refused_before_any_model_call(colour_images, tmp_path):
    paths, _ = colour_images
    ctx = fake_context()
    with pytest.raises(ValueError, match="K=9 is more than the 8 images"):
        start_run(paths, make_criterion("colour"), 9, ctx.settings, tmp_path / "run", context=ctx)
    assert ctx.vlm.calls == [] and not (tmp_path / "run").exists()


def test_window_size_grows_with_concurrency_and_caps_the_number_of_windows():
    from ictc.graph.build import MAX_WINDOWS, MIN_WINDOW, window_size

    assert window_size(100, 2) == MIN_WINDOW
    assert window_size(1000, 64) == 64 * 16
    assert window_size(250_000, 8) * MAX_WINDOWS >= 250_000


def test_a_window_goes_out_as_a_few_tasks_of_whole_batches():
    from ictc.graph.build import TASKS_PER_WINDOW, chunk_size

    assert chunk_size(1024, 1) == 1024 // TASKS_PER_WINDOW
    assert chunk_size(100, 4) % 4 == 0 and -(-100 // chunk_size(100, 4)) <= TASKS_PER_WINDOW
    assert chunk_size(3, 4) == 4  # never less than one batch
    assert -(-15_625 // chunk_size(15_625, 1)) == TASKS_PER_WINDOW


def test_the_batches_of_a_task_keep_every_slot_busy(tmp_path):
    """The batches of one task run at once on the context's call pool, up to the concurrency: a node
    that waits until 4 batches are inside it at the same time passes only if they are not run one after
    another (as they were before the pool)."""
    import threading

    from ictc.nodes.common import in_batches

    ctx = fake_context(concurrency=4)
    together = threading.Barrier(4, timeout=10)
    inside, peak, lock = [0], [0], threading.Lock()

    def node(task, runtime):
        with lock:
            inside[0] += 1
            peak[0] = max(peak[0], inside[0])
        together.wait()
        with lock:
            inside[0] -= 1
        return {"labels": {item["path"]: {"raw": item["path"].upper()} for item in task["items"]}}

    runtime = type("Runtime", (), {"context": ctx})()
    items = [{"path": f"img{i}"} for i in range(8)]
    merged = in_batches(node)({"items": items, "criterion": {}}, runtime)
    assert merged == {"labels": {f"img{i}": {"raw": f"IMG{i}"} for i in range(8)}}
    assert peak[0] == 4  # never more than the concurrency


def test_a_task_hands_its_batches_to_at_most_concurrency_pullers():
    """One future per puller, not one per batch (an image against an endpoint): the future, the context
    copy and the hand-off per image were a measurable share of the client's CPU (bench/throughput.py)."""
    from ictc.nodes.common import in_batches

    ctx = fake_context(concurrency=4)
    submitted = []
    real_submit = ctx.pool.submit
    ctx.pool.submit = lambda *args, **kwargs: (submitted.append(args), real_submit(*args, **kwargs))[1]  # type: ignore[method-assign]

    def node(task, runtime):
        return {"labels": {item["path"]: {"raw": item["path"]} for item in task["items"]}}

    runtime = type("Runtime", (), {"context": ctx})()
    merged = in_batches(node)({"items": [{"path": f"img{i}"} for i in range(50)], "criterion": {}}, runtime)
    assert sorted(merged["labels"]) == sorted(f"img{i}" for i in range(50))  # every batch ran, once
    assert len(submitted) == 4


def test_a_failing_batch_fails_its_task_and_drops_the_batches_not_started():
    from ictc.nodes.common import in_batches

    ctx = fake_context(concurrency=1)
    ran = []

    def node(task, runtime):
        ran.append(task["items"][0]["path"])
        if task["items"][0]["path"] == "img1":
            raise RuntimeError("simulated bug")
        time.sleep(0.05)  # a call: the failure is seen long before the 48 batches behind it are through
        return {"labels": {}}

    runtime = type("Runtime", (), {"context": ctx})()
    with pytest.raises(RuntimeError, match="simulated bug"):
        in_batches(node)({"items": [{"path": f"img{i}"} for i in range(50)], "criterion": {}}, runtime)
    ctx.pool.shutdown(wait=True)
    assert ran[:2] == ["img0", "img1"] and len(ran) < 50


def test_a_task_with_no_items_runs_no_batch():
    """As before the pullers: no batch, so the node is not run on an empty one (a node may call a model or
    report progress per batch)."""
    from ictc.nodes.common import in_batches

    ran = []
    runtime = type("Runtime", (), {"context": fake_context(concurrency=4)})()
    assert in_batches(lambda task, runtime: ran.append(task) or {"labels": {}})({"items": [], "criterion": {}},
                                                                             runtime) == {}
    assert ran == []


def _distinct_images(folder, n):
    from PIL import Image

    folder.mkdir()
    paths = []
    for i in range(n):  # all different widths, so no description or label is shared
        path = folder / f"{i}.png"
        Image.new("RGB", (20 + i, 20), (220, 20, 20) if i % 2 else (20, 200, 20)).save(path)
        paths.append(str(path))
    return paths


@pytest.mark.parametrize("step_marker", ["Criterion: colour", "Which category"])  # Step 2a, Step 3
def test_a_crash_inside_a_task_of_several_images_redoes_no_finished_call(tmp_path, step_marker):
    from ictc.graph.build import chunk_size

    n = 24
    paths = _distinct_images(tmp_path / "imgs", n)
    assert chunk_size(n, 1) == 6  # 4 tasks of 6 images
    # how many LLM calls come before the step under test (own workspace: nothing shared with the run)
    probe = fake_context(concurrency=1, workspace=str(tmp_path / "probe-workspace"))
    start_run(paths, make_criterion("colour"), 2, probe.settings, tmp_path / "probe", context=probe)
    first = next(i for i, c in enumerate(probe.llm.calls) if step_marker.lower() in c["prompt"].lower())
    done_in_step = 9  # the crash hits the 10th call of the step: inside the second task
    crashing = FakeLLM(crash_after=first + done_in_step)
    ctx = fake_context(llm=crashing, concurrency=1)
    with pytest.raises(RuntimeError, match="simulated crash"):
        start_run(paths, make_criterion("colour"), 2, ctx.settings, tmp_path / "run", context=ctx)
    fresh = fake_context(concurrency=1)
    result = resume_run(tmp_path / "run", context=fresh)
    assert fresh.vlm.calls == []
    assert sum(step_marker.lower() in c["prompt"].lower() for c in fresh.llm.calls) == n - done_in_step
    assert result.results["summary"]["clustered"] == n


def test_a_set_larger_than_one_window_is_done_in_windows_and_resumes_inside_the_second(tmp_path):
    from ictc.graph.build import MIN_WINDOW

    n = MIN_WINDOW + 20  # two windows at concurrency 1
    paths = _distinct_images(tmp_path / "many", n)
    crashing = FakeVLM(crash_after=MIN_WINDOW + 5)  # inside the second window of Step 1
    ctx = fake_context(vlm=crashing, concurrency=1)
    with pytest.raises(RuntimeError, match="simulated crash"):
        start_run(paths, make_criterion("colour"), 2, ctx.settings, tmp_path / "run", context=ctx)
    fresh = fake_context(concurrency=1)
    result = resume_run(tmp_path / "run", context=fresh)
    assert len(fresh.vlm.calls) == n - MIN_WINDOW - 5
    assert step_calls(fresh.llm, "Criterion: colour") == n  # every image labelled once, over two windows
    assert result.results["summary"]["clustered"] == n
    assert sorted({row["cluster"] for row in result.rows}) == ["Green", "Red"]
