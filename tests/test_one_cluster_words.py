"""One cluster is "1 cluster", wherever the count of clusters is said (after merges a run can have one: a
newcomer read "1 clusters by 'brightness'")."""

from __future__ import annotations

from ictc.cli.main import main
from ictc.graph.run import start_run
from ictc.prompts import make_criterion

from fakes import fake_context, make_images


def test_one_cluster_is_said_in_the_singular(tmp_path, capsys):
    """A merge can no longer leave one cluster; a folder of one kind still gives one (fewer kinds than K, none
    invented), and the words for it are singular."""
    paths, labels = make_images(tmp_path / "reds", {"red": 3})
    ctx = fake_context()
    run = start_run(paths, make_criterion("colour"), 2, ctx.settings, tmp_path / "run", context=ctx).run_dir
    assert main(["refine", str(run), "--rename", "1", "Crimson"]) == 0
    out = capsys.readouterr().out
    assert "\n1 cluster by 'colour':" in out and "1 clusters" not in out
    assert "<h1>1 cluster by colour</h1>" in (run / "report.html").read_text("utf-8")
    assert main(["eval", str(run), str(labels)]) == 0
    assert "1 cluster, 1 class" in capsys.readouterr().out
