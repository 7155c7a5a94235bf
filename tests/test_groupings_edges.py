"""Issue 21's features at their edges, as a break-it round found them: no standard input at a -k auto or review
prompt, odd --names, -k auto on too few images, several criteria interrupted, a coarser level edited afterwards."""

from __future__ import annotations

import json

import pytest

from ictc.cli import main

from fake_server import FakeOpenAIServer

MODELS = ["--backend", "openai", "--vlm", "vision-model", "--llm", "text-model"]


@pytest.mark.parametrize("flags", [["-k", "auto"], ["-k", "3", "--review"]])
def test_no_standard_input_at_a_prompt_takes_the_default(folder, tmp_path, capsys, monkeypatch, flags):
    """`ictc run ... -k auto <&-` (stdin closed: sys.stdin is None) ended as an internal error, exit 2, at the K pick."""
    monkeypatch.setattr("sys.stdin", None)
    with FakeOpenAIServer() as server:
        code = main(["run", str(folder), "-c", "colour", *flags, "--out", str(tmp_path / "run"),
                     "--base-url", server.url, *MODELS])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert len(json.loads((tmp_path / "run" / "results.json").read_text())["cluster_names"]) == 3


@pytest.mark.parametrize(("given", "names"), [
    ('"red", "green"', ["red", "green"]),  # quoted for a shell: the quotes had stayed in the names
    ('"light red, dark red", green', ["light red, dark red", "green"]),  # a name holding a comma
    ("red, green, Other", ["red", "green", "other"]),  # the other group, whatever its case
    ("Others, red", ["other", "red"]),
])
def test_names_are_read_as_a_csv_line_and_other_in_any_case_is_the_other_group(given, names):
    from ictc.nodes.user_names import parse_names

    assert parse_names(given) == names


@pytest.mark.parametrize("given", ["red, green, .", "red, ?, green"])
def test_a_category_name_with_no_letter_or_digit_is_refused(given):
    from ictc.core.errors import UsageError
    from ictc.nodes.user_names import parse_names

    with pytest.raises(UsageError, match="has no letter or digit"):
        parse_names(given)


def test_with_other_takes_a_step_2b_name_other_as_that_group():
    from ictc.nodes.user_names import with_other

    assert with_other({"names": ["Red", "Other"]}, True)["names"] == ["Red", "other"]
    assert with_other({"names": ["Red", "Green"]}, True)["names"] == ["Red", "Green", "other"]
    assert with_other({"names": ["Red", "Other"]}, False)["names"] == ["Red", "Other"]  # no other group asked


def test_a_name_other_with_the_other_flag_is_one_group(folder, tmp_path, capsys):
    """`--names "red,green,Other" --other` made two groups, 'Other' and 'other', the first never used."""
    with FakeOpenAIServer() as server:
        assert main(["run", str(folder), "-c", "colour", "--names", '"red", green, Other', "--other",
                     "--out", str(tmp_path / "run"), "--base-url", server.url, *MODELS]) == 0
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["cluster_names"] == ["red", "green", "other"] and "other" in results


@pytest.mark.parametrize(("flags", "said"), [
    (["-k", "auto"], "-k auto needs at least 2 images to propose K from; 1 found"),  # had said "not 0"
    (["-k", "3", "-k", "4"], "one -k (a number or 'auto') for the one criterion, not 2"),  # had said "give -k K"
    (["--names", "red,green,blue", "-k", "2"], "-k 2 and --names (3 categories) disagree"),  # -k had been dropped
    (["--names", "red,green", "-k", "auto"], "-k auto and --names (2 categories) disagree"),
])
def test_k_that_cannot_be_used_is_refused_in_one_line_naming_it(tmp_path, capsys, flags, said):
    from fakes import make_images

    folder = tmp_path / "images"
    make_images(folder, {"red": 1} if "auto" in flags and "--names" not in flags else {"red": 2, "green": 2})
    with FakeOpenAIServer() as server:
        assert main(["run", str(folder), "-c", "colour", *flags, "--out", str(tmp_path / "run"),
                     "--base-url", server.url, *MODELS]) == 1
    assert said in capsys.readouterr().err
    assert not server.requests[1:]  # at most the model check: nothing clustered
    assert not (tmp_path / "run").exists()


