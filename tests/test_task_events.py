"""A task's batches send their progress and traces as merged stream events: every model call still traced
and counted once (nodes/common.py TaskEvents, batch_traces; graph/session.py)."""

from __future__ import annotations

import json

from ictc.evaluation.traces import read_traces, trace_lines
from ictc.graph.run import start_run
from ictc.models.pushback import BusyAwareClient, InFlightGate, shared_ssl_context
from ictc.nodes import common
from ictc.nodes.common import TaskEvents
from ictc.prompts import make_criterion

from fakes import fake_context


def test_task_events_merge_one_steps_counts_and_traces_and_send_anything_else_at_once(monkeypatch):
    monkeypatch.setattr(common, "FLUSH_SECONDS", 3600.0)  # nothing leaves on time: only on close or a change
    sent: list[dict] = []
    events = TaskEvents(sent.append)
    events.add({"step": "describe", "advance": 1, "calls": 1, "failed": 0, "stored": 0, "traces": [{"image": "a"}]})
    events.add({"step": "describe", "advance": 2, "calls": 1, "failed": 1, "stored": 1, "traces": [{"image": "b"}]})
    assert sent == []
    events.add({"step": "describe", "total": 9})  # not a count: the waiting merge goes first, then it
    assert sent == [{"step": "describe", "advance": 3, "calls": 2, "failed": 1, "stored": 1,
                     "traces": [{"image": "a"}, {"image": "b"}]}, {"step": "describe", "total": 9}]
    events.add({"step": "describe", "advance": 1, "calls": 1})
    events.add({"traces": [{"image": "c"}]})  # a failed batch's traces without progress: sent at once
    assert sent[2:] == [{"step": "describe", "advance": 1, "calls": 1}, {"traces": [{"image": "c"}]}]
    events.add({"step": "label", "advance": 1, "calls": 1})
    events.add({"step": "describe", "advance": 1, "calls": 1})  # another step: no merge across steps
    assert sent[4:] == [{"step": "label", "advance": 1, "calls": 1}, {"step": "describe", "advance": 1, "calls": 1}]
    events.add({"step": "describe", "advance": 1, "calls": 1})
    events.close()  # the waiting merge leaves at the task's end
    assert sent[6:] == [{"step": "describe", "advance": 1, "calls": 1}]
    events.add({"step": "label", "advance": 1, "calls": 1})  # a batch still running after the task ended
    assert sent[-1] == {"step": "label", "advance": 1, "calls": 1}


def test_task_events_send_when_flush_seconds_passed(monkeypatch):
    monkeypatch.setattr(common, "FLUSH_SECONDS", 0.0)
    sent: list[dict] = []
    events = TaskEvents(sent.append)
    events.add({"step": "label", "advance": 1, "calls": 1, "traces": []})
    assert sent == [{"step": "label", "advance": 1, "calls": 1}]  # an empty traces list is not sent


def test_a_run_with_several_batches_a_task_traces_and_counts_every_model_call_once(colour_images, tmp_path):
    paths, _ = colour_images  # 8 images, batch 1, concurrency 3: tasks of 2 batches run in the call pool
    ctx = fake_context(concurrency=3)
    progress: dict[str, dict[str, int]] = {}

    def on_event(event):
        assert "trace" not in event and "traces" not in event  # traces go to the trace file only
        for key in ("advance", "calls"):
            progress.setdefault(event["step"], {}).setdefault(key, 0)
            progress[event["step"]][key] += event.get(key, 0)

    result = start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / "run", context=ctx,
                       on_event=on_event)
    records = read_traces(result.run_dir)
    described = [r["image"] for r in records if r["step"] == "describe"]
    labelled = [r["image"] for r in records if r["step"] == "label"]
    assert sorted(described) == sorted(paths) and sorted(labelled) == sorted(paths)  # each image once
    assert len(ctx.vlm.calls) == 8 == progress["describe"]["calls"] == result.results["calls"]["describe"]["model_calls"]
    assert progress["describe"]["advance"] == 8 and progress["label"]["advance"] == 8
    label_calls = sum(1 + r.get("reasked", False) for r in records if r["step"] == "label")
    assert progress["label"]["calls"] == label_calls == result.results["calls"]["label"]["model_calls"]


def test_trace_lines_write_one_json_line_per_record_with_its_version():
    one = trace_lines({"trace": {"step": "label", "output": "café ☕"}}, 2)
    assert one.decode("utf-8") == '{"version":2,"step":"label","output":"café ☕"}\n'  # non-ASCII kept
    many = trace_lines({"step": "describe", "advance": 2, "traces": [{"image": "a"}, {"image": "b"}]}, 1)
    assert [json.loads(line) for line in many.splitlines()] == [{"version": 1, "image": "a"}, {"version": 1, "image": "b"}]
    assert trace_lines({"step": "describe", "advance": 1}, 1) == b""


def test_endpoint_clients_share_one_verifying_ssl_context():
    import ssl

    first = BusyAwareClient(InFlightGate(2), 1.0, base_url="http://127.0.0.1:9", timeout=5)
    second = BusyAwareClient(InFlightGate(2), 1.0, base_url="http://127.0.0.1:9", timeout=5)
    context = shared_ssl_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert first._transport._pool._ssl_context is context is second._transport._pool._ssl_context  # noqa: SLF001
    first.close()
    second.close()
