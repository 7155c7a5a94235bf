"""Lows a newcomer found in the chat app (fourth pass): two tabs on one session each kept their own change waiting
for go, and "go" in one applied what the other had replaced."""

from __future__ import annotations

from test_ui_app import (  # noqa: F401 (workspace, finished_app: fixtures)
    finished_app,
    messages,
    open_app,
    say,
    token_of,
    wait_for_job,
    workspace,
)


def test_two_tabs_on_one_session_share_the_change_waiting_for_go(finished_app):  # noqa: F811
    """Tab A previewed "split Red in two"; tab B (the same ?session=) said "4 groups", previewed without "No longer
    waiting: split ..."; "go" in A then applied the split, and the K the shared chat last previewed was dropped."""
    first, ctx = finished_app
    second = open_app(ctx, token=token_of(first))
    assert say(first, "split Red in two").endswith("Say **go** to apply, or correct me.")
    said = say(second, "4 groups")
    assert "No longer waiting: split 'Red' into 2." in said, said
    assert say(first, "go") == "Applying: use K=4."
    done = wait_for_job(first)
    assert done.startswith("Done in") and "(use K=4)" in done, done
    assert "No longer waiting" not in say(second, "5 groups")  # the K applied in A no longer waits in B


