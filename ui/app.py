"""The Streamlit app (`ictc ui`): choose images, say what to group them by, watch the run, look at the
clusters, refine by chat, inspect node traces and versions, export. Each browser session has its own
Session, kept on disk under the token in the page's address (?session=...), so a reload brings it back;
the models are loaded once per process.

Tests put a `context_factory` (Settings -> Context with fake models) into session_state before the
first run; otherwise the models configured as for the CLI are used."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import streamlit as st

from ictc.core.settings import Settings, load_settings
from ictc.models.other import OTHER
from ictc.prompts import instructions_in_force, shortened
from ictc.ui import crosstab_view, follow, jobs, panels, sidebar, views
from ictc.ui.outcomes import image_name, images_root, model_warning
from ictc.ui.page_guard import BadSettings, guarded
from ictc.ui.session import Session, new_token

if TYPE_CHECKING:
    from ictc.nodes.context import Context

RECENT_MESSAGES = 6  # the chat shows the latest messages; older ones fold into an expander
STYLE = "<style>" + (Path(__file__).parent / "style.css").read_text("utf-8") + "</style>"  # layout: ui/style.css


def ui_settings() -> Settings:
    """The settings `ictc ui` was started with: its flags (ICTC_UI_OVERRIDES, JSON) over the env file
    ICTC_UI_ENV_FILE (default .env). Raises BadSettings for a bad value or bad override JSON: the one error the page
    blames on the settings (ui/page_guard.py)."""
    try:
        overrides = json.loads(os.environ.get("ICTC_UI_OVERRIDES", "{}"))  # set by `ictc ui` from its flags
    except ValueError as exc:
        raise BadSettings(f"ICTC_UI_OVERRIDES is not JSON ({exc})") from exc
    try:
        return load_settings(overrides, env_file=os.environ.get("ICTC_UI_ENV_FILE", ".env"))
    except ValueError as exc:  # UsageError: its line names the setting and its value
        raise BadSettings(str(exc)) from exc


@st.cache_resource(show_spinner="Loading the models (once per server)...")
def shared_context(_settings: Settings, key: str) -> Context:
    """The models for `_settings`, loaded once per server process and shared by every browser session;
    `key` (the settings' public dict as sorted JSON) is what Streamlit's cache is keyed on, the settings
    themselves being unhashed. Raises ModelUnavailableError when a model is missing or unreachable."""
    from ictc.graph.runtime import build_context

    return build_context(_settings)


def current_session() -> Session:
    """This browser session's Session: the one in session_state, else the one saved under the address's
    ?session= token (after a reload), else a new one whose token is put in the address."""
    token = st.query_params.get("session", "")
    held = st.session_state.get("ictc_session")
    if held is not None and held.id == token and not follow.run_started_elsewhere(held):
        return held  # else another tab on the session started its first run: loaded again, with that run's job
    settings = held.settings if held is not None and held.id == token else ui_settings()
    factory = st.session_state.get("context_factory") or (
        lambda s: shared_context(s, json.dumps(s.public_dict(), sort_keys=True)))
    session = Session.load(settings, factory, token) if token else Session(settings, factory, token=new_token())
    st.query_params["session"] = session.id
    st.session_state["ictc_session"] = session
    return session


# the chat and the status line ------------------------------------------------------------------------------
def chat_pane(session: Session) -> None:
    """The conversation: the latest RECENT_MESSAGES messages as chat bubbles, older ones folded into an expander;
    a message's "detail" (an error's full text) behind an expander of its own."""
    messages = session.conversation.messages
    older, latest = messages[:-RECENT_MESSAGES], messages[-RECENT_MESSAGES:]
    if older:
        with st.expander(f"{len(older)} earlier message(s)"):
            for message in older:
                st.markdown(f"**{'You' if message['role'] == 'user' else 'ictc'}:** {message['text']}")
    for message in latest:
        with st.chat_message(message["role"]):
            st.markdown(message["text"])
            if message.get("detail"):
                with st.expander("Details"):
                    st.code(message["detail"], language=None, wrap_lines=True)


def status_line(session: Session) -> None:
    """The job's progress while it runs (re-attached after a reload), then the last reply, in view above
    the results; Stop and Continue live here. main() draws it only once there is a job or a result: before,
    the chat beside says it all, once."""
    job = session.job
    # this closure outlives the full run that defines the fragment: its reruns alone see "full" gone, and whether
    # that run got as far as drawing Continue (below, outside the fragment)
    drawn = {"full": True, "continue": False}

    @st.fragment(run_every=0.5 if session.busy else None)
    def live() -> None:
        if not drawn.pop("full", False) and not drawn["continue"] and _continue_due(session):
            # the full run that last drew the page was cut short before its Continue (a Stop clicked again preempts
            # it): this run alone would say "press Continue" with no button (a newcomer's, until a tab was clicked)
            st.rerun()
        if job is not None and job.running and follow.news(session):
            st.rerun()  # another tab's words on the run (those that started this job, one held): the chat shows them
        if job is not None and job.running:
            # a box of our own, not st.status: that one shows "complete" (a tick) after every redraw of the fragment
            with st.container(border=True, key="working"):
                st.markdown(f":material/progress_activity: **Working: {job.title}**")
                views.progress(job)
                st.button("Stop", key="stop", on_click=session.stop, type="primary")
        elif job is not None and session.reported != job.id:
            st.rerun()  # finished while we watched: redraw the whole page with its results
        elif job is None and session.unfinished():  # after `ictc ui` restarted: the last reply may say "Running"
            st.markdown("**ictc:** this run was interrupted before it finished; press **Continue** (or say "
                        "continue) to finish it: what is done is kept.")
        else:
            last = next((m["text"] for m in reversed(session.conversation.messages) if m["role"] == "assistant"), "")
            lines = last.splitlines()
            st.markdown("**ictc:** " + "\n".join(lines[:3]) + (" *(more in the chat)*" if len(lines) > 3 else ""))

    live()
    # without a job too: after `ictc ui` restarted, the interrupted run is still on disk to finish
    if _continue_due(session):
        st.button("Continue", key="continue", on_click=lambda: None if session.resume() else None,
                  help="finish the run: only the missing or failed work is done")
        drawn["continue"] = True


def _continue_due(session: Session) -> bool:
    """Whether the status line offers Continue now: no job runs, and the current run has something to continue."""
    job = session.job
    return (job is None or not job.running) and session.run_dir is not None and _continuable(session)


def _continuable(session: Session) -> bool:
    """Continue is offered after a stop, or when the run has failed or unfinished images; not when the
    models are missing (it would fail the same way) nor when nothing of the run was written."""
    job, results = session.job, session.results()
    if job is not None and job.error and session.model_problem and results is None:
        return False
    if job is not None and job.stopped:
        return True
    return session.unfinished()


# the results ---------------------------------------------------------------------------------------------
def clusters_tab(session: Session, results: dict[str, Any], run_dir: Path) -> None:
    """The Clusters tab: the run's warnings, then the gallery (`results` as in results.json); a clicked image
    opens its details dialog. `session` is unused (every tab takes the same arguments, see TABS)."""
    for warning in views.warnings(results):
        st.warning(warning)
    views.gallery(results, select=lambda index: st.session_state.update(selected=index))
    selected = st.session_state.get("selected")
    if selected is not None and selected < len(results["images"]):
        image_dialog(run_dir, results)


def overview_tab(session: Session, results: dict[str, Any], run_dir: Path) -> None:
    """The Overview tab: the run's warnings and the table of clusters; selecting a row opens that cluster
    in the Clusters tab. `session` and `run_dir` are unused (see TABS)."""
    for warning in views.warnings(results):
        st.warning(warning)
    views.overview(results, on_select=_pick_cluster)
    st.caption("Select a row to see that cluster in the Clusters tab.")


def _pick_cluster() -> None:
    """A row chosen in the overview: show that cluster in the Clusters tab."""
    rows = st.session_state["overview"]["selection"]["rows"]
    if rows:
        results = st.session_state["ictc_session"].results()
        st.session_state.update({"cluster-pick": results["clusters"][rows[0]]["name"], "tab": "Clusters"})


def versions_tab(session: Session, results: dict[str, Any], run_dir: Path) -> None:
    """The Versions tab (panels.versions); going back to a version is sent as a chat message, so it runs
    as the session's job like any change. `results` is unused (see TABS)."""
    panels.versions(run_dir, restore=lambda n: session.chat(f"go back to version {n}"), busy=session.busy)


