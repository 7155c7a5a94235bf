"""A split of a cluster the user named keeps the user's name: the part Step 2b names as the cluster was named before
the rename keeps it (its images do not move), or, when none is, the parts are named under it. Step 3 is still asked
Step 2b's names. A split of the user's "Bob's reds" had made 'red' and 'yellow' and listed all its images moved."""

from __future__ import annotations

from test_refine import SplitLLM, finished  # noqa: F401 (finished: a fixture)

from ictc.graph.refine import refine_run, undo_run
from ictc.nodes.actions import Rename, Split
from ictc.nodes.name_split import part_names
from ictc.ui.split_outcome import split_said

from fakes import FakeLLM, fake_context


class RedCrimsonLLM(FakeLLM):
    """Splits a red cluster into Red (the two darker images) and Crimson (the 40-pixel one)."""

    def respond(self, messages, **kwargs):
        if "organise labels" in messages[0].content:
            return '{"names": ["red", "Crimson"]}'
        if "sort images" in messages[0].content:
            return "Crimson" if "40 pixels" in messages[1].content else "Red"
        return super().respond(messages, **kwargs)


def _sizes(result) -> dict[str, int]:
    return {c["name"]: c["size"] for c in result.results["clusters"]}


def test_a_split_of_a_renamed_cluster_keeps_the_user_s_name_on_the_part_step_2b_named_as_it_was(finished):  # noqa: F811
    refine_run(finished.run_dir, Rename("Red", "Bob's reds"), context=fake_context())
    ctx = fake_context(llm=RedCrimsonLLM(), assign_by_label="off")
    result = refine_run(finished.run_dir, Split("Bob's reds", 2), context=ctx)
    assert _sizes(result) == {"Green": 3, "Bob's reds": 2, "Crimson": 1, "Blue": 2}
    # only the image that went to the new part moved; the user's name was not what Step 3 was asked
    assert [(m["from"], m["to"]) for m in result.changes["moved"]] == [("Bob's reds", "Crimson")]
    assert not any("Bob's reds" in c["prompt"] for c in ctx.llm.calls)
    said = split_said(result.results["naming"]["split"], _sizes(result))
    assert "keeps your name Bob's reds" in said and "numbered names" not in said


def test_a_split_of_a_renamed_cluster_names_its_parts_under_the_user_s_name_when_none_is_it(finished):  # noqa: F811
    refine_run(finished.run_dir, Rename("Red", "Bob's reds"), context=fake_context())
    result = refine_run(finished.run_dir, Split("Bob's reds", 2), context=fake_context(llm=SplitLLM()))
    assert _sizes(result) == {"Green": 3, "Bob's reds: Light red": 1, "Bob's reds: Dark red": 2, "Blue": 2}
    said = split_said(result.results["naming"]["split"], _sizes(result))
    assert "are put under your name Bob's reds" in said and "numbered names" not in said
    # an unrenamed cluster's parts are Step 2b's, as before
    undo_run(finished.run_dir, context=fake_context())
    undo_run(finished.run_dir, context=fake_context())
    plain = refine_run(finished.run_dir, Split("Red", 2), context=fake_context(llm=SplitLLM()))
    assert _sizes(plain) == {"Green": 3, "Light red": 1, "Dark red": 2, "Blue": 2}


def test_the_user_s_categories_are_the_user_s_names_too():
    assert part_names("indoor", ["kitchen", "hall"], (), users=True) == ["indoor: kitchen", "indoor: hall"]
    assert part_names("indoor", ["kitchen", "Indoor"], (), users=True) == ["kitchen", "indoor"]
    assert part_names("Red", ["Light red", "Dark red"], (), users=False) == ["Light red", "Dark red"]


def test_a_split_of_one_of_the_user_s_categories_names_its_parts_under_it(colour_images, tmp_path):
    """A second split of a --names run: the first split's Step 2b had made the names look Step 2b's."""
    from ictc.graph.run import start_run
    from ictc.prompts import make_criterion

    paths, _ = colour_images
    ctx = fake_context()
    start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / "run", context=ctx, names="Red,Green,Blue")
    refine_run(tmp_path / "run", Split("Green", 2), context=fake_context())  # one group found: Step 2b's record now
    result = refine_run(tmp_path / "run", Split("Red", 2), context=fake_context(llm=SplitLLM()))
    assert result.results["cluster_names"] == ["Red: Light red", "Red: Dark red", "Green", "Blue"]


def test_a_split_of_a_cluster_renamed_to_its_plural_says_no_part_got_a_numbered_name(finished):  # noqa: F811
    # "red" renamed "Reds", then split: the part Step 2b called red keeps "Reds" (the same label, plural), and the
    # outcome had said "the part(s) Reds got numbered names", which no part had
    refine_run(finished.run_dir, Rename("Red", "Reds"), context=fake_context())
    ctx = fake_context(llm=RedCrimsonLLM(), assign_by_label="off")
    result = refine_run(finished.run_dir, Split("Reds", 2), context=ctx)
    assert _sizes(result) == {"Green": 3, "Reds": 2, "Crimson": 1, "Blue": 2}
    said = split_said(result.results["naming"]["split"], _sizes(result))
    assert said.startswith("Split **Reds** into 2: Reds (2), Crimson (1).") and "numbered names" not in said, said
