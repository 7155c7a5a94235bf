"""Throughput against concurrency: the whole pipeline over N images against a loopback endpoint with a
fixed latency per call and a capacity. Prints calls/s, the speed-up over concurrency 1 and its ratio
to the ideal speed-up min(concurrency, capacity). Beside each run, the client's own ceiling: the same
number of Step-1 requests (one image each) sent by LangChain's ChatOpenAI alone from as many threads
(at most the endpoint's capacity: more threads could only collect 429s), with no pipeline around it;
`of_ceiling` is the pipeline's rate over that one.

    python bench/throughput.py --n 1000 --latency 0.2 --capacity 64 --concurrency 1 8 32 64 128

`--replicas R` serves the same models from R endpoint processes (each with capacity / R), given to
ictc as R base URLs (models/replicas.py spreads the calls); the ceiling still uses the first one.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import make_photos, save
from bench.fake_endpoint import EndpointProcess, endpoint_settings


class Endpoints:
    """Several EndpointProcess as one for stats: calls, 429s and peaks summed over the replicas."""

    def __init__(self, endpoints: list[EndpointProcess]):
        self.endpoints = endpoints
        self.urls = [e.url for e in endpoints]

    def stats(self) -> dict[str, Any]:
        """The replicas' counters, summed; `spread`: calls per replica."""
        each = [e.stats() for e in self.endpoints]
        total = {key: sum(s[key] for s in each) for key in each[0]}
        return {**total, "spread": [s["calls"] for s in each]}

    def reset_peak(self) -> None:
        for endpoint in self.endpoints:
            endpoint.reset_peak()


def one_run(paths: list[str], concurrency: int, endpoint: Endpoints, k: int) -> dict:
    from ictc.graph.run import start_run
    from ictc.prompts import make_criterion

    workspace = tempfile.mkdtemp(prefix="ictc-bench-ws-")  # nothing reused between runs
    os.environ["ICTC_WORKSPACE"] = workspace
    settings = endpoint_settings(concurrency, base_url=endpoint.urls, max_retries=8)
    endpoint.reset_peak()
    before = endpoint.stats()
    started = time.perf_counter()
    result = start_run(paths, make_criterion("object"), k, settings, Path(workspace) / "run")
    seconds = time.perf_counter() - started
    after = endpoint.stats()
    calls = after["calls"] - before["calls"]
    return {"concurrency": concurrency, "images": len(paths), "calls": calls, "seconds": seconds,
            "calls_per_s": calls / seconds, "429s": after["rejected"] - before["rejected"],
            "failed": result.results["summary"]["failed"], "peak_in_flight": after["peak"],
            "calls_per_replica": "/".join(str(a - b) for a, b in zip(after["spread"], before["spread"], strict=True))}


def client_ceiling(photo: str, calls: int, threads: int, endpoint: EndpointProcess) -> float:
    """calls/s of bare ChatOpenAI requests: what one Python client process can send on this machine.
    `threads` must not exceed the endpoint's capacity: bare ChatOpenAI has no rate limiter, and beyond
    capacity its retries on 429 run out and the call raises."""
    from concurrent.futures import ThreadPoolExecutor

    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    from ictc.core.images import load_rgb, to_data_uri
    from ictc.nodes.common import to_messages

    model = ChatOpenAI(model="bench-vlm", base_url=endpoint.url, api_key=SecretStr("not-needed"), temperature=0, max_retries=8)
    messages = to_messages([("user", "Describe this image.")], to_data_uri(load_rgb(photo, 512)))
    with ThreadPoolExecutor(threads) as pool:
        started = time.perf_counter()
        list(pool.map(lambda _: model.invoke(messages, max_tokens=160), range(calls)))
        return calls / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--n-serial", type=int, default=100, help="images for concurrency 1 (its rate is what counts)")
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--capacity", type=int, default=64)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 64, 128])
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--replicas", type=int, default=1, help="endpoint processes serving the same models")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    photos = make_photos(args.n)
    rows = []
    with contextlib.ExitStack() as stack:
        replicas = [stack.enter_context(EndpointProcess(args.latency, max(1, args.capacity // args.replicas)))
                    for _ in range(args.replicas)]
        endpoint = Endpoints(replicas)
        for concurrency in args.concurrency:
            paths = photos[: args.n_serial] if concurrency == 1 else photos
            row = one_run(paths, concurrency, endpoint, args.k)
            ceiling_threads = min(concurrency, args.capacity // args.replicas)
            row["ceiling_calls_per_s"] = client_ceiling(photos[0], row["calls"], ceiling_threads, replicas[0])
            rows.append(row)
            print(f"concurrency {concurrency:4d}: {row['calls_per_s']:7.1f} calls/s, {row['429s']} x 429, "
                  f"{row['failed']} failed, {row['seconds']:.1f} s; ChatOpenAI alone "
                  f"{row['ceiling_calls_per_s']:.1f} calls/s", flush=True)
    base = rows[0]["calls_per_s"] if rows and rows[0]["concurrency"] == 1 else None
    for row in rows:
        ideal = min(row["concurrency"], args.capacity)
        row["speedup"] = row["calls_per_s"] / base if base else float("nan")
        row["of_ideal"] = row["speedup"] / ideal if base else float("nan")
        row["of_ceiling"] = row["calls_per_s"] / row["ceiling_calls_per_s"]
    save("throughput", rows, f"latency {args.latency} s per call, server capacity {args.capacity} calls at once "
                             f"over {args.replicas} replica(s); "
                             f"ideal speed-up = min(concurrency, capacity); target >= 0.8 of ideal up to capacity. "
                             "ceiling: the same number of bare ChatOpenAI requests from min(concurrency, capacity) threads.")


if __name__ == "__main__":
    main()
