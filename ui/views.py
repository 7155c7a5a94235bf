"""What the page shows of a run: progress, galleries, image details, metrics, traces, versions, export.
Each function draws one panel from the run folder's files; none of them runs the pipeline."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import streamlit as st

from ictc.core.images import file_path, load_rgb
from ictc.evaluation.export import zip_clusters
from ictc.evaluation.traces import current_traces, pass_summary, read_traces
from ictc.graph.versions import diff, load_meta, version_rows
from ictc.ui.jobs import STEP_TITLES, Job

GALLERY_PAGE = 24  # thumbnails shown per cluster before "show all"
ROUTES = {"choice": "constrained choice (log-likelihood of each name)", "schema": "JSON-schema enum",
          "json": "JSON answer", "text": "plain answer, exact name", "retry": "an exact name after a re-ask",
          "mapped-string": "mapped to a name by the string rule",
          "mapped-embedding": "mapped to the nearest name by embedding"}


@st.cache_data(max_entries=5000, show_spinner=False)
def thumbnail(path: str, mtime: float, side: int = 160) -> bytes | None:
    try:  # decoded as the VLM sees it: upright, high bit depths scaled (core/images.py)
        image = load_rgb(path, side)
    except Exception:  # noqa: BLE001 (a broken file shows as a placeholder; its failure is listed)
        return None
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def _thumb(path: str, side: int = 160) -> bytes | None:
    try:
        return thumbnail(path, Path(file_path(path)).stat().st_mtime, side)
    except OSError:
        return None


def progress(job: Job) -> None:
    if job.plan:
        st.write(f"Redoing: {job.plan}")
    for title, tally in job.progress():
        total = max(tally["total"], 1)
        text = (f"{title}: {tally['done']}/{tally['total']} · {tally['calls']} model call(s) · "
                f"{tally['stored']} from store" + (f" · {tally['failed']} failed" if tally["failed"] else ""))
        st.progress(min(tally["done"] / total, 1.0), text=text)
        if tally.get("names"):
            st.caption("Names: " + ", ".join(tally["names"]))


def gallery(results: dict[str, Any], select: Any) -> None:
    """One section per cluster: name, size, thumbnails; the button under a thumbnail opens its details."""
    rows = results["images"]
    for number, cluster in enumerate(results["clusters"], 1):
        members = [(i, r) for i, r in enumerate(rows) if r["cluster"] == cluster["name"]]
        st.subheader(f"{number}. {cluster['name']} · {cluster['size']}")
        show_all = len(members) > GALLERY_PAGE and st.toggle(f"show all {len(members)}", key=f"all-{number}")
        shown = members if show_all else members[:GALLERY_PAGE]
        columns = st.columns(8)
        for slot, (index, row) in enumerate(shown):
            with columns[slot % 8]:
                data = _thumb(row["image"])
                if data:
                    st.image(data, width="stretch")
                else:
                    st.caption("(no preview)")
                st.button("Details", key=f"img-{index}", help=Path(row["image"]).name, on_click=select, args=(index,))
    failed = [r for r in rows if r["status"] != "ok"]
    if failed:
        with st.expander(f"{len(failed)} image(s) not clustered"):
            for row in failed:
                st.write(f"{Path(row['image']).name}: {row['reason'] or row['status']}")


def details(run_dir: Path, row: dict[str, Any]) -> None:
    data = _thumb(row["image"])
    left, right = st.columns([1, 2])
    with left:
        if data:
            st.image(_thumb(row["image"], 800) or data, width="stretch")
        st.caption(row["image"])
    with right:
        st.markdown(f"**Cluster:** {row['cluster'] or '(none)'}")
        st.markdown(f"**Raw label (Step 2a):** {row['raw_label'] or '(none)'}")
        if row["route"]:
            st.markdown(f"**Step 3 answer:** {row['answer']!r} → {row['cluster']} by "
                        f"{ROUTES.get(row['route'], row['route'])}")
        st.markdown("**Description (Step 1):**")
        st.write(row["description"] or row["reason"] or "(none)")
    traced = current_traces(read_traces(run_dir), row["same_as"] or row["image"])
    for step, record in traced.items():
        trace_box(step, record)


def trace_box(step: str, record: dict[str, Any]) -> None:
    source = "from store" if record["cached"] else f"{record['seconds']:.2f} s"
    with st.expander(f"{STEP_TITLES.get(step, step)} · {record['model']} · {source} · v{record['version']}"):
        st.markdown("Prompt sent:")
        st.code(record["prompt"], language=None, wrap_lines=True)
        st.markdown("Output:")
        output = record["output"]
        st.code(output if isinstance(output, str) else json.dumps(output, ensure_ascii=False), language=None,
                wrap_lines=True)
        extra = {k: v for k, v in record.items()
                 if k not in ("step", "image", "prompt", "output", "model", "seconds", "cached", "version")}
        if extra:
            st.json(extra, expanded=False)


def metrics(run_dir: Path, results: dict[str, Any]) -> None:
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
    if scores.get("warning"):
        st.warning(f"{scores['warning']}: " + ", ".join(
            Path(image).name for image in (scores["unlabelled"] + scores["not_clustered"])[:10]))
    if (run_dir / "confusion.png").is_file():
        st.image(str(run_dir / "confusion.png"), caption="Confusion: true labels × clusters")


def traces(run_dir: Path, results: dict[str, Any]) -> None:
    records = read_traces(run_dir)
    if not records:
        st.info("No traces yet.")
        return
    summary = pass_summary(records)
    st.markdown("Model answers per version and step (called / from store):")
    st.table({f"v{v}": {STEP_TITLES.get(s, s): f"{c['called']} / {c['cached']}" for s, c in steps.items()}
              for v, steps in sorted(summary.items())})
    naming = current_traces(records, None)
    if "name_clusters" in naming:
        trace_box("name_clusters", naming["name_clusters"])
    names = [Path(r["image"]).name for r in results["images"]]
    choice = st.selectbox("Image", range(len(names)), format_func=lambda i: names[i], key="trace-image")
    if choice is not None:
        row = results["images"][choice]
        for step, record in current_traces(records, row["same_as"] or row["image"]).items():
            trace_box(step, record)


def versions(run_dir: Path) -> None:
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
    rows = {n: version_rows(run_dir, n) for n in {before, after}}
    for column, number in ((left, before), (right, after)):
        sizes: dict[str, int] = {}
        for row in rows[number]:
            if row["cluster"]:
                sizes[row["cluster"]] = sizes.get(row["cluster"], 0) + 1
        column.table({"cluster": list(sizes), "images": list(sizes.values())})
    changes = diff(rows[before], rows[after])
    st.markdown(f"From v{before} to v{after}: {len(changes['moved'])} image(s) moved"
                + (", renamed: " + ", ".join(f"{a} → {b}" for a, b in changes["renamed"].items())
                   if changes["renamed"] else ""))
    if changes["moved"]:
        st.table([{"image": Path(m["image"]).name, "from": m["from"], "to": m["to"]} for m in changes["moved"]])


def export(run_dir: Path, results: dict[str, Any]) -> None:
    stem = f"ictc-{run_dir.name}-v{results['version']}"
    csv_col, json_col, zip_col = st.columns(3)
    csv_col.download_button("Results CSV", (run_dir / "results.csv").read_bytes(), f"{stem}.csv", "text/csv",
                            key="dl-csv")
    json_col.download_button("Results JSON", (run_dir / "results.json").read_bytes(), f"{stem}.json",
                             "application/json", key="dl-json")
    key = f"zip-{run_dir}-{results['version']}"
    if key not in st.session_state:
        if zip_col.button("Prepare zip (one folder per cluster)", key="zip-make"):
            with st.spinner("Copying images into cluster folders..."):
                st.session_state[key] = zip_clusters(run_dir)
            st.rerun()
    else:
        zip_col.download_button("Download zip", st.session_state[key], f"{stem}.zip", "application/zip", key="dl-zip")
