"""`ictc` command line. Heavy libraries are imported only inside commands, so `--help` is instant."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_ERROR, EXIT_MODEL, EXIT_FAILURES = 0, 1, 3, 4
STEP_TITLES = {"describe": "Step 1 describe", "label": "Step 2a label", "name_clusters": "Step 2b names",
               "assign": "Step 3 assign"}


def _backend_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("models (flags override ICTC_* variables and .env)")
    group.add_argument("--backend", choices=["local", "openai"], help="local transformers models or an OpenAI-compatible endpoint")
    group.add_argument("--base-url", help="endpoint URL for both models (else OPENAI_BASE_URL)")
    group.add_argument("--vlm-base-url", help="endpoint for the VLM only")
    group.add_argument("--llm-base-url", help="endpoint for the LLM only")
    group.add_argument("--vlm", help="VLM: hub id or local folder (local), model name (openai)")
    group.add_argument("--llm", help="LLM: hub id or local folder (local), model name (openai)")
    group.add_argument("--concurrency", type=int, help="model calls in flight at once")
    group.add_argument("--batch-size", type=int, help="images per task (local models generate a batch at once)")
    group.add_argument("--image-max-side", type=int, help="downscale images to this longest side")
    group.add_argument("--device", help="torch device for local models")
    group.add_argument("--seed", type=int)
    group.add_argument("--env-file", default=".env", help="settings file (default: ./.env)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ictc", description="Cluster images by a criterion you state in words (IC|TC).")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="cluster a folder of images")
    run.add_argument("images", help="folder of images (searched recursively)")
    run.add_argument("--criterion", "-c", help="what to group by, in words (e.g. 'mood of the person')")
    run.add_argument("-k", "--clusters", type=int, required=True, dest="k", help="number of clusters K")
    run.add_argument("--preset", help="a preset criterion with tuned hints: " + "object, action, location, mood, instrument, place, occupation")
    run.add_argument("--instruction", action="append", default=[], help="extra instruction (repeatable)")
    run.add_argument("--instruction-step", default="all", choices=["all", "describe", "label", "name_clusters", "assign"],
                     help="the step the instructions apply to (default: all)")
    run.add_argument("--labels", help="ground truth CSV with columns image,label: prints ACC, NMI, ARI")
    run.add_argument("--out", help="run folder (default: runs/<time>-<criterion>)")
    run.add_argument("--review", action="store_true", help="pause after Step 2b and after Step 3 to review at the terminal")
    _backend_options(run)

    refine = commands.add_parser("refine", help="change a finished run; only the work whose inputs changed is redone")
    refine.add_argument("run_dir")
    change = refine.add_mutually_exclusive_group(required=True)
    change.add_argument("--instruction", help="add an instruction (to --step, default all steps)")
    change.add_argument("--criterion", help="replace the criterion")
    change.add_argument("-k", "--clusters", type=int, dest="k", help="use another number of clusters")
    change.add_argument("--rename", nargs=2, metavar=("CLUSTER", "NEW_NAME"))
    change.add_argument("--merge", nargs=2, metavar=("CLUSTER", "OTHER"))
    change.add_argument("--split", nargs=2, metavar=("CLUSTER", "N"))
    change.add_argument("--undo", action="store_true", help="back to the previous version (kept as a new version)")
    refine.add_argument("--step", default="all", help="step for --instruction: 1, 2a, 2b, 3 or all")
    refine.add_argument("--into", default="", help="name of the merged cluster (default: the first one's)")
    refine.add_argument("--env-file", default=".env")

    estimate = commands.add_parser("estimate", help="model calls, tokens, cost and time of a run, before running it")
    estimate.add_argument("images")
    estimate.add_argument("--criterion", "-c")
    estimate.add_argument("-k", "--clusters", type=int, required=True, dest="k")
    estimate.add_argument("--preset")
    estimate.add_argument("--price-in", type=float, default=0.0, help="price per million input tokens")
    estimate.add_argument("--price-out", type=float, default=0.0, help="price per million output tokens")
    estimate.add_argument("--vlm-seconds", type=float, default=2.0, help="measured seconds per VLM call (default 2.0)")
    estimate.add_argument("--llm-seconds", type=float, default=0.5, help="measured seconds per LLM call (default 0.5)")
    _backend_options(estimate)

    export = commands.add_parser("export", help="copy a run's images into one folder per cluster")
    export.add_argument("run_dir")
    export.add_argument("out")

    search = commands.add_parser("search", help="find a run's images by what their descriptions say")
    search.add_argument("run_dir")
    search.add_argument("query")
    search.add_argument("-n", type=int, default=5, help="how many images")

    resume = commands.add_parser("resume", help="continue an interrupted run")
    resume.add_argument("run_dir")
    resume.add_argument("--env-file", default=".env")

    evaluate = commands.add_parser("eval", help="score a finished run against ground-truth labels")
    evaluate.add_argument("run_dir")
    evaluate.add_argument("labels", help="CSV with columns image,label")

    ui = commands.add_parser("ui", help="open the chat app (Streamlit) in the browser")
    ui.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    ui.add_argument("--port", type=int, default=8501)
    _backend_options(ui)

    samples = commands.add_parser("samples", help="export the bundled real sample photos with labels.csv")
    samples.add_argument("out", nargs="?", default="samples")
    return parser


class Progress:
    """One tqdm bar per step, fed by the graph's custom stream events."""

    def __init__(self) -> None:
        from tqdm import tqdm

        self._tqdm = tqdm
        self.bars: dict[str, Any] = {}

    def __call__(self, event: dict[str, Any]) -> None:
        step = event.get("step", "")
        if step == "plan":
            print(f"Will redo: {event['redo']}")
            return
        if step not in self.bars:  # steps run one after another: finish the previous bar first
            self.close()
        if "total" in event and step not in self.bars:
            self.bars[step] = self._tqdm(total=event["total"], initial=event.get("done", 0),
                                         desc=STEP_TITLES.get(step, step), unit="img", leave=True)
        elif "advance" in event:
            if step not in self.bars:
                self.bars[step] = self._tqdm(total=event["advance"], desc=STEP_TITLES.get(step, step), leave=True)
            self.bars[step].update(event["advance"])
            if event.get("names"):
                self.bars[step].set_postfix_str(", ".join(event["names"])[:80])

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


