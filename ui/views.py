"""What the page shows of a run's clusters: progress, the overview, the paged gallery, warnings and image
details. Each function draws one panel from the run's results; none of them runs the pipeline."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st

from ictc.core.images import MAX_PIXELS, file_path, load_rgb
from ictc.evaluation.traces import image_traces
from ictc.models.other import OTHER
from ictc.ui.jobs import STEP_TITLES, Job
from ictc.ui.outcomes import (  # the chat's names: with their sub-folder
    fewer_kinds_said,
    image_name,
    images_root,
)

FIRST_ROW = 8  # thumbnails per cluster when all clusters are shown
PAGE = 48  # thumbnails per page when one cluster is shown
CAPTION = 36  # characters of a thumbnail's file name shown under it (over up to three lines: short_name)
LOPSIDED_SHARE = 0.5  # one cluster holding more than this share of the images (K >= 3) is worth a word
ROUTES = {"choice": "constrained choice (log-likelihood of each name)", "schema": "JSON-schema enum",
          "json": "JSON answer", "text": "plain answer, exact name", "retry": "an exact name after a re-ask",
          "mapped-string": "mapped to a name by the string rule",
          "mapped-embedding": "mapped to the nearest name by embedding",
          # the routes that make no call (nodes/assign.NO_CALL_ROUTES) and the calibrated ones (README "Step-3 routes")
          "label": "its raw label, or its category, being the name: no model call",
          "kind": "its label's kind by WordNet (pony -> horse): no model call",
          "join": "the category its label joined after a look: no model call",
          "look": "Step 2b's look at its description: no model call",
          "group": "its label's group name, also the name nearest it: no model call",
          "logprobs": "calibrated token log-probabilities of each name",
          "logprobs+embedding": "calibrated log-probabilities, changed by the embedding prior",
          "logprobs+orders": "calibrated log-probabilities over rotated orders of the names",
          "other": "an answer saying no name fits (the other group)"}
# Step 2a's worked example (setting label_example) opens the prompt with another criterion and another image
EXAMPLE_SAID = ("The first question and its answer (\"activity\", a child laughing) are a worked example, the same for "
                "every image and not one of your images: they show the model the kind of answer wanted. This image's "
                "question is the last one (the setting ICTC_LABEL_EXAMPLE=off, in .env, leaves the example out).")
# nodes/assign.NO_CALL_ROUTES, read from the words above: importing it loads LangGraph, which the first page does not
NO_CALL = frozenset(route for route, said in ROUTES.items() if said.endswith(": no model call"))


@st.cache_data(max_entries=20000, show_spinner=False)
def thumbnail(path: str, mtime: float, side: int = 160, max_pixels: int = MAX_PIXELS) -> bytes | None:
    """A JPEG thumbnail of `path` at most `side` px; None when the file cannot be read as an image or declares
    more than `max_pixels` pixels. `mtime` keys the cache so an edited file is redrawn."""
    try:  # decoded as the VLM sees it: upright, high bit depths scaled, within its pixel limit (core/images.py)
        image = load_rgb(path, side, max_pixels)
    except Exception:  # noqa: BLE001 (a broken file shows as a placeholder; its failure is listed)
        return None
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def thumb(path: str, side: int = 160) -> bytes | None:
    """The thumbnail of `path` (cached by path and modification time), or None when it cannot be read or is
    larger than this session's ICTC_MAX_PIXELS allows (pixel_limit)."""
    try:
        return thumbnail(path, Path(file_path(path)).stat().st_mtime, side, pixel_limit())
    except OSError:
        return None


def pixel_limit() -> int:
    """ICTC_MAX_PIXELS of this browser session's settings (those its runs decode images with), else the default:
    the image views had decoded with Pillow's own limit whatever the setting said."""
    session = st.session_state.get("ictc_session")
    return session.settings.max_pixels if session is not None else MAX_PIXELS


BLANK = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mP8/x8AAwMCAO+ip1sAAAAA"
         "SUVORK5CYII=")  # a 1x1 white PNG: the examples cell of an empty cluster


def strip_uri(paths: tuple[str, ...], side: int = 30) -> str | None:
    """strip() as a data: URI, for a table cell."""
    data = strip(paths, side)
    return "data:image/jpeg;base64," + base64.b64encode(data).decode() if data else None


