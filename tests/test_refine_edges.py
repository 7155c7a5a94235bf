"""Break-it cases of the refinement edits at the terminal and in the estimator: empty texts refused in one line
(not an internal error, not a version for nothing), clusters named as the CLI names them."""

from __future__ import annotations

import pytest

from ictc.cli import main
from ictc.core.errors import UsageError
from ictc.graph.refine import refine_run
from ictc.graph.run import start_run
from ictc.graph.versions import load_meta
from ictc.nodes.actions import AddInstruction
from ictc.prompts import make_criterion

from fakes import fake_context


@pytest.fixture
def finished(colour_images, tmp_path):
    paths, _ = colour_images
    ctx = fake_context()
    start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / "run", context=ctx)
    return tmp_path / "run"


@pytest.mark.parametrize(("flag", "said"), [
    ("--criterion=", "the criterion is empty"),  # "" had been taken for no flag: an internal error (exit 2)
    ("--names=", "give at least 2 category names"),
    ("--instruction=", "the instruction is empty"),
    ("--instruction=   ", "the instruction is empty"),  # had made a version, Step 3 asked again for nothing
])
def test_an_empty_text_is_refused_in_one_line(finished, capsys, flag, said):
    assert main(["refine", str(finished), flag]) == 1
    err = capsys.readouterr().err
    assert said in err and "internal error" not in err and len(err.strip().splitlines()) == 1
    assert len(load_meta(finished)["versions"]) == 1


def test_the_estimator_refuses_an_empty_instruction_and_finds_a_cluster_as_the_cli_does(tmp_path, colour_images):
    from ictc.api import ICTC

    paths, _ = colour_images
    model = ICTC("colour", 3, out_dir=tmp_path / "run", context=fake_context()).fit(paths)
    with pytest.raises(UsageError, match="the instruction is empty"):
        model.add_instruction("  ", step="assign")
    assert model.version_ == 1
    red = next(n for n in model.cluster_names_ if n.casefold() == "red")
    model.rename_cluster(f" {red.upper()} ", "Crimson")  # "no cluster named 'RED'" here only, the CLI took it
    assert "Crimson" in model.cluster_names_ and model.version_ == 2
    with pytest.raises(UsageError, match="no cluster named 'crimson red'"):
        model.rename_cluster("crimson red", "X")


def test_a_blank_instruction_is_refused_through_refine_run(finished):
    with pytest.raises(UsageError, match="the instruction is empty"):
        refine_run(finished, AddInstruction("\n", "all"), context=fake_context())


def test_an_unfitted_estimator_says_so_for_a_cluster_index_too():
    from sklearn.exceptions import NotFittedError

    from ictc.api import ICTC

    with pytest.raises(NotFittedError):  # had been AttributeError: no cluster_names_
        ICTC(criterion="colour").rename_cluster(0, "b")


@pytest.mark.parametrize("line", ["instruction 3", "i all", "instruction 2a"])
def test_an_instruction_command_with_a_step_and_no_text_is_refused(line):
    from ictc.graph.commands import parse_command

    # had added the step's name ("3") as an instruction to every step, and every step ran again
    with pytest.raises(UsageError, match=f"instruction {line.split()[1]} needs its text, e.g. instruction "):
        parse_command(line, ["Red", "Green"])
    assert parse_command("instruction 3 Be kind.", ["Red"]) == AddInstruction("Be kind.", "assign")
