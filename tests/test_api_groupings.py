"""Issue 21 through the estimator: n_clusters="auto", cluster_names=, other=, coarsen, add_criterion, crosstab."""

from __future__ import annotations

from ictc.api import ICTC
from ictc.evaluation.crosstab import heat_map_png

from fakes import NoneOfTheseLLM, fake_context, step_calls


def test_auto_k_then_levels(colour_images, tmp_path):
    paths, _ = colour_images
    model = ICTC("colour", "auto", out_dir=tmp_path / "run", context=fake_context()).fit(paths)
    assert model.k_choice_["chosen"] == 3 and len(model.cluster_names_) == 3 and model.tree_ == []
    model.coarsen(2)
    assert len(model.cluster_names_) == 2 and sum(p["size"] for p in model.tree_) == 8
    assert sorted(set(model.labels_)) == [0, 1]


def test_own_names_with_other(colour_images, tmp_path):
    paths, _ = colour_images
    ctx = fake_context(llm=NoneOfTheseLLM())
    model = ICTC("colour", out_dir=tmp_path / "run", context=ctx, cluster_names=["Red", "Green"], other=True).fit(paths)
    assert model.cluster_names_ == ["Red", "Green", "other"] and model.other_size_ == 2
    assert step_calls(ctx.llm, "organise labels") == 0
    assert (model.labels_ == 2).sum() == 2  # "other" has an index like any cluster


def test_add_criterion_and_crosstab(colour_images, tmp_path):
    paths, _ = colour_images
    ctx = fake_context()
    colour = ICTC("colour", 3, out_dir=tmp_path / "run", context=ctx).fit(paths)
    hue = colour.add_criterion("hue", 2)
    assert len(hue.cluster_names_) == 2 and hue.group_dir_ == colour.run_dir_
    tab = colour.crosstab(hue)
    assert tab.rows == colour.cluster_names_ and tab.columns == hue.cluster_names_
    assert sum(map(sum, tab.counts)) == 8
    assert colour.crosstab("hue").counts == tab.counts  # by the criterion's name in the group
    assert heat_map_png(tab)[:4] == b"\x89PNG"
