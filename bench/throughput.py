"""Throughput against concurrency: the whole pipeline over N images against a loopback endpoint with a
fixed latency per call and a capacity. Prints calls/s, the client's CPU per call, the speed-up over
concurrency 1 and its ratio to the ideal speed-up min(concurrency, capacity). Beside each run, two
ceilings from the same process against the same endpoint: the same number of Step-1 requests (one
image each) sent from as many threads (at most the endpoint's capacity: more could only collect 429s)
with no pipeline around them, by plain httpx (`httpx_ceiling`: what the machine can send) and by bare
ChatOpenAI (`chatopenai_ceiling`); `of_ceiling` is the pipeline's rate over the httpx one.

    python -m bench.throughput --n 1000 --latency 0.2 --capacity 64 --concurrency 1 8 32 64 128
    python -m bench.throughput --n 1000 --latency 0.02 0.2 --concurrency 32 64 --trees before=/tmp/before

Each pipeline run is a process of its own (`RUNNER`), timed from `start_run` to its return (imports
excluded, start-up and outputs included); its CPU is that process's. `steady_calls_per_s`: the calls
over the time between the first and the last answer the run reported (the steps without start-up and
outputs). `--trees LABEL=DIR ...` also runs the code of other source trees (e.g. `git archive COMMIT`
unpacked) at each setting, interleaved with this one, against the same endpoint.
`--clients direct langchain` runs the pipeline once with each endpoint client (models/direct_chat.py,
the default, and ChatOpenAI.invoke itself). `--replicas R` serves the same models from R endpoint
processes (each with capacity / R), given to ictc as R base URLs (models/replicas.py spreads the
calls); the ceilings use the first one.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from pathlib import Path
from typing import Any

from bench.common import make_photos, save
from bench.fake_endpoint import EndpointProcess


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


RUNNER = """
import json, os, sys, tempfile, time
from pathlib import Path
from ictc.graph.run import start_run
from ictc.prompts import make_criterion
from bench.fake_endpoint import endpoint_settings
paths, concurrency, urls, k, client = json.loads(sys.stdin.read())  # not argv: 4,000 paths exceed its limit
if client == "langchain":  # ChatOpenAI.invoke itself instead of models/direct_chat.py
    from ictc.models import direct_chat
    direct_chat.hot_path = lambda chat: chat
workspace = tempfile.mkdtemp(prefix="ictc-bench-ws-")  # nothing reused between runs
os.environ["ICTC_WORKSPACE"] = workspace
settings = endpoint_settings(concurrency, base_url=urls, max_retries=8)
answered = []
def on_event(event):
    if event.get("calls"):
        answered.append(time.perf_counter())
started, cpu = time.perf_counter(), time.process_time()
result = start_run(paths, make_criterion("object"), k, settings, Path(workspace) / "run", on_event=on_event)
seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
print(json.dumps({"seconds": seconds, "cpu": cpu, "failed": result.results["summary"]["failed"],
                  "steady_seconds": answered[-1] - answered[0] if len(answered) > 1 else seconds}))
