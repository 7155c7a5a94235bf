"""The app's sidebar: where the images come from (sample photos, a folder on the server, an upload) with the
files left out, the recent runs to open again, the configured models, and New run."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import streamlit as st

from ictc.core.errors import UsageError
from ictc.evaluation.outputs import read_summary
from ictc.prompts import shortened
from ictc.ui import jobs, sources
from ictc.ui.chat_words import CONFIRM
from ictc.ui.run_chat import reading_said
from ictc.ui.session import Session

USE_UPLOADS = "Use the uploaded files"


def draw(session: Session) -> None:
    """The sidebar: the image source (sample photos, a folder on the server, an upload) with the files left
    out, recent runs, the configured models, and New run. A bad source is shown as an error, not raised."""
    st.header("Images")
    if "source" not in st.session_state:  # a reload: the widgets as they were when the images were chosen
        st.session_state.update(session.source_choice)
    if (opened := st.session_state.pop("opened-folder", None)) is not None:  # a run opened: its folder in the box (a
        st.session_state["folder"] = opened  # widget's value is set before it is drawn, so on the run after)
    kind = st.radio("Source", ["Sample photos", "Folder on the server", "Upload"], key="source", disabled=session.busy)
    try:
        if kind == "Sample photos":
            which = st.selectbox("Set", ["both", "cifar10", "imagenet"], key="sample-set",
                                 format_func={"both": "CIFAR-10 + ImageNet (40)", "cifar10": "CIFAR-10 (20)",
                                              "imagenet": "ImageNet (20)"}.__getitem__)
            if st.button("Use the sample photos", key="use-samples", disabled=session.busy):
                _use(session, sources.from_samples(which, session.settings.resolved_workspace() / "samples"), {"source": kind, "sample-set": which})
        elif kind == "Folder on the server":
            # a form: Enter in the path box chooses the folder, as the button does (it had only kept the text)
            with st.form("folder-form", border=False):
                folder = st.text_input("Folder path", key="folder")
                submitted = st.form_submit_button("Use this folder", key="use-folder", disabled=session.busy)
            if submitted and not session.busy:
                _use(session, sources.from_folder(folder), {"source": kind, "folder": folder})
        else:
            files = st.file_uploader("Images", accept_multiple_files=True, key="uploads",
                                     type=[s.lstrip(".") for s in sorted(sources.image_suffixes())])
            st.caption(f"Up to {sources.MAX_UPLOAD_FILES} files, {sources.MAX_UPLOAD_FILE_MB} MB each.")
            if st.button(USE_UPLOADS, key="use-uploads", disabled=session.busy or not files):
                chosen = sources.from_uploads([(f.name, f.getvalue()) for f in files or []], session.folder / "uploads")
                st.session_state["uploads-used"] = {f.file_id for f in files or []}  # uploads_first: these are in use
                _use(session, chosen, {"source": kind})
    except ValueError as exc:
        st.error(str(exc))
    if session.images:
        st.success(f"{len(session.images)} image{'s' if len(session.images) != 1 else ''}: {session.images_source}"
                   + (" (with labels: metrics on)" if session.labels else ""))
    problems = st.session_state.get("source-problems", [])
    for problem in problems[:10]:
        st.warning(problem)
    if len(problems) > 10:
        st.warning(f"... and {len(problems) - 10} more file(s) left out")
    recent(session)
    st.header("Models")
    settings = session.settings
    st.caption(f"Backend: {settings.backend} · VLM: {settings.resolved_vlm()} · LLM: {settings.resolved_llm()}"
               + (f" · endpoint: {', '.join(settings.base_url)}" if settings.base_url else ""))
    if session.model_problem:
        st.error("Not available: see the chat.")
    if st.button("New run", key="new-run", disabled=session.busy or session.run_dir is None,
                 help="start over in the chat; the current run stays on disk (Recent runs)"):
        session.new_run()
        st.rerun()


def unused_uploads() -> int:
    """How many files sit in the Upload box without "Use the uploaded files" pressed since they were added."""
    used = st.session_state.get("uploads-used", set())
    return sum(f.file_id not in used for f in st.session_state.get("uploads") or [])


def uploads_first(session: Session, text: str) -> bool:
    """Answers a "go" before a run while files sit in the Upload box unused (a newcomer uploaded, said go, and was told
    to choose images, or saw the run start on the images chosen before): the chat points at the button, once for those
    files; a second "go" runs as asked. Returns whether it answered (`text` is then in the chat, with its reply)."""
    count, said = unused_uploads(), st.session_state.get("uploads-pointed")
    lowered = " ".join(text.strip().lower().rstrip(".!").split())
    if not count or session.busy or session.run_dir is not None or lowered not in CONFIRM or said == count:
        return False
    st.session_state["uploads-pointed"] = count
    files = f"{count} file{'s' if count != 1 else ''}"
    images = len(session.images)
    then = (f", or say **go** again to run on the {images} images chosen now ({session.images_source})" if images
            else ", then say **go**")
    session.conversation.say("user", text)
    session.conversation.say("assistant", f"The {files} uploaded {'are' if count != 1 else 'is'} not in use yet: press "
                                          f"**{USE_UPLOADS}** in the sidebar (under Images) to use {'them' if count != 1 else 'it'}{then}.")
    session.save()
    return True


def _use(session: Session, chosen: sources.Chosen, choice: dict[str, str]) -> None:
    if not chosen.paths:
        raise UsageError("none of the files could be used: " + "; ".join(chosen.problems[:3]))
    session.source_choice = choice  # saved with the session (use_images saves it): a reload shows the same source
    session.use_images(chosen.paths, chosen.source, chosen.labels, chosen.problems)
    st.session_state["source-problems"] = chosen.problems
    if not chosen.problems:  # nothing left out to read here: redraw with the sidebar folded (app.main), at once
        st.rerun()


def recent(session: Session) -> None:
    """The run folders of this server's workspace, newest first, to open again."""
    runs = recent_runs(session.root)
    if not runs:
        return
    st.header("Recent runs")
    # this chat's runs marked: two runs of one folder and criterion could not be told apart (an eleventh newcomer's)
    labels = {str(p): _run_label(p) + (f" · {p.name} of this chat" if p.parent == session.folder else "") for p in runs}
    # the current run is shown first chosen: after a reload another session's newer run had been, with Open enabled
    current = list(labels).index(str(session.run_dir)) if str(session.run_dir) in labels else 0
    chosen = st.selectbox("Run", list(labels), index=current, format_func=labels.__getitem__, key="recent-run",
                          help="newest change first: when it last changed (UTC) · criterion · K · images · version")
    if st.button("Open this run", key="open-run", disabled=session.busy or chosen is None
                 or (session.run_dir is not None and str(session.run_dir) == chosen)):
        session.open_run(Path(chosen))
        st.session_state["source-problems"] = []  # they were about the files chosen before
        st.session_state["opened-folder"] = session.source_choice.get("folder", "")
        st.rerun()


