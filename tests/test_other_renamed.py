"""A cluster the user renamed "Other" and then `--other`: that cluster is the other group, its images in it (it had
stood as 'Other' beside a second, empty 'other', and Step 3 had sent its images elsewhere); and a rename to "Others"
beside the other group is refused as that group's name."""

from __future__ import annotations

import pytest

from ictc.api import ICTC
from ictc.core.errors import UsageError
from ictc.graph.session import run_state

from fakes import fake_context


def test_add_other_after_a_rename_to_other_makes_that_cluster_the_other_group(colour_images, tmp_path):
    paths, _ = colour_images
    model = ICTC(criterion="colour", n_clusters=3, out_dir=tmp_path / "run", context=fake_context()).fit(paths)
    blues = sorted(p for p, i in zip(model.image_paths_, model.labels_, strict=True) if model.cluster_names_[i] == "Blue")
    model.rename_cluster("Blue", "Other").add_other()
    assert model.cluster_names_ == ["Green", "Red", "other"] and model.other_size_ == 2
    other = model.cluster_names_.index("other")
    assert sorted(p for p, i in zip(model.image_paths_, model.labels_, strict=True) if i == other) == blues
    assert model.changes_ == {"renamed": {"Other": "other"}, "merged": {}, "moved": []}
    assert run_state(model.run_dir_)["n_clusters"] == 2  # K counts the named clusters, as with --other
    with pytest.raises(UsageError, match="cannot rename to 'Others': cluster 3 is called 'other'"):
        model.rename_cluster("Red", "Others")
    with pytest.raises(UsageError, match="cannot merge into 'OTHER': cluster 3 is called 'other'"):
        model.merge_clusters("Red", "Green", into="OTHER")
    with pytest.raises(UsageError, match="cannot rename to 'red.': cluster 2 is called 'Red'"):  # as before
        model.rename_cluster("Green", "red.")
