"""What a run writes to its checkpoint database as the image set grows: a first run and one Step-3
refinement at each size, against the loopback endpoint (fast, so the figures come quickly). Prints the
number of checkpoints, their total and largest size, the per-task writes, the database file, the
seconds a read of the run's state takes, and bytes per image.

    python bench/checkpoints.py --sizes 250 1000 4000
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import tempfile
import time
from pathlib import Path

from bench.common import make_photos, save
from bench.fake_endpoint import EndpointProcess, endpoint_settings


def measure(run_dir: Path) -> dict[str, float]:
    from ictc.graph.session import run_state

    started = time.perf_counter()
    run_state(run_dir)
    read_seconds = time.perf_counter() - started
    db = run_dir / "checkpoints.sqlite"
    with sqlite3.connect(db) as connection:
        count, total, largest = connection.execute(
            "SELECT count(*), sum(length(checkpoint)), max(length(checkpoint)) FROM checkpoints").fetchone()
        writes = connection.execute("SELECT coalesce(sum(length(value)), 0) FROM writes").fetchone()[0]
    return {"checkpoints": count, "checkpoint_mb": total / 1e6, "largest_checkpoint_kb": largest / 1e3,
            "writes_mb": writes / 1e6, "file_mb": db.stat().st_size / 1e6, "state_read_s": read_seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[250, 1000, 4000])
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from ictc.graph.refine import refine_run
    from ictc.graph.run import start_run
    from ictc.nodes.actions import AddInstruction
    from ictc.prompts import make_criterion

    photos = make_photos(max(args.sizes))
    rows = []
    with EndpointProcess(0.01, 1000) as endpoint:
        for n in args.sizes:
            os.environ["ICTC_WORKSPACE"] = tempfile.mkdtemp(prefix="ictc-bench-ws-")  # nothing reused
            settings = endpoint_settings(args.concurrency, base_url=endpoint.url)
            run_dir = Path(os.environ["ICTC_WORKSPACE"]) / "run"
            for name in ("first run", "+ Step-3 refinement"):
                started = time.perf_counter()
                if name == "first run":
                    start_run(photos[:n], make_criterion("object"), 10, settings, run_dir)
                else:
                    refine_run(run_dir, AddInstruction("Prefer animals.", "assign"))
                row = {"images": n, "after": name, "run_s": time.perf_counter() - started, **measure(run_dir)}
                row["file_bytes_per_image"] = row["file_mb"] * 1e6 / n
                rows.append(row)
                print(row, flush=True)
    save("checkpoints", rows, "Checkpoint database of one run (checkpoints.sqlite): checkpoint blobs, per-task "
                              "writes, file size; state_read_s is one read of the run's current state.")


if __name__ == "__main__":
    main()
