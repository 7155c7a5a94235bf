"""Fewer distinct labels than K (nodes/label_counts.short_of): fewer clusters, said once and rightly: with an "other"
group, with images that failed before Step 2b, and not carried into a later version that named its own clusters."""

from __future__ import annotations

from test_refine import SplitLLM  # splits Red by its 40-pixel image
from test_resume_names import CutsRed, _results  # a server failing the red images, as there

from ictc.cli.commands import print_result
from ictc.graph.refine import refine_run
from ictc.graph.run import start_run
from ictc.nodes.actions import Split
from ictc.nodes.label_counts import short_of
from ictc.prompts import make_criterion

from fakes import FakeLLM, fake_context, make_images, step_calls


def test_with_an_other_group_the_fewer_kinds_warning_stays_in_the_results(tmp_path):
    paths, _ = make_images(tmp_path / "images", {"red": 2, "green": 2, "blue": 2})
    ctx = fake_context()
    start_run(paths, make_criterion("colour"), 5, ctx.settings, tmp_path / "run", context=ctx, other=True)
    results = _results(tmp_path / "run")
    assert "other" in results["cluster_names"]
    assert any("only 3 distinct kinds, so 3 clusters, not K=5" in w for w in results["warnings"]), results["warnings"]
    assert (results["n_clusters"], results["asked_k"]) == (3, 5)
    assert step_calls(ctx.llm, "organise labels") == 3  # K names asked (the method's Step 2b), then the fallback


def test_with_failed_images_the_fewer_kinds_warning_says_they_failed_and_resume_retries_them(tmp_path):
    paths, _ = make_images(tmp_path / "images", {"blue": 2, "green": 3, "red": 3})
    ctx = fake_context(vlm=CutsRed())
    start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / "run", context=ctx)
    short = [w for w in _results(tmp_path / "run")["warnings"] if "distinct kind" in w]
    assert len(short) == 1 and "smaller K" not in short[0], short  # a smaller K was no way out: 3 images failed
    assert "images that got one hold only 2 distinct kinds" in short[0] and "3 images failed" in short[0]
    assert "ictc resume" in short[0]


def test_one_kind_is_said_in_the_singular_and_is_the_one_name_without_a_call():
    said = short_of(["red"], 3)["short"]
    assert "only 1 distinct kind, so 1 cluster, not K=3" in said
    assert "1 image failed" in short_of(["red"], 3, failed=1)["short"]


def test_a_split_version_says_its_own_step_2b_not_the_first_version_s(tmp_path, capsys):
    """After a split, the first version's "no usable 3 names" was printed for version 2, whose names are the split's."""
    paths, _ = make_images(tmp_path / "images", {"red": 3, "green": 3, "blue": 2})
    llm = FakeLLM(names_override=[["Red", "Red"]])  # never 3 distinct names: the first naming falls back
    ctx = fake_context(llm=llm)
    first = start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / "run", context=ctx)
    print_result(first)
    assert "no usable 3 names" in capsys.readouterr().out
    parts = SplitLLM()  # the split's own Step 2b answers at once, and each part gets an image
    split = refine_run(tmp_path / "run", Split("Red", 2), context=fake_context(llm=parts))
    print_result(split)
    out = capsys.readouterr().out
    assert "no usable" not in out, out
    assert split.results["naming"]["problems"] == [] and "Light red" in split.results["cluster_names"]
