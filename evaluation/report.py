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


def write_report(path: Path, results: dict[str, Any], rows: list[dict[str, Any]]) -> None:
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
    if results.get("warnings"):
        parts.append("<h2>Warnings</h2><ul class=warnings>")
        parts.extend(f"<li>{escape(w)}</li>" for w in results["warnings"])
        parts.append("</ul>")
    for name in names:
        members = [r for r in rows if r["cluster"] == name]
        parts.append(f"<h2>{escape(name)} <span class=meta>({len(members)})</span></h2><div class=grid>")
        parts.extend(_figure(r) for r in members)
        parts.append("</div>")
    failed = [r for r in rows if r["status"] != "ok"]
    if failed:
        parts.append(f"<h2>Not clustered <span class=meta>({len(failed)})</span></h2><table>")
        parts.extend(f"<tr><td>{escape(r['image'])}</td><td>{escape(r['status'])}</td><td>{escape(r['reason'])}</td></tr>"
                     for r in failed)
        parts.append("</table>")
    write_atomic(path, "\n".join(parts) + "\n")
