"""`ictc resume` of a run with failed images runs Step 2b again over every label: the user's renames of the version
it resumes are carried over where Step 2b gives the renamed name again, and the edits that cannot be kept (a
rename of a name Step 2b no longer gives, a split, a merge) are said in the version's history line, its warnings
and the command's output, never dropped without a word."""

from __future__ import annotations

import json

from test_resume_names import CutsRed  # a server failing the red images, as there

from ictc.cli.main import main
from ictc.graph.refine import refine_run
from ictc.graph.run import resume_run, start_run
from ictc.nodes.actions import Rename, Split
from ictc.prompts import make_criterion

from fakes import FakeLLM, FakeVLM, fake_context, make_images, step_calls


class CutsOneBlue(FakeVLM):
    """A server that fails the description of blue_1 only (a timeout)."""

    def respond(self, messages, **kwargs):
        answer = super().respond(messages, **kwargs)
        if "filled with blue" in answer and "41 pixels" in answer:
            raise TimeoutError("the description was cut")
        return answer


class SplitsGreen(FakeLLM):
    """Splits green into Light green (the 40-pixel image) and Dark green: a split whose parts both get images (one
    part left empty is not kept: nodes/name_split.split_done)."""

    def respond(self, messages, **kwargs):
        if "organise labels" in messages[0].content:
            return '{"names": ["Light green", "Dark green"]}'
        if "sort images" in messages[0].content:
            return "Light green" if "40 pixels" in messages[1].content else "Dark green"
        return super().respond(messages, **kwargs)


def _run(tmp_path, vlm, k):
    paths, _ = make_images(tmp_path / "images", {"blue": 2, "green": 3, "red": 3})
    ctx = fake_context(vlm=vlm)
    return start_run(paths, make_criterion("colour"), k, ctx.settings, tmp_path / "run", context=ctx), ctx


def _named(result, colour):
    return next(name for name in result.results["cluster_names"] if name.lower() == colour)


def test_a_rename_survives_a_resume_whose_step_2b_gives_the_same_names_and_no_image_is_assigned_again(tmp_path):
    first, ctx = _run(tmp_path, CutsOneBlue(), 3)  # blue_1 fails
    assert first.failed == 1
    refine_run(tmp_path / "run", Rename(_named(first, "green"), "Grass"), context=ctx)
    healthy = fake_context()
    result = resume_run(tmp_path / "run", context=healthy)
    assert "Grass" in result.results["cluster_names"] and "green" not in result.results["cluster_names"]
    assert {r["cluster"] for r in result.rows if r["image"].endswith(("green_0.png", "green_2.png"))} == {"Grass"}
    assert step_calls(healthy.llm, "sort images") == 1  # only the retried image: the others kept their cluster
    assert result.results["history"][-1] == "resume: retried 1 failed image(s)"  # nothing lost, nothing said
    assert "notices" not in result.results


def test_the_progress_line_of_a_resume_shows_the_names_with_the_user_s_rename(tmp_path, capsys, monkeypatch):
    """After `ictc refine --rename 1 Verdant`, `ictc resume` printed "Step 2b names: 1/1, green, red, blue" (Step 2b's
    own names) where the result had Verdant."""
    first, ctx = _run(tmp_path, CutsOneBlue(), 3)  # blue_1 fails
    refine_run(tmp_path / "run", Rename(_named(first, "green"), "Verdant"), context=ctx)
    capsys.readouterr()
    healthy = fake_context()
    monkeypatch.setattr("ictc.graph.runtime.build_context", lambda settings: healthy)
    assert main(["resume", str(tmp_path / "run")]) == 0
    lines = capsys.readouterr().err.replace("\r", "\n").splitlines()
    names = [line for line in lines if line.startswith("Step 2b names")]
    assert names and "Verdant" in names[-1] and "green" not in names[-1].lower(), names


