"""`ictc run` on the colour images against a loopback fake server, as the endpoint tests run it (one request at a
time, so the server's log reads in order), and the results.json it writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ictc.cli import main

from fake_server import FakeOpenAIServer


def run_on(server: FakeOpenAIServer, images: Path, out: Path, k: int = 3, vlm: str = "vision-model",
           llm: str = "text-model", *extra: str) -> int:
    """The exit code of `ictc run images -c colour -k K --out out` through `server` (OpenAI backend, concurrency 1);
    `extra`: more CLI arguments."""
    return main(["run", str(images), "-c", "colour", "-k", str(k), "--out", str(out), "--backend", "openai",
                 "--base-url", server.url, "--vlm", vlm, "--llm", llm, "--concurrency", "1", *extra])


def results_of(out: Path) -> dict[str, Any]:
    """The run folder `out`'s results.json, read."""
    return json.loads((out / "results.json").read_text())  # type: ignore[no-any-return]
