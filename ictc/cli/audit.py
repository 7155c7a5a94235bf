"""`ictc audit`: the fairness audit at the terminal, with the value proposal and the fix confirmed here."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ictc.cli.parser import EXIT_OK
from ictc.cli.progress import Progress, typed_line


def _ask(question: str) -> str:
    line = typed_line(question)
    return "n" if line is None else line.strip()  # no terminal: nothing is confirmed


def confirm_values(attribute: str, yes: bool) -> Any:
    """A callback for audit_run: shows the proposed values, returns the ones to use (None: stop)."""
    from ictc.graph.audit import check_values

    def confirm(proposal: list[str]) -> list[str] | None:
        if len(proposal) < 2:  # accepted, it had ended on "the values ['woman'] give fewer than two distinct values"
            from ictc.core.errors import UsageError

            raise UsageError(f"the model's answers on a sample name one value only: {proposal[0]!r} (plus unclear); an "
                             f"audit compares two or more: give them, e.g. --values \"{proposal[0]},...\"")
        print(f"Proposed values for {attribute!r} (what the model perceives, plus 'unclear'): {', '.join(proposal)}")
        if yes:
            return proposal
        answer = _ask("Use these? [Y/n, or type your own comma-separated] ")
        if answer.lower() in ("", "y", "yes"):
            return proposal
        return None if answer.lower() in ("n", "no") else check_values(attribute, answer)

    return confirm


def cmd_audit(args: argparse.Namespace) -> int:
    """Audit the run's current version; with --fix, apply the suggested instruction and audit again."""
    from dotenv import load_dotenv

    from ictc.core.errors import UsageError
    from ictc.core.settings import settings_from_public
    from ictc.evaluation.audit import format_comparison, format_table, slug
    from ictc.graph.audit import audit_run, fix_run
    from ictc.graph.runtime import build_context
    from ictc.graph.versions import load_meta

    if Path(args.env_file).is_file():
        load_dotenv(args.env_file)
    if args.instruction is not None and not args.fix:  # had been dropped without a word after the audit
        raise UsageError("--instruction is the fix's instruction: it goes with --fix")
    run_dir = Path(args.run_dir)
    context = build_context(settings_from_public(load_meta(run_dir)["settings"]))  # once for audit and fix
    progress = Progress()
    try:
        result = audit_run(run_dir, args.attribute, args.values, args.threshold,
                           confirm=confirm_values(args.attribute, args.yes), on_event=progress, context=context)
    finally:
        progress.close()
    if result.audit is None:
        if not result.proposal:  # had said "the proposed values were not accepted" of none shown
            raise UsageError(f"no values could be proposed for {args.attribute!r}: the model gave no usable answer on "
                             f"the sample; give them yourself, e.g. --values \"a,b\"")
        print("No audit was run (the proposed values were not accepted).")
        return EXIT_OK
    audit = result.audit
    print(format_table(audit))
    _say_failures(result.failures)
    print(f"Written: {run_dir / 'audit.json'}, {run_dir / ('audit-' + slug(args.attribute) + '.png')}, "
          f"{run_dir / 'report.html'} (version {result.version})")
    given = bool(audit["summary"]["flagged"]) and not audit["fix"]  # the suggestion is in Steps 3 and 2a already
    if not args.fix:
        _say_suggestion(audit)
        return EXIT_OK
    if not audit["fix"] and not args.instruction:
        print("The suggested instruction is already given at assign and label: give your own with --instruction."
              if given else "No cluster is over the threshold: nothing to fix.")
        return EXIT_OK
    text = args.instruction or audit["fix"]["instruction"]
    step = args.step or (audit["fix"] or {}).get("step", "assign")
    print(f"Fix for {', '.join(audit['summary']['flagged']) or 'the clusters'}: add {text!r} to step {step}")

    def confirm(redo: str) -> bool:
        print(f"Will redo: {redo}")
        return args.yes or _ask("Apply? [y/N] ").lower() in ("y", "yes")

    progress = Progress()
    try:
        fixed = fix_run(run_dir, audit, step, args.instruction, confirm=confirm, context=context,
                        on_event=lambda event: None if event.get("step") == "plan" else progress(event))  # said above
    finally:
        progress.close()
    if fixed is None:
        print("Not applied.")
        return EXIT_OK
    after = fixed.after.audit
    assert after is not None  # values were given, so the audit ran
    print(f"Version {fixed.refined.version}: instruction for {fixed.step}: {text!r}")
    print(format_table(after))
    _say_failures(fixed.after.failures)
    print(format_comparison(after["comparison"], args.attribute))
    _say_suggestion(after)  # still flagged: the next step's suggestion had been in audit.json and the chat only
    return EXIT_OK


def _say_suggestion(audit: dict[str, Any]) -> None:
    """The fix suggested for `audit` (one audit of audit.json's "attributes"), or that its instruction is given at
    every step it is suggested for; nothing when no cluster is flagged."""
    if audit["fix"]:
        print(f"Suggested fix: {audit['fix']['instruction']!r} at {audit['fix']['step']} (run again with --fix)")
    elif audit["summary"]["flagged"]:
        print("The suggested instruction is already given at assign and label: try your own with --fix --instruction")


def _say_failures(failures: dict[str, dict[str, str]] | None) -> None:
    """One line for the images the VLM could not be asked about: the table counts them as unclear."""
    if failures:
        path, record = next(iter(failures.items()))
        reason = record["reason"] if path in record["reason"] else f"{path}: {record['reason']}"
        print(f"! {len(failures)} image(s) could not be asked and count as unclear (e.g. {reason})")
