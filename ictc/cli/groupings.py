"""The CLI of issue 21: K proposed (and picked at the terminal), the user's names, the "other" group,
levels, several criteria (add-criterion, crosstab)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ictc.cli.parser import EXIT_FAILURES, EXIT_OK
from ictc.cli.progress import Progress, typed_line
from ictc.cli.review import answer_pause

if TYPE_CHECKING:  # the graph is imported only when a command runs, so `ictc --help` stays instant
    from ictc.graph.session import RunResult
    from ictc.nodes.context import Context


def run_k(args: argparse.Namespace, index: int = 0) -> int | str:
    """The K of the `index`-th criterion: its -k (a number or "auto"), or 0 when --names gives the categories.

    Raises UsageError when neither is given (naming the criterion too when it is missing as well), when criteria and -k do not pair up, or for -k 0."""
    from ictc.core.errors import UsageError

    ks, criteria = args.k or [], args.criterion or [None]
    if args.names:
        if len(criteria) > 1:
            raise UsageError("--names goes with one criterion; add others with ictc add-criterion")
        names_given(args.names, ks)
        return 0
    if not ks and not args.criterion and not getattr(args, "preset", None):  # both said at once, not one after the other
        raise UsageError("say what to group the images by and into how many groups: give a criterion (-c mood, or "
                         "--preset) and -k K, -k auto, or --names 'a,b,c'")
    if len(ks) != len(criteria) and len(criteria) > 1:
        raise UsageError(f"give one -k (a number or 'auto') for each of the {len(criteria)} criteria, not {len(ks)}")
    if len(ks) != len(criteria):  # two -k for one criterion had been told to "give -k K"
        raise UsageError(f"give one -k (a number or 'auto') for the one criterion, not {len(ks)} (several criteria: "
                         "-c A -k K -c B -k K)" if ks else "give -k K, -k auto, or --names 'a,b,c'")
    if ks[index] == 0:  # 0 is how the graph is told to propose K: from -k it had silently meant auto
        raise UsageError("K must be at least 2, not 0 (-k auto has K proposed after Step 2a)")
    return ks[index]


def names_given(names: str, ks: list[int | str]) -> list[str]:
    """The categories of --names (nodes/user_names.parse_names). Raises UsageError as parse_names does, and when a
    -k given beside them is not their number (it had been dropped without a word)."""
    from ictc.core.errors import UsageError
    from ictc.nodes.user_names import parse_names

    parsed = parse_names(names)
    if ks and list(ks) != [len(parsed)]:
        raise UsageError(f"-k {ks[0]} and --names ({len(parsed)} categories) disagree: K is the number of your "
                         "categories; give one or the other")
    return parsed


def show_proposal(pause: dict[str, Any]) -> None:
    """Print the proposed K candidates, best first, with their reasons."""
    print(f"\nK proposed for {pause['criterion']['text']!r}:")
    # not numbered: the answer is a K, and a "2" typed for the second of "1. K=5, 2. K=4" had made K=2
    for number, candidate in enumerate(pause["proposal"]["candidates"], 1):
        score = f", silhouette {candidate['silhouette']:.3f}" if candidate.get("silhouette") is not None else ""
        print(f"  - K={candidate['k']}{score}" + ("  (best)" if number == 1 else ""))
        for reason in candidate["reasons"] or ["next best silhouette of the label embeddings"]:
            print(f"       {reason}")
    if pause.get("error"):
        print(f"  ! {pause['error']}")


def choose_k_at_terminal(result: RunResult, context: Context | None) -> RunResult:
    """While the run waits for a K: show the candidates, read a K (Enter, or no terminal: the best), resume."""
    from ictc.nodes.actions import Accept, Action, SetK

    while result.pause and result.pause["point"] == "k":
        show_proposal(result.pause)
        result.pause["error"] = ""  # said once: a wrong K's error had stood under every later try
        line = (typed_line("K to use (a number of clusters) [Enter: the best]> ") or "").strip()  # no terminal to ask: the best is taken
        action: Action = Accept()
        if line:
            if not line.lower().removeprefix("k").strip(" =").isdigit():
                print(f"  ! {line!r} is not a number")
                continue
            action = SetK(int(line.lower().removeprefix("k").strip(" =")))
        result = answer_pause(result, context, action)
    return result


def print_groupings(results: dict[str, Any]) -> None:
    """How K was chosen, the "other" group's size and the tree of a coarser level, when the run has them."""
    choice = results.get("k_choice")
    if choice and "chosen" in choice:
        shown = ", ".join(f"K={c['k']}" for c in choice["proposal"]["candidates"])
        print(f"K={choice['chosen']} ({'best proposed' if choice['by'] == 'best' else 'your pick'}; proposed: {shown})")
    if "other" in results:
        size = results["other"]["size"]
        print(f"Other (none of the names fits): {size} image(s)" + ("; every image fit one of the names" if not size else ""))
    from ictc.evaluation.groupings import tree_lines

    for depth, name, size, said in tree_lines(results.get("tree", [])):  # every level, the finer ones indented
        print(f"  {'  ' * depth}{name} ({size}): {', '.join(said)}")


def refine_action(args: argparse.Namespace) -> Any:
    """The action for --names, --other, --coarser or -k auto; None for the other refine flags."""
    from ictc.nodes.actions import AddOther, Coarser, ProposeK, SetNames
    from ictc.nodes.user_names import parse_names

    if args.names is not None:  # --names "" is refused by parse_names, not taken for no flag
        return SetNames(tuple(parse_names(args.names)))
    if args.other:
        return AddOther()
    if args.coarser is not None:
        return Coarser(args.coarser)
    if args.k == "auto":
        return ProposeK()
    return None