def test_add_criterion_reads_names_as_run_does(folder, tmp_path, capsys):
    with FakeOpenAIServer() as server:
        assert main(["run", str(folder), "-c", "colour", "-k", "3", "--out", str(tmp_path / "run"),
                     "--base-url", server.url, *MODELS]) == 0
        assert main(["add-criterion", str(tmp_path / "run"), "-c", "hue", "--names", "red,green", "-k", "3"]) == 1
        assert "-k 3 and --names (2 categories) disagree" in capsys.readouterr().err
        assert main(["add-criterion", str(tmp_path / "run"), "-c", "hue", "--names", '"red, green", blue']) == 0
    assert json.loads((tmp_path / "run" / "hue" / "results.json").read_text())["cluster_names"] == ["red, green", "blue"]


def test_a_run_of_several_criteria_stopped_in_the_second_is_resumed_by_its_folder(folder, tmp_path, capsys, monkeypatch):
    """The stop said "Continue with: ictc resume GROUP", which answered "not a run folder", and the criteria not yet
    started were recorded nowhere: `-c shade -k auto` was lost."""
    import ictc.graph.criteria as criteria

    started = criteria._start

    def stop_at_the_second(*args, **kwargs):
        if (tmp_path / "group" / "colour" / "results.json").is_file():
            raise KeyboardInterrupt
        return started(*args, **kwargs)

    group = tmp_path / "group"
    with FakeOpenAIServer() as server:
        monkeypatch.setattr(criteria, "_start", stop_at_the_second)
        assert main(["run", str(folder), "-c", "colour", "-k", "3", "-c", "hue", "-k", "2", "-c", "shade", "-k", "auto",
                     "--out", str(group), "--base-url", server.url, *MODELS]) == 130
        assert f"ictc resume {group}" in capsys.readouterr().err and not (group / "hue").exists()
        monkeypatch.setattr(criteria, "_start", started)
        assert main(["resume", str(group), "--images", str(folder)]) == 1  # one folder for every run: refused
        assert "--images goes with one run" in capsys.readouterr().err
        assert main(["resume", str(group)]) == 0
    out = capsys.readouterr().out
    assert "3 clusters by 'colour'" in out and "2 clusters by 'hue'" in out and "by 'shade'" in out
    shade = json.loads((group / "shade" / "results.json").read_text())
    assert shade["k_choice"]["by"] == "best"
    assert "shade" in (group / "criteria.html").read_text()


def test_the_tree_follows_a_parent_renamed_or_merged_and_a_later_step_3(tmp_path):
    """After a parent was renamed the tree kept its old name (issue 21's known gap), and after Step 3 ran again
    every size in it was 0 while the parents held all 8 images."""
    from ictc.graph.refine import refine_run
    from ictc.graph.run import start_run
    from ictc.nodes.actions import AddInstruction, Coarser, Merge, Rename
    from ictc.prompts import make_criterion

    from fakes import fake_context, make_images

    paths, _ = make_images(tmp_path / "images", {"red": 2, "yellow": 2, "green": 2, "blue": 2})
    run = tmp_path / "run"
    start_run(paths, make_criterion("colour"), 4, fake_context().settings, run, context=fake_context())
    coarse = refine_run(run, Coarser(3), context=fake_context())
    first = coarse.results["tree"][0]["name"]

    def tree(result):
        return {p["name"]: ({c["name"]: c["size"] for c in p["children"]}, p["size"], p.get("direct", 0))
                for p in result.results["tree"]}

    renamed = tree(refine_run(run, Rename(first, "Warm"), context=fake_context()))
    assert "Warm" in renamed and first not in renamed and renamed["Warm"] == tree(coarse)[first]
    merged = refine_run(run, Merge(tuple(n for n in renamed if n != "Warm")[:2], into="Rest"), context=fake_context())
    assert set(tree(merged)) == {"Warm", "Rest"} and sum(sum(c.values()) for c, _, _ in tree(merged).values()) == 8
    again = tree(refine_run(run, AddInstruction("look closely", "assign"), context=fake_context()))
    assert sum(size for _, size, _ in again.values()) == 8  # each parent's images counted, not 0
    assert all(sum(children.values()) + direct == size for children, size, direct in again.values())


