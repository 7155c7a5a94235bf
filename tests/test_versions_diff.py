"""Comparing two versions of a run (graph/versions.py diff): renames and moves, read in one pass."""

from __future__ import annotations

from ictc.graph.versions import diff


def _rows(clusters: dict[str, str]) -> list[dict[str, str]]:
    return [{"image": image, "cluster": cluster} for image, cluster in clusters.items()]


def test_a_cluster_with_the_same_members_is_renamed_and_other_changes_are_moves():
    before = _rows({"a.jpg": "Red", "b.jpg": "Red", "c.jpg": "Blue", "d.jpg": "Blue", "e.jpg": "Green", "f.jpg": ""})
    after = _rows({"a.jpg": "Crimson", "b.jpg": "Crimson", "c.jpg": "Blue", "d.jpg": "Green", "e.jpg": "Green",
                   "f.jpg": "Blue", "g.jpg": "Green"})
    changes = diff(before, after)
    assert changes["renamed"] == {"Red": "Crimson"}  # same members, new name: not 2 moves
    assert changes["moved"] == [{"image": "d.jpg", "from": "Blue", "to": "Green"},
                                {"image": "f.jpg", "from": "", "to": "Blue"},  # failed before, clustered now
                                {"image": "g.jpg", "from": "", "to": "Green"}]  # not in the earlier version


def test_a_name_back_in_another_case_is_a_rename_and_its_images_that_stayed_did_not_move():
    """After Step 2b ran again, "Red" came back as "red" with one image more: that image moved, not all three."""
    before = _rows({"a.jpg": "Red", "b.jpg": "Red", "c.jpg": "Blue", "d.jpg": "Blue"})
    after = _rows({"a.jpg": "red", "b.jpg": "red", "c.jpg": "red", "d.jpg": "Blue"})
    assert diff(before, after) == {"renamed": {"Red": "red"}, "merged": {}, "moved": [{"image": "c.jpg", "from": "Blue", "to": "red"}]}
    same = _rows({"a.jpg": "Red", "b.jpg": "red"})  # both names there before and after: nothing is renamed
    assert diff(same, same) == {"renamed": {}, "merged": {}, "moved": []}


def test_identical_versions_differ_in_nothing_at_any_size():
    rows = _rows({f"{i}.jpg": f"c{i % 7}" for i in range(20_000)})
    assert diff(rows, list(reversed(rows))) == {"renamed": {}, "merged": {}, "moved": []}


def test_two_clusters_of_equal_size_under_one_new_name_are_a_merge_not_all_their_images_moved():
    """`ictc refine -k 2` after renames had listed 8 images as moved where the 4 reds joined the 4 greens under a
    new name: both earlier clusters went whole to it, a merge, and none of their images moved."""
    before = _rows({**{f"r{i}.png": "Reds" for i in range(4)}, **{f"g{i}.png": "Greens" for i in range(4)},
                    "b0.png": "Blues", "b1.png": "Blues"})
    after = _rows({**{f"r{i}.png": "Red and green" for i in range(4)},
                   **{f"g{i}.png": "Red and green" for i in range(4)}, "b0.png": "Blue", "b1.png": "Blue"})
    assert diff(before, after) == {"renamed": {"Blues": "Blue"}, "merged": {"Red and green": ["Greens", "Reds"]},
                                   "moved": []}
    # one cluster whole under a new name, one image of another joining it: the joiner moved, the rest did not
    after = _rows({**{f"r{i}.png": "Warm" for i in range(4)}, **{f"g{i}.png": "Greens" for i in range(3)},
                   "g3.png": "Warm", "b0.png": "Blues", "b1.png": "Blues"})
    assert diff(before, after) == {"renamed": {"Reds": "Warm"}, "merged": {},
                                   "moved": [{"image": "g3.png", "from": "Greens", "to": "Warm"}]}
    # into a name that was there before: the joiners moved, as they did (no rename of the cluster they joined)
    after = _rows({**{f"r{i}.png": "Greens" for i in range(4)}, **{f"g{i}.png": "Greens" for i in range(4)},
                   "b0.png": "Blues", "b1.png": "Blues"})
    assert diff(before, after) == {"renamed": {}, "merged": {},
                                   "moved": [{"image": f"r{i}.png", "from": "Reds", "to": "Greens"} for i in range(4)]}


def test_a_merge_kept_under_one_of_its_names_and_merged_names_in_the_order_given():
    """The chat and `ictc refine` said `merge Red Green` as "Green and Red" (larger first, then by name) and a merge
    that kept Green's name as each Red image moved."""
    from ictc.graph.versions import as_given, merges_kept_under_a_name, quoted_and

    assert quoted_and(as_given(["Green", "Red"], "merge 'Red' and 'Green' into 'Warm'")) == "'Red' and 'Green'"
    assert quoted_and(["Salt and pepper", "Oil"]) == "'Salt and pepper' and 'Oil'"
    moves = [{"image": f"{i}.png", "from": "Red", "to": "Green"} for i in range(4)]
    changes = {"renamed": {}, "merged": {}, "moved": moves}
    assert merges_kept_under_a_name(changes, "merge 'Red' and 'Green'") == ({"Green": (["Red"], 4)}, [])
    # any other change, or moves to two clusters, stay moves
    assert merges_kept_under_a_name(changes, "instruction: mind the shade") == ({}, moves)
    other = [*moves, {"image": "x.png", "from": "Red", "to": "Blue"}]
    assert merges_kept_under_a_name({**changes, "moved": other}, "merge 'Red' and 'Green'") == ({}, other)


