""""go back to version N" says a name change as a rename, and only the images that changed cluster as moved."""

from __future__ import annotations

from test_ui_app import finished_app, say, wait_for_job, workspace  # noqa: F401 (fixtures)


def test_going_back_past_a_merge_and_a_rename_says_the_rename_and_only_the_moves(finished_app):  # noqa: F811
    """Red and Blue merged into Warm, then back to version 1: all 5 had been listed as moved out of 'Warm', the name
    change unsaid."""
    app, _ = finished_app
    say(app, "merge Red and Blue into Warm")
    wait_for_job(app)
    say(app, "go back to version 1")
    back = wait_for_job(app)
    assert "Renamed: 'Warm' → 'Red'." in back, back
    assert "2 image(s) moved:" in back and "'Warm' → 'Blue'" in back and "'Warm' → 'Red'" not in back.split("Renamed")[0]