def test_a_command_for_one_run_given_a_group_of_criteria_names_its_runs(folder, tmp_path, capsys):
    """`ictc refine GROUP --coarser 2` said "not a run folder", `eval` "finish the run first (ictc resume GROUP)",
    `export` a bare "No such file or directory"."""
    group = tmp_path / "group"
    with FakeOpenAIServer() as server:
        assert main(["run", str(folder), "-c", "colour", "-k", "3", "-c", "hue", "-k", "2", "--out", str(group),
                     "--base-url", server.url, *MODELS]) == 0
    capsys.readouterr()
    for command in (["refine", str(group), "--coarser", "2"], ["eval", str(group), str(folder / "labels.csv")],
                    ["export", str(group), str(tmp_path / "out")], ["search", str(group), "red"],
                    ["audit", str(group), "--attribute", "age", "--yes"]):
        assert main(command) == 1
        said = capsys.readouterr().err
        assert f"holds several criteria, one run each: give one of {group / 'colour'}, {group / 'hue'}" in said, said
    assert not (tmp_path / "out").exists()


def test_the_estimator_reads_auto_names_and_a_coarser_level_as_the_cli_does(colour_images, tmp_path):
    """ICTC(n_clusters="Auto") was refused as no number (the CLI's -k Auto is read); add_criterion split its names
    at every comma, quotes and all; coarsen on a run of 2 names asked for "between 2 and 1 parents"."""
    from ictc.api import ICTC
    from ictc.core.errors import UsageError

    from fakes import fake_context

    paths, _ = colour_images
    model = ICTC("colour", "Auto", out_dir=tmp_path / "run", context=fake_context()).fit(paths)
    assert model.k_choice_["chosen"] == 3
    hue = model.add_criterion("hue", cluster_names='"red, green", blue')
    assert hue.cluster_names_ == ["red, green", "blue"]
    with pytest.raises(UsageError, match=r"3 names or more to group into 2 or more parents; the run has 2 \("):
        hue.coarsen(2)


def test_the_calls_of_a_coarser_level_and_of_k_proposed_are_counted_and_said(tmp_path, capsys):
    """`refine --coarser 2` printed "Model calls: describe 0, ..., assign 0" and "New names from Step 2b" for its one
    LLM call, and results.json's calls had no room for the coarsen or propose_k call."""
    from fakes import make_images

    folder = tmp_path / "images"
    make_images(folder, {"red": 2, "yellow": 2, "green": 2, "blue": 2})
    with FakeOpenAIServer() as server:
        assert main(["run", str(folder), "-c", "colour", "-k", "auto", "--yes", "--out", str(tmp_path / "run"),
                     "--base-url", server.url, *MODELS]) == 0
        results = json.loads((tmp_path / "run" / "results.json").read_text())
        assert results["calls"]["propose_k"] == {"model_calls": 1, "from_store": 0}
        capsys.readouterr()
        assert main(["refine", str(tmp_path / "run"), "--coarser", "2"]) == 0
    out = capsys.readouterr().out
    assert "coarsen 1 (0 from store)" in out and "New names from the coarser level: " in out, out


