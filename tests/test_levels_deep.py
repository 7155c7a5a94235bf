"""The levels tree after two coarsenings shows every level (it had shown only the last two: each image's former
cluster was the level just below), in results.json, the estimator's tree_, the CLI summary and the report."""

from __future__ import annotations

from ictc.api import ICTC
from ictc.cli.groupings import print_groupings
from ictc.evaluation.groupings import grouping_sections

from fakes import fake_context, make_images


def test_two_coarsenings_keep_every_level_in_the_tree(tmp_path, capsys):
    paths, _ = make_images(tmp_path / "images", {"red": 2, "yellow": 2, "green": 2, "blue": 2})
    model = ICTC(criterion="colour", n_clusters=4, out_dir=tmp_path / "run", context=fake_context()).fit(paths)
    model.coarsen(3).coarsen(2)
    top = {node["name"]: node for node in model.tree_}
    assert sorted(top) == sorted(model.cluster_names_) and sum(n["size"] for n in top.values()) == 8
    # under each parent of the second level, the first level's parents, and under those the first names
    leaves = {leaf["name"]: leaf["size"] for node in top.values() for mid in node["children"]
              for leaf in mid.get("children", [])}
    assert leaves == {"Red": 2, "Yellow": 2, "Green": 2, "Blue": 2}, model.tree_
    assert all("children" in mid for node in top.values() for mid in node["children"])
    print_groupings(model.results_)
    printed = capsys.readouterr().out.splitlines()
    assert sum(line.startswith("    ") for line in printed) == 3, printed  # the first level, indented below
    assert all(f"{name} (2)" in "\n".join(printed) for name in leaves)
    report = "\n".join(grouping_sections(model.results_))
    assert all(f"{name} (2)" in report for name in leaves)
