"""The `ictc` subcommands: each takes the parsed arguments and returns an exit status.
Heavy libraries are imported inside them, so `ictc --help` stays instant."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ictc.cli.groupings import choose_k_at_terminal, resume_group, run_k, run_several
from ictc.cli.parser import EXIT_FAILURES, EXIT_OK, SETTING_FLAGS
from ictc.cli.progress import Progress
from ictc.cli.review import review_at_terminal
from ictc.cli.summary import print_result, print_scores

if TYPE_CHECKING:
    from ictc.core.settings import Settings
    from ictc.nodes.context import Context


def settings_from_args(args: argparse.Namespace) -> Any:
    """Settings from the model flags in `args`, over ICTC_* variables and args.env_file (core/settings.py).

    Raises UsageError naming a bad value."""
    from ictc.core.settings import load_settings

    return load_settings({k: getattr(args, k, None) for k in SETTING_FLAGS}, env_file=args.env_file)


def cmd_ui(args: argparse.Namespace) -> int:
    """Starts Streamlit on ui/app.py; the model flags reach the app through the environment.

    Replaces this process (os.execvpe), so it returns only in name. Raises UsageError for a bad setting."""
    import json
    import os

    import ictc.ui
    from ictc.ui.sources import MAX_UPLOAD_FILE_MB  # streamlit applies maxUploadSize to each file

    settings_from_args(args)  # bad values fail here, in one line, before a server starts
    overrides = {k: v for k in SETTING_FLAGS if (v := getattr(args, k, None)) is not None}
    env = {**os.environ, "ICTC_UI_OVERRIDES": json.dumps(overrides),
           "ICTC_UI_ENV_FILE": str(Path(args.env_file).resolve())}
    app = Path(ictc.ui.__file__).parent / "app.py"
    command = [sys.executable, "-m", "streamlit", "run", str(app), "--server.address", args.host,
               "--server.port", str(args.port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
               "--server.maxUploadSize", str(MAX_UPLOAD_FILE_MB), "--server.fileWatcherType", "none",
               "--client.toolbarMode", "minimal"]
    print(f"ictc ui: http://{args.host}:{args.port}", flush=True)
    os.execvpe(sys.executable, command, env)
    return EXIT_OK


def _default_out(criterion: str) -> Path:
    slug = "".join(ch if ch.isalnum() else "-" for ch in criterion.lower()).strip("-")[:40] or "run"
    return Path("runs") / f"{datetime.now():%Y%m%d-%H%M%S}-{slug}"


def cmd_run(args: argparse.Namespace) -> int:
    """`ictc run`: cluster a folder by the criterion (or preset) with its instructions, into --out (default
    runs/<time>-<criterion>); with --review, pause at the terminal after Steps 2b and 3. Prints the clusters.

    Exit status: 0, or 4 (EXIT_FAILURES) when some images failed.
    Raises UsageError (bad settings or request) and ModelUnavailableError."""
    from ictc.graph.run import start_run
    from ictc.prompts import clean_criterion, make_criterion

    # --labels, else the folder's own labels.csv (as the chat takes it); said once the run starts (cli/progress.py)
    args.labels, labels_said = labels_of_run(args, len(args.criterion or ()))
    if args.criterion and len(args.criterion) > 1:  # several criteria on the same images (ictc/cli/groupings.py)
        settings = settings_from_args(args)
        out = Path(args.out) if args.out else _default_out("+".join(args.criterion))
        args.out = str(out)  # named by the CLI if the runs stop early: a stop had said "ictc resume RUN_DIR"
        return run_several(args, settings, out, print_result, labels_said)
    k = run_k(args)
    criterion = make_criterion(clean_criterion(args.criterion[0]) if args.criterion else None, args.preset)
    for text in args.instruction:
        criterion = criterion.with_instruction(text, args.step)
    settings = settings_from_args(args)
    out = Path(args.out) if args.out else _default_out(criterion.text)
    args.out = str(out)  # named by the CLI if the run stops early (ictc/cli/main.py)
    ask_k = k == "auto" and not args.yes
    context = None
    if args.review or ask_k:  # the models are loaded once for the whole conversation
        from ictc.graph.runtime import build_context

        context = build_context(settings)
    progress = Progress(labels_said)
    try:
        result = start_run(args.images, criterion, k, settings, out, labels=args.labels, on_event=progress,
                           context=context, review=args.review, names=args.names, other=args.other,
                           k_pick="ask" if ask_k else "best")
    finally:
        progress.close()
    result = choose_k_at_terminal(result, context)
    if args.review:
        result = review_at_terminal(result, context)
    print_result(result)
    return EXIT_FAILURES if result.failed else EXIT_OK


def labels_of_run(args: argparse.Namespace, criteria: int = 1) -> tuple[str | None, str]:
    """The labels file `ictc run` scores against and the line that says it ("" for none): args.labels when given
    (it wins), else the labels.csv (in any case) kept in the image folder args.images, taken by the chat's rule
    (evaluation/folder_labels.own_labels) and said in one line, which says it scores each of `criteria` when
    several; one that cannot be read or names none of the images is said in one line naming it, and the run goes
    on without metrics (None). The caller prints the line once the run starts. Raises nothing."""
    from ictc.core.folders import scan_images
    from ictc.evaluation.folder_labels import own_labels, own_labels_file

    each = f"; it scores each of the {criteria} criteria" if criteria > 1 else ""
    if args.labels is not None:
        return args.labels, f"Labels: {args.labels}{each}" if each else ""
    if own_labels_file(args.images) is None:
        return None, ""
    labels, refused = own_labels(args.images, scan_images(Path(args.images)).paths)
    if refused:
        return None, f"! {refused}: not used, the run goes on without metrics (--labels FILE gives another)"
    return labels, (f"Labels: {labels}, found beside the images: ACC, NMI, ARI at the end{each} "
                    "(--labels FILE gives another)")


def cmd_estimate(args: argparse.Namespace) -> int:
    """`ictc estimate`: print the model calls, tokens, price (--price-in/--price-out, $ per million tokens)
    and minutes (--vlm-seconds/--llm-seconds per call; Step 2b counted as 10 LLM calls) a run would take.
    Calls no model. Returns 0."""
    from ictc.cli.estimate import estimate
    from ictc.prompts import make_criterion

    settings = settings_from_args(args)
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


def cmd_export(args: argparse.Namespace) -> int:
    """`ictc export`: copy a run's images into one folder per cluster under --out; prints each folder's size.
    Returns 0; raises UsageError as evaluation/export.py does."""
    from ictc.evaluation.export import replace_export

    out = Path(args.out)
    # a re-export removes the earlier export's folders: those no cluster has now are said (it had been silent)
    folders, gone, kept = replace_export(Path(args.run_dir), out)
    for name, folder in folders.items():
        print(f"{sum(1 for _ in folder.iterdir()):5d}  {name}  ->  {folder}")
    if gone or kept:
        print("The earlier export's folders: " + "; ".join(
            [*([f"removed {', '.join(gone)}"] if gone else []),
             *([f"kept {', '.join(kept)} (they hold files ictc did not write)"] if kept else [])]))
    return EXIT_OK


def cmd_search(args: argparse.Namespace) -> int:
    """`ictc search`: print the run's -n images whose descriptions are closest to the query (embedding
    distance, image, cluster, description start). Returns 0."""
    from ictc.graph.refine import search_run

    hits = search_run(args.run_dir, args.query, args.n)
    if hits:  # the number alone read as a score (a newcomer): say what it is
        print("distance (lower is closer)  image  [cluster]  description")
    for hit in hits:
        print(f"{hit['distance']:.3f}  {hit['image']}  [{hit['cluster']}]  {hit['description'][:100]}")
    return EXIT_OK


RESUME_MODEL_FLAGS = ("backend", "vlm", "llm", "base_url", "vlm_base_url", "llm_base_url", "concurrency")


def cmd_resume(args: argparse.Namespace) -> int:
    """`ictc resume`: continue an interrupted run with the models saved in its run.json (API key from the
    environment or --env-file), or with those --backend / --vlm / --llm / --base-url / --concurrency / --set give (then
    saved in run.json; --base-url alone replaces the per-role URLs too),
    then continue its review at the terminal if it waits at one.

    Exit status: 0, or 4 (EXIT_FAILURES) when some images failed.
    Raises UsageError when the folder is not a run; ModelUnavailableError."""
    from dotenv import load_dotenv

    from ictc.core.settings import setting_values, settings_from_public
    from ictc.evaluation.crosstab import GROUP_FILE
    from ictc.graph.criteria import started_runs
    from ictc.graph.run import replace_settings, resume_run
    from ictc.graph.runtime import build_context
    from ictc.graph.versions import load_meta

    if Path(args.env_file).is_file():
        load_dotenv(args.env_file)  # secrets (API key) come back from the environment, never from the run folder
    # flags not given are None (an empty --vlm is none either); --concurrency 0 is given, and refused by the check
    changed = {**setting_values(args.set),
               **{k: v for k in RESUME_MODEL_FLAGS if (v := getattr(args, k, None)) or v == 0}}
    runs = started_runs(args.run_dir)  # the run, or the started runs of a group of criteria
    if (group := (Path(args.run_dir) / GROUP_FILE).is_file()) and args.images:  # refused before anything changes
        from ictc.core.errors import UsageError

        raise UsageError(f"--images goes with one run: resume each criterion's run under {args.run_dir} with it")
    saved = load_meta(runs[0])["settings"]
    if args.base_url:  # the URL for both models: the run's own per-role URLs had still won, the new one unused
        changed.update({k: [] for k in ("vlm_base_url", "llm_base_url") if saved.get(k) and not getattr(args, k)})
    settings = settings_from_public({**saved, **changed})
    # loaded once: the same models serve the resume and, if the run waits for review, the review. Values given (or
    # a group of criteria) are checked before run.json changes; else the models are loaded or reached only when a
    # step must run: a finished run's resume had needed its servers up to say there was nothing left to do
    context = build_context(settings) if changed or group else None
    loaded: list[Context] = [context] if context is not None else []

    def models_once(_: Settings) -> Context:
        if not loaded:
            loaded.append(build_context(settings))
        return loaded[0]

    if changed:  # "give --llm a name the server lists" (a stop's fix) is done here, and kept for later refinements
        for run in runs:
            replace_settings(run, settings, list(changed))
    if group:  # several criteria: "ictc resume GROUP" had been refused as no run folder
        return resume_group(args.run_dir, models_once(settings))
    progress, events = Progress(), []
    written = (Path(args.run_dir) / "results.json").is_file()  # none: stopped after the steps, before writing them

    def listen(event: dict[str, Any]) -> None:
        events.append(event)
        progress(event)

    try:
        result = resume_run(args.run_dir, on_event=listen, context=context, context_factory=models_once,
                            images=args.images)
    finally:
        progress.close()
    if not events and not result.pause:  # a finished run: said first (only its results had been printed again)
        print((f"{args.run_dir} had finished: nothing was left to do" if written else  # Ctrl-C while "Finishing"
               f"{args.run_dir}: every step had finished before the stop; its results are written now")
              + (f"; {', '.join(changed)} kept for its next refinement (ictc refine)" if changed else ""))
    if result.pause:  # the run waits for its K (-k auto) or at a review point: asked here, with the models
        result = choose_k_at_terminal(result, models_once(settings))
    if result.pause:
        result = review_at_terminal(result, models_once(settings))
    print_result(result)
    print_files_not_in_run(result)
    return EXIT_FAILURES if result.failed else EXIT_OK


def print_files_not_in_run(result: Any) -> None:
    """One line when the run's folder now holds images that are not part of the run (added or renamed since it
    started: graph/run.py files_not_in_run), which a resume or refinement never takes; nothing otherwise."""
    from ictc.graph.run import files_not_in_run
    from ictc.graph.versions import load_meta

    if added := files_not_in_run(load_meta(result.run_dir), result.rows):
        print(f"{len(added)} new file(s) in the folder are not part of this run (e.g. {added[0]!r}): "
              "a new `ictc run` of the folder takes them")


def cmd_eval(args: argparse.Namespace) -> int:
    """`ictc eval`: score a finished run against a labels CSV; prints ACC (Hungarian matching), NMI and ARI
    and writes confusion.png in the run folder. Returns 0; raises UsageError without results.json."""
    from ictc.evaluation.results import evaluate_run

    scores = evaluate_run(args.run_dir, args.labels)
    print_scores(scores.as_dict())
    print(f"{len(scores.clusters)} cluster{'s' if len(scores.clusters) != 1 else ''}, "
          f"{len(scores.classes)} class{'es' if len(scores.classes) != 1 else ''}")
    print(f"Confusion matrix: {Path(args.run_dir) / 'confusion.png'}")
    return EXIT_OK


def cmd_samples(args: argparse.Namespace) -> int:
    """`ictc samples`: copy the labelled CIFAR-10 and ImageNet photos shipped in the foolbox wheel to --out,
    each set with a labels.csv. Returns 0; raises UsageError when foolbox is not installed."""
    from ictc.core.samples import export_samples

    for name, (folder, count) in export_samples(Path(args.out)).items():
        print(f"{name}: {count} photos in {folder} (labels: {folder / 'labels.csv'})")
    return EXIT_OK