# One line per tab: (label, draw(session, results, run_dir)). Only the open tab is drawn.
TABS: list[tuple[str, Callable[[Session, dict[str, Any], Path], None]]] = [
    ("Overview", overview_tab),
    ("Clusters", clusters_tab),
    ("Metrics", lambda session, results, run_dir: panels.metrics(run_dir, results)),
    ("Traces", lambda session, results, run_dir: panels.traces(run_dir, results)),
    ("Versions", versions_tab),
    ("Export", lambda session, results, run_dir: panels.export(run_dir, results)),
    ("Fairness", lambda session, results, run_dir: _fairness(session, results, run_dir)),
    ("Grouping", crosstab_view.grouping_tab),
    ("Criteria", crosstab_view.criteria_tab),
]


def _fairness(session: Session, results: dict[str, Any], run_dir: Path) -> None:
    from ictc.ui import fairness_view  # the audit's imports (the pipeline's) wait for its tab

    jobs.warmed()

    fairness_view.panel(session, run_dir, results)


def results_pane(session: Session) -> None:
    """The right-hand pane: a preview of the chosen images before a run, else the run's headline and its
    tabs (TABS), of which only the open one is drawn."""
    results = session.results()
    run_dir = session.run_dir
    if results is None or run_dir is None:
        preview(session)
        return
    # K counts the names, not "other" (after merges of own categories the count had read "K=3 + other" of 4 names)
    # and an "other" in a fallback's names (Step 2b's model failed: the most frequent raw labels, one of them "other")
    # is one of the K: a criterion change at K=5 had read "K=4 + other", as if an "other" group had been asked for
    other = " + other" if OTHER in results["cluster_names"] and results.get("names_source") != "fallback" else ""
    k = len(results["cluster_names"]) - bool(other)
    st.session_state["ictc_shown"] = (str(run_dir), results["version"])  # a message is read on a newer one: said
    st.markdown(f"**{shortened(results['criterion']['text'])}** · K={k}{other} · version {results['version']} · "
                f"{results['summary']['clustered']}/{results['summary']['images']} images clustered · `{run_dir.name}`")
    if given := instructions_in_force(results["criterion"]):  # they act on every later change: kept in view
        st.caption("Instructions in force: " + "; ".join(given))
    tabs = st.tabs([label for label, _ in TABS], key="tab", on_change="rerun", default="Clusters")
    for tab, (_, draw) in zip(tabs, TABS, strict=True):
        if tab.open:
            with tab:
                draw(session, results, run_dir)