def test_a_rename_step_2b_cannot_give_again_is_said_in_the_history_the_warnings_and_the_cli(tmp_path, capsys,
                                                                                            monkeypatch):
    first, ctx = _run(tmp_path, CutsRed(), 2)  # the 3 reds fail: Step 2b names blue and green
    assert sorted(n.lower() for n in first.results["cluster_names"]) == ["blue", "green"]
    refine_run(tmp_path / "run", Rename(_named(first, "blue"), "Sky"), context=ctx)  # version 2
    healthy = fake_context()
    monkeypatch.setattr("ictc.graph.runtime.build_context", lambda settings: healthy)
    assert main(["resume", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    results = json.loads((tmp_path / "run" / "results.json").read_text("utf-8"))
    names = results["cluster_names"]
    assert sorted(n.lower() for n in names) == ["green", "red"]  # over all 8 labels: 'blue' is no name any more
    said = (f"your renames of version 2 were not carried over: Step 2b named the clusters afresh "
            f"(names: {', '.join(names)})")
    assert results["history"][-1] == f"resume: retried 3 failed image(s); {said}"
    meta = json.loads((tmp_path / "run" / "run.json").read_text("utf-8"))
    assert meta["versions"][-1]["action"] == results["history"][-1]
    assert results["notices"] == [said] and said in results["warnings"]
    assert out.count(said) == 1  # one line at the terminal
    # the next version says it no more: a notice is the pass's own
    later = refine_run(tmp_path / "run", Rename(names[0], "Leaf"), context=healthy)
    assert "notices" not in later.results and said not in later.results["warnings"]


def test_a_split_is_said_lost_while_a_rename_is_carried_over(tmp_path):
    first, ctx = _run(tmp_path, CutsOneBlue(), 3)  # blue_1 fails
    refine_run(tmp_path / "run", Rename(_named(first, "red"), "Warm"), context=ctx)  # version 2
    split = refine_run(tmp_path / "run", Split(_named(first, "green"), 2),  # version 3: 4 clusters
                       context=fake_context(vlm=CutsOneBlue(), llm=SplitsGreen()))
    assert len(split.results["cluster_names"]) == 4
    result = resume_run(tmp_path / "run", context=fake_context())
    names = result.results["cluster_names"]
    assert "Warm" in names  # Step 2b named red again: the user's name for it comes back
    assert {r["cluster"] for r in result.rows if "red_" in r["image"]} == {"Warm"}
    assert result.results["notices"] == [f"your splits of version 3 were not carried over: Step 2b named the "
                                         f"clusters afresh (names: {', '.join(names)})"]
    assert result.results["history"][-1].endswith(result.results["notices"][0])


FAILING: list[str] = ["filled with red"]  # what the toggled server fails on ([]: nothing)


class CutsWhileFailing(FakeVLM):
    """CutsRed while FAILING says so: the chat's server mends between the run and its Continue."""

    def respond(self, messages, **kwargs):
        answer = super().respond(messages, **kwargs)
        if any(mark in answer for mark in FAILING):
            raise TimeoutError("the description was cut")
        return answer


def test_the_chat_says_the_edits_a_continue_could_not_keep(tmp_path):
    from test_ui_app import open_app, say, use_folder, wait_for_job

    make_images(tmp_path / "images", {"blue": 2, "green": 3, "red": 3})
    FAILING[:] = ["filled with red"]
    app = open_app(fake_context(vlm=CutsWhileFailing()))
    use_folder(app, tmp_path / "images")
    say(app, "group by colour, 2 groups")
    say(app, "go")
    wait_for_job(app)
    session = app.session_state["ictc_session"]
    blue = next(name for name in session.names() if name.lower() == "blue")
    say(app, f"rename {blue} to Sky")
    wait_for_job(app)
    FAILING.clear()
    say(app, "continue")
    done = wait_for_job(app)
    names = ", ".join(session.names())
    assert (f"Your renames of version 2 were not carried over: Step 2b named the clusters afresh (names: {names})."
            in done), done


def test_a_rename_of_the_user_s_own_category_survives_a_resume(tmp_path):
    """A run sorted into the user's categories (--names): its resume named the clusters from them again, and the
    images under the renamed category were left under a name no cluster had."""
    paths, _ = make_images(tmp_path / "images", {"blue": 2, "green": 3, "red": 3})
    ctx = fake_context(vlm=CutsOneBlue())
    start_run(paths, make_criterion("colour"), 0, ctx.settings, tmp_path / "run", context=ctx, names="blue,green,red")
    refine_run(tmp_path / "run", Rename("red", "Warm"), context=ctx)
    healthy = fake_context()
    result = resume_run(tmp_path / "run", context=healthy)
    assert result.results["cluster_names"] == ["blue", "green", "Warm"]
    assert {r["cluster"] for r in result.rows if "red_" in r["image"]} == {"Warm"}
    assert result.results["summary"]["clustered"] == 8 and step_calls(healthy.llm, "sort images") == 1


def test_a_rename_is_not_carried_onto_a_name_another_cluster_has_nor_kept_for_a_cluster_merged_away():
    from ictc.nodes.kept_edits import carried_over, with_edit, with_renamed

    earlier = with_renamed({"names": ["Sky", "green"]}, "blue", "Sky")
    assert earlier["renamed"] == {"blue": "Sky"}
    naming, lost = carried_over(earlier, {"names": ["Blue", "sky"]})  # Step 2b now gives "sky" itself
    assert naming["names"] == ["Blue", "sky"] and lost == ["renames"]
    merged = with_edit({**earlier, "names": ["green"]}, "merges")  # Sky merged into green
    assert merged["renamed"] == {} and merged["edits"] == ["renames", "merges"]
