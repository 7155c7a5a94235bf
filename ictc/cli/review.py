"""Review at the terminal: show a pause (names before Step 3, clusters after), read a typed command, resume."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ictc.cli.progress import Progress, typed_line
from ictc.evaluation.groupings import KINDS_BY

if TYPE_CHECKING:  # the graph is imported only when a command runs, so `ictc --help` stays instant
    from ictc.graph.session import RunResult
    from ictc.nodes.context import Context


def show_pause(pause: dict[str, Any]) -> None:
    """Print a review pause (its "point", "criterion", "k", "clusters" with examples, "label_counts", "error")."""
    title = "Cluster names (before Step 3)" if pause["point"] == "names" else "Clusters"
    made, asked = pause.get("made", pause["k"]), pause["k"]
    # fewer clusters than the K asked (fewer kinds of label), said in the header: "K=5" had stood above 3 names
    shown = f"K={asked}" if made in (0, asked) else f"{made} cluster{'s' if made != 1 else ''} (K={asked} asked)"
    print(f"\n{title} for {pause['criterion']['text']!r}, {shown}:")
    for number, cluster in enumerate(pause["clusters"], 1):
        size = f" ({cluster['size']} image{'' if cluster['size'] == 1 else 's'})" if pause["point"] == "clusters" else ""
        print(f"  {number}. {cluster['name']}{size}")
        for example in cluster["examples"][:2]:
            print(f"       e.g. {example[:110]}")
    if pause["point"] == "names" and pause["label_counts"]:
        print("  labels: " + ", ".join(f"{k} ({v})" for k, v in list(pause["label_counts"].items())[:15]))
    if pause["point"] == "names" and (kinds := pause.get("label_kinds")):  # their images are counted in their kind's
        # had been unsaid: "horse (4)" where 2 of the 4 were labelled "pony", which a split of horse takes apart again
        print(f"  joined as their kind ({KINDS_BY}): " + ", ".join(f"{label} -> {kind}" for label, kind in list(kinds.items())[:15]))
    if pause["point"] == "names" and pause.get("fallback") and not pause.get("short"):  # fewer kinds: said below
        print(f"  ! the LLM gave no usable {pause.get('asked_names', asked)} names ({pause['fallback']}): these are its "
              "best try, completed "
              "by the most frequent raw labels; rename, merge or 'k K' to ask again")
    if pause["point"] == "names" and pause.get("short"):
        print(f"  ! {pause['short']}")
    if pause.get("error"):
        print(f"  ! {pause['error']}")


ASKS_HELP = re.compile(r"(?:help|\?|h|commands|what (?:can|do|should) i (?:do|type|say)(?: now| here)?\??|what now\??|"
                       r"how does (?:this|it) work\??)$", re.IGNORECASE)
REVIEW_GUIDE = """  What each answer does (N, M: a cluster's number as listed, or its name):
    (an empty line)         accept and go on (before Step 3: Step 3 runs; after it: the run ends)
    rename N NEW NAME       rename a cluster; no model is called
    merge N M [NEW NAME]    merge two (also "merge 1,2"); no NEW NAME: the bigger one's name stays (the first's before Step 3)
    split N COUNT           split a cluster into COUNT (after Step 3)
    k K                     ask Step 2b for K names again
    criterion NEW TEXT      group by something else: every step again
    instruction [1|2a|2b|3|all] TEXT
                            add an instruction to one step's prompt, or to all (e.g. instruction 3 Ignore the frame.)"""


def review_at_terminal(result: RunResult, context: Context | None) -> RunResult:
    """Ask at the terminal until the run no longer waits at a pause; returns the final result.

    A command that cannot be read is explained and asked again; end of input accepts."""
    from ictc.core.errors import UsageError
    from ictc.graph.commands import HELP, parse_command

    while result.pause:
        show_pause(result.pause)
        result.pause["error"] = ""  # said once: a later typing error had shown it again under the list (a newcomer)
        print(HELP)
        line = typed_line("> ") or ""  # end of input, or no input at all: accepted
        if ASKS_HELP.match(line.strip()):  # "help" had only shown the same line again; "what can I do?" was refused
            print(REVIEW_GUIDE)
            continue
        try:
            action = parse_command(line, [c["name"] for c in result.pause["clusters"]])
        except UsageError as exc:
            print(f"  ! {exc}")
            continue
        result = answer_pause(result, context, action)
    return result


def answer_pause(result: RunResult, context: Context | None, action: Any) -> RunResult:
    """Resume the run of `result`, paused at a review point, with `action` (a typed action or its dict),
    showing progress bars. Returns the run's next result (paused again, or finished)."""
    from ictc.graph.run import resume_run

    progress = Progress()
    try:
        return resume_run(result.run_dir, on_event=progress, context=context, answer=action)
    finally:
        progress.close()
