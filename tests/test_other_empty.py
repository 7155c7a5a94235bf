"""An empty "other" group (every image fit one of the names) is expected: not warned as an empty cluster, said with
its size (it had been warned like any empty cluster, with the way to remove it)."""

from __future__ import annotations

from ictc.cli.summary import print_result
from ictc.graph.refine import refine_run
from ictc.graph.run import start_run
from ictc.nodes.actions import Remove
from ictc.prompts import make_criterion
from ictc.ui.views import warnings

from fakes import fake_context


def test_an_empty_other_group_is_no_warning(colour_images, tmp_path, capsys):
    paths, _ = colour_images
    ctx = fake_context()
    result = start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / "run", context=ctx,
                       names="Red,Green,Blue", other=True)
    assert result.results["other"] == {"size": 0} and result.results["warnings"] == []
    assert warnings(result.results) == []  # the chat's Overview
    print_result(result)
    out = capsys.readouterr().out
    assert "Other (none of the names fits): 0 image(s); every image fit one of the names" in out
    assert "is empty" not in out and "--remove" not in out, out
    # asked for, it still goes with "remove every empty cluster" (the chat's "drop the empty groups")
    assert refine_run(tmp_path / "run", Remove(), context=fake_context()).results["cluster_names"] == ["Red", "Green", "Blue"]
