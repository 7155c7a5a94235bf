"""Refinement cost: a first run, then a Step-3-only refinement, then a K change, on the same images
against the loopback endpoint, where Step 1 is made the slow step (as a VLM is). Prints wall time and
model calls by step.

    python bench/refinement_cost.py --n 200 --vlm-latency 0.5 --llm-latency 0.05 --concurrency 8
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench.common import make_photos, save
from bench.fake_endpoint import EndpointProcess, endpoint_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--vlm-latency", type=float, default=0.5)
    parser.add_argument("--llm-latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("-k", type=int, default=10)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ["ICTC_WORKSPACE"] = tempfile.mkdtemp(prefix="ictc-bench-ws-")

    from ictc.graph.refine import refine_run
    from ictc.graph.run import start_run
    from ictc.nodes.actions import AddInstruction, SetK
    from ictc.prompts import make_criterion

    photos = make_photos(args.n)
    with EndpointProcess(args.llm_latency, 1000) as llm, EndpointProcess(args.vlm_latency, 1000) as vlm:
        settings = endpoint_settings(args.concurrency, vlm_base_url=vlm.url, llm_base_url=llm.url)
        run_dir = Path(tempfile.mkdtemp(prefix="ictc-bench-run-")) / "run"
        rows = []
        steps = [("first run", lambda: start_run(photos, make_criterion("object"), args.k, settings, run_dir)),
                 ("Step-3 instruction", lambda: refine_run(run_dir, AddInstruction("Prefer animals.", "assign"))),
                 (f"K {args.k} -> {args.k - 2}", lambda: refine_run(run_dir, SetK(args.k - 2)))]
        for name, action in steps:
            started = time.perf_counter()
            result = action()
            seconds = time.perf_counter() - started
            calls = result.results["calls"]
            rows.append({"pass": name, "seconds": seconds, "vlm_calls": calls["describe"]["model_calls"],
                         "2a_calls": calls["label"]["model_calls"], "2b_calls": calls["name_clusters"]["model_calls"],
                         "3_calls": calls["assign"]["model_calls"]})
            print(rows[-1], flush=True)
    first = rows[0]["seconds"]
    for row in rows:
        row["of_first_run"] = row["seconds"] / first
    save("refinement_cost", rows, f"{args.n} images; VLM {args.vlm_latency} s per call, LLM {args.llm_latency} s per call, "
                                  f"concurrency {args.concurrency}. Target: Step-3-only refinement <= 5% of the first run "
                                  "when Step 1 dominates, and 0 VLM calls.")


if __name__ == "__main__":
    main()
