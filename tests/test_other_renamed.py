"""A cluster the user renamed "Other" and then `--other`: that cluster is the other group, its images in it (it had
stood as 'Other' beside a second, empty 'other', and Step 3 had sent its images elsewhere); and a rename to "Others"
beside the other group is refused as that group's name."""

from __future__ import annotations

import pytest

from ictc.api import ICTC
from ictc.core.errors import UsageError
from ictc.graph.session import run_state

from fakes import NoneOfTheseLLM, fake_context


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


@pytest.mark.parametrize("edit", ["rename", "merge"])
def test_the_other_group_renamed_or_merged_is_gone_and_a_later_step_2b_does_not_bring_it_back(colour_images, tmp_path,
                                                                                               edit):
    # renamed "Misc" (or merged into another cluster), the run had stayed flagged as having the group: a later
    # Step 2b put "other" back beside the user's name, with K one short
    paths, _ = colour_images
    model = ICTC(criterion="colour", n_clusters=2, other=True, out_dir=tmp_path / "run",
                 context=fake_context(llm=NoneOfTheseLLM())).fit(paths)
    first, second, other = model.cluster_names_
    assert other == "other" and model.other_size_ == 2
    if edit == "rename":
        model.rename_cluster("other", "Misc")
        assert model.cluster_names_ == [first, second, "Misc"]
    else:
        model.merge_clusters("other", first, into=first)
        assert model.cluster_names_ == [first, second]
    state = run_state(model.run_dir_)
    assert not state["other"] and state["n_clusters"] == len(model.cluster_names_)
    assert model.other_size_ is None
    model.add_instruction("Name each colour plainly.", "name_clusters")  # Step 2b names afresh, then Step 3
    assert "other" not in model.cluster_names_ and len(model.cluster_names_) == state["n_clusters"]
