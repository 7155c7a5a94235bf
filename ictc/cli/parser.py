"""The `ictc` argument parser: one subcommand per task, the model flags shared by those that load models."""

from __future__ import annotations

import argparse
import re
import sys
from typing import NoReturn

from ictc.prompts import step_name

EXIT_OK, EXIT_USAGE, EXIT_BUG, EXIT_MODEL, EXIT_FAILURES = 0, 1, 2, 3, 4
STEP_HELP = ("the step --instruction applies to: describe (1), label (2a), name_clusters (2b), assign (3) "
             "or all (default)")
SETTING_FLAGS = ["backend", "base_url", "vlm_base_url", "llm_base_url", "vlm", "llm", "concurrency", "batch_size",
                 "image_max_side", "device", "seed"]


def _step(text: str) -> str:
    """argparse type for --step: the step's name (prompts.step_name), its message kept on a bad value."""
    try:
        return step_name(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


class UsageParser(argparse.ArgumentParser):
    """argparse with ictc's exit status for usage errors (1; status 2 is kept for bugs)."""

    def error(self, message: str) -> NoReturn:
        """Print the usage and `message` in one line each, then exit with status 1. A `--set` given to a command
        other than resume says where a setting goes instead (the README's `ictc resume RUN --set ...` had been
        tried on `ictc run`, and argparse's "unrecognized arguments" said no way on)."""
        if message.startswith("unrecognized arguments") and (given := re.search(r"--set(?:=|\s+)(\S+)", message)):
            setting = given[1] if "=" in given[1] else "NAME=VALUE"
            message += (f" (--set is for ictc resume RUN, kept for the run's later refinements; for a new run give the "
                        f"setting in the environment or .env: {setting} ictc run ...)")
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def k_value(text: str) -> int | str:
    """-k's value: a whole number, or "auto" (K proposed after Step 2a). Raises ArgumentTypeError otherwise."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"K must be a whole number or 'auto', not {text!r}") from None


def url_value(text: str) -> str:
    """An endpoint flag's value (one URL or a comma list). Raises ArgumentTypeError when it holds no URL: `--base-url
    "$URL"` with the variable unset had gone to api.openai.com (the default) with the key in the environment."""
    if not text.replace(",", "").strip():
        raise argparse.ArgumentTypeError(f"{text!r} holds no URL: give the server's base URL (an unset shell variable?)")
    return text


def backend_flag(group: argparse._ActionsContainer) -> None:
    """Add --backend to `group` (a parser or an argument group): `ictc run`'s and `ictc resume`'s are one flag,
    checked alike, so the ways out core/errors.py says ("--backend local ...") work in both."""
    group.add_argument("--backend", choices=["local", "openai"], help="local transformers models or an OpenAI-compatible endpoint")


def backend_options(parser: argparse.ArgumentParser) -> None:
    """Add the model and backend flags (they override ICTC_* variables and .env) to `parser`."""
    group = parser.add_argument_group("models (flags override ICTC_* variables and .env)")
    backend_flag(group)
    group.add_argument("--base-url", action="append", type=url_value, help="endpoint URL for both models (else OPENAI_BASE_URL); "
                       "repeat it or give a comma list for replicas of one server")
    group.add_argument("--vlm-base-url", action="append", type=url_value, help="endpoint for the VLM only (repeatable: replicas)")
    group.add_argument("--llm-base-url", action="append", type=url_value, help="endpoint for the LLM only (repeatable: replicas)")
    group.add_argument("--vlm", help="VLM: hub id or local folder (local), model name (openai)")
    group.add_argument("--llm", help="LLM: hub id or local folder (local), model name (openai)")
    group.add_argument("--concurrency", type=int, help="model calls in flight at once")
    group.add_argument("--batch-size", type=int, help="images per task (local models generate a batch at once)")
    group.add_argument("--image-max-side", type=int, help="downscale images to this longest side")
    group.add_argument("--device", help="torch device for local models")
    group.add_argument("--seed", type=int)
    group.add_argument("--env-file", default=".env", help="settings file (default: ./.env)")


def build_parser() -> argparse.ArgumentParser:
    """The `ictc` argument parser with every subcommand; a usage error exits with status 1 (EXIT_USAGE)."""
    parser = UsageParser(prog="ictc", description="Cluster images by a criterion you state in words (IC|TC).")
    parser.add_argument("--debug", action="store_true", help="print the traceback of an unexpected error")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="cluster a folder of images")
    run.add_argument("images", help="folder of images (searched recursively)")
    run.add_argument("--criterion", "-c", action="append", help="what to group by, in words (e.g. 'mood of the "
                     "person'); repeat -c A -k K -c B -k K for several criteria on the same images")
    run.add_argument("-k", "--clusters", type=k_value, action="append", dest="k",
                     help="number of clusters K, or 'auto' to have K proposed after Step 2a (one -k per -c)")
    run.add_argument("--names", help="your own categories, comma-separated: Step 2b is skipped and K is their number")
    run.add_argument("--other", action="store_true", help="let Step 3 answer 'other' when none of the names fits")
    run.add_argument("--yes", action="store_true", help="with -k auto: take the best proposed K without asking")
    run.add_argument("--preset", help="a preset criterion with tuned hints: " + "object, action, location, mood, instrument, place, occupation")
    run.add_argument("--instruction", action="append", default=[], help="extra instruction (repeatable)")
    run.add_argument("--step", "--instruction-step", default="all", type=_step, dest="step", help=STEP_HELP)
    run.add_argument("--labels", help="ground truth CSV with columns image,label: prints ACC, NMI, ARI")
    run.add_argument("--out", help="run folder (default: runs/<time>-<criterion>)")
    run.add_argument("--review", action="store_true", help="pause after Step 2b and after Step 3 to review at the terminal")
    backend_options(run)

    refine = commands.add_parser("refine", help="change a finished run; only the work whose inputs changed is redone")
    refine.add_argument("run_dir")
    change = refine.add_mutually_exclusive_group(required=True)
    change.add_argument("--instruction", help="add an instruction (to --step, default all steps)")
    change.add_argument("--remove-instructions", nargs="?", const="", metavar="ABOUT",
                        help="take out the instructions whose text contains ABOUT (every one without ABOUT)")
    change.add_argument("--criterion", help="replace the criterion")
    change.add_argument("-k", "--clusters", type=k_value, dest="k", help="use another number of clusters ('auto': proposed)")
    change.add_argument("--names", help="sort into your own categories, comma-separated (no Step 2b)")
    change.add_argument("--other", action="store_true", help="add an 'other' group for images no name fits")
    change.add_argument("--coarser", type=int, metavar="N", help="group the names into N broader ones (a level up)")
    by = "a cluster is its number as printed (1, 2, ...) or its name"
    change.add_argument("--rename", nargs=2, metavar=("CLUSTER", "NEW_NAME"), help=f"rename a cluster ({by})")
    change.add_argument("--merge", nargs=2, metavar=("CLUSTER", "OTHER"), help=f"merge two clusters ({by})")
    change.add_argument("--split", nargs=2, metavar=("CLUSTER", "N"), help=f"split a cluster into N ({by})")
    change.add_argument("--remove", nargs="*", metavar="CLUSTER",
                        help=f"take a cluster out, its images to the others by Step 3 ({by}); every empty one without CLUSTER")
    change.add_argument("--undo", action="store_true", help="back to the previous version (kept as a new version)")
    refine.add_argument("--step", default="all", type=_step, help=STEP_HELP)
    refine.add_argument("--into", default="", help="name of the merged cluster (default: the name of the one with more images)")
    refine.add_argument("--env-file", default=".env")

    audit = commands.add_parser("audit", help="fairness audit: how an attribute the VLM perceives spreads over the clusters")
    audit.add_argument("run_dir")
    audit.add_argument("--attribute", required=True, help='what to audit, e.g. "perceived gender" (as the model perceives it)')
    audit.add_argument("--values", help='the answers allowed besides "unclear", comma-separated (default: proposed from a sample)')
    audit.add_argument("--threshold", type=float, default=0.10, help="flag a cluster whose disparity is over this share (default 0.10)")
    audit.add_argument("--fix", action="store_true", help="apply the suggested instruction as a refinement, then audit again")
    audit.add_argument("--step", type=_step, help="the step the fix's instruction goes to (default: the suggested one, "
                       "assign unless it has the instruction already)")
    audit.add_argument("--instruction", help="the fix's instruction instead of the suggested one")
    audit.add_argument("--yes", action="store_true", help="accept the proposed values and the fix without asking")
    audit.add_argument("--env-file", default=".env")

    add = commands.add_parser("add-criterion", help="cluster a run's images by one more criterion (a group of criteria)")
    add.add_argument("run_dir", help="a finished run, or a folder of several criteria")
    add.add_argument("--criterion", "-c", required=True)
    add.add_argument("-k", "--clusters", type=k_value, dest="k", help="K, or 'auto' (the best proposed K is taken)")
    add.add_argument("--preset")
    add.add_argument("--names", help="your own categories, comma-separated")
    add.add_argument("--other", action="store_true")
    add.add_argument("--env-file", default=".env")

    cross = commands.add_parser("crosstab", help="images counted per pair of clusters of two criteria, with a heat map")
    cross.add_argument("run_dir", help="a folder of several criteria")
    cross.add_argument("first", help="criterion (its folder name or its text)")
    cross.add_argument("second")

    estimate = commands.add_parser("estimate", help="model calls, tokens, cost and time of a run, before running it")
    estimate.add_argument("images")
    estimate.add_argument("--criterion", "-c")
    estimate.add_argument("-k", "--clusters", type=int, required=True, dest="k")
    estimate.add_argument("--preset")
    estimate.add_argument("--price-in", type=float, default=0.0, help="price per million input tokens")
    estimate.add_argument("--price-out", type=float, default=0.0, help="price per million output tokens")
    estimate.add_argument("--vlm-seconds", type=float, default=2.0, help="measured seconds per VLM call (default 2.0)")
    estimate.add_argument("--llm-seconds", type=float, default=0.5, help="measured seconds per LLM call (default 0.5)")
    backend_options(estimate)

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
    resume.add_argument("--images", metavar="FOLDER", help="the run's image folder, moved or renamed since it started "
                        "(its images matched by their paths inside it, checked by content)")
    # a run stopped because a model name or an endpoint was wrong goes on with the right one (kept in run.json)
    moved = resume.add_argument_group("models that replace the run's own (kept for its later refinements)")
    backend_flag(moved)
    moved.add_argument("--vlm", help="VLM: model name (openai) or hub id / local folder (local)")
    moved.add_argument("--llm", help="LLM: model name (openai) or hub id / local folder (local)")
    moved.add_argument("--base-url", action="append", type=url_value, help="endpoint URL for both models (repeatable: replicas)")
    moved.add_argument("--vlm-base-url", action="append", type=url_value, help="endpoint for the VLM only")
    moved.add_argument("--llm-base-url", action="append", type=url_value, help="endpoint for the LLM only")
    moved.add_argument("--concurrency", type=int, help="model calls in flight at once (e.g. for more replicas)")
    moved.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                       help="another value for a setting of .env.example (e.g. ICTC_REASONING_ROOM=8192)")

    evaluate = commands.add_parser("eval", help="score a finished run against ground-truth labels")
    evaluate.add_argument("run_dir")
    evaluate.add_argument("labels", help="CSV with columns image,label")

    ui = commands.add_parser("ui", help="open the chat app (Streamlit) in the browser")
    ui.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    ui.add_argument("--port", type=int, default=8501)
    backend_options(ui)

    samples = commands.add_parser("samples", help="export the bundled real sample photos with labels.csv")
    samples.add_argument("out", nargs="?", default="samples")
    return parser
