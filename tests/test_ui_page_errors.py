"""An error while the page is drawn: a bad setting is blamed on .env (one line, where to fix it); anything else
says what failed, naming the file or value, and keeps the session: its chat is still shown, the work on disk."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest
from test_ui_app import (  # noqa: F401 (workspace, finished_app: fixtures)
    finished_app,
    messages,
    open_app,
    open_tab,
    token_of,
    workspace,
)

from ictc.ui.page_guard import failure_line


def errors(app: AppTest) -> list[str]:
    return [e.value for e in app.error]


def test_a_run_folder_gone_from_the_versions_tab_is_not_blamed_on_the_settings(finished_app):  # noqa: F811
    """The Versions tab of a run whose run.json was removed: load_meta's UsageError ("... is not a run folder") had
    read "ictc cannot start: ... Fix it in .env" over the whole page, the chat gone (nothing in .env was wrong)."""
    app, _ = finished_app
    run_dir = app.session_state["ictc_session"].run_dir
    (run_dir / "run.json").unlink()
    open_tab(app, "Versions")
    assert not app.exception, app.exception
    said = errors(app)
    assert len(said) == 1 and f"{run_dir} is not a run folder" in said[0], said
    assert ".env" not in said[0] and "cannot start" not in said[0], said
    assert any(m.startswith("Done in") for m in messages(app))  # the chat is still on the page
    app.chat_input(key="chat").set_value("help").run()  # and still answers
    assert len(messages(app)) > 2 and not app.exception


def test_an_unreadable_results_file_names_it_and_the_chat_stays(finished_app):  # noqa: F811
    """A results.json cut short (a full disk): the page had shown a raw JSONDecodeError traceback."""
    app, ctx = finished_app
    run_dir = app.session_state["ictc_session"].run_dir
    (run_dir / "results.json").write_text('{"version": ', "utf-8")
    reloaded = open_app(ctx, token=token_of(app))
    assert not reloaded.exception, reloaded.exception
    said = errors(reloaded)
    assert len(said) == 1 and str(run_dir / "results.json") in said[0], said
    assert ".env" not in said[0] and "\n" not in said[0], said
    assert any(m.startswith("Done in") for m in messages(reloaded)), (messages(reloaded), said)  # the chat is still on the page


def test_a_failure_is_one_line_naming_the_file_or_saying_what_kind_it_is():
    """The page's line for an error outside the settings: an OSError names its file, a bug says its kind."""
    assert failure_line(FileNotFoundError(2, "No such file or directory", "/runs/run-1/run.json")) == \
        "No such file or directory: /runs/run-1/run.json"
    assert failure_line(KeyError("clusters")) == "KeyError: 'clusters'"
    assert failure_line(RuntimeError("first line\nsecond")) == "RuntimeError: first line"
