"""`ictc` entry point: dispatch to a subcommand and turn what escapes it into one line and an exit status.

Exit status: 0 done; 1 something the user gave cannot be used (UsageError, a file that cannot be read);
2 a bug (the traceback is written to a file named in the message, and printed with --debug); 3 a model is
not available, or a step failed the same way for its first few images (stopped early, finished work kept:
nodes/watch.py); 4 the run finished but some images failed; 130 interrupted (finished work is kept)."""

from __future__ import annotations

import argparse
import errno
import os
import re
import signal
import sqlite3
import sys
import tempfile
import threading
import traceback
from datetime import datetime
from pathlib import Path
from typing import Any

from ictc.cli import audit, commands, groupings, refine
from ictc.cli.parser import EXIT_BUG, EXIT_MODEL, EXIT_USAGE, build_parser

HANDLERS = {"ui": commands.cmd_ui, "run": commands.cmd_run, "resume": commands.cmd_resume,
            "eval": commands.cmd_eval, "samples": commands.cmd_samples, "refine": refine.cmd_refine,
            "search": commands.cmd_search, "export": commands.cmd_export, "estimate": commands.cmd_estimate,
            "audit": audit.cmd_audit, "add-criterion": groupings.cmd_add_criterion,
            "crosstab": groupings.cmd_crosstab}
ONE_RUN_COMMANDS = ("refine", "audit", "export", "search", "eval")  # a group of criteria is refused, naming its runs


_ARGS: list[argparse.Namespace] = []  # the command being run, for what a signal handler says


def _terminate(signum: int, frame: Any) -> None:
    from ictc.nodes.context import STOP

    calling = bool(_ARGS) and _ARGS[-1].command in ("run", "resume", "refine")  # commands that call models
    if STOP.is_set() and calling:  # asked again: a hung server holds the calls in flight up to ICTC_REQUEST_TIMEOUT
        # (120 s) in silence, and a second Ctrl-C had only printed tracebacks. Stopped as kill -9 stops it:
        # checkpoints and stores keep every finished image, output files are written whole or not at all
        os.write(2, f"\nictc: stopped at once; the calls that were in flight are made again by: ictc resume "
                    f"{_run_dir(_ARGS[-1])}\n".encode())  # os.write: print here may re-enter a write of stderr
        os._exit(130)
    if calling and not STOP.is_set():
        os.write(2, b"\nictc: stopping once the model calls in flight finish (Ctrl-C again stops at once)\n")
    STOP.set()  # no new model call starts; calls in flight finish and are stored
    raise KeyboardInterrupt


def _traceback_file(args: argparse.Namespace) -> Path:
    """Where a bug's traceback goes: the run folder the command works on when it exists, else the temp folder."""
    name = f"ictc-error-{datetime.now():%Y%m%d-%H%M%S}.log"
    for folder in (getattr(args, "run_dir", None), getattr(args, "out", None)):
        if folder and Path(folder).is_dir() and (Path(folder) / "run.json").is_file():
            return Path(folder) / name
    return Path(tempfile.gettempdir()) / name


def _report_bug(args: argparse.Namespace, exc: BaseException) -> int:
    text = "".join(traceback.format_exception(exc))
    where = _traceback_file(args)
    try:
        where.write_text(text, encoding="utf-8")
        saved = f"the traceback is in {where}"
    except OSError:
        saved = "the traceback could not be saved; run again with --debug to see it"
    if args.debug:
        print(text, file=sys.stderr, end="")
    print(f"ictc: internal error (a bug, not your input): {type(exc).__name__}: {str(exc)[:200]}; {saved}. "
          "Finished work is kept.", file=sys.stderr)
    return EXIT_BUG


def _run_dir(args: argparse.Namespace) -> str:
    """The run folder a command works in, for "continue with: ictc resume ..." (`ictc run` names its default
    folder in args.out before it starts); "RUN_DIR" only when none was chosen yet."""
    return str(getattr(args, "run_dir", None) or getattr(args, "out", None) or "RUN_DIR")


def _disk_full(args: argparse.Namespace, said: str) -> int:
    """Say that the disk filled up (`said`: the system's words) where the run writes, and the way on; returns
    EXIT_USAGE. The error names no file ("No space left on device" had been all a user saw)."""
    resume = f", then continue with: ictc resume {_run_dir(args)}" if args.command in ("run", "resume") else ""
    print(f"ictc: error: {said}: the disk of the run folder {_run_dir(args)} (or of the workspace, ICTC_WORKSPACE) "
          f"is full; finished work is kept: free some space{resume}", file=sys.stderr)
    return EXIT_USAGE


def main(argv: list[str] | None = None) -> int:
    """Run `ictc` with `argv` (default: the process arguments); returns the exit status (see the module)."""
    args = build_parser().parse_args(argv)
    handler = HANDLERS[args.command]
    _ARGS[:] = [args]
    if threading.current_thread() is threading.main_thread():
        for stop_signal in (signal.SIGINT, signal.SIGTERM):  # both stop cleanly: finished work is kept
            signal.signal(stop_signal, _terminate)
    from ictc.core.errors import ModelUnavailableError, SystematicFailureError, UsageError

    try:
        if args.command in ONE_RUN_COMMANDS:
            groupings.refuse_group_folder(args.run_dir)
        return handler(args)
    except KeyboardInterrupt:
        print(f"\nictc: interrupted; finished work is kept. Continue with: ictc resume {_run_dir(args)}",
              file=sys.stderr)
        return 130
    except UsageError as exc:
        print(f"ictc: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SystematicFailureError as exc:  # stopped early: say where the finished work is
        # a fix that is another model goes with the resume ("resume takes no --llm" had left no way on)
        flag, setting = re.search(r"give (--vlm|--llm)\b", exc.fix), re.search(r"(?:raise|lower) (ICTC_\w+)", exc.fix)
        print(f"ictc: {exc} Finished work is kept; once fixed, continue with: ictc resume {_run_dir(args)}"
              + (f" {flag[1]} NAME" if flag else "") + (f" --set {setting[1]}=N" if setting else ""), file=sys.stderr)
        return EXIT_MODEL
    except ModelUnavailableError as exc:
        print(f"ictc: {exc}", file=sys.stderr)
        return EXIT_MODEL
    except OSError as exc:  # a file the user named or owns that cannot be read or written
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return _disk_full(args, exc.strerror or str(exc))
        print(f"ictc: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return EXIT_USAGE
    except sqlite3.OperationalError as exc:  # the checkpoints or the step cache: "database or disk is full"
        if "full" in str(exc):
            return _disk_full(args, str(exc))
        return _report_bug(args, exc)
    except Exception as exc:
        from ictc.nodes.context import recoverable_errors
        from ictc.nodes.watch import said_of

        if isinstance(exc, recoverable_errors()):  # an endpoint failure outside the steps (graph/build.one_call_step)
            # the server's words cut at a word, not ictc's stand-in "Error code: 400" (models/quirks.found_in)
            print(f"ictc: the model endpoint failed ({said_of(exc)}); finished work is "
                  f"kept: once the server answers, continue with: ictc resume {_run_dir(args)}", file=sys.stderr)
            return EXIT_MODEL
        return _report_bug(args, exc)
