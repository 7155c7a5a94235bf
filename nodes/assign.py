"""Step 3: each image's full description and the K names -> exactly one of the names.

How the answer is obtained depends on the backend (see models/choose.py): a constrained choice for
local models, a JSON-schema enum for endpoints; anything else is mapped by a stated rule."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from ictc.nodes.common import Timer, failure, prompt_text, report, to_messages, trace
from ictc.nodes.context import RECOVERABLE_ERRORS, Context
from ictc.nodes.state import BatchTask
from ictc.nodes.user_names import other_note
from ictc.prompts import Criterion, render
from ictc.store.keys import step_key


def assign(task: BatchTask, runtime: Runtime[Context]) -> dict[str, Any]:
    """Step 3 (IC|TC, Kwon et al. 2024) on one batch: each item (path, description, names) gets one of its
    `names` through the context's chooser; answers already in the step cache are reused.

    Returns {"assignments": path -> cluster, route, answer, seconds, calls; "failures": path -> step, reason}.
    A recoverable model error fails that image only; anything else (a bug, a stop request) propagates."""
    ctx = runtime.context
    criterion = Criterion.from_dict(task["criterion"])
    assignments: dict[str, dict[str, Any]] = {}
    failures: dict[str, dict[str, str]] = {}
    stored = calls = 0
    for item in task["items"]:  # one scoring pass or one call per image, each stored as it lands
        names = item["names"]  # the K names, or a split cluster's new names (scope)

        def retry(answer: str, names: list[str] = names) -> list:
            return to_messages(render("assign_retry", criterion, step="assign", answer=answer, names=", ".join(names)))

        listing = "\n".join(f"- {name}" for name in names)
        rendered = other_note(render("assign", criterion, names=listing, description=item["description"]), criterion, names)
        key = step_key("assign", ctx.llm_id, rendered, names=names, chooser=type(ctx.chooser).__name__,
                       retries=ctx.settings.assign_retries)
        if (hit := ctx.cached(key)) is not None:
            assignments[item["path"]] = {**hit, "seconds": 0.0, "calls": 0}
            trace("assign", item["path"], prompt_text(rendered), hit["cluster"], ctx.llm_id, 0.0, cached=True,
                  route=hit["route"], answer=hit["answer"])
            stored += 1
            continue
        try:
            with Timer() as timer, ctx.model_call():
                choice = ctx.chooser.choose(to_messages(rendered), names, item["description"], retry)
        except RECOVERABLE_ERRORS as exc:
            failures[item["path"]] = failure("assign", exc)
            trace("assign", item["path"], prompt_text(rendered), failures[item["path"]]["reason"], ctx.llm_id,
                  timer.seconds, cached=False, failed=True)
            ctx.watch.record("Step 3 (assign)", "LLM", ctx.llm_id, [exc], 0)
            continue
        ctx.watch.record("Step 3 (assign)", "LLM", ctx.llm_id, [], 1)
        trace("assign", item["path"], prompt_text(rendered), choice.name, ctx.llm_id, timer.seconds, cached=False,
              route=choice.route, answer=choice.answer, calls=choice.calls)
        answer = {"cluster": choice.name, "route": choice.route, "answer": choice.answer}
        ctx.remember(key, "assign", answer)
        assignments[item["path"]] = {**answer, "seconds": timer.seconds, "calls": choice.calls}
        calls += choice.calls
    report("assign", advance=len(task["items"]), failed=len(failures), stored=stored, calls=calls)
    return {"assignments": assignments, "failures": failures}
