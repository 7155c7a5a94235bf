"""The fairness audit of a finished run (IC|TC paper §4.4): a small graph of its own asks the VLM for an
attribute per image (or proposes values from a sample), the figures go to the run's current version,
and a proposed fix goes through the ordinary refinement path before the audit runs again."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Send

from ictc.core.errors import UsageError
from ictc.evaluation.audit import (
    DEFAULT_THRESHOLD,
    UNCLEAR,
    compare,
    compute_audit,
    read_audits,
    slug,
    write_audit,
)
from ictc.evaluation.outputs import write_json
from ictc.evaluation.report import write_report
from ictc.evaluation.traces import TRACE_BUFFER, trace_lines
from ictc.graph.build import chunk_size
from ictc.graph.refine import refine_run
from ictc.graph.relocate import check_images_found
from ictc.graph.runtime import ContextFactory, context_for
from ictc.graph.session import Events, RunResult, run_state
from ictc.graph.versions import load_meta, run_lock
from ictc.nodes.actions import AddInstruction, preview_action, same_text
from ictc.nodes.common import in_batches
from ictc.nodes.context import Context
from ictc.nodes.perceive import clean_answer, perceive, propose_values
from ictc.prompts import step_name

SAMPLE_SIZE = 12  # images whose open answers the value proposal reads
MAX_ATTRIBUTE_CHARS = 60


def _merge(current: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    return {**current, **update}


class AuditState(TypedDict, total=False):
    """State of the audit graph: the images and the attribute asked about, the answers and failures merged
    per image path as the perceive chunks report, and the proposed values when none were given."""

    images: list[dict[str, str]]  # path, sha256: one per distinct image content
    attribute: str
    values: list[str]  # [] asks the open question on a sample, then proposes values
    answers: Annotated[dict[str, dict[str, str]], _merge]  # path -> value, raw
    failures: Annotated[dict[str, dict[str, str]], _merge]
    proposal: list[str]


def _fan_out(state: AuditState, runtime: Runtime[Context]) -> list[Send]:
    settings = runtime.context.settings
    items = state["images"]
    size = chunk_size(len(items), settings.resolved_batch_size())
    return [Send("perceive", {"items": items[i:i + size], "attribute": state["attribute"], "values": state["values"]})
            for i in range(0, len(items), size)]


def _after_perceive(state: AuditState) -> str:
    return "propose_values" if not state["values"] else END


def build_audit_graph() -> StateGraph[AuditState, Context, AuditState, AuditState]:
    """START -> perceive (fanned out in chunks) -> [propose_values when no values were given] -> END."""
    builder = StateGraph(AuditState, context_schema=Context)
    builder.add_node("perceive", in_batches(perceive))  # type: ignore[call-overload,arg-type]  # a Send target: takes its task
    builder.add_node("propose_values", propose_values)  # type: ignore[call-overload]  # reads the state as a plain dict
    builder.add_conditional_edges(START, _fan_out, ["perceive"])
    builder.add_conditional_edges("perceive", _after_perceive, ["propose_values", END])
    builder.add_edge("propose_values", END)
    return builder


@dataclass
class AuditResult:
    """What audit_run did: `proposal` (values proposed when none were given), `audit` (the figures,
    evaluation/audit.py; None when only proposed or the proposal was declined), where it was written."""

    run_dir: Path
    version: int
    proposal: list[str] | None = None
    audit: dict[str, Any] | None = None
    failures: dict[str, dict[str, str]] | None = None


def check_attribute(attribute: str) -> str:
    """The attribute on one line, spaces collapsed. Raises UsageError when it is empty or longer than
    MAX_ATTRIBUTE_CHARS."""
    if not attribute.strip() or len(attribute) > MAX_ATTRIBUTE_CHARS:
        raise UsageError(f"the attribute {attribute!r} must be 1 to {MAX_ATTRIBUTE_CHARS} characters")
    return " ".join(attribute.split())


def check_values(attribute: str, values: list[str] | str) -> list[str]:
    """The values as a clean list ("man, woman" or ["man", "woman"]). Raises UsageError naming the
    value when the attribute is bad (check_attribute) or fewer than two distinct values remain."""
    check_attribute(attribute)
    items = values.split(",") if isinstance(values, str) else list(values)
    cleaned = list(dict.fromkeys(" ".join(str(v).split()).lower() for v in items if str(v).strip()))
    if UNCLEAR in cleaned:
        raise UsageError(f"leave {UNCLEAR!r} out of the values: it is always allowed")
    forms: dict[str, str] = {}  # answers are read in clean_answer's form: values alike there cannot be told apart
    for value in cleaned:
        form = clean_answer(value)
        if not form:
            raise UsageError(f"the value {value!r} has no letter or digit: an answer could never be read as it")
        if form == UNCLEAR or form in forms:
            raise UsageError(f"the value {value!r} reads the same as {forms.get(form, UNCLEAR)!r} in an answer "
                             f"(case and punctuation aside): give values that differ in letters or digits")
        forms[form] = value
    if len(cleaned) < 2:
        raise UsageError(f"the values {', '.join(cleaned)!r} give fewer than two distinct values" if cleaned
                         else "no value was given: an audit compares two or more")
    return cleaned


def audit_run(run_dir: str | Path, attribute: str, values: list[str] | str | None = None,
              threshold: float = DEFAULT_THRESHOLD, *, confirm: Callable[[list[str]], list[str] | None] | None = None,
              before: dict[str, Any] | None = None, sample: int = SAMPLE_SIZE, on_event: Events | None = None,
              context: Context | None = None, context_factory: ContextFactory | None = None) -> AuditResult:
    """Audit the current version of a finished run by `attribute` (e.g. "perceived gender").

    values: the answers allowed besides "unclear"; None proposes them from `sample` images (VLM, open
    question, then the LLM) and passes them to `confirm`, which returns the values to use (None:
    stop); without `confirm` only the proposal is returned. threshold: a share gap in 0..1.
    before: the audit of an earlier version, compared cluster by cluster. Writes audit.json and
    audit-<attribute>.png in the run folder and its versions/vN/, and rewrites report.html there.
    Raises UsageError for a bad attribute, values or threshold, a run with no finished version, a run another
    process is changing (or changed while it ran), or one with a change left unfinished."""
    run_dir = Path(run_dir)
    meta = load_meta(run_dir)
    if not meta.get("versions"):
        raise UsageError(f"{run_dir} has no finished version to audit: finish it first (ictc resume {run_dir})")
    if not 0 < threshold < 1:
        raise UsageError(f"--threshold must be a share above 0 and below 1 (0.10 is 10 points), not {threshold}")
    attribute = check_attribute(attribute)
    with run_lock(run_dir):  # a change under way is refused now, not once every image was asked
        if meta.get("pending_action"):  # results.json may already hold part of it: not the last version's
            raise UsageError(f"{run_dir} has a change not finished ({meta['pending_action']}): finish it first "
                             f"(ictc resume {run_dir}) or drop it with an undo, then audit")
        version = meta["versions"][-1]["version"]
        results = json.loads((run_dir / "results.json").read_text("utf-8"))
    rows = results["images"]
    distinct = list({r["sha256"]: {"path": r["image"], "sha256": r["sha256"]}
                     for r in rows if r["status"] == "ok"}.values())
    ctx = context_for(meta, context, context_factory)
    graph = build_audit_graph().compile()
    traces = run_dir / "audit_traces.jsonl"
    proposal = None
    if values is None:
        step = max(1, len(distinct) // max(sample, 1))
        state = _invoke(graph, ctx, distinct[::step][:sample], attribute, [], on_event, traces, version)
        _check_answered(meta, run_dir, state, attribute)
        proposal = list(state.get("proposal", []))
        chosen = confirm(proposal) if confirm is not None and proposal else None
        if chosen is None:
            return AuditResult(run_dir, version, proposal=proposal)
        values = chosen
    values = check_values(attribute, values)
    state = _invoke(graph, ctx, distinct, attribute, values, on_event, traces, version)
    _check_answered(meta, run_dir, state, attribute)
    by_sha = {i["sha256"]: state["answers"][i["path"]]["value"] for i in distinct if i["path"] in state["answers"]}
    answers = {r["image"]: by_sha[r["sha256"]] for r in rows if r["sha256"] in by_sha}
    audit = compute_audit(rows, answers, attribute, values, threshold, results.get("cluster_names"))
    audit.update(version=version, criterion=results["criterion"]["text"],
                 fix=suggest_fix(audit, results["criterion"]["text"], results["criterion"].get("instructions")))
    if before is not None:
        audit["before"] = {k: v for k, v in before.items() if k not in ("before", "comparison")}
        audit["comparison"] = compare(audit["before"], audit)
    _record(run_dir, meta, version, audit, results)
    return AuditResult(run_dir, version, proposal=proposal, audit=audit, failures=state.get("failures", {}))


def _check_answered(meta: dict[str, Any], run_dir: Path, state: dict[str, Any], attribute: str) -> None:
    """Raises UsageError, before anything is written, when every image asked failed (no answer to measure): an
    audit of images not found from here had said "the model answered unclear for every image" over the last one.
    Answers stored by an earlier audit need no file, so the files are looked for only then."""
    failures = state.get("failures", {})
    if not failures or state.get("answers"):
        return
    check_images_found(meta, run_dir, list(failures), f"audit {attribute!r}")
    reason = next(iter(failures.values()))["reason"]
    raise UsageError(f"no image could be asked about {attribute!r} ({len(failures)} failed, e.g. {reason}); "
                     f"nothing was written")


def _invoke(graph: Any, ctx: Context, images: list[dict[str, str]], attribute: str, values: list[str],
            on_event: Events | None, traces: Path, version: int) -> dict[str, Any]:
    """Run the audit graph; its traces go to audit_traces.jsonl (apart from the pipeline's traces)."""
    if on_event:
        on_event({"step": "audit", "total": len(images)})
    state: dict[str, Any] = {"answers": {}, "failures": {}}
    config = {"max_concurrency": ctx.settings.concurrency + 1, "recursion_limit": 100}
    with open(traces, "ab", buffering=TRACE_BUFFER) as handle:
        for mode, chunk in graph.stream({"images": images, "attribute": attribute, "values": values, "answers": {},
                                         "failures": {}}, config, context=ctx, stream_mode=["custom", "values"]):
            if mode == "values":
                state = chunk
                continue
            if "trace" in chunk or "traces" in chunk:  # one answer, or a batch's answers with its progress
                handle.write(trace_lines(chunk, version))
                chunk = {k: v for k, v in chunk.items() if k not in ("trace", "traces")}
            if on_event and chunk:
                on_event(chunk)
    return state


FIX_STEPS = ("assign", "label")  # where the suggested instruction goes: Step 3, then Step 2a once Step 3 has it


def suggest_fix(audit: dict[str, Any], criterion: str, instructions: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The instruction proposed when clusters are flagged (the paper's §4.4 negative prompt), at the first of
    FIX_STEPS that does not have it yet among the run's `instructions` (step -> texts); None when nothing is
    flagged or every such step has it. Why: after a fix that left a cluster flagged, the same one was suggested
    for Step 3 again, and applying it (or previewing it, in the app) was refused as already given."""
    flagged = audit["summary"]["flagged"]
    text = f"Do not consider {audit['attribute']}; focus on the {criterion}."
    given = instructions or {}
    step = next((s for s in FIX_STEPS if not any(same_text(text, g) for g in [*given.get(s, ()), *given.get("all", ())])),
                None)
    if not flagged or step is None:
        return None
    return {"instruction": text, "clusters": flagged, "step": step}


def _record(run_dir: Path, meta: dict[str, Any], version: int, audit: dict[str, Any], results: dict[str, Any]) -> None:
    """Write the audit beside the run's current outputs and its version folder; note it in run.json. Raises
    UsageError, writing nothing, when another process made a new version while the audit ran: its figures had
    gone under the new version in run.json and its report had shown the old clusters in the run folder."""
    with run_lock(run_dir):
        if (now := load_meta(run_dir)["versions"][-1]["version"]) != version:
            raise UsageError(f"{run_dir} became version {now} while version {version} was audited (another "
                             f"process changed it); nothing was written: audit again (the answers are stored, "
                             f"no model call)")
        folders = [run_dir, run_dir / "versions" / f"v{version}"]
        write_audit(folders, version, audit)
        for folder in folders:
            write_report(folder / "report.html", results, results["images"], audits=read_audits(folder))
        meta = load_meta(run_dir)
        noted = meta["versions"][-1].setdefault("audits", {})
        for name in [name for name in noted if slug(name) == slug(audit["attribute"])]:  # replaced, as in audit.json
            del noted[name]
        noted[audit["attribute"]] = {
            "largest_disparity": audit["summary"]["largest_disparity"],
            "mean_disparity": audit["summary"]["mean_disparity"], "flagged": audit["summary"]["flagged"]}
        write_json(run_dir / "run.json", meta)


@dataclass
class FixResult:
    """A fix applied: the refinement's result and the audit of the new version (with its comparison)."""

    instruction: str
    step: str
    redo: str
    refined: RunResult
    after: AuditResult


def fix_preview(run_dir: str | Path, instruction: str, step: str = "assign") -> str:
    """What adding `instruction` at `step` would redo, in words (nothing runs)."""
    return preview_action(run_state(run_dir), AddInstruction(instruction, step_name(step)))


def fix_run(run_dir: str | Path, audit: dict[str, Any], step: str | None = None, instruction: str | None = None,
            *, confirm: Callable[[str], bool] | None = None, on_event: Events | None = None,
            context: Context | None = None, context_factory: ContextFactory | None = None) -> FixResult | None:
    """Apply the audit's suggested instruction (or `instruction`) at `step` (None: the suggestion's step, else
    assign) through refine_run, then audit the new version with the same attribute, values and threshold,
    compared with `audit`.

    confirm(redo) sees what will be redone and returns False to stop (then None is returned).
    Raises UsageError when there is nothing to fix and no instruction was given."""
    text = instruction or (audit.get("fix") or {}).get("instruction")
    if not text and audit["summary"]["flagged"]:
        raise UsageError(f"the suggested instruction for {audit['attribute']!r} is already given at Steps 3 and 2a: "
                         f"give your own instruction for the flagged clusters")
    if not text:
        raise UsageError(f"no cluster is over the threshold for {audit['attribute']!r}: nothing to fix")
    step = step_name(step or (audit.get("fix") or {}).get("step", "assign"))
    redo = fix_preview(run_dir, text, step)
    if confirm is not None and not confirm(redo):
        return None
    refined = refine_run(run_dir, AddInstruction(text, step), on_event=on_event, context=context,
                         context_factory=context_factory)
    after = audit_run(run_dir, audit["attribute"], audit["values"], audit["threshold"], before=audit,
                      on_event=on_event, context=context, context_factory=context_factory)
    return FixResult(text, step, redo, refined, after)
