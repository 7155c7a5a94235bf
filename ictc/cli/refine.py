"""`ictc refine`: one edit to a finished run, as a new version (graph/refine.py), and what it changed."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ictc.cli.commands import print_files_not_in_run
from ictc.cli.groupings import refine_action
from ictc.cli.parser import EXIT_FAILURES, EXIT_OK
from ictc.cli.progress import Progress
from ictc.cli.summary import print_result


def cmd_refine(args: argparse.Namespace) -> int:
    """`ictc refine`: apply one edit (instruction, removed instructions, criterion, k, rename, merge, split) to a finished run,
    or --undo, as a new version; prints the clusters, the calls made and what changed.

    Exit status: 0, or 4 (EXIT_FAILURES) when some images failed.
    Raises UsageError for a non-numeric --split count, an edit that does not fit, or a bad run folder."""
    from dotenv import load_dotenv

    from ictc.core.errors import UsageError
    from ictc.graph.refine import refine_run, undo_run
    from ictc.nodes.actions import (
        Action,
        AddInstruction,
        Merge,
        Remove,
        RemoveInstructions,
        Rename,
        SetCriterion,
        SetK,
        Split,
    )
    from ictc.prompts import clean_criterion

    if Path(args.env_file).is_file():
        load_dotenv(args.env_file)
    if args.into and not args.merge:  # "--rename 1 x --into y" had run the rename and said nothing of --into
        raise UsageError("--into names a merged cluster: it goes with --merge")
    progress = Progress()
    try:
        if args.undo:
            result = undo_run(args.run_dir)
        else:
            if args.instruction is not None:  # "" is refused as empty below, not taken for no flag (a crash)
                action: Action = AddInstruction(args.instruction, args.step)
            elif args.remove_instructions is not None:
                action = RemoveInstructions(args.remove_instructions)
            elif args.remove is not None:  # a list: "--remove red green" is said plainly, not as argparse's usage
                if len(args.remove) > 1:
                    raise UsageError(f"--remove takes one cluster at a time: --remove {args.remove[0]} first, "
                                     f"then --remove {args.remove[1]}")
                action = Remove(_cluster(args.run_dir, args.remove[0]) if args.remove else "")
            elif args.criterion is not None:
                action = SetCriterion(clean_criterion(args.criterion))  # as the chat cleans it
            elif isinstance(args.k, int):
                action = SetK(args.k)
            elif args.rename:
                action = Rename(_cluster(args.run_dir, args.rename[0]), args.rename[1])
            elif args.merge:
                action = Merge((_cluster(args.run_dir, args.merge[0]), _cluster(args.run_dir, args.merge[1])), args.into)
            elif not args.split:
                action = refine_action(args)  # --names, --other, --coarser, -k auto (ictc/cli/groupings.py)
            else:
                if not args.split[1].isdigit():
                    raise UsageError(f"--split needs a number of parts, not {args.split[1]!r}")
                action = Split(_cluster(args.run_dir, args.split[0]), int(args.split[1]))
            result = refine_run(args.run_dir, action, on_event=progress)
    finally:
        progress.close()
    print_result(result)
    _print_changes(result)
    print_files_not_in_run(result)
    return EXIT_FAILURES if result.failed else EXIT_OK


def _cluster(run_dir: str, token: str) -> str:
    """The cluster `token` gives in the run's current version: its number as `ictc run`/`refine` print it
    (1-based), or its name. A run folder whose summary cannot be read keeps the token as it is: refine_run
    then says what is wrong with the folder. Raises UsageError for a token that is neither."""
    from ictc.evaluation.outputs import read_summary
    from ictc.graph.commands import cluster_by_token

    try:
        names = list(read_summary(Path(run_dir))["cluster_names"])
    except (OSError, ValueError, KeyError):
        return token
    return cluster_by_token(names, token)


def _print_changes(result: Any) -> None:
    """The new version, the model calls per step and what changed (renamed and merged clusters, moved images)."""
    from ictc.graph.versions import (
        as_given,
        merges_kept_under_a_name,
        names_source,
        quoted_and,
        went_to_said,
    )

    calls = result.results["calls"]
    change = result.results["history"][-1] if result.results["history"] else ""
    split = result.results.get("naming", {}).get("split") or {}
    if result.version is None:  # a split that found one group: the clusters as they were, no version (graph/refine.py)
        from ictc.ui.split_outcome import split_said

        print(split_said(split, {c["name"]: c["size"] for c in result.results["clusters"]}).replace("**", ""))
        return
    print(f"Version {result.version}: {change}")
    print("Model calls: " + ", ".join(f"{step} {c['model_calls']} ({c['from_store']} from store)"
                                      for step, c in calls.items()))
    if change.startswith("split") and split:  # a split that found one group had said only "0 image(s) moved"
        from ictc.ui.split_outcome import split_said

        sizes = {c["name"]: c["size"] for c in result.results["clusters"]}
        print(split_said(split, sizes).replace("**", ""))
    changes = result.changes or {"renamed": {}, "merged": {}, "moved": []}
    source = names_source(change)
    # several clusters under one new name: one line, not their images moved; names quoted (a name may hold "and")
    merged = {new: quoted_and(as_given(olds, change)) for new, olds in changes.get("merged", {}).items()}
    if (changes["renamed"] or merged) and source:  # Step 2b named the clusters afresh: no rename of the user's
        print(f"New names from {source}: {', '.join(result.results['cluster_names'])}")
        for new, olds in merged.items():
            print(f"  the images of {olds} are all in {new!r}")
        for old, new in changes["renamed"].items():
            print(f"  {went_to_said(old, new, changes['moved'])}")
    else:
        for new, olds in merged.items():
            print(f"Merged: {olds} into {new!r}")
        for old, new in changes["renamed"].items():
            print(f"Renamed: {old!r} -> {new!r}")
    kept, moved = merges_kept_under_a_name(changes, change)  # `--merge 1 2` without --into: no image "moved"
    for into, (sources, images) in kept.items():
        print(f"Merged: {quoted_and(sources)} into {into!r} ({images} image{'s' if images != 1 else ''})")
    if kept:
        return
    print(f"{len(moved)} image(s) moved")
    for move in moved[:MOVES_SHOWN]:
        print(f"  {move['image']}: {_or_none(move['from'])} -> {_or_none(move['to'])}")
    if len(moved) > MOVES_SHOWN:
        print(f"  ... and {len(moved) - MOVES_SHOWN} more")


MOVES_SHOWN = 20  # moved images listed one a line; the rest counted


def _or_none(cluster: str) -> str:
    """A cluster's name quoted, or "-" for none (an image new to the run, or failed)."""
    return repr(cluster) if cluster else "-"
