"""How long the chat app takes to draw a large run's results in a browser: a synthetic run folder
(results.json and run.json for N tiny images in K clusters, no model involved) is opened by reloading
its saved session (?session=...) in headless Chromium against a real `ictc ui` server; the seconds from
navigation until the results are on screen are printed per tab, the first time (thumbnails not yet made)
and again (warm). With --first-load N it instead starts a fresh server N times and times its first page
(the landing page of a new session: the first script run, which pays for the app's imports).

    python -m bench.ui_paint --images 10000 --clusters 27
    python -m bench.ui_paint --first-load 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any


def synthetic_run(folder: Path, n: int, k: int) -> Path:
    """N 8x8 PNGs and a finished run's results.json/run.json assigning image i to cluster i mod k (one
    cluster three times as large, as real runs are uneven)."""
    from PIL import Image

    images = folder / "images"
    images.mkdir(parents=True)
    names = [f"Cluster {c + 1}" for c in range(k)]
    rows = []
    for i in range(n):
        path = images / f"img_{i:05d}.png"
        Image.new("RGB", (8, 8), ((i * 37) % 256, (i * 91) % 256, (i * 13) % 256)).save(path)
        cluster = names[0] if i % (k + 2) < 3 else names[i % k]
        rows.append({"image": str(path), "sha256": "", "same_as": "", "description": f"image {i}",
                     "description_key": "", "raw_label": cluster.lower(), "label": cluster.lower(),
                     "cluster": cluster, "route": "schema", "answer": cluster, "status": "ok", "reason": "",
                     "seconds": {}})
    sizes = {name: sum(r["cluster"] == name for r in rows) for name in names}
    run_dir = folder / "workspace" / "ui" / "0123456789ab" / "run-1"
    run_dir.mkdir(parents=True)
    results = {"run_id": "bench", "created": "", "version": 1, "history": ["first run"],
               "criterion": {"text": "synthetic", "preset": None, "instructions": {}}, "n_clusters": k,
               "cluster_names": names, "clusters": [{"name": x, "size": sizes[x]} for x in names], "naming": {},
               "routes": {}, "calls": {}, "summary": {"images": n, "clustered": n, "failed": 0, "unfinished": 0},
               "images": rows}
    (run_dir / "results.json").write_text(json.dumps(results), "utf-8")
    (run_dir / "versions" / "v1").mkdir(parents=True)
    (run_dir / "versions" / "v1" / "results.json").write_text(json.dumps(results), "utf-8")
    (run_dir / "run.json").write_text(json.dumps({"thread_id": "bench", "versions": [
        {"version": 1, "action": "first run", "checkpoint_id": ""}]}), "utf-8")
    (run_dir.parent / "session.json").write_text(json.dumps({
        "images": [r["image"] for r in rows], "images_source": "bench", "labels": None, "run_dir": str(run_dir),
        "reported": "", "warned": True, "messages": [{"role": "assistant", "text": "bench"}],
        "request": {}, "pending": []}), "utf-8")
    return run_dir


TOKEN = "0123456789ab"


def paint(page: Any, url: str, tab: str, ready: str) -> float:
    """Seconds from loading the saved session's page with `tab` open until `ready` (text) is visible."""
    started = time.perf_counter()
    page.goto(f"{url}/?session={TOKEN}")
    if tab != "Clusters":
        page.get_by_role("tab", name=tab).click()
    page.get_by_text(ready).first.wait_for()
    return time.perf_counter() - started


def start_server(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`ictc ui` on a free loopback port with its workspace in `folder` (an endpoint that is never called),
    once its health check answers: (the process, its address)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ICTC_")},
           "ICTC_WORKSPACE": str(folder / "workspace"), "OPENAI_API_KEY": "unused"}
    server = subprocess.Popen([sys.executable, "-m", "ictc.cli", "ui", "--port", str(port), "--backend", "openai",
                               "--base-url", "http://127.0.0.1:9/v1", "--env-file", str(folder / "none.env")],
                              env=env, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
            return server, url
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("ictc ui did not start") from None
            time.sleep(0.2)


def first_load(times: int) -> None:
    """Prints the seconds from navigating to a fresh server's page until its landing page is drawn (the
    greeting and the chat input visible), `times` times, each on a new server process."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                             args=["--headless", "--no-sandbox", "--disable-gpu"])
        for attempt in range(1, times + 1):
            with tempfile.TemporaryDirectory() as tmp:
                server, url = start_server(Path(tmp))
                try:
                    page = browser.new_page(viewport={"width": 1280, "height": 900})
                    started = time.perf_counter()
                    page.goto(url)
                    page.get_by_text("Choose images on the left").first.wait_for(timeout=120_000)
                    page.get_by_test_id("stChatInputTextArea").wait_for(timeout=120_000)
                    print(f"first load {attempt}: {time.perf_counter() - started:.2f} s "
                          f"(load average {os.getloadavg()[0]:.1f})")
                    page.close()
                finally:
                    server.terminate()
                    server.wait(10)
        browser.close()


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10000)
    parser.add_argument("--clusters", type=int, default=27)
    parser.add_argument("--first-load", type=int, default=0, help="time a fresh server's first page N times")
    args = parser.parse_args()
    if args.first_load:
        first_load(args.first_load)
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        synthetic_run(folder, args.images, args.clusters)
        print(f"synthetic run: {args.images} images, {args.clusters} clusters ({time.perf_counter() - started:.1f} s to write)")
        server, url = start_server(folder)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                                     args=["--headless", "--no-sandbox", "--disable-gpu"])
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.set_default_timeout(120_000)
                page.goto(url)  # the first page load imports the app
                page.get_by_text("Choose images").first.wait_for()
                for tab, ready in (("Clusters", "27. Cluster 27"), ("Clusters", "27. Cluster 27"),
                                   ("Overview", "Select a row"), ("Versions", "From v1 to v1")):
                    print(f"first paint, {tab:9} tab: {paint(page, url, tab, ready):.2f} s")
                browser.close()
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