def test_k_auto_on_images_of_one_kind_is_not_told_to_ask_for_a_smaller_k(tmp_path):
    from ictc.graph.run import start_run
    from ictc.prompts import make_criterion

    from fakes import fake_context, make_images

    paths, _ = make_images(tmp_path / "images", {"red": 4})
    ctx = fake_context()
    result = start_run(paths, make_criterion("colour"), "auto", ctx.settings, tmp_path / "run", context=ctx)
    said = [w for w in result.results["warnings"] if "distinct kind" in w]
    assert said and "ask for another criterion if that is not right" in said[0] and "smaller K" not in said[0]


def test_a_criterion_refined_on_its_own_is_shown_as_it_is_now_in_the_group_page(folder, tmp_path, capsys):
    """criteria.html kept a criterion's clusters as they were before `ictc refine GROUP/colour ...`."""
    group = tmp_path / "group"
    with FakeOpenAIServer() as server:
        assert main(["run", str(folder), "-c", "colour", "-k", "3", "-c", "hue", "-k", "2", "--out", str(group),
                     "--base-url", server.url, *MODELS]) == 0
        assert main(["refine", str(group / "colour"), "--rename", "1", "Verdant"]) == 0
        # one criterion's run given: the criterion joins its group (hue had become a group inside the group)
        assert main(["add-criterion", str(group / "hue"), "-c", "shade", "-k", "2"]) == 0
    page = (group / "criteria.html").read_text()
    assert "Verdant" in page and page.count("&times;") == 3 and not (group / "hue" / "criteria.json").exists()


def test_the_k_candidates_are_no_numbered_menu_and_a_wrong_k_is_said_once(folder, tmp_path, capsys, monkeypatch):
    """"1. K=3 / 2. K=2" read as a menu: "1" was refused as K=1, and a "2" for the second candidate is K=2 whatever it
    was; a wrong K's error then stood under the list at every later try."""
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("11\nthree\n3\n"))
    with FakeOpenAIServer() as server:
        assert main(["run", str(folder), "-c", "colour", "-k", "auto", "--out", str(tmp_path / "run"),
                     "--base-url", server.url, *MODELS]) == 0
    out = capsys.readouterr().out
    assert "1. K=" not in out and "  - K=3" in out and "a number of clusters" in out
    assert out.count("not 11") == 1 and "'three' is not a number" in out


def test_new_categories_for_a_run_with_its_own_are_not_said_to_keep_the_old_ones(colour_images, tmp_path):
    """`refine --names "warm, cool"` on a run sorted into "red, green" said "your own categories stay (red, green ...):
    give new ones, or a K, to change them", which was what had just been done."""
    from ictc.graph.run import start_run
    from ictc.graph.session import run_state
    from ictc.nodes.actions import SetNames, preview_action
    from ictc.prompts import make_criterion

    from fakes import fake_context

    paths, _ = colour_images
    ctx = fake_context()
    start_run(paths, make_criterion("colour"), 0, ctx.settings, tmp_path / "run", context=ctx, names="red, green")
    said = preview_action(run_state(tmp_path / "run"), SetNames(("warm", "cool")))
    assert "Step 3 into warm, cool" in said and "stay" not in said, said


@pytest.mark.levers
def test_none_of_these_on_the_default_route_is_not_overruled_by_the_label_s_likeness_to_a_name(tmp_path):
    """With the defaults (calibrated choice plus the embedding prior), the two yellow squares the model called none of
    red, green and blue went to red ("logprobs+embedding"): the prior of the label "yellow" outweighed the stated rule."""
    from fakes import NoneOfTheseLLM, make_images

    folder = tmp_path / "images"
    make_images(folder, {"red": 2, "green": 2, "blue": 2, "yellow": 2})
    with FakeOpenAIServer(llm=NoneOfTheseLLM()) as server:
        assert main(["run", str(folder), "-c", "colour", "--names", "red,green,blue", "--other",
                     "--out", str(tmp_path / "run"), "--base-url", server.url, *MODELS]) == 0
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert {r["image"].rsplit("/", 1)[-1]: r["cluster"] for r in results["images"] if "yellow" in r["image"]} == {
        "yellow_0.png": "other", "yellow_1.png": "other"}


