"""A cross-tab of a criterion with itself, or of a criterion text that several runs of the group have: refused in
one line (`ictc crosstab GROUP colour colour` had tabulated the first match against itself, unsaid)."""

from __future__ import annotations

import pytest

from ictc.api import ICTC
from ictc.cli import main
from ictc.core.errors import UsageError

from fakes import fake_context


def test_the_same_criterion_twice_or_a_text_of_two_runs_is_refused(colour_images, tmp_path, capsys):
    paths, _ = colour_images
    ctx = fake_context()
    first = ICTC("main colour", 3, out_dir=tmp_path / "run", context=ctx).fit(paths)
    second = first.add_criterion("main colour", 2)  # the same criterion again, another K: folder main-colour-2
    group = str(first.run_dir_)
    capsys.readouterr()
    assert main(["crosstab", group, "main-colour", "main-colour"]) == 1
    assert "ictc: error: 'main-colour' and 'main-colour' are the same run (main-colour): a cross-tab needs two " \
           "different criteria; the others are: main-colour-2" in capsys.readouterr().err
    assert main(["crosstab", group, "main colour", "main-colour-2"]) == 1  # the text is both runs'
    err = capsys.readouterr().err
    assert "'main colour' is the criterion of 2 runs in" in err and "give one by its folder name" in err, err
    assert main(["crosstab", group, "main-colour", "main-colour-2"]) == 0
    with pytest.raises(UsageError, match="is this estimator's own run"):
        second.crosstab(second)
    with pytest.raises(UsageError, match="'main-colour-2' is this estimator's own run"):
        second.crosstab("main-colour-2")
    assert sum(map(sum, first.crosstab(second).counts)) == 8
