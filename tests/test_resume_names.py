"""`ictc resume` of a run with failed images: Step 2b runs again over every label, and when its names change every
image gets Step 3 again, so that no image is left under a name that is no longer one of the run's clusters (a
tester's run: "2 clusters: 0 Green, 3 Red", 5 images still in 'blue'/'green', the export showing 3 of 8)."""

from __future__ import annotations

import json

from ictc.graph.run import resume_run, start_run
from ictc.prompts import make_criterion

from fakes import FakeVLM, fake_context, make_images, step_calls


class CutsRed(FakeVLM):
    """A server that fails every red image's description (a timeout), answering the others."""

    def respond(self, messages, **kwargs):
        answer = super().respond(messages, **kwargs)
        if "filled with red" in answer:
            raise TimeoutError("the description was cut")
        return answer


def _results(run):
    return json.loads((run / "results.json").read_text("utf-8"))


def test_resume_whose_names_change_assigns_every_image_again_and_leaves_none_under_a_gone_name(tmp_path):
    paths, _ = make_images(tmp_path / "images", {"blue": 2, "green": 3, "red": 3})
    ctx = fake_context(vlm=CutsRed())
    start_run(paths, make_criterion("colour"), 2, ctx.settings, tmp_path / "run", context=ctx)
    first = _results(tmp_path / "run")
    assert first["summary"]["failed"] == 3 and sorted(n.lower() for n in first["cluster_names"]) == ["blue", "green"]
    healthy = fake_context()
    resume_run(tmp_path / "run", context=healthy)
    results = _results(tmp_path / "run")
    names = results["cluster_names"]
    assert sorted(n.lower() for n in names) == ["green", "red"]  # Step 2b over the 8 labels names other clusters
    assert results["summary"]["clustered"] == 8
    stranded = [r["image"] for r in results["images"] if r["cluster"] not in names]
    assert stranded == []
    assert step_calls(healthy.llm, "sort images") == 8  # Step 3 again for every image, not only the 3 retried


def test_resume_whose_names_stay_assigns_only_the_retried_images(tmp_path):
    paths, _ = make_images(tmp_path / "images", {"blue": 2, "green": 3, "red": 3})

    class CutsOneBlue(FakeVLM):
        def respond(self, messages, **kwargs):
            answer = super().respond(messages, **kwargs)
            if "filled with blue" in answer and "41 pixels" in answer:  # blue_1 only
                raise TimeoutError("the description was cut")
            return answer

    ctx = fake_context(vlm=CutsOneBlue())
    start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / "run", context=ctx)
    assert _results(tmp_path / "run")["summary"]["failed"] == 1
    healthy = fake_context()
    resume_run(tmp_path / "run", context=healthy)
    results = _results(tmp_path / "run")
    assert results["summary"]["clustered"] == 8
    assert step_calls(healthy.llm, "sort images") == 1
