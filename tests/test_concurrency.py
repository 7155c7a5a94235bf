"""Two runs at once in different folders; two refinements of one run at once (the second refused)."""

from __future__ import annotations

import threading
import time

import pytest

from ictc.graph.refine import refine_run
from ictc.graph.run import start_run
from ictc.nodes.actions import AddInstruction
from ictc.prompts import make_criterion

from fakes import FakeLLM, fake_context


def test_two_runs_at_once_in_different_folders(colour_images, tmp_path):
    paths, _ = colour_images
    results, errors = {}, []

    def run(name: str) -> None:
        try:
            ctx = fake_context(vlm_id=f"vlm-{name}")  # nothing shared through the store: both do all the work
            results[name] = start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / name, context=ctx)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    rows = {n: [(r["image"], r["cluster"]) for r in results[n].rows] for n in ("a", "b")}
    assert rows["a"] == rows["b"] and all(c for _, c in rows["a"])


class SlowLLM(FakeLLM):
    def respond(self, messages, **kwargs):
        time.sleep(0.1)
        return super().respond(messages, **kwargs)


def test_second_refinement_of_the_same_run_is_refused_not_interleaved(colour_images, tmp_path):
    paths, _ = colour_images
    ctx = fake_context()
    run = start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / "run", context=ctx).run_dir
    slow = fake_context(llm=SlowLLM(), concurrency=1)
    first = threading.Thread(target=refine_run, args=(run, AddInstruction("Mind shades.", "assign")),
                             kwargs={"context": slow})
    first.start()
    deadline = time.monotonic() + 30
    while not slow.llm.calls and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(ValueError, match="is busy: another ictc process is working on it"):
        refine_run(run, AddInstruction("Something else.", "assign"), context=fake_context())
    first.join(60)
    meta_versions = (run / "versions").iterdir()
    assert sorted(p.name for p in meta_versions) == ["v1", "v2"]
    assert all("Something else." not in c["prompt"] for c in slow.llm.calls)