def run_several(args: argparse.Namespace, settings: Any, out: Path, print_result: Any, first: str = "") -> int:
    """`ictc run PHOTOS -c A -k K -c B -k K`: one run per criterion under `out`; with -k auto the best K is taken.
    `first`: a line said once the runs start (the labels file, which scores each criterion)."""
    from ictc.core.errors import UsageError
    from ictc.graph.criteria import CriterionRequest, run_criteria
    from ictc.prompts import Criterion, clean_criterion, make_criterion

    if args.review:  # it had been dropped unsaid, as --preset and --instruction had
        raise UsageError("--review goes with one criterion: run the criteria without it, then change each one's run "
                         "with ictc refine (its folder is under --out)")
    if args.preset:
        raise UsageError(f"--preset is a criterion of its own: give it as one more -c with its -k, not beside "
                         f"{len(args.criterion)} -c")

    def instructed(text: str) -> Criterion:
        """The criterion with every --instruction (at --step): they had been dropped from each of several."""
        criterion = make_criterion(clean_criterion(text), None)
        for instruction in args.instruction:
            criterion = criterion.with_instruction(instruction, args.step)
        return criterion

    requests = [CriterionRequest(instructed(text), run_k(args, i), other=args.other)
                for i, text in enumerate(args.criterion)]
    progress = Progress(first)
    try:
        results = run_criteria(args.images, requests, settings, out, labels=args.labels, on_event=progress)
    finally:
        progress.close()
    for result in results:
        print_result(result)
    print(f"Several criteria: {out / 'criteria.html'} (cross-tabs); one pair: ictc crosstab {out} A B")
    return EXIT_OK


def resume_group(folder: str, context: Context) -> int:
    """`ictc resume GROUP`: every criterion of a stopped run of several continued, or started (graph/criteria.py
    resume_criteria), each printed. Exit status 0, or 4 (EXIT_FAILURES) when some images failed."""
    from ictc.cli.summary import print_result
    from ictc.graph.criteria import resume_criteria

    progress = Progress()
    try:
        results = resume_criteria(folder, on_event=progress, context=context)
    finally:
        progress.close()
    for result in results:
        print_result(result)
    print(f"Several criteria: {Path(folder) / 'criteria.html'} (cross-tabs); one pair: ictc crosstab {folder} A B")
    return EXIT_FAILURES if any(r.failed for r in results) else EXIT_OK


def refuse_group_folder(folder: str) -> None:
    """For a command that works on one run (refine, audit, export, search, eval): raises UsageError naming the
    criteria's folders when `folder` holds several criteria and is no run itself ("not a run folder", "no
    results.json: finish the run first" and a bare file error had been said of a finished group)."""
    from ictc.core.errors import UsageError
    from ictc.evaluation.crosstab import GROUP_FILE, read_group

    if (Path(folder) / GROUP_FILE).is_file() and not (Path(folder) / "run.json").is_file():
        runs = [str(Path(folder) / e["run"]) for e in read_group(folder)["criteria"]]
        raise UsageError(f"{folder} holds several criteria, one run each: give one of {', '.join(runs)} "
                         f"(ictc crosstab {folder} A B compares two)")


def cmd_add_criterion(args: argparse.Namespace) -> int:
    """`ictc add-criterion RUN -c mood -k 4`: the same images by one more criterion."""
    from dotenv import load_dotenv

    from ictc.cli.summary import print_result
    from ictc.graph.criteria import CriterionRequest, add_criterion
    from ictc.prompts import clean_criterion, make_criterion

    if Path(args.env_file).is_file():
        load_dotenv(args.env_file)
    names = names_given(args.names, [args.k] if args.k is not None else []) if args.names else None
    k = 0 if names else args.k
    if k is None:
        from ictc.core.errors import UsageError

        raise UsageError("give -k K, -k auto, or --names 'a,b,c'")
    request = CriterionRequest(make_criterion(clean_criterion(args.criterion), args.preset), k, names, args.other)
    progress = Progress()
    try:
        result = add_criterion(args.run_dir, request, on_event=progress)
    finally:
        progress.close()
    print_result(result)
    print(f"Several criteria: {Path(args.run_dir) / 'criteria.html'}")
    return EXIT_OK


def cmd_crosstab(args: argparse.Namespace) -> int:
    """`ictc crosstab GROUP A B`: the counts table, and the heat map written beside the group."""
    from ictc.evaluation.crosstab import crosstab, heat_map_png, two_criteria
    from ictc.evaluation.outputs import write_atomic

    tab = crosstab(*two_criteria(args.run_dir, args.first, args.second))
    width = max([len(r) for r in tab.rows] + [len(tab.row_criterion)])
    print(f"{tab.row_criterion:<{width}}  " + "  ".join(f"{c:>{max(len(c), 4)}}" for c in tab.columns))
    for name, counts in zip(tab.rows, tab.counts, strict=True):
        print(f"{name:<{width}}  " + "  ".join(f"{v:>{max(len(c), 4)}}" for v, c in zip(counts, tab.columns, strict=True)))
    path = Path(args.run_dir) / "crosstab.png"
    write_atomic(path, heat_map_png(tab))
    print(f"Heat map: {path}")
    return EXIT_OK
