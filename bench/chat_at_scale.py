"""The chat app on a large finished run (issue 19), driven by streamlit's AppTest as a newcomer would use it:
open the run from Recent runs, send a rename in the chat, wait for the job, redraw, visit the Traces tab twice
and find an image there. Prints each step's wall and CPU seconds, the process's peak RSS and session.json's
size. The run folder must sit where the app lists it: <workspace>/ui/<session>/run-N (move a finished run
there); its workspace's thumbnail cache is used. The models are the loopback bench endpoint's (a rename
calls none).

    python -m bench.chat_at_scale /tmp/ws/ui/aaaaaaaaaaaa/run-1 --rename frog frogs
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.fake_endpoint import EndpointProcess, endpoint_settings

APP = Path(__file__).resolve().parent.parent / "ui" / "app.py"


def _timed(label: str, step: Callable[[], Any]) -> Any:
    started, cpu = time.perf_counter(), time.process_time()
    out = step()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"{label}: {time.perf_counter() - started:.1f} s wall, {time.process_time() - cpu:.1f} s CPU, "
          f"peak RSS {peak} MiB", flush=True)
    return out


def measure(run_dir: Path, old: str, new: str) -> None:
    """Drive the app over `run_dir` (see the module's docstring), renaming cluster `old` to `new`."""
    os.environ["ICTC_WORKSPACE"] = str(run_dir.parents[2])
    from streamlit.testing.v1 import AppTest

    from ictc.graph.runtime import build_context

    with EndpointProcess(0.02, 64) as endpoint:
        settings = endpoint_settings(64, base_url=[endpoint.url], max_retries=8)
        app = AppTest.from_file(str(APP), default_timeout=3600)
        app.session_state["context_factory"] = lambda _: build_context(settings)
        _timed("first paint", app.run)
        app.selectbox(key="recent-run").set_value(str(run_dir))
        _timed("open the run", lambda: app.button(key="open-run").click().run())
        session = app.session_state["ictc_session"]
        _timed("rename sent in the chat (until the reply)", lambda: app.chat_input(key="chat").set_value(
            f"rename {old} to {new}").run())
        job = session.job
        while job is not None and job.running:
            time.sleep(0.2)
        print(f"rename job: {job.seconds:.1f} s (error: {job.error!r})" if job else "no job started", flush=True)
        _timed("redraw with the result", app.run)
        print("outcome:", app.chat_message[-1].markdown[0].value.splitlines()[0][:160])
        print("session.json:", (session.folder / "session.json").stat().st_size, "bytes")
        app.session_state["tab"] = "Traces"
        _timed("Traces tab, first visit", app.run)
        _timed("Traces tab, again", app.run)
        name = Path(session.results()["images"][-1]["image"]).name
        _timed(f"Traces tab, find {name}", lambda: app.text_input(key="trace-find").input(name).run())
        print("exceptions:", list(app.exception) or "none")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path, help="a finished run at <workspace>/ui/<session>/run-N")
    parser.add_argument("--rename", nargs=2, metavar=("CLUSTER", "NEW_NAME"), required=True)
    args = parser.parse_args()
    measure(args.run_dir.resolve(), *args.rename)


if __name__ == "__main__":
    main()