@st.cache_data(max_entries=2000, show_spinner=False)
def strip(paths: tuple[str, ...], side: int = 30) -> bytes | None:
    """The images side by side in one JPEG (`side` px squares, 2 px apart): one element on the page
    instead of one per image. None when none of them can be read."""
    from PIL import Image, ImageOps

    tiles = [data for data in (thumb(p, max(side, 64)) for p in paths) if data]
    if not tiles:
        return None
    canvas = Image.new("RGB", (side * len(tiles) + 2 * (len(tiles) - 1), side), "white")
    for slot, data in enumerate(tiles):
        with Image.open(io.BytesIO(data)) as opened:  # small photos (CIFAR's 32 px) are scaled up to fill
            tile = ImageOps.fit(opened.convert("RGB"), (side, side))
            canvas.paste(tile, (slot * (side + 2), 0))
    buffer = io.BytesIO()
    canvas.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


# progress -----------------------------------------------------------------------------------------------
def progress(job: Job) -> None:
    """One bar per step (done/total, model calls, answers reused); the finishing phase says what it does."""
    if job.plan:
        st.write(f"Redoing: {job.plan}")
    for title, tally in job.progress():
        total = max(tally["total"], 1)
        if title == STEP_TITLES["finish"]:
            text = f"Finishing ({tally['done']}/3): {job.phase}"
        elif not tally["total"]:  # nothing of this step counted for this job: "0/0" said nothing (a newcomer)
            text = f"{title}: " + (f"{tally['calls']} model call(s)" if tally["calls"] else "nothing to redo")
        else:
            text = (f"{title}: {tally['done']}/{tally['total']} · {tally['calls']} model call(s)"
                    + (f" · {tally['stored']} answered from the store (same prompt asked before)" if tally["stored"] else "")
                    + (f" · {tally['failed']} failed" if tally["failed"] else ""))
        st.progress(min(tally["done"] / total, 1.0), text=text)
        if tally.get("names"):
            st.caption("Names: " + ", ".join(tally["names"]))


# members, warnings, overview ---------------------------------------------------------------------------
def members_by_cluster(results: dict[str, Any]) -> dict[str, list[int]]:
    """Row indices of each cluster's images, in input order (one pass over the rows)."""
    members: dict[str, list[int]] = {c["name"]: [] for c in results["clusters"]}
    for index, row in enumerate(results["images"]):
        if row["cluster"] in members:
            members[row["cluster"]].append(index)
    return members


def warnings(results: dict[str, Any]) -> list[str]:
    """The run's fewer-kinds-than-K sentence (fewer_kinds_said); empty and lopsided clusters, each with a change to try in the chat; several empty clusters in one
    warning (one each filled the first screen when Step 2b padded the names with "other 2", "other 3"...)."""
    clusters, total = results["clusters"], max(results["summary"]["clustered"], 1)
    found = [fewer_kinds] if (fewer_kinds := fewer_kinds_said(results)) else []
    for cluster in clusters:
        name, size = cluster["name"], cluster["size"]
        share = f"{round(100 * size / total, 1):.1f}%"  # as the Overview's table rounds it ("67%" beside its 66.7%)
        if size and len(clusters) >= 3 and size / total > LOPSIDED_SHARE:
            labels = {r.get("raw_label", "").casefold() for r in results.get("images", []) if r.get("cluster") == name}
            if len(labels) == 1:  # a split divides by the labels: with one, a part would stay empty (its preview says)
                found.append(f"**{name}** holds {share} of the clustered images, all labelled "
                             f"{next(iter(labels)) or '(none)'!r}. Try a criterion that tells them apart, or "
                             f"\"don't consider ...\" for what they share.")
            else:
                found.append(f"**{name}** holds {share} of the clustered images. Try \"split {name} in two\", or "
                             f"\"more groups\".")
    # an empty "other" group is expected (every image fit one of the names): said with its size, not warned
    empty = [c["name"] for c in clusters if c["size"] == 0 and not (c["name"] == OTHER and "other" in results)]
    if len(empty) == 1:
        found.append(f"**{empty[0]}** has no image: no image chose it in Step 3. Try \"drop the empty groups\" (no "
                     f"model call), \"fewer groups\", or \"rename '{empty[0]}' as ...\" to a name that fits the images.")
    elif empty:
        found.append(f"{len(empty)} clusters have no image (no image chose them in Step 3): "
                     f"{', '.join(f'**{n}**' for n in empty)}. Try \"drop the empty groups\" (no model call), or "
                     f"\"{max(len(clusters) - len(empty), 2)} groups\".")
    return found