def preview(session: Session) -> None:
    """Before a run: the chosen images at a glance."""
    if not session.images:
        st.caption("No images chosen yet: their preview shows here.")  # the chat beside says how, once
        return
    count = len(session.images)
    st.markdown(f"**{count} image{'s' if count != 1 else ''} chosen** ({session.images_source})"
                + ("; the first ones:" if count > 24 else ":"))  # all of them shown: "the first ones" of 1 image misled
    cells = st.grid("auto", min_column_width=96, key="preview")  # captions wrap (ui/style.css)
    root = images_root(session.images)  # sub/red_0.png beside red_0.png: both had read "red_0.png"
    for path in session.images[:24]:
        data = views.thumb(path)
        if data:
            cells.image(data, caption=views.short_name(image_name(path, root)), width="stretch")


def image_dialog(run_dir: Path, results: dict[str, Any]) -> None:
    """The details of the selected image (session_state "selected", an index into results["images"]) in a
    dialog, with steps through its cluster's members; closing it clears the selection."""
    @st.dialog("Image details", width="large", on_dismiss=lambda: st.session_state.update(selected=None))
    def show() -> None:
        rows = results["images"]
        index = st.session_state.get("selected") or 0
        order = views.members_by_cluster(results).get(rows[index]["cluster"]) or [index]
        views.details(run_dir, rows, order, index, go=lambda i: st.session_state.update(selected=i))

    show()


