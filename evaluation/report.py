"""report.html: one section per cluster with its name, size and thumbnails (descriptions on hover), in
pages of PAGE_SIZE thumbnails. Every text that came from a model or a file name is HTML-escaped."""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import fields
from html import escape
from operator import itemgetter
from pathlib import Path
from typing import Any

import orjson

from ictc.core.images import MAX_PIXELS
from ictc.core.settings import Settings, env_name
from ictc.evaluation.groupings import KINDS_BY, categories_said, grouping_sections, kinds_said
from ictc.evaluation.outputs import write_atomic
from ictc.prompts import instructions_in_force
from ictc.store.thumbnails import SIDE, ThumbnailCache, make_thumbnail

STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}h2{margin-top:1.6em}
.grid{display:flex;flex-wrap:wrap;gap:6px}figure{margin:0;width:104px;font-size:11px;overflow:hidden}
img{width:96px;height:96px;object-fit:cover;border-radius:4px;display:block}
.meta{color:#666}table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}"""


KINDS_SHOWN = 20  # labels joined as their kind named on the first page (all in results.json, naming.label_kinds)
PAGE_SIZE = 1000  # thumbnails per page: a page stays a few MB whatever the size of the set


def _figure(row: dict[str, Any], jpeg: bytes | None) -> str:
    tip = escape(f"{row['description']}\n\nlabel: {row['raw_label']}  ({row['route']})", quote=True)
    picture = (f'<img src="data:image/jpeg;base64,{base64.b64encode(jpeg).decode("ascii")}" alt="">' if jpeg
               else "<div>(unreadable)</div>")
    return f'<figure title="{tip}">{picture}<figcaption>{escape(row["image"].rpartition(os.sep)[2])}</figcaption></figure>'


def page_path(path: Path, number: int) -> Path:
    """Page `number` (1-based) of the report whose first page is `path` (report.html, report-2.html, ...)."""
    return path if number == 1 else path.with_name(f"{path.stem}-{number}{path.suffix}")


def _thumbnails(rows: list[dict[str, Any]], cache: ThumbnailCache | None, max_pixels: int) -> dict[str, bytes]:
    """sha256 -> thumbnail JPEG of `rows`' images, none decoded past `max_pixels` (the run's ICTC_MAX_PIXELS)."""
    if cache is not None:
        return cache.get_many(((r["sha256"], r["image"]) for r in rows), max_pixels)
    return {r["sha256"]: jpeg for r in rows if (jpeg := make_thumbnail(r["image"], SIDE, max_pixels))}


def write_report(path: Path, results: dict[str, Any], rows: list[dict[str, Any]],
                 thumbnails: ThumbnailCache | None = None, audits: dict[str, Any] | None = None) -> None:
    """Write the report of `results` (results.json's dict) over `rows` (image_rows) to `path` and, past
    PAGE_SIZE clustered images, to further pages beside it (report-2.html, ...; stale ones removed).
    The first page holds the summary and lists the clusters with their size and the page each starts on;
    every page links to the others. A page whose content would not change is not written again (its first
    line keeps a hash of what it shows): a rename rewrites the first page and those of the renamed cluster,
    not all 250 pages of 250,000 images. `thumbnails`: the workspace's cache (made once per content); None
    makes them afresh (neither decodes an image past the run's ICTC_MAX_PIXELS, results["settings"]). `audits` (attribute -> audit, evaluation/audit.py) adds a fairness section to the
    first page, its chart drawn beside `path`. Raises KeyError if `results` lacks cluster_names, criterion
    or models."""
    names = results["cluster_names"]
    # the run's own limit on declared pixels (ICTC_MAX_PIXELS), as its Step 1 decoded the images
    max_pixels = int(results.get("settings", {}).get("max_pixels") or MAX_PIXELS)
    members: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for row in rows:
        if row["cluster"] in members:
            members[row["cluster"]].append(row)
    ordered = [(name, row) for name in names for row in members[name]]
    pages = [ordered[i:i + PAGE_SIZE] for i in range(0, len(ordered), PAGE_SIZE)] or [[]]
    first_page = {name: 1 + start // PAGE_SIZE for name, start in _starts(names, members).items()}
    head = _head(path, results, rows, names, members, first_page, len(pages))
    index = {name: i for i, name in enumerate(names)}
    links = [f"<a href='{page_path(path, n).name}'>{n}</a>" for n in range(1, len(pages) + 1)]
    for number, page in enumerate(pages, start=1):
        top = head if number == 1 else _page_head(path, results)
        parts: list[str | dict[str, Any]] = [*top, _nav(links, number)]
        current = None
        for name, row in page:
            if name != current:
                if current is not None:
                    parts.append("</div>")
                more = " (continued)" if first_page[name] < number else ""
                parts.append(f"<h2 id='c{index[name]}'>{escape(name)}{more} "
                             f"<span class=meta>({len(members[name])})</span></h2><div class=grid>")
                current = name
            parts.append(row)  # its figure, made below unless the page is unchanged
        if current is not None:
            parts.append("</div>")
        if number == 1:
            parts.extend(_failed(rows))
            if audits:
                parts.append(audit_section(audits, path.parent))
        target = page_path(path, number)
        stamp = f"<!-- ictc page {_content_hash(parts)} -->"
        if number > 1 and _stamp_of(target) == stamp:
            continue  # same clusters, images, descriptions and labels as the page on disk
        jpegs = _thumbnails([row for _, row in page], thumbnails, max_pixels)
        html = [stamp, *(_figure(p, jpegs.get(p["sha256"])) if isinstance(p, dict) else p for p in parts)]
        write_atomic(target, "\n".join(html) + "\n", durable=False)
    for stale in path.parent.glob(f"{path.stem}-*{path.suffix}"):
        suffix = stale.stem[len(path.stem) + 1:]
        if suffix.isdigit() and int(suffix) > len(pages):
            stale.unlink(missing_ok=True)


FIGURE_FIELDS = itemgetter("image", "sha256", "description", "raw_label", "route")  # what _figure shows


def _content_hash(parts: list[str | dict[str, Any]]) -> str:
    """A hash of a page's text and of what its figures show (FIGURE_FIELDS of each row; the thumbnail by its
    content hash), serialised in one call to orjson: the figures' fields alone, not every field of each row
    (half the time at 250,000 images, where every page's hash is checked on each rename)."""
    shown = [part if isinstance(part, str) else FIGURE_FIELDS(part) for part in parts]
    return hashlib.blake2b(orjson.dumps(shown), digest_size=16).hexdigest()


def _stamp_of(page: Path) -> str:
    """The first line of an existing page (its content hash), or "" when there is none."""
    try:
        with page.open("r", encoding="utf-8") as handle:
            return handle.readline(200).rstrip("\n")
    except (OSError, UnicodeDecodeError):
        return ""


def _page_head(path: Path, results: dict[str, Any]) -> list[str]:
    """A later page's top: the title and a link to the first page (the summary and the cluster index)."""
    criterion = escape(results["criterion"]["text"])
    return [f"<!doctype html><meta charset='utf-8'><title>ictc: {criterion}</title>", f"<style>{STYLE}</style>",
            f"<p class=meta><a href='{path.name}'>clusters by {criterion}: summary and index</a></p>"]


def _starts(names: list[str], members: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
    """Each cluster's offset in the page order (clusters in name order, members in input order)."""
    starts, offset = {}, 0
    for name in names:
        starts[name] = offset
        offset += len(members[name])
    return starts


def _head(path: Path, results: dict[str, Any], rows: list[dict[str, Any]], names: list[str],
          members: dict[str, list[dict[str, Any]]], first_page: dict[str, int], n_pages: int) -> list[str]:
    parts = [f"<!doctype html><meta charset='utf-8'><title>ictc: {escape(results['criterion']['text'])}</title>",
             f"<style>{STYLE}</style>",
             f"<h1>{len(names)} cluster{'s' if len(names) != 1 else ''} by {escape(results['criterion']['text'])}</h1>",
             f"<p class=meta>{len(rows)} images; VLM {escape(results['models']['vlm'])}, "
             f"LLM {escape(results['models']['llm'])}</p>"]
    # a refined run's report had said neither which version it shows nor the instructions in force
    version, given = int(results.get("version") or 1), instructions_in_force(results["criterion"])
    said = [f"Version {version}"] * (version > 1) + [f"Instructions in force: {'; '.join(given)}"] * bool(given)
    if said:
        parts.append(f"<p>{escape('. '.join(said))}</p>")
    metrics = results.get("metrics")
    if metrics:
        parts.append(f"<p>ACC {metrics['acc']:.3f} &middot; NMI {metrics['nmi']:.3f} &middot; ARI {metrics['ari']:.3f}"
                     f" on {metrics['n']} of {metrics['images']} images</p>")
        if metrics.get("note"):
            parts.append(f"<p>Note: {escape(metrics['note'])}</p>")
        if metrics.get("warning"):
            parts.append(f"<p><b>Warning:</b> {escape(metrics['warning'])}</p>")
    if results.get("warnings"):  # degenerate results (evaluation/checks.py)
        parts.append("<h2>Warnings</h2><ul class=warnings>")
        parts.extend(f"<li>{escape(w)}</li>" for w in results["warnings"])
        parts.append("</ul>")
    parts.extend(grouping_sections(results))  # K proposed, "other" size, levels tree
    parts.extend(_levers(results))
    if n_pages > 1:  # an index: which page each cluster starts on
        parts.append("<table>")
        parts.extend(f"<tr><td><a href='{page_path(path, first_page[n]).name}#c{i}'>{escape(n)}</a></td>"
                     f"<td>{len(members[n])}</td><td>page {first_page[n]}</td></tr>" for i, n in enumerate(names))
        parts.append("</table>")
    return parts


def _levers(results: dict[str, Any]) -> list[str]:
    """How many images took each Step-3 route, then the quality levers as set for the run (results.json
    `levers`, each by the environment variable that sets it, a value other than the default in bold with the
    default beside it), folded away: what to quote when comparing two runs (README "Quality with small models")."""
    levers = results.get("levers") or {}
    routes = ", ".join(f"{escape(route)} {n}" for route, n in sorted((results.get("routes") or {}).items()))
    parts = [f"<p class=meta>Step 3 routes: {routes}</p>"] if routes else []
    if kinds := kinds_said(results, "→", KINDS_SHOWN):  # route "kind" had been the bare word
        parts.append(f"<p class=meta>Labels joined as their kind ({KINDS_BY}): {escape(kinds)}</p>")
    if moved := categories_said(results, "→", KINDS_SHOWN):  # naming.categories_dropped, said nowhere else
        parts.append(f"<p class=meta>Categories changed from the LLM's (WordNet's kinds): {escape(moved)}</p>")
    if not levers:
        return parts
    known = {f.name: f for f in fields(Settings)}
    rows = []
    for name, value in levers.items():
        field = known.get(name)
        variable = env_name(field) if field else f"ICTC_{name.upper()}"
        default = field.default if field else value
        shown = escape(str(value)) if value == default else f"<b>{escape(str(value))}</b> (default {escape(str(default))})"
        rows.append(f"<tr><td>{escape(variable)}</td><td>{shown}</td></tr>")
    changed = sum(1 for name, value in levers.items() if name in known and value != known[name].default)
    summary = f"Settings of the quality levers ({changed} not the default)" if changed else \
        "Settings of the quality levers (all defaults)"
    return [*parts, f"<details><summary>{summary}</summary><table>", *rows, "</table></details>"]


def _nav(links: list[str], number: int) -> str:
    """The page links of page `number` (1-based) among `links` (one per page), itself unlinked."""
    if len(links) == 1:
        return ""
    shown = [str(n) if n == number else link for n, link in enumerate(links, start=1)]
    return f"<p class=meta>page {' '.join(shown)}</p>"


def _failed(rows: list[dict[str, Any]]) -> list[str]:
    failed = [r for r in rows if r["status"] != "ok"]
    if not failed:
        return []
    return [f"<h2>Not clustered <span class=meta>({len(failed)})</span></h2><table>",
            *(f"<tr><td>{escape(r['image'])}</td><td>{escape(r['status'])}</td><td>{escape(r['reason'])}</td></tr>"
              for r in failed), "</table>"]


def audit_section(audits: dict[str, Any], folder: Path) -> str:
    """The report's fairness section: per audited attribute its chart (audit-<attribute>.png in `folder`,
    embedded), a table of shares and disparity per cluster, and the before/after table after a fix."""
    from ictc.evaluation.audit import EMPTY, NOTE, side_said, slug

    parts = ["<h2>Fairness audit</h2>", f"<p class=meta>{escape(NOTE)}</p>"]
    for attribute, audit in audits.items():
        values = audit["values"]
        parts.append(f"<h3>{escape(attribute)} <span class=meta>(threshold {100 * audit['threshold']:.0f}%)</span></h3>")
        chart = folder / f"audit-{slug(attribute)}.png"
        if chart.is_file():
            data = base64.b64encode(chart.read_bytes()).decode("ascii")
            parts.append(f'<img style="width:auto;height:auto;max-width:100%" alt="chart" src="data:image/png;base64,{data}">')
        head = "".join(f"<th>{escape(v)}</th>" for v in values)
        parts.append(f"<table><tr><th>cluster</th><th>n</th>{head}<th>unclear</th><th>disparity</th></tr>")
        for c in [*audit["clusters"], {**audit["baseline"], "cluster": "(whole set)", "flagged": False}]:
            shares = "".join(f"<td>{_pct(c['shares'][v] if c['n'] else None)}</td>" for v in values)
            mark = ' style="color:#d62728;font-weight:bold"' if c["flagged"] else ""
            parts.append(f"<tr><td>{escape(c['cluster'])}</td><td>{c['n']}</td>{shares}<td>{c['counts']['unclear']}</td>"
                         f"<td{mark}>{_pct(c['disparity']) if c['n'] else EMPTY}</td></tr>")
        parts.append("</table>")
        summary = audit["summary"]
        parts.append(f"<p>Largest disparity {100 * summary['largest_disparity']:.1f}%, mean "
                     f"{100 * summary['mean_disparity']:.1f}%; flagged: {escape(', '.join(summary['flagged']) or 'none')}.</p>")
        if audit.get("fix"):
            # at its step: after a fix at assign, the next one is at label, which the report had not said
            parts.append(f"<p>Suggested fix: <i>{escape(audit['fix']['instruction'])}</i> at step "
                         f"{escape(audit['fix']['step'])}</p>")
        if audit.get("comparison"):
            parts.append(f"<h4>Before (version {audit['before']['version']}) and after</h4><table><tr><th>cluster</th>"
                         "<th>disparity before</th><th>after</th></tr>")
            parts.extend(f"<tr><td>{escape(r['cluster'])}</td><td>{side_said(r, 'before')}</td>"
                         f"<td>{side_said(r, 'after')}</td></tr>" for r in audit["comparison"])
            parts.append("</table>")
    return "\n".join(parts)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"
