"""The streamed trace readers the chat app uses at 250,000 images (evaluation/traces.py trace_overview,
image_traces) give what reading every record does (pass_summary, current_traces of read_traces)."""

from __future__ import annotations

import json

from ictc.evaluation.traces import (
    PLAIN,
    TRACES,
    TraceWriter,
    current_traces,
    image_traces,
    pass_summary,
    read_traces,
    trace_lines,
    trace_overview,
)
from ictc.graph.refine import refine_run
from ictc.graph.run import start_run
from ictc.nodes.actions import AddInstruction
from ictc.prompts import make_criterion

from fakes import FakeLLM, _text, fake_context


class TimeoutLLM(FakeLLM):
    """Times out in Step 3 (a recoverable error: that image fails, the run goes on) on the blue images."""

    def respond(self, messages, **kwargs):
        if "sort images" in _text(messages[0]) and "filled with blue" in _text(messages[-1]):
            raise TimeoutError("simulated timeout")
        return super().respond(messages, **kwargs)


def test_the_streamed_readers_agree_with_reading_every_record(colour_images, tmp_path):
    """Version 1 (written to a plain traces.jsonl, as earlier versions did) has answers from the store and
    from a rule (the label route); version 2 (traces.jsonl.zst) re-traces Step 3 by the model, which fails on
    the blue images."""
    paths, _ = colour_images
    warm = fake_context()
    start_run(paths[:2], make_criterion("colour"), 2, warm.settings, tmp_path / "warm", context=warm)  # the store
    ctx = fake_context(assign_by_label="on")  # the label route: Step 3 decided by a rule, no call
    run = start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / "run", context=ctx).run_dir
    (run / PLAIN).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in read_traces(run)), "utf-8")
    (run / TRACES).unlink()
    refine_run(run, AddInstruction("Prefer warm colours.", "assign"), context=fake_context(llm=TimeoutLLM()))

    records = read_traces(run)
    summary = pass_summary(records)
    assert set(summary) == {1, 2} and summary[1]["describe"]["cached"] == 2
    assert summary[1]["assign"].get("ruled") and summary[2]["assign"]["called"]
    assert any(r.get("failed") for r in records if r["version"] == 2)
    assert trace_overview(run) == (summary, current_traces(records, None)["name_clusters"])
    for image in paths:
        for version in (1, 2, None):
            assert image_traces(run, image, version) == current_traces(records, image, version), (image, version)


def test_an_answer_from_the_store_is_counted_so_whatever_fields_its_trace_has(tmp_path):
    """A record without "seconds" (or with its fields in another order) is still counted by its fields."""
    records = [{"step": "describe", "image": "a", "prompt": "p", "output": "o", "model": "m", "cached": True},
               {"step": "describe", "image": "b", "cached": True, "model": "m", "prompt": "p"},
               {"step": "assign", "image": "a", "model": "(raw label: no model)", "cached": False},
               {"step": "assign", "image": "b", "prompt": "p", "output": {"model": "(no model)", "cached": True},
                "model": "m", "seconds": 0.5, "cached": False}]
    with TraceWriter(tmp_path) as writer:
        writer.write(trace_lines({"traces": records}, 1))
    expected = {1: {"describe": {"called": 0, "cached": 2}, "assign": {"called": 1, "cached": 0, "ruled": 1}}}
    assert pass_summary(read_traces(tmp_path)) == expected
    assert trace_overview(tmp_path) == (expected, None)
