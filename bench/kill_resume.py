"""A run killed with SIGKILL part-way, then `ictc resume`: how many model calls were made twice (issue 19:
at most the calls that were in flight at the kill), with wall time per image and the peak RSS. The run
is a child process against the loopback endpoint, which counts every call it answers (also those whose
client was killed before the answer came back) and every distinct request: a call made again repeats
its request exactly, so calls minus distinct requests is the work redone.

    python -m bench.kill_resume --n 2000 --kill-at 0.8 --concurrency 32
    python -m bench.kill_resume --n 250000 --kill-at 0.8 --concurrency 64   # the quarter-million run (hours)

--kill-at 0.8 kills once 80% of the images have their Step-1 answer (n calls in all: one per image);
--kill-at 1.5 kills half-way through Step 2a (Steps 1 and 2a are one call per image each).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import make_photos, save
from bench.fake_endpoint import EndpointProcess, endpoint_settings
from bench.memory import footprint

STEPS = ("describe", "label", "name_clusters", "assign")
STORES = ("checkpoints", "traces", "step_cache", "descriptions", "thumbnails")  # issue 19: < 2 KB per image


def child(n: int, url: str, concurrency: int, run_dir: Path) -> None:
    """The run itself (killed by the parent): a first run over the bench's first n photos."""
    from ictc.graph.run import start_run
    from ictc.prompts import make_criterion

    start_run(make_photos(n), make_criterion("object"), 10, endpoint_settings(concurrency, base_url=url), run_dir)


def reap(process: subprocess.Popen[bytes]) -> int:
    """Wait for `process` to end; returns its own peak RSS in MiB (wait4's rusage: that child alone, not the
    endpoint's process beside it)."""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_maxrss // 1024  # Linux reports KiB


def measure(n: int, kill_at: float, concurrency: int, latency: float) -> dict[str, Any]:
    """Run n images, SIGKILL the run once the endpoint has answered kill_at × n calls, then `ictc resume`
    it; returns the figures (calls, distinct requests, seconds, RSS, the resumed run's summary)."""
    photos_ready = time.perf_counter()
    make_photos(n)
    photos_seconds = time.perf_counter() - photos_ready
    workspace = Path(tempfile.mkdtemp(prefix="ictc-bench-ws-"))
    run_dir = workspace / "run"
    env = {**os.environ, "ICTC_WORKSPACE": str(workspace), "HF_HUB_OFFLINE": "1"}
    with EndpointProcess(latency, 1000) as endpoint:
        started = time.perf_counter()
        run = subprocess.Popen([sys.executable, "-m", "bench.kill_resume", "--child", str(run_dir), "--n", str(n),
                                "--url", endpoint.url, "--concurrency", str(concurrency)], env=env)
        while run.poll() is None and endpoint.stats()["calls"] < kill_at * n:
            time.sleep(0.05)
        if run.poll() is not None:
            raise RuntimeError(f"the run ended (status {run.returncode}) before the kill point")
        os.kill(run.pid, signal.SIGKILL)
        run_rss = reap(run)
        killed_after = time.perf_counter() - started
        time.sleep(max(0.5, 3 * latency))  # the calls in flight at the kill are answered and counted
        at_kill = endpoint.stats()["calls"]
        resumed = time.perf_counter()
        resume = subprocess.Popen([sys.executable, "-m", "ictc.cli", "resume", str(run_dir)], env=env,
                                  stdout=subprocess.DEVNULL)
        resume_rss = reap(resume)
        if resume.returncode:
            raise RuntimeError(f"ictc resume ended with status {resume.returncode}")
        resume_seconds = time.perf_counter() - resumed
        stats = endpoint.stats()
    results = json.loads((run_dir / "results.json").read_text("utf-8"))
    disk = footprint(run_dir, workspace)
    return {"images": n, "calls_at_kill": at_kill, "calls": stats["calls"], "distinct_requests": stats["distinct"],
            "calls_redone": stats["calls"] - stats["distinct"], "concurrency": concurrency,
            "clustered": results["summary"]["clustered"], "failed": results["summary"]["failed"],
            "resume_calls_by_step": {s: results["calls"][s]["model_calls"] for s in STEPS},
            "seconds_to_kill": killed_after, "resume_seconds": resume_seconds,
            "ms_per_image": 1000 * (killed_after + resume_seconds) / n, "photos_seconds": photos_seconds,
            "ms_per_call_to_kill": 1000 * killed_after / at_kill,
            "peak_rss_mib_run": run_rss, "peak_rss_mib_resume": resume_rss,
            "bytes_per_image": {part: round(size / n) for part, size in disk.items()},
            "stores_bytes_per_image": round(sum(disk[p] for p in STORES) / n)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--kill-at", type=float, default=0.8, help="kill once kill_at × n calls are answered")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds per call of the endpoint")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.n, args.url, args.concurrency, args.child)
        return
    row = measure(args.n, args.kill_at, args.concurrency, args.latency)
    print(row, flush=True)
    save("kill_resume", [row], f"SIGKILL after {args.kill_at} x n calls, then ictc resume; endpoint {args.latency} s "
                               f"per call. calls_redone: requests answered twice (target: at most the calls in "
                               f"flight, {args.concurrency}).")


if __name__ == "__main__":
    main()
