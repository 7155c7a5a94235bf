"""One cluster is "1 cluster", wherever the count of clusters is said (after merges a run can have one: a
newcomer read "1 clusters by 'brightness'")."""

from __future__ import annotations

from ictc.cli.main import main
from ictc.graph.run import start_run
from ictc.prompts import make_criterion

from fakes import fake_context


def test_one_cluster_is_said_in_the_singular(colour_images, tmp_path, capsys):
    paths, labels = colour_images
    ctx = fake_context()
    run = start_run(paths, make_criterion("colour"), 2, ctx.settings, tmp_path / "run", context=ctx).run_dir
    assert main(["refine", str(run), "--merge", "1", "2"]) == 0
    out = capsys.readouterr().out
    assert "\n1 cluster by 'colour':" in out and "1 clusters" not in out
    assert "<h1>1 cluster by colour</h1>" in (run / "report.html").read_text("utf-8")
    assert main(["eval", str(run), str(labels)]) == 0
    assert "1 cluster, 3 classes" in capsys.readouterr().out
