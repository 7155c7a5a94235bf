"""The Streamlit app (`ictc ui`): choose images, say what to group them by, watch the run, look at the
clusters, refine by chat, inspect node traces and versions, export. Each browser session has its own
Session (its own run folders and LangGraph threads); the models are loaded once per process.

Tests put a `context_factory` (Settings -> Context with fake models) into session_state before the
first run; otherwise the models configured as for the CLI are used."""

from __future__ import annotations

import json
import os
from pathlib import Path

import streamlit as st

from ictc.core.errors import UsageError
from ictc.core.settings import Settings, load_settings
from ictc.nodes.context import Context
from ictc.ui import crosstab_view, fairness_view, sources, views
from ictc.ui.session import Session


def ui_settings() -> Settings:
    overrides = json.loads(os.environ.get("ICTC_UI_OVERRIDES", "{}"))  # set by `ictc ui` from its flags
    return load_settings(overrides, env_file=os.environ.get("ICTC_UI_ENV_FILE", ".env"))


@st.cache_resource(show_spinner="Loading the models (once per server)...")
def shared_context(_settings: Settings, key: str) -> Context:
    from ictc.graph.runtime import build_context

    return build_context(_settings)


def current_session() -> Session:
    if "ictc_session" not in st.session_state:
        settings = ui_settings()
        factory = st.session_state.get("context_factory") or (
            lambda s: shared_context(s, json.dumps(s.public_dict(), sort_keys=True)))
        st.session_state["ictc_session"] = Session(settings, factory)
    return st.session_state["ictc_session"]


def sidebar(session: Session) -> None:
    st.header("Images")
    kind = st.radio("Source", ["Sample photos", "Folder on the server", "Upload"], key="source", disabled=session.busy)
    try:
        if kind == "Sample photos":
            which = st.selectbox("Set", ["both", "cifar10", "imagenet"], key="sample-set",
                                 format_func={"both": "CIFAR-10 + ImageNet (40)", "cifar10": "CIFAR-10 (20)",
                                              "imagenet": "ImageNet (20)"}.__getitem__)
            if st.button("Use the sample photos", key="use-samples", disabled=session.busy):
                _use(session, sources.from_samples(which, session.settings.resolved_workspace() / "samples"))
        elif kind == "Folder on the server":
            folder = st.text_input("Folder path", key="folder")
            if st.button("Use this folder", key="use-folder", disabled=session.busy):
                _use(session, sources.from_folder(folder))
        else:
            files = st.file_uploader("Images", accept_multiple_files=True, key="uploads",
                                     type=[s.lstrip(".") for s in sorted(sources.image_suffixes())])
            st.caption(f"Up to {sources.MAX_UPLOAD_FILES} files, {sources.MAX_UPLOAD_FILE_MB} MB each.")
            if st.button("Use the uploaded files", key="use-uploads", disabled=session.busy or not files):
                chosen = sources.from_uploads([(f.name, f.getvalue()) for f in files or []], session.folder / "uploads")
                _use(session, chosen)
    except ValueError as exc:
        st.error(str(exc))
    if session.images:
        st.success(f"{len(session.images)} images: {session.images_source}"
                   + (" (with labels: metrics on)" if session.labels else ""))
    problems = st.session_state.get("source-problems", [])
    for problem in problems[:10]:
        st.warning(problem)
    if len(problems) > 10:
        st.warning(f"... and {len(problems) - 10} more file(s) left out")
    st.header("Models")
    settings = session.settings
    st.caption(f"Backend: {settings.backend} · VLM: {settings.resolved_vlm()} · LLM: {settings.resolved_llm()}"
               + (f" · endpoint: {', '.join(settings.base_url)}" if settings.base_url else ""))
    if session.model_problem:
        st.error(session.model_problem)
    if st.button("New run", key="new-run", disabled=session.busy or session.run_dir is None,
                 help="start over in the chat; the current run stays on disk"):
        session.new_run()
        st.rerun()


def _use(session: Session, chosen: sources.Chosen) -> None:
    if not chosen.paths:
        raise UsageError("none of the files could be used: " + "; ".join(chosen.problems[:3]))
    session.use_images(chosen.paths, chosen.source, chosen.labels)
    st.session_state["source-problems"] = chosen.problems


def job_panel(session: Session) -> None:
    job = session.job

    @st.fragment(run_every=0.5 if session.busy else None)
    def live() -> None:
        if job is None:
            return
        if job.running:
            with st.status(f"Working: {job.title}", expanded=True):
                views.progress(job)
                st.button("Stop", key="stop", on_click=session.stop, type="primary")
        elif session.reported is not job:
            st.rerun()  # finished while we watched: redraw the whole page with its results

    live()
    if job is not None and not job.running and session.run_dir is not None and (job.stopped or _unfinished(session)):
        st.button("Continue", key="continue", on_click=lambda: None if session.resume() else None,
                  help="finish the run: only the missing or failed work is done")


def _unfinished(session: Session) -> bool:
    results = session.results()
    return results is None or results["summary"]["failed"] > 0 or results["summary"]["unfinished"] > 0


def results_tabs(session: Session) -> None:
    results = session.results()
    if results is None or session.run_dir is None:
        return
    run_dir = session.run_dir
    st.divider()
    st.markdown(f"**{results['criterion']['text']}** · K={results['n_clusters']} · version {results['version']} · "
                f"{results['summary']['clustered']}/{results['summary']['images']} images clustered · `{run_dir}`")
    clusters, scores, traces, versions, export, fair = st.tabs(["Clusters", "Metrics", "Traces", "Versions", "Export",
                                                                "Fairness"])
    with clusters:
        views.gallery(results, select=lambda index: st.session_state.update(selected=index))
        selected = st.session_state.get("selected")
        if selected is not None and selected < len(results["images"]):
            image_dialog(run_dir, results["images"][selected])
    with scores:
        views.metrics(run_dir, results)
    with traces:
        views.traces(run_dir, results)
    with versions:
        views.versions(run_dir)
    with export:
        views.export(run_dir, results)
    with fair:
        fairness_view.panel(session, run_dir, results)
    crosstab_view.extra_tabs(session, run_dir, results)  # K proposed, other, levels; several criteria (issue 21)


@st.dialog("Image details", width="large", on_dismiss=lambda: st.session_state.update(selected=None))
def image_dialog(run_dir: Path, row: dict) -> None:
    views.details(run_dir, row)


def main() -> None:
    st.set_page_config(page_title="ictc: image clustering by criterion", layout="wide")
    session = current_session()
    with st.sidebar:
        sidebar(session)
    st.title("ictc")
    st.caption("Group images by a criterion in plain words, then refine the clusters by chatting.")
    session.report_job()
    prompt = st.chat_input("e.g. group these by the mood of the person, 4 groups", key="chat")
    if prompt:
        session.chat(prompt)
    if not session.conversation.messages:
        session.conversation.say("assistant", "Choose images on the left, then tell me what to group them by "
                                              "and into how many groups.")
    for message in session.conversation.messages:
        with st.chat_message(message["role"]):
            st.markdown(message["text"])
    job_panel(session)
    results_tabs(session)


main()
