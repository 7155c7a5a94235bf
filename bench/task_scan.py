"""What one completed task costs LangGraph's runner per task still pending in the step: it calls
`concurrent.futures.wait(all_futures, FIRST_COMPLETED)` after every completion, which locks and scans
every future. Prints microseconds per call and per pending future, and what that caps a run at.

    python -m bench.task_scan --pending 256 1024 4096 15625
"""

from __future__ import annotations

import argparse
import concurrent.futures
import statistics
import time

from bench.common import save


def scan_seconds(pending: int, repeats: int) -> float:
    futures: list[concurrent.futures.Future[None]] = [concurrent.futures.Future() for _ in range(pending)]
    done: concurrent.futures.Future[None] = concurrent.futures.Future()
    done.set_result(None)
    futures.append(done)
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        concurrent.futures.wait(futures, return_when=concurrent.futures.FIRST_COMPLETED)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pending", type=int, nargs="+", default=[256, 1024, 4096, 15625])
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    rows = []
    for pending in args.pending:
        seconds = scan_seconds(pending, args.repeats)
        rows.append({"pending_tasks": pending, "ms_per_completion": seconds * 1e3,
                     "us_per_pending_task": seconds * 1e6 / pending, "cap_calls_per_s": 1 / seconds})
    save("task_scan", rows, "one wait(FIRST_COMPLETED) over all of a step's futures, as LangGraph's runner does "
         "after every completed task; the cap ignores every other cost of a call")


if __name__ == "__main__":
    main()