def overview_table(results: dict[str, Any]) -> dict[str, list[Any]]:
    """The Overview's columns (#, examples as data: URIs, cluster, images, share: percent of the clustered images, to
    one decimal) for `results` as in results.json; an empty cluster's examples are a blank picture (a missing value
    reads "None"). The share's base is the warnings' (an unreadable file had counted here, not there: 54.55% beside
    "holds 57%")."""
    members, total = members_by_cluster(results), max(results["summary"]["clustered"], 1)
    rows = results["images"]
    table: dict[str, list[Any]] = {"#": [], "examples": [], "cluster": [], "images": [], "share": []}
    for number, cluster in enumerate(results["clusters"], 1):
        table["#"].append(number)
        table["cluster"].append(cluster["name"])
        table["images"].append(cluster["size"])
        table["share"].append(round(100 * cluster["size"] / total, 1))
        table["examples"].append(strip_uri(tuple(rows[i]["image"] for i in members[cluster["name"]][:4])) or BLANK)
    return table


def overview(results: dict[str, Any], on_select: Callable[[], None]) -> None:
    """Every cluster on one row (number, name, size, share, four thumbnails): K = 30 fits one screen.
    `on_select` runs when a row is selected (st.session_state["overview"] holds the selection)."""
    table = overview_table(results)
    config: dict[str, Any] = {
        "#": st.column_config.NumberColumn(width=36), "cluster": st.column_config.TextColumn(width="small"),
        "images": st.column_config.NumberColumn(width=64),
        "share": st.column_config.ProgressColumn("share", help="of the clustered images", format="%.1f%%",
                                                 min_value=0.0, max_value=100.0, width=96),
        "examples": st.column_config.ImageColumn(width=132)}
    height = min(36 + 30 * len(results["clusters"]), 960)
    st.dataframe(table, column_config=config, hide_index=True, row_height=30, height=height,
                 on_select=on_select, selection_mode="single-row", key="overview")


