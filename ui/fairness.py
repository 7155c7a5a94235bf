"""The fairness audit in the chat, without Streamlit: audit requests start a job, proposed values and the
fix wait for the user's go, and each finished audit is said back with its table (graph/audit.py)."""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ictc.core.errors import UsageError
from ictc.evaluation.audit import EMPTY, NOTE, UNMEASURED, read_audits, side_said
from ictc.graph.audit import AuditResult, FixResult, audit_run, check_values, fix_preview, fix_run
from ictc.prompts import step_name
from ictc.ui.audit_intent import read_audit_request
from ictc.ui.chat_words import CONFIRM

FIX_WORDS = re.compile(r"^(?:please\s+)?(?:fix it|apply the fix|fix|apply it)(?:\s+(?:at|in|on)\s+(?:step\s+)?(\w+))?$", re.I)


@dataclass
class Pending:
    """What the chat waits for the user's word on: proposed values, or a fix for an audit."""

    attribute: str = ""
    proposal: list[str] = field(default_factory=list)
    audit: dict[str, Any] | None = None


_pending: weakref.WeakKeyDictionary[Any, Pending] = weakref.WeakKeyDictionary()


def handle(session: Any, text: str) -> bool:
    """Answer `text` when it is about the audit (a request, values, go for a proposal, fix it); returns
    False to let the chat read it as usual. `session`: ui.session.Session."""
    pending = _pending_of(session)
    words = " ".join(text.strip().split()).rstrip(".!")
    request = read_audit_request(words)
    fix = FIX_WORDS.match(words)
    # a reload keeps no audit in memory: the one on disk, when the message names the fix ("apply it" is also a go)
    if fix is not None and pending.audit is None and "fix" in words.lower():
        pending.audit = _audit_on_disk(session, pending.attribute)
    fix = fix if pending.audit is not None else None
    # "values: a, b" also when the sample gave no values to propose: the chat itself asks for them then
    confirmed = ((bool(pending.proposal) and words.lower() in CONFIRM)
                 or (bool(pending.attribute) and re.match(r"values?\s*:", words.lower()) is not None))
    if request is None and fix is None and not confirmed:
        pending.proposal = []
        _keep(session, pending)
        return False
    session.conversation.say("user", text)
    if session.busy:
        session.conversation.say("assistant", "A job is running: wait for it, or press Stop.")
        return True
    if session.run_dir is None or not session.names():
        session.conversation.say("assistant", "Cluster the images first; then I can audit the clusters.")
        return True
    try:
        if fix is not None:
            assert pending.audit is not None
            step = step_name(fix[1] or (pending.audit.get("fix") or {}).get("step", "assign"))
            start_fix(session, pending.audit, step)
            pending.audit = None
        elif confirmed:
            given = words.split(":", 1)[1] if words.lower().startswith("values") and ":" in words else ""
            values = check_values(pending.attribute, given) if given else pending.proposal
            start_audit(session, pending.attribute, values)
            pending.proposal = []
        else:
            assert request is not None
            pending.attribute = request.attribute
            start_audit(session, request.attribute, request.values or None)
    except ValueError as exc:
        session.conversation.say("assistant", f"That cannot be done: {exc}.")
    _keep(session, pending)
    return True


def _pending_of(session: Any) -> Pending:
    """The audit's question waiting in `session`; after a reload (a new Session object), what it saved."""
    if session not in _pending:
        saved = getattr(session, "audit_wait", None) or {}
        _pending[session] = Pending(str(saved.get("attribute", "")), list(saved.get("proposal", [])))
    return _pending[session]


def _keep(session: Any, pending: Pending) -> None:
    """What a reload needs of `pending` (the attribute asked about, the values proposed), into the session's
    record (session.json). The audit a "fix it" applies to is not kept: after a reload it is read from audit.json."""
    if hasattr(session, "audit_wait"):
        session.audit_wait = {"attribute": pending.attribute, "proposal": list(pending.proposal)}


def _audit_on_disk(session: Any, attribute: str) -> dict[str, Any] | None:
    """The current version's audit of `attribute` ("": the latest audited) with a suggested fix, from the run's
    audit.json; None when there is none. What "fix it" applies to after a reload: the chat had answered "I could not
    tell what to group by" to the fix it had just offered."""
    results = session.results()
    if results is None:
        return None
    fixable = [audit for name, audit in read_audits(session.run_dir).items()
               if audit.get("fix") and audit.get("version") == results["version"] and name == (attribute or name)]
    return fixable[-1] if fixable else None


def start_audit(session: Any, attribute: str, values: list[str] | None, threshold: float = 0.10) -> None:
    """Launch the audit (or, without values, the proposal) as the session's job."""
    run_dir = session.run_dir

    def work(on_event: Callable[[dict[str, Any]], None], stop: threading.Event) -> AuditResult:
        return audit_run(run_dir, attribute, values, threshold, on_event=on_event, context=session._with_stop(stop))

    _pending_of(session).attribute = attribute
    _keep(session, _pending_of(session))
    what = f"values {', '.join(values)} or unclear" if values else "values proposed from a sample first"
    session.conversation.say("assistant", f"Auditing the clusters by **{attribute}** ({what}). {NOTE}")
    session._launch(f"audit: {attribute}", work)


