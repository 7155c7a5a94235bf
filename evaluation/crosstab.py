"""Several criteria on the same images: the cross-tab of two criteria's clusters (counts and a heat map),
and the group folder's report.html with every pair."""

from __future__ import annotations

import io
import itertools
import json
from dataclasses import asdict, dataclass
from html import escape
from pathlib import Path
from typing import Any

from ictc.core.errors import UsageError
from ictc.evaluation.outputs import write_atomic, write_json

GROUP_FILE = "criteria.json"  # marks a folder holding several criteria's runs over the same images
GROUP_REPORT = "criteria.html"  # not report.html: a single run turned into a group keeps its own report


@dataclass
class CrossTab:
    """counts[i][j]: images in cluster rows[i] by criterion `row_criterion` and columns[j] by `column_criterion`
    (only images clustered by both)."""

    row_criterion: str
    column_criterion: str
    rows: list[str]
    columns: list[str]
    counts: list[list[int]]

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict (a deep copy)."""
        return asdict(self)


def read_group(folder: str | Path) -> dict[str, Any]:
    """The group file of `folder`: {"images": [...], "criteria": [{"name", "criterion", "run"}]}, runs relative
    to the folder. Raises UsageError when the folder holds no group."""
    path = Path(folder) / GROUP_FILE
    if not path.is_file():
        raise UsageError(f"{folder} holds no {GROUP_FILE}: it is not a run with several criteria")
    return json.loads(path.read_text("utf-8"))


def write_group(folder: Path, group: dict[str, Any]) -> None:
    """Writes `group` (the shape read_group returns) as the folder's criteria.json, atomically."""
    write_json(folder / GROUP_FILE, group)


def criterion_entry(folder: str | Path, name: str) -> dict[str, Any]:
    """The group's entry (criteria.json) for `name`: the run whose folder name it is, else the one whose criterion
    text it is. Raises UsageError naming the criteria when there is none, or when the text is that of several runs
    and no folder is so named (the first had been taken, unsaid)."""
    group = read_group(folder)
    found = [e for e in group["criteria"] if e["name"] == name] or [e for e in group["criteria"] if e["criterion"] == name]
    if len(found) > 1:
        raise UsageError(f"{name!r} is the criterion of {len(found)} runs in {folder} "
                         f"({', '.join(e['name'] for e in found)}): give one by its folder name")
    if not found:
        raise UsageError(f"no criterion {name!r} in {folder}; there are: {', '.join(e['name'] for e in group['criteria'])}")
    return found[0]


def criterion_results(folder: str | Path, name: str) -> dict[str, Any]:
    """results.json of the group's criterion `name` (its folder name or its criterion text, criterion_entry).

    Raises UsageError naming the criteria when there is no such one, or when its run has no results yet."""
    path = Path(folder) / criterion_entry(folder, name)["run"] / "results.json"
    if not path.is_file():
        raise UsageError(f"the run of {name!r} ({path.parent}) has no results.json yet")
    return json.loads(path.read_text("utf-8"))


