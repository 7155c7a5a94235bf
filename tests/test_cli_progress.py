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
