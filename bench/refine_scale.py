"""Refinements at large N: a first run over N small photos against the loopback endpoint, then a rename,
a merge and a Step-3 instruction, each timed with its model calls by step and the requests the endpoint
answered (a Step-3 instruction: Step 3's calls and nothing more); then comparing two versions
(graph/versions.py diff) on synthetic rows at several sizes, beside the quadratic comparison it replaced.

    python -m bench.refine_scale --n 2000 8000 --diff-sizes 2000 8000 32000 250000 --concurrency 32
    python -m bench.refine_scale --n --diff-sizes --synthetic 8000 32000 250000   # rename/merge/undo only
    python -m bench.refine_scale --one-pass RUN_DIR rename   # one pass on a finished run folder, imports excluded
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import make_photos, save
from bench.fake_endpoint import EndpointProcess, endpoint_settings


def quadratic_moves(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> int:
    """The moved-image scan as it was before (a search of `before` per image): the 'before' figure."""
    was = {row["image"]: row["cluster"] for row in before}
    return len([{"image": row["image"], "from": next((r["cluster"] for r in before if r["image"] == row["image"]), ""),
                 "to": row["cluster"]} for row in after if was.get(row["image"], "") != row["cluster"]])


def diff_rows(sizes: list[int], quadratic_up_to: int) -> list[dict[str, Any]]:
    """Time diff() on synthetic versions (10 clusters, one renamed, 1% of images moved) at each size."""
    from ictc.graph.versions import diff

    rows = []
    for n in sizes:
        before = [{"image": f"/photos/{i:07d}.jpg", "cluster": f"c{i % 10}"} for i in range(n)]
        after = [{"image": r["image"], "cluster": "renamed" if r["cluster"] == "c0" else
                  ("c2" if i % 100 == 1 else r["cluster"])} for i, r in enumerate(before)]
        started = time.perf_counter()
        changes = diff(before, after)
        row = {"images": n, "diff_seconds": time.perf_counter() - started, "moved": len(changes["moved"]),
               "renamed": len(changes["renamed"])}
        if n <= quadratic_up_to:
            started = time.perf_counter()
            quadratic_moves(before, after)
            row["quadratic_seconds"] = time.perf_counter() - started
        rows.append(row)
        print(row, flush=True)
    return rows


def refine_rows(n: int, concurrency: int, k: int, photos: list[str], endpoint: EndpointProcess) -> list[dict[str, Any]]:
    """A first run over photos[:n], then a rename, a merge and a Step-3 instruction; seconds and calls."""
    from ictc.graph.refine import refine_run
    from ictc.graph.run import start_run
    from ictc.nodes.actions import AddInstruction, Merge, Rename
    from ictc.prompts import make_criterion

    os.environ["ICTC_WORKSPACE"] = tempfile.mkdtemp(prefix="ictc-bench-ws-")
    settings = endpoint_settings(concurrency, base_url=endpoint.url, max_retries=8)
    run_dir = Path(tempfile.mkdtemp(prefix="ictc-bench-run-")) / "run"
    rows: list[dict[str, Any]] = []
    names: list[str] = []

    def first() -> Any:
        return start_run(photos[:n], make_criterion("object"), k, settings, run_dir)

    steps = [("first run", first),
             ("rename", lambda: refine_run(run_dir, Rename(names[0], names[0] + " renamed"))),
             ("merge", lambda: refine_run(run_dir, Merge((names[1], names[2]), names[1] + " merged"))),
             ("Step-3 instruction", lambda: refine_run(run_dir, AddInstruction("Prefer animals.", "assign")))]
    for name, action in steps:
        requests = endpoint.stats()["calls"]
        started = time.perf_counter()
        result = action()
        seconds = time.perf_counter() - started
        names = list(result.results["cluster_names"])
        calls = result.results["calls"]
        # the endpoint's own count: every request it answered during the pass, whatever the client counted
        rows.append({"images": n, "pass": name, "seconds": seconds,
                     "endpoint_requests": endpoint.stats()["calls"] - requests, **{
            f"{step}_calls": calls[step]["model_calls"] for step in ("describe", "label", "name_clusters", "assign")}})
        print(rows[-1], flush=True)
    return rows


def one_pass(run_dir: Path, name: str, profile: Path | None) -> None:
    """Time one pass (rename, merge or undo) on `run_dir` in this process; print its seconds and this
    process's CPU seconds and peak RSS (MiB) as JSON. `profile`: a file for its cProfile dump (the figure then includes
    the profiler's own cost)."""
    import cProfile
    import resource

    import chromadb  # noqa: F401  # imported before the clock starts: a pass is timed without its imports
    import langgraph.checkpoint.sqlite  # noqa: F401

    import ictc.models.factory  # noqa: F401
    from ictc.graph.refine import refine_run, undo_run
    from ictc.nodes.actions import Merge, Rename

    names = json.loads((run_dir / "results.json").read_bytes())["cluster_names"]
    actions = {"rename": lambda: refine_run(run_dir, Rename(names[0], names[0] + " renamed")),
               "merge": lambda: refine_run(run_dir, Merge((names[1], names[2]), names[1] + " merged")),
               "undo": lambda: undo_run(run_dir)}
    profiler = cProfile.Profile() if profile else None
    started, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    actions[name]()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    if profiler and profile:
        profiler.disable()
        profiler.dump_stats(str(profile))
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu,  # CPU: what a busy shared machine changes least
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}))


