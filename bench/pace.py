"""Pace against N (issue 19: wall time per image flat from 10k to 250k images, within ±15%): one whole run
per N against the loopback endpoint, each in a process of its own, timed from `start_run` to its return
(imports excluded). Prints ms per image, the client's CPU per call and where the time went: each step
from its first to its last progress event, and the outputs (`RunSession.finish`). A share that grows
faster than N shows as a per-image figure that rises with N.

    python -m bench.pace --n 10000 40000 --latency 0.02 --concurrency 64
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from bench.common import make_photos, save
from bench.fake_endpoint import EndpointProcess

RUNNER = """
import json, os, sys, tempfile, time
from pathlib import Path
from ictc.graph import session
from ictc.graph.run import start_run
from ictc.prompts import make_criterion
from bench.fake_endpoint import endpoint_settings
paths, concurrency, url = json.loads(sys.stdin.read())
os.environ["ICTC_WORKSPACE"] = workspace = tempfile.mkdtemp(prefix="ictc-pace-ws-")
spans = {}
def mark(name):
    now = time.perf_counter()
    spans.setdefault(name, [now, now])[1] = now
def on_event(event):
    if "step" in event:
        mark(event["step"])
finish = session.RunSession.finish
def timed_finish(self, *args, **kwargs):
    mark("outputs")
    try:
        return finish(self, *args, **kwargs)
    finally:
        mark("outputs")
session.RunSession.finish = timed_finish
settings = endpoint_settings(concurrency, base_url=[url], max_retries=8)
started, cpu = time.perf_counter(), time.process_time()
result = start_run(paths, make_criterion("object"), 10, settings, Path(workspace) / "run", on_event=on_event)
seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
print(json.dumps({"seconds": seconds, "cpu": cpu, "failed": result.results["summary"]["failed"],
                  "spans": {k: [a - started, b - started] for k, (a, b) in spans.items()}}))
"""


def one_run(paths: list[str], concurrency: int, endpoint: EndpointProcess) -> dict:
    """One run of `paths` in a child process (this source tree); its timings, calls and ms per image."""
    before = endpoint.stats()["calls"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", RUNNER], input=json.dumps([paths, concurrency, endpoint.url]),
                          env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"pipeline run failed:\n{done.stderr[-3000:]}")
    run = json.loads(done.stdout.strip().splitlines()[-1])
    calls = endpoint.stats()["calls"] - before
    n = len(paths)
    row = {"images": n, "calls": calls, "seconds": run["seconds"], "ms_per_image": 1000 * run["seconds"] / n,
           "cpu_ms_per_call": 1000 * run["cpu"] / calls, "failed": run["failed"], "load": os.getloadavg()[0]}
    spans = run["spans"]
    first = min((a for a, _ in spans.values()), default=0.0)
    row["start_s"] = first  # start-up: models reached, images hashed, stores opened, first window sent
    for name, (a, b) in spans.items():
        row[f"{name}_ms_per_image"] = 1000 * (b - a) / n
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, nargs="+", default=[10000, 40000], help="images per run (one run each)")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds per call")
    parser.add_argument("--capacity", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    photos = make_photos(max(args.n))
    rows = []
    with EndpointProcess(args.latency, args.capacity) as endpoint:
        for n in args.n:
            row = one_run(photos[:n], args.concurrency, endpoint)
            rows.append(row)
            print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
    save("pace", rows, f"latency {args.latency} s per call, capacity {args.capacity}, concurrency {args.concurrency}; "
                       "<step>_ms_per_image: the step's first to last progress event over N; outputs: "
                       "RunSession.finish (results, report).")


if __name__ == "__main__":
    main()