def main() -> None:
    """One run of the Streamlit script: page setup, sidebar, the chat input (a message goes to
    Session.chat), the greeting and model warning on first view, then the chat and the results side by side."""
    session = current_session()
    # once images are chosen the sidebar folds away (at 800 px it would take half the page); its arrow opens it
    st.set_page_config(page_title="ictc: image clustering by criterion", layout="wide",
                       initial_sidebar_state="collapsed" if session.images else "auto")
    st.markdown(STYLE, unsafe_allow_html=True)
    with st.sidebar, guarded("the sidebar"):  # a part that fails is said there; the chat beside still works
        sidebar.draw(session)
    st.title("ictc")
    st.caption("Group images by a criterion in plain words, then refine the clusters by chatting.")
    follow.catch_up(session)  # a job or messages a second window on this run started or said: shown here too
    session.report_job()
    with st.container(key="mainrow"):
        left, right = st.columns([2, 3], gap="medium")
    # the chat input sits under the chat, not pinned to the page's bottom: a pinned one makes Streamlit scroll
    # the whole page to its end on every redraw, taking the tabs out of view
    with left:
        pane = st.container(key="chatpane", height=560, autoscroll=True)  # a fixed-height box keeps its end in view
        prompt = st.chat_input("e.g. group by the mood, 4 groups", key="chat")  # one line, even beside the sidebar
    if prompt and prompt.strip():  # an all-spaces message is no message
        with jobs.chat_lock(session.id), st.spinner("Reading your message..."):
            if not sidebar.uploads_first(session, prompt):  # files uploaded but not in use: pointed at first
                follow.answer(session, prompt, st.session_state.get("ictc_shown"))  # the version this page showed
    if not session.conversation.messages:
        # after New run the images stay chosen and shown: "Choose images on the left" had asked for them again
        chosen = (f"{len(session.images)} images are chosen (shown on the right); tell me" if session.images
                  else "Choose images on the left, then tell me")
        session.conversation.say("assistant", f"{chosen} what to group them by and into how many groups, e.g. "
                                              '"group by colour, 3 groups".')
        configured = st.session_state.get("context_factory") is None  # tests bring their own models
        if configured and (warning := model_warning(session.settings)):
            session.model_problem, session.warned = warning, True
            session.conversation.say("assistant", f"**No model is ready:** {warning} I can read your messages, "
                                                  "but runs cannot start until a model is configured.")
    with pane:
        chat_pane(session)
    with right, guarded("the results"):
        if session.job is not None or session.results() is not None or session.unfinished():
            with st.container(key="statusline"):
                status_line(session)
        results_pane(session)
    follow.watch(session, st.fragment, st.rerun)  # idle on a run: another tab's job or messages redraw this page
    jobs.warm_up()  # the page is drawn: now the pipeline's imports, in the background (ui/jobs.py)


try:
    with guarded("the page"):  # any other error: what failed, in one line (ui/page_guard.py), not blamed on .env
        main()
except BadSettings as exc:  # a bad setting in .env or the environment: one line, not a traceback (a newcomer's)
    st.error(f"ictc cannot start: {exc}. Fix it in .env or the environment, then reload the page.")
