"""Human feedback: a pause after Step 2b (check the names before the costly Step 3) and one after
Step 3 (look at the clusters). Each takes an action (nodes/actions.py) through Command(resume=...).
Both pass straight through when the run was started without review (batch use)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from langgraph.graph import END
from langgraph.runtime import Runtime
from langgraph.types import Command, interrupt

from ictc.core.errors import UsageError
from ictc.models.other import OTHER
from ictc.nodes.actions import Accept, parse_action, plan_action
from ictc.nodes.common import report
from ictc.nodes.context import Context
from ictc.nodes.state import RunState, primaries


def pause_payload(state: RunState, point: str) -> dict[str, Any]:
    """What the user sees: clusters with their sizes and a few example descriptions, the label counts, the last
    answer's error, and `fallback`: why Step 2b's names are not the model's ("" when they are)."""
    assignments, descriptions = state.get("assignments", {}), state.get("descriptions", {})
    clusters = []
    files = Counter(primaries(state["images"]).values())  # a content's files: a size counts images, twins each
    for name in state.get("naming", {}).get("names", []):
        members = [p for p, a in assignments.items() if a["cluster"] == name]
        clusters.append({"name": name, "size": sum(files.get(p, 1) for p in members),
                         "examples": [descriptions[p]["text"] for p in members[:3] if p in descriptions]})
    naming = state.get("naming", {})
    # names the model did not give (Step 2b's fallback) are said here, where they are reviewed: a newcomer met an
    # unexplained "4. other" at the pause, the reason printed only after the run
    fallback = ((naming.get("problems") or ["no usable answer"])[-1] if naming.get("source") == "fallback" else "")
    # "k": the run's K; "made": the clusters Step 2b made of it ("other" aside), fewer when the labels hold fewer
    # kinds (the header had said "K=5" above 3 names); "asked_names": the names the LLM was asked for
    made = len([n for n in naming.get("names", []) if n != OTHER])
    return {"point": point, "criterion": state["criterion"], "k": state["n_clusters"],
            "made": made, "asked_names": naming.get("asked_names", state["n_clusters"]), "clusters": clusters,
            "label_counts": naming.get("kept", {}), "error": state.get("review_error", ""), "fallback": fallback,
            "short": naming.get("short", ""),  # fewer kinds than K (nodes/label_counts.short_of)
            "label_kinds": naming.get("label_kinds", {})}  # labels that joined another as its kind (label_kinds)


def _review(state: RunState, runtime: Runtime[Context], point: str, proceed: str) -> Command:
    if not state.get("review"):
        return Command(goto=proceed)
    answer = interrupt(pause_payload(state, point))  # code above re-runs on resume: it only reads state
    try:
        action = parse_action(answer)
        if isinstance(action, Accept):
            return Command(update={"review_error": ""}, goto=proceed)
        plan = plan_action(dict(state), action)
    except UsageError as exc:  # a bad answer is shown at the next pause, never a crash
        return Command(update={"review_error": str(exc)}, goto=f"review_{point}")
    # what it redoes, said before it runs as a refinement's is (graph/refine.py), with its warnings: a split of a
    # cluster whose images share one label had gone ahead unsaid at the pause
    report("plan", redo=plan.redo)
    return Command(update={**plan.update, "review_error": ""}, goto=plan.goto or f"review_{point}")


def review_names(state: RunState, runtime: Runtime[Context]) -> Command:
    """The pause after Step 2b: on accept (or without review) go on to Step 3; an edit goes where its Plan
    says; a bad answer comes back to this pause with `review_error` set."""
    return _review(state, runtime, "names", "assign_dispatch")


def review_clusters(state: RunState, runtime: Runtime[Context]) -> Command:
    """The pause after Step 3: on accept (or without review) the run ends; an edit goes where its Plan says;
    a bad answer comes back to this pause with `review_error` set."""
    return _review(state, runtime, "clusters", END)
