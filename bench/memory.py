"""Peak memory of a whole run at N=100 and N=1000 images (each in a fresh process), against the loopback
endpoint. Target: under 10% growth; images are decoded one at a time, never all at once.

    python bench/memory.py --sizes 100 1000
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import make_photos, save


def one(n: int) -> None:
    from bench.fake_endpoint import EndpointProcess, endpoint_settings
    from ictc.graph.run import start_run
    from ictc.prompts import make_criterion

    os.environ["ICTC_WORKSPACE"] = tempfile.mkdtemp(prefix="ictc-bench-ws-")
    photos = make_photos(n)
    with EndpointProcess(0.01, 1000) as endpoint:
        settings = endpoint_settings(16, base_url=endpoint.url)
        start_run(photos, make_criterion("object"), 10, settings, Path(os.environ["ICTC_WORKSPACE"]) / "run")
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)  # MiB (Linux reports KiB)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args.one)
        return
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    rows = []
    for n in args.sizes:
        out = subprocess.run([sys.executable, "-m", "bench.memory", "--one", str(n)], env=env, check=True,
                             capture_output=True, text=True).stdout.split()
        rows.append({"images": n, "peak_rss_mib": int(out[-1])})
        print(rows[-1], flush=True)
    for row in rows:
        row["growth_vs_first"] = row["peak_rss_mib"] / rows[0]["peak_rss_mib"] - 1
    save("memory", rows, "Peak RSS of the whole client process (imports included). Target: < 10% growth from 100 to 1000 images.")


if __name__ == "__main__":
    main()
