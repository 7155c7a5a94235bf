"""Review at the terminal: show a pause (names before Step 3, clusters after), read a typed command, resume."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ictc.cli.progress import Progress

if TYPE_CHECKING:  # the graph is imported only when a command runs, so `ictc --help` stays instant
    from ictc.graph.session import RunResult
    from ictc.nodes.context import Context


def show_pause(pause: dict[str, Any]) -> None:
    """Print a review pause (its "point", "criterion", "k", "clusters" with examples, "label_counts", "error")."""
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


def review_at_terminal(result: RunResult, context: Context | None) -> RunResult:
    """Ask at the terminal until the run no longer waits at a pause; returns the final result.

    A command that cannot be read is explained and asked again; end of input accepts."""
    from ictc.core.errors import UsageError
    from ictc.graph.commands import HELP, parse_command

    while result.pause:
        show_pause(result.pause)
        print(HELP)
        try:
            line = input("> ")
        except EOFError:
            line = ""
        if line.strip().lower() in ("help", "?", "h"):  # the commands are printed with every pause: show it again
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