def test_a_cluster_back_in_another_case_that_lost_images_is_not_said_to_hold_all_of_them(capsys):
    """A newcomer's new criterion split 'red' (60) into 'Red' (30) and 'Blue': the reply had said "the images of
    'red' are all in 'Red'". Said now: all of 'blue' in 'Blue', 'red' in 'Red' but for the 30 that moved."""
    from types import SimpleNamespace

    from ictc.cli.refine import _print_changes
    from ictc.ui.outcomes import renamed_said

    before = _rows({**{f"b{i}.png": "blue" for i in range(3)}, **{f"r{i}.png": "red" for i in range(4)}})
    after = _rows({**{f"b{i}.png": "Blue" for i in range(3)}, "r0.png": "Blue", "r1.png": "Blue",
                   "r2.png": "Red", "r3.png": "Red"})
    changes = diff(before, after)
    assert changes["renamed"] == {"blue": "Blue", "red": "Red"}
    results = {"history": ["new criterion 'shape'"], "cluster_names": ["Blue", "Red"], "calls": {}}
    said = renamed_said(changes["renamed"], results, changes["merged"], changes["moved"])
    assert "the images of 'blue' are all in 'Blue'" in said
    assert "the images of 'red' are in 'Red', but for the 2 that moved" in said and "all in 'Red'" not in said
    _print_changes(SimpleNamespace(version=2, results=results, changes=changes))
    out = capsys.readouterr().out
    assert "the images of 'red' are in 'Red', but for the 2 that moved" in out and "all in 'Red'" not in out


def test_renames_that_reuse_names_are_renames_and_no_image_moved():
    """red -> Crimson, green -> 'a/b\\c:d*', Crimson -> green, then back to version 1: the go-back had reported the
    10 reds moved 'green' -> 'red', the clusters matched by name, not by the images they hold."""
    reds, greens = {f"r{i}.png": "red" for i in range(10)}, {f"g{i}.png": "green" for i in range(6)}
    renamed = _rows({**{image: "green" for image in reds}, **{image: "a/b\\c:d*" for image in greens}})
    back = _rows({**reds, **greens})
    assert diff(renamed, back) == {"renamed": {"green": "red", "a/b\\c:d*": "green"}, "merged": {}, "moved": []}
    swapped = _rows({"a.png": "Blue", "b.png": "Red"})  # two names swapped: two renames
    assert diff(_rows({"a.png": "Red", "b.png": "Blue"}), swapped)["moved"] == []


def test_a_name_back_in_another_case_that_lost_images_is_no_merge_with_a_cluster_gone_whole_to_it():
    """A new criterion made "green" (5) "Green" less 2 that went to "Red", and "blue" (2) went whole to "Green": the
    chat said "the images of 'green' and 'blue' are all in 'Green'" (a merge of both), and 2 of green's were in Red."""
    before = _rows({**{f"g{i}.png": "green" for i in range(5)}, "b0.png": "blue", "b1.png": "blue"})
    after = _rows({**{f"g{i}.png": "Green" for i in range(3)}, "g3.png": "Red", "g4.png": "Red",
                   "b0.png": "Green", "b1.png": "Green"})
    assert diff(before, after) == {"renamed": {"green": "Green", "blue": "Green"}, "merged": {},
                                   "moved": [{"image": "g3.png", "from": "green", "to": "Red"},
                                             {"image": "g4.png", "from": "green", "to": "Red"}]}


def test_names_from_the_users_categories_are_said_as_theirs_not_step_2bs():
    """After "sort them into red, green and blue" the chat said "New names from Step 2b: red, green, blue", and no
    Step 2b had run: the names were the user's."""
    from ictc.graph.versions import names_source
    from ictc.ui.outcomes import renamed_said

    change = "sort into 'red', 'green', 'blue'"
    assert names_source(change) == "your categories"
    results = {"history": ["first run", change], "cluster_names": ["red", "green", "blue"]}
    said = renamed_said({"Green": "green"}, results, moved=[])
    assert said.startswith("New names from your categories: red, green, blue ("), said


def test_a_renamed_cluster_that_lost_or_gained_images_is_a_rename_and_only_those_moved():
    """Going back from 'Warm' (red and blue merged, then renamed) to 'Red' and 'Blue': 'Warm' → 'Red' is a name
    change, the 2 blue images moved; every one of the 5 had been listed as moved, the rename unsaid. The same the
    other way (a renamed cluster that gained an image), and a name kept by nobody's majority is no rename."""
    merged = {"r1": "Warm", "r2": "Warm", "r3": "Warm", "b1": "Warm", "b2": "Warm", "g1": "Green"}
    back = {"r1": "Red", "r2": "Red", "r3": "Red", "b1": "Blue", "b2": "Blue", "g1": "Green"}
    assert diff(_rows(merged), _rows(back)) == {"renamed": {"Warm": "Red"}, "merged": {}, "moved": [
        {"image": "b1", "from": "Warm", "to": "Blue"}, {"image": "b2", "from": "Warm", "to": "Blue"}]}
    gained = {"r1": "Red", "r2": "Red", "b1": "Blue", "b2": "Blue"}
    renamed = {"r1": "Warm", "r2": "Warm", "b1": "Warm", "b2": "Blue"}
    assert diff(_rows(gained), _rows(renamed)) == {"renamed": {"Red": "Warm"}, "merged": {}, "moved": [
        {"image": "b1", "from": "Blue", "to": "Warm"}]}
    halves = {"a": "Mixed", "b": "Mixed", "c": "Mixed", "d": "Mixed"}  # no majority: split in two, not renamed
    assert diff(_rows(halves), _rows({"a": "Red", "b": "Red", "c": "Blue", "d": "Blue"}))["renamed"] == {}