# the gallery -------------------------------------------------------------------------------------------
def gallery(results: dict[str, Any], select: Callable[[int], None]) -> None:
    """All clusters (a strip of the first FIRST_ROW images each, one picture per cluster) or one cluster
    (pages of PAGE thumbnails with their names; a name opens the image's details). Only what is on screen
    is made, so a 10,000-image run paints like a small one."""
    rows, members = results["images"], members_by_cluster(results)
    names = [c["name"] for c in results["clusters"]]
    options = ["All clusters", *names]
    if st.session_state.get("cluster-pick") not in options:
        st.session_state["cluster-pick"] = "All clusters"
    pick = st.selectbox("Show", options, key="cluster-pick",
                        format_func=lambda o: o if o == "All clusters" else f"{names.index(o) + 1}. {o} ({len(members[o])})")
    if pick == "All clusters":
        for number, name in enumerate(names, 1):
            indices = members[name]
            st.markdown(f"#### {number}. {name} · {len(indices)}")
            if not indices:
                st.caption("No image chose this cluster (see the warnings above).")
                continue
            picture = strip(tuple(rows[i]["image"] for i in indices[:FIRST_ROW]), 96)
            if picture:
                st.image(picture, width=min(98 * len(indices[:FIRST_ROW]), 98 * FIRST_ROW))
            st.button(f"Open {name}: {len(indices)} image(s), with names and details", key=f"more-{number}",
                      type="tertiary", on_click=lambda n=name: st.session_state.update({"cluster-pick": n}))
    else:
        indices = members[pick]
        pages = max((len(indices) + PAGE - 1) // PAGE, 1)
        page = st.number_input(f"Page (of {pages}, {PAGE} images each)", 1, pages, 1, key=f"page-{pick}") if pages > 1 else 1
        grid(rows, indices[(page - 1) * PAGE:page * PAGE], select, images_root(r["image"] for r in rows))
    failed = [r for r in rows if r["status"] != "ok"]
    if failed:
        root = images_root(r["image"] for r in rows)
        with st.expander(f"{len(failed)} image(s) not clustered"):
            for row in failed[:200]:
                st.write(f"{image_name(row['image'], root)}: {row['reason'] or row['status']}")


def grid(rows: list[dict[str, Any]], indices: list[int], select: Callable[[int], None], root: str = "") -> None:
    """Thumbnails in a grid that reflows with the width (about 110 px each), the file name under each: relative to
    `root` (outcomes.images_root), so that red_0.png and sub/red_0.png are told apart (both read "red_0.png")."""
    cells = st.grid("auto", min_column_width=104, gap="small", key="thumbgrid")
    for index in indices:
        row = rows[index]
        with cells.container():
            data = thumb(row["image"])
            if data:
                st.image(data, width="stretch")
            else:
                st.caption("(no preview)")
            name = image_name(row["image"], root)
            st.button(short_name(name), key=f"img-{index}", help=f"{name}: its details",  # the whole name on hover
                      on_click=select, args=(index,), type="tertiary", width="stretch")


def short_name(name: str, keep: int = CAPTION) -> str:
    """`name` whole for a thumbnail's caption, which wraps over lines in its cell (ui/style.css); past `keep`
    characters its start and its end (where names of one set differ, and the extension) stay, cut between them
    ("a_very_long_photo_name_from_the_camera_0001.jpg" -> "a_very_long_photo_na…camera_0001.jpg"): a
    12-character cut in the middle had made "cifar10_10_05_6.png" read "cifa…10_05_6", and taken its extension."""
    if len(name) <= keep:
        return name
    tail = max(keep // 2 - 3, len(Path(name).suffix) + 1)
    return name[:keep - tail - 1] + "…" + name[-tail:]


# details -----------------------------------------------------------------------------------------------
def details(run_dir: Path, rows: list[dict[str, Any]], order: list[int], index: int,
            go: Callable[[int], None]) -> None:
    """One image: picture, cluster, raw label, Step-3 route, description, each step's prompt and output;
    previous / next walk `order` (the image's cluster) without closing the dialog."""
    row = rows[index]
    at = order.index(index) if index in order else 0
    back, where, forward = st.columns([1, 2, 1])
    back.button("‹ Previous", key="detail-prev", disabled=at == 0, width="stretch",
                on_click=go, args=(order[max(at - 1, 0)],))
    where.markdown(f"<div style='text-align:center'>{at + 1} of {len(order)} in <b>{row['cluster'] or '(none)'}</b>"
                   "</div>", unsafe_allow_html=True)
    forward.button("Next ›", key="detail-next", disabled=at >= len(order) - 1, width="stretch",
                   on_click=go, args=(order[min(at + 1, len(order) - 1)],))
    left, right = st.columns([1, 2])
    with left:
        if data := thumb(row["image"], 800):  # decoded as the VLM sees it (core/images.py)
            st.image(data, width="stretch")
        st.caption(row["image"])
    with right:
        st.markdown(f"**Cluster:** {row['cluster'] or '(none)'}")
        st.markdown(f"**Raw label (Step 2a):** {row['raw_label'] or '(none)'}")
        if row["route"]:
            st.markdown(route_said(row))
        st.markdown("**Description (Step 1):**")
        st.write(row["description"] or row["reason"] or "(none)")
    traced = image_traces(run_dir, row["same_as"] or row["image"])  # this image's lines only, streamed
    for step, record in traced.items():
        trace_box(step, record)


def route_said(row: dict[str, Any]) -> str:
    """How Step 3 placed the image of `row` (a results.json image record: route, answer, cluster, raw_label), as
    the Details view says it (markdown). A route with no call says no answer: a crimson image in "red" by WordNet
    had read "Step 3 answer: 'red' → red by its label's kind by WordNet (pony -> horse)", an answer no model gave
    and a join of other words; it says the image's own one ("'crimson' is a kind of 'red'")."""
    route = row["route"]
    if route == "kind" and row.get("raw_label"):
        return (f"**Step 3:** → {row['cluster']}: its label {row['raw_label']!r} is a kind of "
                f"{row.get('answer') or row['cluster']!r} by WordNet: no model call")
    if route in NO_CALL:
        return f"**Step 3:** → {row['cluster']} by {ROUTES.get(route, route)}"
    return f"**Step 3 answer:** {row['answer']!r} → {row['cluster']} by {ROUTES.get(route, route)}"


def trace_box(step: str, record: dict[str, Any]) -> None:
    """One model answer: the filled prompt, the output, the model, and whether it was called or reused."""
    from ictc.nodes.label import shows_example  # imports LangGraph: not on the landing page

    source = ("reused from the store (same prompt answered before)" if record["cached"]
              else f"{record['seconds']:.2f} s")
    version = record.get("version_title") or f"v{record['version']}"  # evaluation/traces.py version_titles
    with st.expander(f"{STEP_TITLES.get(step, step)} · {record['model']} · {source} · {version}"):
        st.markdown("Prompt sent:")
        if step == "label" and shows_example(record["prompt"]):
            st.caption(EXAMPLE_SAID)
        st.code(record["prompt"], language=None, wrap_lines=True)
        st.markdown("Output:")
        output = record["output"]
        st.code(output if isinstance(output, str) else json.dumps(output, ensure_ascii=False), language=None,
                wrap_lines=True)
        extra = {k: v for k, v in record.items()
                 if k not in ("step", "image", "prompt", "output", "model", "seconds", "cached", "version", "version_title")}
        if extra:
            st.json(extra, expanded=False)