def two_criteria(folder: str | Path, first: str, second: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """results.json of two criteria of the group for a cross-tab. Raises UsageError when both name the same run
    (`crosstab GROUP colour colour` had tabulated a criterion against itself as if two), or as criterion_results."""
    a, b = criterion_entry(folder, first), criterion_entry(folder, second)
    if a["run"] == b["run"]:
        others = [e["name"] for e in read_group(folder)["criteria"] if e["run"] != a["run"]]
        raise UsageError(f"{first!r} and {second!r} are the same run ({a['name']}): a cross-tab needs two different "
                         f"criteria" + (f"; the others are: {', '.join(others)}" if others else ""))
    return criterion_results(folder, a["name"]), criterion_results(folder, b["name"])


def crosstab(results_a: dict[str, Any], results_b: dict[str, Any]) -> CrossTab:
    """Counts of images per pair of clusters of two runs over the same images (matched by path).
    Raises UsageError when the runs share no image (the table had been all zeros, unsaid)."""
    if not {r["image"] for r in results_a["images"]} & {r["image"] for r in results_b["images"]}:
        raise UsageError(f"the runs by {results_a['criterion']['text']!r} and {results_b['criterion']['text']!r} share "
                         "no image: a cross-tab counts the same images by two criteria")
    clusters_b = {r["image"]: r["cluster"] for r in results_b["images"] if r["status"] == "ok"}
    rows, columns = list(results_a["cluster_names"]), list(results_b["cluster_names"])
    counts = [[0] * len(columns) for _ in rows]
    for row in results_a["images"]:
        other = clusters_b.get(row["image"]) if row["status"] == "ok" else None
        if other in columns and row["cluster"] in rows:
            counts[rows.index(row["cluster"])][columns.index(other)] += 1
    return CrossTab(results_a["criterion"]["text"], results_b["criterion"]["text"], rows, columns, counts)


def heat_map_png(tab: CrossTab) -> bytes:
    """The cross-tab as a heat map (PNG bytes), counts written in the cells. matplotlib's Figure API,
    not pyplot, so the chat app's worker threads may draw at once."""
    import numpy as np
    from matplotlib.figure import Figure

    table = np.array(tab.counts)
    fig = Figure(figsize=(1.8 + 0.7 * len(tab.columns), 1.2 + 0.5 * len(tab.rows)))
    ax = fig.subplots()
    ax.imshow(table, cmap="Blues")
    ax.set_xticks(range(len(tab.columns)), tab.columns, rotation=45, ha="right")
    ax.set_yticks(range(len(tab.rows)), tab.rows)
    peak = table.max() if table.size else 0
    for (r, c), v in np.ndenumerate(table):
        ax.text(c, r, str(v), ha="center", va="center", color="white" if v > peak / 2 else "black")
    ax.set_xlabel(tab.column_criterion)
    ax.set_ylabel(tab.row_criterion)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def _table_html(tab: CrossTab) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in tab.columns)
    body = "".join(f"<tr><th>{escape(r)}</th>" + "".join(f"<td>{v}</td>" for v in counts) + "</tr>"
                   for r, counts in zip(tab.rows, tab.counts, strict=True))
    return f"<table><tr><th>{escape(tab.row_criterion)} \\ {escape(tab.column_criterion)}</th>{head}</tr>{body}</table>"


def write_group_report(folder: str | Path) -> list[Path]:
    """criteria.html of the group folder: each criterion with its clusters (linking its own report), then
    the cross-tab of every pair (table and heat map, the PNG also written as crosstab-A-B.png).
    Returns the heat map files written."""
    import base64

    folder = Path(folder)
    group = read_group(folder)
    done = [(e, criterion_results(folder, e["name"])) for e in group["criteria"]
            if (folder / e["run"] / "results.json").is_file()]
    parts = ["<!doctype html><meta charset='utf-8'><title>ictc: several criteria</title>",
             "<style>body{font-family:system-ui,sans-serif;margin:2em}td,th{padding:2px 8px;border-bottom:1px solid #ddd}</style>",
             f"<h1>{len(group['criteria'])} criteria on {len(group['images'])} images</h1><ul>"]
    for entry, results in done:
        sizes = ", ".join(f"{escape(c['name'])} ({c['size']})" for c in results["clusters"])
        parts.append(f"<li><a href='{escape(entry['run'])}/report.html'>{escape(entry['criterion'])}</a>: {sizes}</li>")
    parts.append("</ul>")
    written = []
    for (a, results_a), (b, results_b) in itertools.combinations(done, 2):
        tab = crosstab(results_a, results_b)
        png = heat_map_png(tab)
        path = folder / f"crosstab-{a['name']}-{b['name']}.png"
        write_atomic(path, png)
        written.append(path)
        parts += [f"<h2>{escape(a['criterion'])} &times; {escape(b['criterion'])}</h2>", _table_html(tab),
                  f"<p><img alt='' src='data:image/png;base64,{base64.b64encode(png).decode('ascii')}'></p>"]
    write_atomic(folder / GROUP_REPORT, "\n".join(parts) + "\n")
    return written


def refresh_group_of(run_dir: Path) -> None:
    """criteria.html (and the heat maps) of the group of criteria `run_dir` is one of, written again: its parent's
    group, or its own when it holds itself as "." (a single run given add-criterion). Nothing when it is in none.
    Called whenever a run's results are written, so a criterion refined or resumed on its own is not shown as it was
    (criteria.html had kept a coarsened criterion's former clusters)."""
    run_dir = Path(run_dir).resolve()
    for folder in (run_dir, run_dir.parent):
        if (folder / GROUP_FILE).is_file() and any((folder / e["run"]).resolve() == run_dir
                                                   for e in read_group(folder)["criteria"]):
            write_group_report(folder)
            return