"""


def one_run(paths: list[str], concurrency: int, endpoint: Endpoints, k: int, client: str,
            tree: tuple[str, str]) -> dict:
    """One pipeline run in a process of its own, with the code of `tree` (label, source folder)."""
    import json
    import subprocess
    import sys

    endpoint.reset_peak()
    before = endpoint.stats()
    env = {**os.environ, "PYTHONPATH": tree[1], "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", RUNNER], input=json.dumps([paths, concurrency, endpoint.urls, k, client]),
                          env=env, cwd=tree[1], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"pipeline run ({tree[0]}) failed:\n{done.stderr[-3000:]}")
    run = json.loads(done.stdout.strip().splitlines()[-1])
    after = endpoint.stats()
    calls = after["calls"] - before["calls"]
    return {"code": tree[0], "client": client, "concurrency": concurrency, "images": len(paths), "calls": calls,
            "seconds": run["seconds"], "calls_per_s": calls / run["seconds"],
            "steady_calls_per_s": calls / run["steady_seconds"], "cpu_ms_per_call": 1000 * run["cpu"] / calls,
            "429s": after["rejected"] - before["rejected"],
            "failed": run["failed"], "peak_in_flight": after["peak"],
            "calls_per_replica": "/".join(str(a - b) for a, b in zip(after["spread"], before["spread"], strict=True))}


def ceilings(photo: str, calls: int, threads: int, endpoint: EndpointProcess) -> dict[str, float]:
    """calls/s and CPU ms per call of bare requests from `threads` threads, by plain httpx (the
    openai SDK's own httpx package, one pooled client) and by ChatOpenAI. `threads` must not exceed the
    endpoint's capacity: neither has a rate limiter, and beyond capacity 429s come back."""
    import json
    from concurrent.futures import ThreadPoolExecutor

    from langchain_core.messages import convert_to_openai_messages
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    from ictc.core.images import load_rgb, to_data_uri
    from ictc.models.replicas import http
    from ictc.nodes.common import to_messages

    messages = to_messages([("user", "Describe this image.")], to_data_uri(load_rgb(photo, 512)))
    model = ChatOpenAI(model="bench-vlm", base_url=endpoint.url, api_key=SecretStr("not-needed"), temperature=0, max_retries=8)
    body = {"model": "bench-vlm", "messages": convert_to_openai_messages(messages), "max_completion_tokens": 160,
            "temperature": 0}
    limits = http.Limits(max_connections=threads, max_keepalive_connections=threads)
    raw = http.Client(limits=limits, timeout=60)

    def by_httpx(_: int) -> Any:
        response = raw.post(endpoint.url + "/chat/completions", json=body)
        response.raise_for_status()
        return json.loads(response.content)["choices"][0]["message"]["content"]

    out = {}
    for name, send in (("httpx", by_httpx), ("chatopenai", lambda _: model.invoke(messages, max_tokens=160))):
        with ThreadPoolExecutor(threads) as pool:
            started, cpu = time.perf_counter(), time.process_time()
            list(pool.map(send, range(calls)))
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        out[f"{name}_ceiling"] = calls / seconds
        out[f"{name}_cpu_ms"] = 1000 * cpu / calls
    raw.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--n-serial", type=int, default=100, help="images for concurrency 1 (its rate is what counts)")
    parser.add_argument("--latency", type=float, nargs="+", default=[0.2], help="seconds per call (one or more)")
    parser.add_argument("--capacity", type=int, default=64)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 64, 128])
    parser.add_argument("--clients", nargs="+", default=["direct"], choices=["direct", "langchain"])
    parser.add_argument("--trees", nargs="*", default=[], metavar="LABEL=DIR",
                        help="other source trees to run at each setting, beside this one")
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--replicas", type=int, default=1, help="endpoint processes serving the same models")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    photos = make_photos(args.n)
    trees = [("this", str(Path(__file__).resolve().parent.parent))]
    trees += [(label, str(Path(folder).resolve())) for label, _, folder in (t.partition("=") for t in args.trees)]
    rows = []
    for latency in args.latency:
        with contextlib.ExitStack() as stack:
            replicas = [stack.enter_context(EndpointProcess(latency, max(1, args.capacity // args.replicas)))
                        for _ in range(args.replicas)]
            endpoint = Endpoints(replicas)
            for concurrency in args.concurrency:
                paths = photos[: args.n_serial] if concurrency == 1 else photos
                runs = [dict(one_run(paths, concurrency, endpoint, args.k, client, tree), latency=latency)
                        for tree in trees for client in args.clients]
                ceiling = ceilings(photos[0], runs[0]["calls"], min(concurrency, args.capacity // args.replicas),
                                   replicas[0])
                for row in runs:
                    row.update(ceiling, of_ceiling=row["calls_per_s"] / ceiling["httpx_ceiling"])
                    rows.append(row)
                    print(f"{latency:5.2f} s {row['code']:>8s} {row['client']:9s} concurrency {concurrency:4d}: "
                          f"{row['calls_per_s']:7.1f} calls/s ({row['steady_calls_per_s']:.1f} in the steps), "
                          f"{row['cpu_ms_per_call']:.2f} ms CPU per call, {row['429s']} x 429, {row['failed']} failed, "
                          f"{row['seconds']:.1f} s; httpx alone {row['httpx_ceiling']:.1f} calls/s "
                          f"({row['httpx_cpu_ms']:.2f} ms), ChatOpenAI alone {row['chatopenai_ceiling']:.1f} "
                          f"({row['chatopenai_cpu_ms']:.2f} ms); of httpx ceiling {row['of_ceiling']:.3f}; "
                          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    for row in rows:
        base = next((r["calls_per_s"] for r in rows if r["concurrency"] == 1 and r["client"] == row["client"]
                     and r["code"] == row["code"] and r["latency"] == row["latency"]), None)
        ideal = min(row["concurrency"], args.capacity)
        row["speedup"] = row["calls_per_s"] / base if base else float("nan")
        row["of_ideal"] = row["speedup"] / ideal if base else float("nan")
    save("throughput", rows, f"latency {args.latency} s per call, server capacity {args.capacity} calls at once "
                             f"over {args.replicas} replica(s); ideal speed-up = min(concurrency, capacity). "
                             "of_ceiling: the pipeline's calls/s over plain httpx's from min(concurrency, capacity) "
                             "threads in the same run; cpu_ms_per_call: the pipeline process's CPU time per "
                             "endpoint call; steady: calls over the time from the first to the last answer "
                             "reported.")


if __name__ == "__main__":
    main()