def _run_label(run_dir: Path) -> str:
    """What the picker shows for a run, short enough for the sidebar and in the list's order: when it last
    changed (UTC, "12-01 06:45"), then criterion, K, images and version, or, before its results, the criterion and K
    it was started with (when its chat kept them), that it is running (or resuming) now or was interrupted, and how
    many images it has. Not the session folder's name: a newcomer read it as a token."""
    changed = datetime.fromtimestamp(_last_written(run_dir), UTC).strftime("%m-%d %H:%M")
    try:
        results = read_summary(run_dir)  # not the rows: a run of 250,000 images has ~170 MB of them
    except (OSError, ValueError):
        try:
            images = json.loads((run_dir / "run.json").read_text("utf-8")).get("image_count", "?")
        except (OSError, ValueError):
            images = "?"
        # the criterion and K it was started with, as for a finished run (kept with its chat: ui/run_chat.py)
        changed += f" · {reading}" if (reading := reading_said(run_dir)) else ""
        job = jobs.job_for(str(run_dir))  # a run Continue is finishing has no results yet either: not "interrupted"
        if job is not None and job.running:
            return f"{changed} · {'resuming' if job.title.startswith(('resume', 'finishing')) else 'running'} now, {images} images"
        return f"{changed} · interrupted, {images} images: open it to continue"
    return (f"{changed} · {shortened(results['criterion']['text'], 30)} · K={results['n_clusters']} · "
            f"{results['summary']['images']} images · v{results['version']}")


def recent_runs(root: Path, limit: int = 12) -> list[Path]:
    """The run folders under `root` (all sessions of this server's workspace), newest first: those with
    results and those interrupted before any (a run.json only), which Continue can finish."""
    found = [p.parent for p in root.glob("*/run-*/run.json")]
    return sorted(found, key=_last_written, reverse=True)[:limit]


def _last_written(run_dir: Path) -> float:
    return max((run_dir / name).stat().st_mtime for name in ("run.json", "results.json") if (run_dir / name).is_file())
