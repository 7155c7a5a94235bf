"""The run's other panels: metrics, traces, versions (compare and restore) and export. Each draws from the
run folder's files; restoring a version goes through the session's job like any change."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st

from ictc.evaluation.export import zip_clusters
from ictc.evaluation.traces import PLAIN, TRACES, image_traces, trace_overview, version_titles
from ictc.graph.versions import diff_from, load_meta, version_clusters, version_summary
from ictc.ui.jobs import STEP_TITLES
from ictc.ui.views import trace_box


def metrics(run_dir: Path, results: dict[str, Any]) -> None:
    """The Metrics tab: ACC (Hungarian), NMI, ARI and the images scored from results["metrics"] (see
    evaluation/metrics.py), a warning naming unscored images, and the run folder's confusion.png; or why
    there are no metrics (no labels, or results["metrics_error"])."""
    scores = results.get("metrics")
    if not scores and results.get("metrics_error"):
        st.warning(f"No metrics: {results['metrics_error']}")
        return
    if not scores:
        st.info("No ground truth for these images: metrics need a labels file "
                "(the sample photos have one; a folder may hold labels.csv with columns image,label).")
        return
    acc, nmi, ari, n = st.columns(4)
    acc.metric("ACC (Hungarian)", f"{scores['acc']:.3f}")
    nmi.metric("NMI", f"{scores['nmi']:.3f}")
    ari.metric("ARI", f"{scores['ari']:.3f}")
    n.metric("Images scored", f"{scores['n']} of {scores.get('images', scores['n'])}")
    if scores.get("note"):  # how the labels file was read (evaluation/results.py): information, not a warning
        st.info(scores["note"])
    if scores.get("warning"):  # the unscored images listed after it, when there are any (a note alone had ended in ":")
        unscored = (scores.get("failed", []) + scores["unlabelled"] + scores.get("ambiguous", []) + scores["not_clustered"])[:10]
        st.warning(scores["warning"] + (": " + ", ".join(Path(image).name for image in unscored) if unscored else ""))
    if (run_dir / "confusion.png").is_file():
        confusion(run_dir / "confusion.png")


def confusion(path: Path) -> None:
    """The confusion plot at its own size (its text stays readable at any K: evaluation/metrics.plot_confusion
    grows the figure instead), in a box that scrolls when it is larger than the pane."""
    data = base64.b64encode(path.read_bytes()).decode()
    st.markdown(f'<div class="confusion"><img src="data:image/png;base64,{data}" '
                'alt="confusion matrix: true labels by clusters"></div>', unsafe_allow_html=True)
    st.caption("Confusion: true labels × clusters (scroll the picture when it is larger than the pane)")


IMAGES_LISTED = 500  # images offered at once in the Traces tab's picker (a list of 250,000 stalls the page)


@st.cache_data(max_entries=8, show_spinner="Reading the traces...")
def trace_overview_of(run_dir: str, size: int, mtime: float) -> tuple[dict[int, dict[str, dict[str, int]]], dict[str, Any] | None]:
    """evaluation/traces.py trace_overview of `run_dir`, kept while its traces file keeps its `size` and
    `mtime` (it only grows): one streaming pass per new version, not one per visit of the tab."""
    return trace_overview(run_dir)


@st.cache_data(max_entries=64, show_spinner=False)
def image_traces_of(run_dir: str, size: int, mtime: float, image: str) -> dict[str, dict[str, Any]]:
    """evaluation/traces.py image_traces, kept per traces file state (`size`, `mtime`) and image."""
    return image_traces(run_dir, image)


def traces(run_dir: Path, results: dict[str, Any]) -> None:
    """The Traces tab: model answers per version and step (called / from store), the cluster-naming trace,
    and the current traces of one image chosen in a select box (a duplicate shows its original's). The trace
    file is streamed, never held whole; past IMAGES_LISTED images the picker lists those whose file name
    contains what is typed above it."""
    files = [f for f in (run_dir / TRACES, run_dir / PLAIN) if f.is_file()]
    if not files:
        st.info("No traces yet.")
        return
    # run.json too: an undo or a restore writes no trace but changes which versions' traces are current
    stamped = [*files, *[f for f in (run_dir / "run.json",) if f.is_file()]]
    stamp = (sum(f.stat().st_size for f in stamped), max(f.stat().st_mtime for f in stamped))
    summary, naming = trace_overview_of(str(run_dir), *stamp)
    if not summary:
        st.info("No traces yet.")
        return
    st.markdown("Answers per version and step (from a model / from the store; + decided by a rule). One answer "
                "may take several model calls (a re-ask, a retry, a calibration call): the chat's *Model calls by "
                "step* and results.json's `calls` count every call.")
    titles = version_titles(run_dir, summary)  # a pass that made no version: "v3 (not a version yet)"
    st.table({titles[v]: {STEP_TITLES.get(s, s): f"{c['called']} / {c['cached']}"
                                 + (f" (+{c['ruled']} without a call)" if c.get("ruled") else "") for s, c in steps.items()}
              for v, steps in sorted(summary.items())})
    if naming is not None:
        trace_box("name_clusters", {**naming, "version_title": titles.get(naming["version"], "")})
    rows = results["images"]
    names = [Path(r["image"]).name for r in rows]
    choices: list[int] = list(range(len(rows)))
    if len(rows) > IMAGES_LISTED:
        typed = st.text_input("Find an image by file name", key="trace-find", placeholder="part of a file name")
        choices = [i for i, name in enumerate(names) if typed in name][:IMAGES_LISTED]
        st.caption(f"{len(rows)} images: the first {len(choices)} whose name contains {typed!r} are listed"
                   if typed else f"{len(rows)} images: the first {len(choices)} are listed; type part of a name to find another")
    choice = st.selectbox("Image", choices, format_func=lambda i: names[i], key="trace-image")
    if choice is not None:
        row = rows[choice]
        for step, record in image_traces_of(str(run_dir), *stamp, row["same_as"] or row["image"]).items():
            trace_box(step, {**record, "version_title": titles.get(record["version"], "")})


MOVED_SHOWN = 200  # moved images listed in the Versions tab: a table of 25,000 rows would stall the page


@st.cache_data(max_entries=16, show_spinner="Comparing the two versions...")
def compare_versions(run_dir: str, run_id: str, before: int, after: int) -> dict[str, Any]:
    """What changed from version `before` to `after` of the run in `run_dir` (run_id: its thread id, so a
    folder made again under the same path is not taken for the old one): {"renamed": {old: new}, "merged": {new:
    [old, ...]}, "n_moved": int, "moved": the first MOVED_SHOWN moves, "clusters": {version: [{"name", "size"}]}}.
    Read from the versions' summaries and results.csv (image and cluster columns), not from every row of two
    results.json (~170 MB each at 250,000 images), and kept: a version never changes once written.
    Raises OSError if one is absent."""
    folder = Path(run_dir)
    clusters = {n: version_summary(folder, n)["clusters"] for n in {before, after}}
    after_rows = [{"image": image, "cluster": cluster} for image, cluster in version_clusters(folder, after).items()]
    changes = diff_from(version_clusters(folder, before), after_rows)
    return {"renamed": changes["renamed"], "merged": changes["merged"], "n_moved": len(changes["moved"]),
            "moved": changes["moved"][:MOVED_SHOWN], "clusters": clusters}


def versions(run_dir: Path, restore: Callable[[int], Any], busy: bool) -> None:
    """Two versions side by side and what moved between them; `restore(n)` goes back to version n (as a
    new version), offered for any version but the current one."""
    meta = load_meta(run_dir)
    listed = meta.get("versions", [])
    if not listed:
        st.info("No finished version yet.")
        return
    labels = {v["version"]: f"v{v['version']}: {v['action']}" for v in listed}
    numbers = list(labels)
    left, right = st.columns(2)
    before = left.selectbox("Version", numbers, index=max(len(numbers) - 2, 0), format_func=labels.__getitem__,
                          key=f"v-a-{run_dir}-{len(numbers)}")  # new version: back to the defaults
    after = right.selectbox("against", numbers, index=len(numbers) - 1, format_func=labels.__getitem__,
                           key=f"v-b-{run_dir}-{len(numbers)}")
    changes = compare_versions(str(run_dir), meta["thread_id"], before, after)
    for column, number in ((left, before), (right, after)):  # every cluster, the empty ones too
        clusters = changes["clusters"][number]
        column.table({"cluster": [c["name"] for c in clusters], "images": [c["size"] for c in clusters]})
    current = numbers[-1]
    if before != current:
        left.button(f"Go back to v{before}", key="restore-version", disabled=busy, on_click=restore, args=(before,),
                    help="makes this version the current one again, as a new version (nothing is lost)")
    moved = changes["moved"]
    st.markdown(f"From v{before} to v{after}: {changes['n_moved']} image(s) moved"
                + "".join(f", merged: {' + '.join(olds)} → {new}" for new, olds in changes["merged"].items())
                + (", renamed: " + ", ".join(f"{a} → {b}" for a, b in changes["renamed"].items())
                   if changes["renamed"] else "")
                + (f" (the first {MOVED_SHOWN} listed)" if changes["n_moved"] > MOVED_SHOWN else ""))
    if moved:
        st.table([{"image": Path(m["image"]).name, "from": m["from"], "to": m["to"]} for m in moved])


def export(run_dir: Path, results: dict[str, Any]) -> None:
    """The Export tab: downloads of the run folder's results.csv and results.json, and a zip of one folder
    per cluster, built on request (evaluation/export.zip_clusters) and kept per run and version.
    Raises OSError when results.csv or results.json cannot be read."""
    stem = f"ictc-{run_dir.name}-v{results['version']}"
    csv_col, json_col, zip_col = st.columns(3)
    # read when clicked (a callable), not on every redraw: each file is tens of MB at 250,000 images
    csv_col.download_button("Results CSV", (run_dir / "results.csv").read_bytes, f"{stem}.csv", "text/csv",
                            key="dl-csv")
    json_col.download_button("Results JSON", (run_dir / "results.json").read_bytes, f"{stem}.json",
                             "application/json", key="dl-json")
    key = f"zip-{run_dir}-{results['version']}"
    if key not in st.session_state:
        if zip_col.button("Prepare zip (one folder per cluster)", key="zip-make"):
            with st.spinner("Packing the images into the zip, one folder per cluster..."):
                st.session_state[key] = zip_clusters(run_dir)
            st.rerun()
    else:
        zip_col.download_button("Download zip", st.session_state[key], f"{stem}.zip", "application/zip", key="dl-zip")
