"""report.html: one section per cluster with its name, size and thumbnails; descriptions on hover.
Every text that came from a model or a file name is HTML-escaped."""

from __future__ import annotations

import base64
import io
from html import escape
from pathlib import Path
from typing import Any

from ictc.core.images import ImageError, load_rgb
from ictc.evaluation.outputs import write_atomic

STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}h2{margin-top:1.6em}
.grid{display:flex;flex-wrap:wrap;gap:6px}figure{margin:0;width:104px;font-size:11px;overflow:hidden}
img{width:96px;height:96px;object-fit:cover;border-radius:4px;display:block}
.meta{color:#666}table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}"""


def thumbnail_uri(path: str) -> str | None:
    """The image at `path` as a JPEG data URI, longest side 96 px; None when it cannot be read."""
    try:
        img = load_rgb(path, 96)
    except (ImageError, OSError):
        return None
    buffer = io.BytesIO()
    img.save(buffer, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure(row: dict[str, Any]) -> str:
    uri = thumbnail_uri(row["image"])
    tip = escape(f"{row['description']}\n\nlabel: {row['raw_label']}  ({row['route']})", quote=True)
    picture = f'<img src="{uri}" alt="">' if uri else "<div>(unreadable)</div>"
    return f'<figure title="{tip}">{picture}<figcaption>{escape(Path(row["image"]).name)}</figcaption></figure>'


def write_report(path: Path, results: dict[str, Any], rows: list[dict[str, Any]],
                 audits: dict[str, Any] | None = None) -> None:
    """Write report.html atomically: a section per cluster (name, size, thumbnails with the description and raw
    label on hover), ACC/NMI/ARI when `results` holds metrics, and a table of the images not clustered.

    `results` is results.json's content (cluster_names, criterion, models, optional metrics); `rows` come from
    outputs.image_rows; `audits` (attribute -> audit, evaluation/audit.py) adds a fairness section with the
    chart drawn beside `path`. Raises KeyError if `results` lacks one of those keys."""
    names = results["cluster_names"]
    parts = [f"<!doctype html><meta charset='utf-8'><title>ictc: {escape(results['criterion']['text'])}</title>",
             f"<style>{STYLE}</style>",
             f"<h1>{len(names)} clusters by {escape(results['criterion']['text'])}</h1>",
             f"<p class=meta>{len(rows)} images; VLM {escape(results['models']['vlm'])}, "
             f"LLM {escape(results['models']['llm'])}</p>"]
    metrics = results.get("metrics")
    if metrics:
        parts.append(f"<p>ACC {metrics['acc']:.3f} &middot; NMI {metrics['nmi']:.3f} &middot; ARI {metrics['ari']:.3f}"
                     f" on {metrics['n']} labelled images</p>")
    for name in names:
        members = [r for r in rows if r["cluster"] == name]
        parts.append(f"<h2>{escape(name)} <span class=meta>({len(members)})</span></h2><div class=grid>")
        parts.extend(_figure(r) for r in members)
        parts.append("</div>")
    if audits:
        parts.append(audit_section(audits, path.parent))
    failed = [r for r in rows if r["status"] != "ok"]
    if failed:
        parts.append(f"<h2>Not clustered <span class=meta>({len(failed)})</span></h2><table>")
        parts.extend(f"<tr><td>{escape(r['image'])}</td><td>{escape(r['status'])}</td><td>{escape(r['reason'])}</td></tr>"
                     for r in failed)
        parts.append("</table>")
    write_atomic(path, "\n".join(parts) + "\n")


def audit_section(audits: dict[str, Any], folder: Path) -> str:
    """The report's fairness section: per audited attribute its chart (audit-<attribute>.png in `folder`,
    embedded), a table of shares and disparity per cluster, and the before/after table after a fix."""
    from ictc.evaluation.audit import NOTE, slug

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
            shares = "".join(f"<td>{100 * c['shares'][v]:.1f}%</td>" for v in values)
            mark = ' style="color:#d62728;font-weight:bold"' if c["flagged"] else ""
            parts.append(f"<tr><td>{escape(c['cluster'])}</td><td>{c['n']}</td>{shares}<td>{c['counts']['unclear']}</td>"
                         f"<td{mark}>{100 * c['disparity']:.1f}%</td></tr>")
        parts.append("</table>")
        summary = audit["summary"]
        parts.append(f"<p>Largest disparity {100 * summary['largest_disparity']:.1f}%, mean "
                     f"{100 * summary['mean_disparity']:.1f}%; flagged: {escape(', '.join(summary['flagged']) or 'none')}.</p>")
        if audit.get("fix"):
            parts.append(f"<p>Suggested fix: <i>{escape(audit['fix']['instruction'])}</i></p>")
        if audit.get("comparison"):
            parts.append(f"<h4>Before (version {audit['before']['version']}) and after</h4><table><tr><th>cluster</th>"
                         "<th>disparity before</th><th>after</th></tr>")
            parts.extend(f"<tr><td>{escape(r['cluster'])}</td><td>{_pct(r['before'])}</td><td>{_pct(r['after'])}</td></tr>"
                         for r in audit["comparison"])
            parts.append("</table>")
    return "\n".join(parts)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"