def test_several_criteria_take_the_instructions_and_refuse_review_and_preset(folder, tmp_path, capsys):
    """--instruction, --review and --preset beside several -c had been dropped without a word."""
    several = ["run", str(folder), "-c", "colour", "-k", "3", "-c", "hue", "-k", "2"]
    for flag, said in ((["--review"], "--review goes with one criterion"), (["--preset", "mood"], "--preset is a criterion")):
        assert main([*several, *flag, "--out", str(tmp_path / "no"), *MODELS]) == 1
        assert said in capsys.readouterr().err
    assert not (tmp_path / "no").exists()
    with FakeOpenAIServer() as server:
        assert main([*several, "--instruction", "ignore the size", "--step", "assign", "--out", str(tmp_path / "group"),
                     "--base-url", server.url, *MODELS]) == 0
    for name in ("colour", "hue"):
        criterion = json.loads((tmp_path / "group" / name / "results.json").read_text())["criterion"]
        assert criterion["instructions"] == {"assign": ["ignore the size"]}


def test_a_stop_of_several_criteria_in_their_default_folder_names_it(folder, tmp_path, capsys, monkeypatch):
    """Without --out, a stop said "Continue with: ictc resume RUN_DIR"."""
    import ictc.graph.criteria as criteria

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(criteria, "_start", stop)
    with FakeOpenAIServer() as server:
        assert main(["run", str(folder), "-c", "colour", "-k", "3", "-c", "hue", "-k", "2", "--base-url", server.url,
                     *MODELS]) == 130
    said = capsys.readouterr().err
    assert "RUN_DIR" not in said and "ictc resume runs" in said and "colour-hue" in said, said


def test_a_criterion_added_to_a_stopped_run_says_to_finish_it(tmp_path):
    from ictc.core.errors import UsageError
    from ictc.graph.criteria import CriterionRequest, add_criterion
    from ictc.prompts import make_criterion

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "run.json").write_text("{}")  # started, stopped before its first results
    with pytest.raises(UsageError, match=r"has not finished: finish it first \(ictc resume "):
        add_criterion(tmp_path / "run", CriterionRequest(make_criterion("hue"), 2))


def test_own_categories_may_outnumber_the_images(tmp_path):
    """`--names red,green,blue,yellow` on 3 photos was refused as "K=4 is more than the 3 images found"; a K the user
    never gave, and sorting into a category list that some photos do not fill is what --names is for."""
    from ictc.graph.run import start_run
    from ictc.prompts import make_criterion

    from fakes import fake_context, make_images

    paths, _ = make_images(tmp_path / "images", {"red": 1, "green": 1, "blue": 1})
    ctx = fake_context()
    result = start_run(paths, make_criterion("colour"), 0, ctx.settings, tmp_path / "run", context=ctx,
                       names="red, green, blue, yellow")
    assert {c["name"]: c["size"] for c in result.results["clusters"]} == {"red": 1, "green": 1, "blue": 1, "yellow": 0}


def test_a_cross_tab_of_runs_over_other_images_is_refused_not_all_zeros(tmp_path):
    """The estimator's crosstab(other) of a run over other images gave a table of zeros, with no word."""
    from ictc.api import ICTC
    from ictc.core.errors import UsageError

    from fakes import fake_context, make_images

    first, _ = make_images(tmp_path / "a", {"red": 2, "green": 2})
    second, _ = make_images(tmp_path / "b", {"red": 2, "blue": 2})
    a = ICTC("colour", 2, out_dir=tmp_path / "run-a", context=fake_context()).fit(first)
    b = ICTC("colour", 2, out_dir=tmp_path / "run-b", context=fake_context()).fit(second)
    with pytest.raises(UsageError, match="share no image"):
        a.crosstab(b)