SETTING_FLAGS = ["backend", "base_url", "vlm_base_url", "llm_base_url", "vlm", "llm", "concurrency", "batch_size",
                 "image_max_side", "device", "seed"]


def _settings(args: argparse.Namespace):
    from ictc.settings import load_settings

    return load_settings({k: getattr(args, k, None) for k in SETTING_FLAGS}, env_file=args.env_file)


def _cmd_ui(args: argparse.Namespace) -> int:
    """Starts Streamlit on ui/app.py; the model flags reach the app through the environment."""
    import json
    import os

    import ictc.ui
    from ictc.ui.sources import MAX_UPLOAD_TOTAL_MB

    _settings(args)  # bad values fail here, in one line, before a server starts
    overrides = {k: v for k in SETTING_FLAGS if (v := getattr(args, k, None)) is not None}
    env = {**os.environ, "ICTC_UI_OVERRIDES": json.dumps(overrides),
           "ICTC_UI_ENV_FILE": str(Path(args.env_file).resolve())}
    app = Path(ictc.ui.__file__).parent / "app.py"
    command = [sys.executable, "-m", "streamlit", "run", str(app), "--server.address", args.host,
               "--server.port", str(args.port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
               "--server.maxUploadSize", str(MAX_UPLOAD_TOTAL_MB), "--server.fileWatcherType", "none",
               "--client.toolbarMode", "minimal"]
    print(f"ictc ui: http://{args.host}:{args.port}", flush=True)
    os.execvpe(sys.executable, command, env)
    return EXIT_OK


def _default_out(criterion: str) -> Path:
    slug = "".join(ch if ch.isalnum() else "-" for ch in criterion.lower()).strip("-")[:40] or "run"
    return Path("runs") / f"{datetime.now():%Y%m%d-%H%M%S}-{slug}"


def _print_result(result) -> None:
    results = result.results
    print(f"\n{len(results['cluster_names'])} clusters by {results['criterion']['text']!r}:")
    for cluster in results["clusters"]:
        print(f"  {cluster['size']:5d}  {cluster['name']}")
    if results.get("routes"):
        print("Step-3 answers: " + ", ".join(f"{k} {v}" for k, v in sorted(results["routes"].items())))
    if "metrics" in results:
        m = results["metrics"]
        print(f"ACC {m['acc']:.3f}  NMI {m['nmi']:.3f}  ARI {m['ari']:.3f}  (n={m['n']})")
    summary = results["summary"]
    if summary["failed"]:
        print(f"{summary['failed']} image(s) failed:")
        for row in result.rows:
            if row["status"] == "failed":
                print(f"  {row['image']}: {row['reason']}")
    print(f"Results: {result.run_dir / 'results.csv'}, {result.run_dir / 'results.json'}, {result.run_dir / 'report.html'}")


def _cmd_run(args: argparse.Namespace) -> int:
    from ictc.graph.run import start_run
    from ictc.prompts import make_criterion

    criterion = make_criterion(args.criterion, args.preset)
    for text in args.instruction:
        criterion = criterion.with_instruction(text, args.instruction_step)
    settings = _settings(args)
    out = Path(args.out) if args.out else _default_out(criterion.text)
    context = None
    if args.review:  # the models are loaded once for the whole conversation
        from ictc.models.factory import build_context

        context = build_context(settings)
    progress = Progress()
    try:
        result = start_run(args.images, criterion, args.k, settings, out, labels=args.labels, on_event=progress,
                           context=context, review=args.review)
    finally:
        progress.close()
    if args.review:
        result = _review_at_terminal(result, context)
    _print_result(result)
    return EXIT_FAILURES if result.failed else EXIT_OK


def _show_pause(pause: dict[str, Any]) -> None:
    title = "Cluster names (before Step 3)" if pause["point"] == "names" else "Clusters"
    print(f"\n{title} for {pause['criterion']['text']!r}, K={pause['k']}:")
    for number, cluster in enumerate(pause["clusters"], 1):
        size = f" ({cluster['size']} images)" if pause["point"] == "clusters" else ""
        print(f"  {number}. {cluster['name']}{size}")
        for example in cluster["examples"][:2]:
            print(f"       e.g. {example[:110]}")
    if pause["point"] == "names" and pause["label_counts"]:
        print("  labels: " + ", ".join(f"{k} ({v})" for k, v in list(pause["label_counts"].items())[:15]))
    if pause.get("error"):
        print(f"  ! {pause['error']}")


def _review_at_terminal(result, context):
    from ictc.commands import HELP, parse_command
    from ictc.graph.run import resume_run

    while result.pause:
        _show_pause(result.pause)
        print(HELP)
        try:
            line = input("> ")
        except EOFError:
            line = ""
        try:
            action = parse_command(line, [c["name"] for c in result.pause["clusters"]])
        except ValueError as exc:
            print(f"  ! {exc}")
            continue
        progress = Progress()
        try:
            result = resume_run(result.run_dir, on_event=progress, context=context, answer=action)
        finally:
            progress.close()
    return result


def _cmd_refine(args: argparse.Namespace) -> int:
    from dotenv import load_dotenv

    from ictc.commands import step_name
    from ictc.graph.actions import AddInstruction, Merge, Rename, SetCriterion, SetK, Split
    from ictc.graph.run import refine_run, undo_run

    if Path(args.env_file).is_file():
        load_dotenv(args.env_file)
    progress = Progress()
    try:
        if args.undo:
            result = undo_run(args.run_dir)
        else:
            if args.instruction:
                action = AddInstruction(args.instruction, step_name(args.step))
            elif args.criterion:
                action = SetCriterion(args.criterion)
            elif args.k is not None:
                action = SetK(args.k)
            elif args.rename:
                action = Rename(*args.rename)
            elif args.merge:
                action = Merge(tuple(args.merge), args.into)
            else:
                action = Split(args.split[0], int(args.split[1]))
            result = refine_run(args.run_dir, action, on_event=progress)
    finally:
        progress.close()
    _print_result(result)
    _print_changes(result)
    return EXIT_FAILURES if result.failed else EXIT_OK


def _print_changes(result) -> None:
    calls = result.results["calls"]
    print(f"Version {result.version}: {result.results['history'][-1] if result.results['history'] else ''}")
    print("Model calls: " + ", ".join(f"{step} {c['model_calls']} ({c['from_store']} from store)"
                                      for step, c in calls.items()))
    changes = result.changes or {"renamed": {}, "moved": []}
    for old, new in changes["renamed"].items():
        print(f"Renamed: {old} -> {new}")
    print(f"{len(changes['moved'])} image(s) moved")
    for move in changes["moved"][:20]:
        print(f"  {move['image']}: {move['from'] or '-'} -> {move['to'] or '-'}")


def _cmd_estimate(args: argparse.Namespace) -> int:
    from ictc.estimate import estimate
    from ictc.prompts import make_criterion

    settings = _settings(args)
    result = estimate(args.images, make_criterion(args.criterion, args.preset), args.k, settings)
    print(f"{result.images} images ({result.unique} distinct; {result.stored_descriptions} descriptions already stored)")
    print("Model calls: " + ", ".join(f"{step} {n}" for step, n in result.calls.items())
          + " (upper bounds: Step 2a/2b/3 answers already stored are not called again)")
    print(f"Tokens (estimated, chars/4, descriptions at their cap): {result.input_tokens:,} in, {result.output_tokens:,} out")
    if args.price_in or args.price_out:
        print(f"Cost at ${args.price_in}/M in, ${args.price_out}/M out: ${result.cost(args.price_in, args.price_out):,.2f}")
    per_call = {"describe": args.vlm_seconds, "label": args.llm_seconds, "name_clusters": args.llm_seconds * 10,
                "assign": args.llm_seconds}
    seconds = result.seconds(per_call, settings.concurrency)
    print(f"Time at {args.vlm_seconds} s per VLM call, {args.llm_seconds} s per LLM call, concurrency "
          f"{settings.concurrency}: about {seconds / 60:,.1f} min")
    return EXIT_OK


def _cmd_export(args: argparse.Namespace) -> int:
    from ictc.evaluation.export import export_clusters

    for name, folder in export_clusters(Path(args.run_dir), Path(args.out)).items():
        print(f"{sum(1 for _ in folder.iterdir()):5d}  {name}  ->  {folder}")
    return EXIT_OK


def _cmd_search(args: argparse.Namespace) -> int:
    from ictc.graph.run import search_run

    for hit in search_run(args.run_dir, args.query, args.n):
        print(f"{hit['distance']:.3f}  {hit['image']}  [{hit['cluster']}]  {hit['description'][:100]}")
    return EXIT_OK


def _cmd_resume(args: argparse.Namespace) -> int:
    from dotenv import load_dotenv

    from ictc.graph.run import resume_run
    from ictc.graph.versions import load_meta
    from ictc.models.factory import build_context
    from ictc.settings import settings_from_public

    if Path(args.env_file).is_file():
        load_dotenv(args.env_file)  # secrets (API key) come back from the environment, never from the run folder
    # loaded once: the same models serve the resume and, if the run waits for review, the review
    context = build_context(settings_from_public(load_meta(Path(args.run_dir))["settings"]))
    progress = Progress()
    try:
        result = resume_run(args.run_dir, on_event=progress, context=context)
    finally:
        progress.close()
    if result.pause:  # the run waits at a review point: continue the review here
        result = _review_at_terminal(result, context)
    _print_result(result)
    return EXIT_FAILURES if result.failed else EXIT_OK


def _cmd_eval(args: argparse.Namespace) -> int:
    from ictc.graph.run import evaluate_run

    scores = evaluate_run(args.run_dir, args.labels)
    print(f"ACC {scores.acc:.3f}  NMI {scores.nmi:.3f}  ARI {scores.ari:.3f}  (n={scores.n}, "
          f"{len(scores.clusters)} clusters, {len(scores.classes)} classes)")
    print(f"Confusion matrix: {Path(args.run_dir) / 'confusion.png'}")
    return EXIT_OK


def _cmd_samples(args: argparse.Namespace) -> int:
    from ictc.samples import export_samples

    for name, (folder, count) in export_samples(Path(args.out)).items():
        print(f"{name}: {count} photos in {folder} (labels: {folder / 'labels.csv'})")
    return EXIT_OK


def _terminate(signum: int, frame: Any) -> None:
    from ictc.graph.context import STOP

    STOP.set()  # no new model call starts; calls in flight finish and are stored
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = {"ui": _cmd_ui, "run": _cmd_run, "resume": _cmd_resume, "eval": _cmd_eval, "samples": _cmd_samples,
               "refine": _cmd_refine, "search": _cmd_search, "export": _cmd_export,
               "estimate": _cmd_estimate}[args.command]
    if threading.current_thread() is threading.main_thread():
        for stop_signal in (signal.SIGINT, signal.SIGTERM):  # both stop cleanly: finished work is kept
            signal.signal(stop_signal, _terminate)
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("\nictc: interrupted; finished work is kept. Continue with: ictc resume RUN_DIR", file=sys.stderr)
        return 130
    except OSError as exc:  # a file the user named or owns that cannot be read or written
        print(f"ictc: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:
        from ictc.graph.context import RECOVERABLE_ERRORS
        from ictc.models.errors import ModelUnavailableError

        if isinstance(exc, RECOVERABLE_ERRORS):  # an endpoint failure outside the per-image steps (2b)
            print(f"ictc: error: the model endpoint failed ({type(exc).__name__}: {str(exc)[:200]}); "
                  "finished work is kept: continue with ictc resume RUN_DIR", file=sys.stderr)
            return EXIT_ERROR
        if isinstance(exc, ModelUnavailableError):
            print(f"ictc: {exc}", file=sys.stderr)
            return EXIT_MODEL
        if isinstance(exc, ValueError | FileNotFoundError):
            print(f"ictc: error: {exc}", file=sys.stderr)
            return EXIT_ERROR
        raise


if __name__ == "__main__":
    sys.exit(main())
