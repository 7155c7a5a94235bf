"""The terminal's progress bars: per-image steps count images with a rate, other phases a plain count."""

from __future__ import annotations

from ictc.cli.progress import Progress


def test_image_steps_show_images_per_second_and_phases_no_rate(capsys):
    progress = Progress()
    progress({"step": "describe", "total": 4, "done": 1})
    progress({"step": "describe", "advance": 3})
    progress({"step": "name_clusters", "advance": 1, "names": ["cats", "dogs"]})
    progress({"step": "finish", "phase": "results", "total": 3, "done": 0})
    progress({"step": "finish", "advance": 3})
    progress.close()
    err = capsys.readouterr().err
    assert "4/4" in err and " img/s" in err
    assert "Step 2b names: 1/1" in err and "cats, dogs" in err and "Finishing: 3/3" in err
    assert "it/s" not in err and "img/s" not in err.split("Step 2b names")[1]


def test_a_resume_s_overlapping_steps_each_count_to_their_own_total(capsys):
    """A resume reports every step's totals at once and Step 2a labels while Step 1 still describes: a tenth newcomer
    saw "Step 1 describe 15/60" stand while 45 images were described, and Step 2a count past its total of 15."""
    progress = Progress()
    progress({"step": "describe", "total": 60, "done": 15})
    progress({"step": "label", "total": 15, "done": 0})  # what was described so far
    for _ in range(45):
        progress({"step": "describe", "advance": 1})
    progress({"step": "label", "total": 60, "done": 0})  # the labelling starts over the 60
    progress({"step": "label", "advance": 60})
    progress.close()
    err = capsys.readouterr().err.replace("\r", "\n")
    assert "Step 1 describe: 100%" in err and "60/60" in err.split("Step 2a")[0]
    assert "Step 2a label: 100%" in err and "/15" not in err


def test_names_from_the_labels_are_a_line_saying_no_call_not_a_1_of_1_bar(capsys):
    """Step 2b's names taken from the labels' counts made no call (results.json and the chat say 0 calls), but the bar
    had read "Step 2b names: 1/1"; the user's renames carried over are said on the line again."""
    progress = Progress()
    progress({"step": "label", "total": 2, "done": 0})
    progress({"step": "label", "advance": 2})
    progress({"step": "name_clusters", "advance": 1, "names": ["cats", "dogs"], "calls": 0,
              "no_call": "from the labels' counts"})
    progress({"step": "name_clusters", "advance": 0, "names": ["Felines", "dogs"]})
    progress.close()
    err = capsys.readouterr().err.replace("\r", "\n")
    assert "Step 2b names: from the labels' counts, no model call: cats, dogs" in err
    assert "Step 2b names: from the labels' counts, no model call: Felines, dogs" in err
    assert "1/1" not in err and "0/0" not in err