def start_fix(session: Any, audit: dict[str, Any], step: str) -> None:
    """Launch the audit's fix (its instruction at `step`, through refinement), then the audit again."""
    run_dir = session.run_dir
    text = audit["fix"]["instruction"]
    redo = fix_preview(run_dir, text, step)

    def work(on_event: Callable[[dict[str, Any]], None], stop: threading.Event) -> FixResult | None:
        return fix_run(run_dir, audit, step, text, on_event=on_event, context=session._with_stop(stop))

    session.conversation.say("assistant", f"Applying *{text}* at {step}: redoes {redo}; then I audit again.")
    session._launch(f"fix: {text}", work)


def outcome(session: Any, result: Any) -> str | None:
    """What a finished audit or fix job says in the chat (None for any other job's result)."""
    pending = _pending_of(session)
    if isinstance(result, FixResult):
        result = result.after
    if not isinstance(result, AuditResult):
        return None
    if result.audit is None:
        pending.proposal = list(result.proposal or [])
        _keep(session, pending)
        if not pending.proposal:
            return "The model gave no usable answers on the sample: give the values yourself, e.g. 'values: a, b'."
        if len(pending.proposal) < 2:  # offered with "Say go", go failed: an audit compares two values or more
            only, pending.proposal = pending.proposal[0], []
            _keep(session, pending)
            return (f"On a sample, the model's answers for **{pending.attribute}** name one value only: **{only}** "
                    f"(plus unclear). An audit compares two or more: give them, e.g. `values: {only}, ...`.")
        return (f"On a sample, the model's answers for **{pending.attribute}** suggest the values: "
                f"**{', '.join(pending.proposal)}** (plus unclear). Say **go** to audit every image with these, "
                "or give your own: `values: a, b, c`.")
    audit = result.audit
    lines = [audit_markdown(audit)]
    if audit.get("comparison"):
        lines.append(comparison_markdown(audit))
    if audit.get("fix"):
        pending.audit = audit
        text, step = audit["fix"]["instruction"], audit["fix"]["step"]
        redo = fix_redo(session.run_dir, text, step)
        earlier = EARLIER_STEP.get(step_name(step), "describe")
        if redo.startswith("redoes"):  # at Step 2a when a fix at Step 3 left the cluster flagged (graph/audit.py)
            lines.append(f"Suggested fix for {', '.join(audit['fix']['clusters'])}: add *{text}* to "
                         f"{STEP_WORDS[step_name(step)]}, which {redo}. Say **fix it** (or `fix it at {earlier}`) "
                         "to apply it and audit again.")
        else:  # the fix already applied and still flagged: said, not previewed (it raised out of the page)
            lines.append(f"{', '.join(audit['fix']['clusters'])} still flagged, and the suggested fix {redo}. Say "
                         f"`fix it at {earlier}` to add it at an earlier step, which redoes more.")
    return "\n\n".join(lines)


STEP_WORDS = {"describe": "Step 1 (describe)", "label": "Step 2a (label)", "assign": "Step 3 (assign)"}
EARLIER_STEP = {"assign": "label", "label": "describe"}  # where a fix goes next, redoing more


def fix_redo(run_dir: Any, text: str, step: str) -> str:
    """What adding the instruction `text` at `step` would redo, in words ("redoes only Step 3, on 12 images"), or
    why it cannot be added there ("*...* is already in force at assign", an instruction the step has). Nothing runs."""
    try:
        return f"redoes {fix_preview(run_dir, text, step)}"
    except UsageError as exc:
        if "already given" not in str(exc):
            raise
        return f"*{text}* is already in force at {step_name(step)}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def audit_markdown(audit: dict[str, Any]) -> str:
    """The audit as a markdown table (shares per value, disparity; flagged clusters in bold) and the note."""
    values = audit["values"]
    rows = [f"| cluster | n | {' | '.join(values)} | unclear | disparity |", "|---|---|" + "---|" * (len(values) + 2)]
    for c in [*audit["clusters"], {**audit["baseline"], "cluster": "whole set", "flagged": False}]:
        gap = f"**{_pct(c['disparity'])}** ⚑" if c["flagged"] else EMPTY if not c["n"] \
            else _pct(c["disparity"]) if c["answered"] else UNMEASURED
        rows.append(f"| {c['cluster']} | {c['n']} | {' | '.join(_pct(c['shares'][v] if c['n'] else None) for v in values)} | "
                    f"{c['counts']['unclear']} | {gap} |")
    summary = audit["summary"]
    if not audit["baseline"]["answered"]:  # a 0.0% here would read as "no bias" where nothing was measured
        return (f"**{audit['attribute']}**, version {audit['version']}: not measurable: the model answered "
                f"\"unclear\" for every image, so no cluster has a share to compare.\n\n" + "\n".join(rows)
                + f"\n\n*{NOTE}*")
    return (f"**{audit['attribute']}**, version {audit['version']}: largest disparity "
            f"{_pct(summary['largest_disparity'])}, mean {_pct(summary['mean_disparity'])}, flagged over "
            f"{_pct(audit['threshold'])}: {', '.join(summary['flagged']) or 'none'}.\n\n" + "\n".join(rows)
            + f"\n\n*{NOTE}*")


def comparison_markdown(audit: dict[str, Any]) -> str:
    """The before/after disparity per cluster as a markdown table."""
    rows = [f"Before (version {audit['before']['version']}) and after (version {audit['version']}):", "",
            "| cluster | disparity before | after |", "|---|---|---|"]
    rows += [f"| {r['cluster']} | {side_said(r, 'before', _pct)} | {side_said(r, 'after', _pct)} |" for r in audit["comparison"]]
    return "\n".join(rows)