def synthetic_rows(sizes: list[int], k: int, endpoint: EndpointProcess, profile: Path | None) -> list[dict[str, Any]]:
    """Rename, merge and undo on synthetic finished runs (bench/synthetic_run.py) of each size, each pass in
    a fresh process: its seconds (imports excluded) and peak RSS; with the time to build the run.
    `profile`: a folder for a cProfile dump of each pass (name_images.prof)."""
    import subprocess
    import sys

    from bench.synthetic_run import TEMPLATE_IMAGES, synthetic_run, template_run

    os.environ["ICTC_WORKSPACE"] = tempfile.mkdtemp(prefix="ictc-bench-ws-")
    folder = Path(os.environ["ICTC_WORKSPACE"])
    template = template_run(make_photos(TEMPLATE_IMAGES), endpoint_settings(8, base_url=endpoint.url), folder, k)
    rows: list[dict[str, Any]] = []
    for n in sizes:
        started = time.perf_counter()
        run_dir = synthetic_run(template, n, folder / f"run-{n}")
        rows.append({"images": n, "pass": "build (synthetic first run)", "seconds": time.perf_counter() - started})
        print(rows[-1], flush=True)
        for name in ("rename", "merge", "undo"):
            flags = ["--profile", str(profile / f"{name}_{n}.prof")] if profile else []
            if profile:
                profile.mkdir(parents=True, exist_ok=True)
            out = subprocess.run([sys.executable, "-m", "bench.refine_scale", "--one-pass", str(run_dir), name, *flags],
                                 check=True, capture_output=True, text=True).stdout.splitlines()
            rows.append({"images": n, "pass": name, **json.loads(out[-1])})
            print(rows[-1], flush=True)
        shutil.rmtree(run_dir)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, nargs="*", default=[2000, 8000])
    parser.add_argument("--diff-sizes", type=int, nargs="*", default=[2000, 8000, 32000, 250000])
    parser.add_argument("--quadratic-up-to", type=int, default=8000, help="largest size to time the old diff at")
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--synthetic", type=int, nargs="*", default=[],
                        help="also time rename, merge and undo on synthetic finished runs of these sizes")
    parser.add_argument("--profile", type=Path, help="folder for a cProfile dump of each synthetic pass")
    parser.add_argument("--one-pass", nargs=2, metavar=("RUN_DIR", "PASS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_pass:
        one_pass(Path(args.one_pass[0]), args.one_pass[1], args.profile)
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    rows = diff_rows(args.diff_sizes, args.quadratic_up_to)
    save("version_diff", rows, "diff() on synthetic versions: 10 clusters, one renamed, 1% of images moved; "
                               "quadratic_seconds: the scan it replaced.")
    if args.n:
        photos = make_photos(max(args.n))
        refines: list[dict[str, Any]] = []
        with EndpointProcess(args.latency, 1000) as endpoint:
            for n in args.n:
                refines += refine_rows(n, args.concurrency, args.k, photos, endpoint)
        save("refine_scale", refines, f"endpoint {args.latency} s per call, concurrency {args.concurrency}, K={args.k}; "
                                      "seconds include opening the run and writing outputs and the report.")
    if args.synthetic:
        with EndpointProcess(0.0, 1000) as endpoint:
            rows = synthetic_rows(args.synthetic, args.k, endpoint, args.profile)
        save("refine_synthetic", rows, "synthetic finished runs (bench/synthetic_run.py); seconds include opening "
                                       "the run and writing outputs, the report and the version.")


if __name__ == "__main__":
    main()
