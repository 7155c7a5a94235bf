"""Peak memory of a whole run at N=100 and N=1000 images (each in a fresh process), against the loopback
endpoint. Target: under 10% growth; images are decoded one at a time, never all at once. With
--footprint, also what the run leaves on disk per image, part by part (issue 19: checkpoints and stores
under 2 KB per image; the thumbnail cache shown apart), and both carried on to 250,000 images from
the growth per image between the two largest sizes.

    python bench/memory.py --sizes 100 1000
    python bench/memory.py --sizes 2000 8000 --footprint --latency 0
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import make_photos, save


def footprint(run_dir: Path, workspace: Path) -> dict[str, int]:
    """Bytes on disk of each part of a run folder and of the workspace's stores (SQLite side files included)."""
    def size(*paths: Path) -> int:
        total = 0
        for path in paths:
            if path.is_dir():
                total += sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
            elif path.is_file():
                total += path.stat().st_size
        return total

    def sqlite(path: Path) -> int:
        return size(path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"))

    report = list(run_dir.glob("report*.html"))
    return {"checkpoints": sqlite(run_dir / "checkpoints.sqlite"), "traces": size(run_dir / "traces.jsonl", run_dir / "traces.jsonl.zst"),
            "results": size(run_dir / "results.json", run_dir / "results.csv"), "report": size(*report),
            "versions": sum(f.stat().st_size for f in (run_dir / "versions").rglob("*")
                            if f.is_file() and f.stat().st_nlink == 1),  # hard links to the outputs cost nothing
            "step_cache": sqlite(workspace / "steps.sqlite"), "descriptions": size(workspace / "chroma"),
            "thumbnails": sqlite(workspace / "thumbnails.sqlite")}


STORES = ("checkpoints", "traces", "step_cache", "descriptions")  # issue 19's "checkpoints and stores"
# thumbnails are not among them: a cache of the report, made again from the images if deleted


def add_totals(row: dict[str, float]) -> None:
    """Add to a row of bytes per image (`<part>_b_per_image`) the total of the stores and of the run folder."""
    row["stores_b_per_image"] = sum(row[f"{p}_b_per_image"] for p in STORES)
    row["run_folder_b_per_image"] = sum(row[f"{p}_b_per_image"] for p in ("checkpoints", "traces", "results",
                                                                          "report", "versions"))


def projected(a: dict[str, float], b: dict[str, float], n: int) -> dict[str, float]:
    """Row `b` carried on to `n` images at the growth per image from row `a` to row `b` (a fixed part, such as
    SQLite's WAL, stays fixed): the peak RSS in MiB and each part's bytes per image."""
    step = b["images"] - a["images"]
    per_image = (b["peak_rss_mib"] - a["peak_rss_mib"]) * 1024 / step
    row: dict[str, float] = {"images": n, "peak_rss_mib": round(b["peak_rss_mib"] + per_image * (n - b["images"]) / 1024),
                             "rss_kib_per_image": round(per_image, 2)}
    parts = [k for k in b if k.endswith("_b_per_image") and k not in ("stores_b_per_image", "run_folder_b_per_image")]
    if parts:
        for key in parts:
            growth = (b[key] * b["images"] - a[key] * a["images"]) / step
            row[key] = round((b[key] * b["images"] + growth * (n - b["images"])) / n)
        add_totals(row)
    return row


def one(n: int, latency: float = 0.01, measure_disk: bool = False) -> None:
    from bench.fake_endpoint import EndpointProcess, endpoint_settings
    from ictc.graph.run import start_run
    from ictc.prompts import make_criterion

    os.environ["ICTC_WORKSPACE"] = tempfile.mkdtemp(prefix="ictc-bench-ws-")
    photos = make_photos(n)
    workspace = Path(os.environ["ICTC_WORKSPACE"])
    with EndpointProcess(latency, 1000) as endpoint:
        settings = endpoint_settings(16, base_url=endpoint.url)
        start_run(photos, make_criterion("object"), 10, settings, workspace / "run")
    if measure_disk:
        print(json.dumps(footprint(workspace / "run", workspace)))
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)  # MiB (Linux reports KiB)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--latency", type=float, default=0.01, help="seconds per call of the endpoint")
    parser.add_argument("--footprint", action="store_true", help="also bytes on disk per image, part by part")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args.one, args.latency, args.footprint)
        return
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    rows = []
    for n in args.sizes:
        flags = ["--latency", str(args.latency)] + (["--footprint"] if args.footprint else [])
        out = subprocess.run([sys.executable, "-m", "bench.memory", "--one", str(n), *flags], env=env, check=True,
                             capture_output=True, text=True).stdout.splitlines()
        row: dict[str, float] = {"images": n, "peak_rss_mib": int(out[-1])}
        if args.footprint:
            row.update({f"{part}_b_per_image": round(size / n) for part, size in json.loads(out[-2]).items()})
            add_totals(row)
        rows.append(row)
        print(rows[-1], flush=True)
    for row in rows:
        row["growth_vs_first"] = row["peak_rss_mib"] / rows[0]["peak_rss_mib"] - 1
    if len(rows) > 1:  # growth per image between the two largest sizes, carried on to 250,000 images
        rows.append(projected(rows[-2], rows[-1], 250000))
        print(rows[-1], flush=True)
    save("memory", rows, "Peak RSS of the whole client process (imports included). Target: < 10% growth from 100 to 1000 images.")


if __name__ == "__main__":
    main()
