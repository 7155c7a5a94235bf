"""`ictc` command line. Heavy libraries are imported only inside commands, so `--help` is instant."""

from __future__ import annotations

import argparse
import sys
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
    _backend_options(run)

    resume = commands.add_parser("resume", help="continue an interrupted run")
    resume.add_argument("run_dir")
    resume.add_argument("--env-file", default=".env")

    evaluate = commands.add_parser("eval", help="score a finished run against ground-truth labels")
    evaluate.add_argument("run_dir")
    evaluate.add_argument("labels", help="CSV with columns image,label")

    samples = commands.add_parser("samples", help="export the bundled real sample photos with labels.csv")
    samples.add_argument("out", nargs="?", default="samples")
    return parser


class Progress:
    """One tqdm bar per step, fed by the graph's custom stream events."""

    def __init__(self) -> None:
        from tqdm import tqdm

        self._tqdm, self.bars = tqdm, {}

    def __call__(self, event: dict[str, Any]) -> None:
        step = event.get("step", "")
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


def _settings(args: argparse.Namespace):
    from ictc.settings import load_settings

    keys = ["backend", "base_url", "vlm_base_url", "llm_base_url", "vlm", "llm", "concurrency", "batch_size",
            "image_max_side", "device", "seed"]
    return load_settings({k: getattr(args, k, None) for k in keys}, env_file=args.env_file)


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
    progress = Progress()
    try:
        result = start_run(args.images, criterion, args.k, settings, out, labels=args.labels, on_event=progress)
    finally:
        progress.close()
    _print_result(result)
    return EXIT_FAILURES if result.failed else EXIT_OK


def _cmd_resume(args: argparse.Namespace) -> int:
    from dotenv import load_dotenv

    from ictc.graph.run import resume_run

    if Path(args.env_file).is_file():
        load_dotenv(args.env_file)  # secrets (API key) come back from the environment, never from the run folder
    progress = Progress()
    try:
        result = resume_run(args.run_dir, on_event=progress)
    finally:
        progress.close()
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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = {"run": _cmd_run, "resume": _cmd_resume, "eval": _cmd_eval, "samples": _cmd_samples}[args.command]
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("\nictc: interrupted; finished work is kept. Continue with: ictc resume RUN_DIR", file=sys.stderr)
        return 130
    except Exception as exc:
        from ictc.models.errors import ModelUnavailableError

        if isinstance(exc, ModelUnavailableError):
            print(f"ictc: {exc}", file=sys.stderr)
            return EXIT_MODEL
        if isinstance(exc, ValueError | FileNotFoundError):
            print(f"ictc: error: {exc}", file=sys.stderr)
            return EXIT_ERROR
        raise


if __name__ == "__main__":
    sys.exit(main())
