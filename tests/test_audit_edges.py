"""Break-it cases of the fairness audit and of refinement edits (issues 20 and 3): values with punctuation,
images not found from where ictc runs, a version made by another process while an audit ran, cluster names
with spaces or across lines."""

from __future__ import annotations

import json

import pytest

from ictc.core.errors import UsageError
from ictc.graph.audit import check_values
from ictc.graph.run import start_run
from ictc.nodes.perceive import constrain
from ictc.prompts import make_criterion

from fakes import fake_context, make_marked_images

ATTRIBUTE = "perceived gender"


@pytest.fixture
def relative_run(tmp_path, monkeypatch):
    """A run started as `ictc run images` from tmp_path: its images are named relative to there."""
    make_marked_images(tmp_path / "images", {("red", "black"): 2, ("red", "white"): 2, ("green", "white"): 2})
    monkeypatch.chdir(tmp_path)
    ctx = fake_context()
    start_run("images", make_criterion("colour"), 2, ctx.settings, tmp_path / "run", context=ctx)
    assert json.loads((tmp_path / "run" / "results.json").read_text())["images"][0]["image"].startswith("images")
    return tmp_path / "run"


def test_values_with_punctuation_are_read_in_the_answer_s_own_form():
    ages = ["0-17", "18-64", "65+"]
    assert constrain("65+", ages) == "65+" and constrain("65+.", ages) == "65+"  # "65+" had always read unclear
    assert constrain("18-64", ages) == "18-64" and constrain("Man.", ["man.", "woman."]) == "man."
    with pytest.raises(UsageError, match="'65\\+' reads the same as '65'"):
        check_values(ATTRIBUTE, "65, 65+")
    with pytest.raises(UsageError, match="'\\?' has no letter or digit"):
        check_values(ATTRIBUTE, "man, ?")
    with pytest.raises(UsageError, match="reads the same as 'unclear'"):
        check_values(ATTRIBUTE, "man, unclear.")
