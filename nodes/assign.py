"""Step 3: each image's full description and the K names -> exactly one of the names.

How the answer is obtained depends on the backend (see models/choose.py): a constrained choice for
local models, a calibrated or enum choice for endpoints; anything else is mapped by a stated rule.
An image whose raw label (Step 2a) is exactly one of the names goes there without a call (route `label`,
setting assign_by_label): Step 2b's names came from those labels, so the mapping is already known. Likewise
an image whose label's group name agrees with the name nearest its label (route `group`, assign_by_group), and
an image whose one-image label Step 2b's look placed under a name (route `look`, category_look); route `join`
for the label route of an image whose category its label joined after a look (category_join), `kind` for one whose
label joined another label of the run as its kind by WordNet (label_kinds).
A calibrated choice may be asked with the names in several rotated orders and their gains averaged (route
`logprobs+orders`, setting choice_orders) and is weighed with the embedding prior of the image's label (route
`...+embedding` where that changes it, setting embedding_prior; models/calibrated.py)."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from ictc.models.calibrated import across_orders, rotated, with_embedding_prior
from ictc.models.embed import TextEmbedder
from ictc.nodes.common import Timer, failure, prompt_text, report, to_messages, trace
from ictc.nodes.context import Context, recoverable_errors
from ictc.nodes.label_counts import normalize_label
from ictc.nodes.state import BatchTask
from ictc.nodes.user_names import other_note
from ictc.prompts import Criterion, render
from ictc.store.keys import step_key


def name_of_label(raw_label: str, names: list[str]) -> str | None:
    """The one name equal to the raw label once both are normalized (case, article, plural); None when no
    name or several names are."""
    wanted = normalize_label(raw_label)
    matches = [n for n in names if wanted and normalize_label(n) == wanted]
    return matches[0] if len(matches) == 1 else None


MAX_LABEL_SHARE = 0.5  # a label carried by more images than this (K > 2) does not decide Step 3 alone


def label_shares(counts: dict[str, int]) -> dict[str, float]:
    """Each normalized label's share (0-1) of the images, from Step 2b's counts."""
    total = sum(counts.values())
    return {label: c / total for label, c in counts.items()} if total else {}


def label_decides(item: dict[str, Any], names: list[str]) -> str | None:
    """The name an image goes to by its raw label alone, or None (ask the model). Not when its label is
    carried by more than half the images and there are more than two names: a Step 2a that gives one label
    to most images (SmolLM2-135M labelled all 20 CIFAR photos "object of this image") says nothing."""
    if item.get("label_share", 0.0) > MAX_LABEL_SHARE and len(names) > 2:
        return None
    return name_of_label(item.get("raw_label", ""), names)


def group_decides(item: dict[str, Any], names: list[str], embedder: TextEmbedder) -> str | None:
    """The name an image goes to by its label's group (Step 2b by groups, nodes/name_groups.py), or None (ask
    the model): only when that name is one of `names` and is also the name nearest the label by embedding,
    two signals that agree (on the 48 emoji names with the true names, the 28 labels where they agreed were
    right 27 times; README "Quality with small models")."""
    group_name, label = item.get("group_name") or "", normalize_label(item.get("raw_label", ""))
    if group_name not in names or not label:
        return None
    vectors = embedder.embed([label, *names])
    nearest = names[int((vectors[1:] @ vectors[0]).argmax())]
    return group_name if nearest == group_name else None


NO_CALL_ROUTES = frozenset({"label", "kind", "look", "join", "group"})  # the routes decided_without_model gives


def decided_without_model(item: dict[str, Any], names: list[str], ctx: Context) -> tuple[str, str, str, str] | None:
    """(cluster, route, what was read, source) for an image Step 3 places without a model call, or None: its
    raw label is one of `names` (route `label`, setting assign_by_label; route `join` when that label is the
    category its specific label joined after a look, category_join; route `kind` when its label joined its kind,
    label_kinds), Step 2b's look placed its label under
    one of them (route `look`, category_look), or its label's group name agrees with the embedding (route
    `group`, assign_by_group), tried in that order. The caller asks only when Step 3 carries no instruction."""
    settings = ctx.settings
    if settings.assign_by_label == "on" and (name := label_decides(item, names)) is not None:
        if item.get("joined"):  # its category came from Step 2b's look at its description (category_join)
            return name, "join", f"joined: {item['raw_label']}", "(category joined after a look: no model)"
        if item.get("kind"):  # its label joined another label of the run as its kind (label_kinds)
            return name, "kind", f"kind: {item['raw_label']}", "(label joined its kind by WordNet: no model)"
        return name, "label", f"label: {item['raw_label']}", "(raw label: no model)"
    if item.get("looked") in names:
        return item["looked"], "look", f"looked: {item['specific_label']}", "(Step 2b's look at a description: no model)"
    if settings.assign_by_group == "on" and (name := group_decides(item, names, ctx.embedder)) is not None:
        return name, "group", f"label group: {item['raw_label']}", "(label group: no model)"
    return None


def assign(task: BatchTask, runtime: Runtime[Context]) -> dict[str, Any]:
    """Step 3 (IC|TC, Kwon et al. 2024) on one batch: each item (path, description, names) gets one of its
    `names` through the context's chooser; answers already in the step cache are reused.

    Returns {"assignments": path -> cluster, route, answer, seconds, calls; "failures": path -> step, reason}.
    A recoverable model error fails that image only; anything else (a bug, a stop request) propagates."""
    ctx = runtime.context
    criterion = Criterion.from_dict(task["criterion"])
    assignments: dict[str, dict[str, Any]] = {}
    failures: dict[str, dict[str, str]] = {}
    stored = calls = placed = 0  # placed: images decided without a model call (the chat's outcome counts them)
    # an instruction in Step 3's prompt ("put the greens with the blues") is for the model to apply: the
    # label and group routes, which skip the model, and the embedding prior would ignore it
    shortcuts = not criterion.instructions_for("assign")
    for item in task["items"]:  # one scoring pass or one call per image, each stored as it lands
        names = item["names"]  # the K names, or a split cluster's new names (scope)

        def retry(answer: str, names: list[str] = names) -> list:
            return to_messages(render("assign_retry", criterion, step="assign", answer=answer, names=", ".join(names)))

        if shortcuts and (decided := decided_without_model(item, names, ctx)) is not None:
            cluster, route, shown, source = decided
            assignments[item["path"]] = {"cluster": cluster, "route": route, "answer": item["raw_label"],
                                         "seconds": 0.0, "calls": 0}
            trace("assign", item["path"], shown, cluster, source, 0.0, cached=False, route=route,
                  answer=item["raw_label"])
            placed += 1
            continue

        def prompt(order: list[str], description: str = item["description"]) -> list[tuple[str, str]]:
            listing = "\n".join(f"- {name}" for name in order)
            return other_note(render("assign", criterion, names=listing, description=description), criterion, order)

        rendered = prompt(names)
        prior = {"prior_label": item.get("specific_label", "")} if ctx.settings.embedding_prior == "on" else {}
        orders = {"orders": ctx.settings.choice_orders} if ctx.settings.choice_orders > 1 else {}
        key = step_key("assign", ctx.llm_id, rendered, names=names, chooser=type(ctx.chooser).__name__,
                       retries=ctx.settings.assign_retries, **prior, **orders)
        if (hit := ctx.cached(key)) is not None:
            assignments[item["path"]] = {**hit, "seconds": 0.0, "calls": 0}
            trace("assign", item["path"], prompt_text(rendered), hit["answer"] or hit["cluster"], ctx.llm_id, 0.0,
                  cached=True, route=hit["route"], decided=hit["cluster"])
            stored += 1
            continue
        try:
            with Timer() as timer, ctx.model_call():
                choice = ctx.chooser.choose(to_messages(rendered), names, item["description"], retry)
                if orders and choice.scores:  # a scored choice asked again with the names rotated (choice_orders)
                    choice = across_orders(_ask_rotated(ctx, prompt, names, item["description"], retry, choice), names)
        except recoverable_errors() as exc:
            failures[item["path"]] = failure("assign", exc)
            trace("assign", item["path"], prompt_text(rendered), failures[item["path"]]["reason"], ctx.llm_id,
                  timer.seconds, cached=False, failed=True)
            ctx.watch.record("Step 3 (assign)", "LLM", ctx.llm_id, [exc], 0)
            continue
        # acts only on a calibrated choice (per-name scores); not when the user gave Step 3 an instruction
        # ("put the greens with the blues"), which the label's embedding knows nothing of
        if ctx.settings.embedding_prior == "on" and shortcuts:
            choice = with_embedding_prior(choice, item.get("specific_label", ""), names, ctx.embedder)
        ctx.watch.record("Step 3 (assign)", "LLM", ctx.llm_id, [], 1)
        # the output is what the model answered, the cluster ictc decided from it apart: with the embedding prior
        # they differ, and the trace had shown the decision as the model's output (Details: "'green' -> Crimson")
        trace("assign", item["path"], prompt_text(rendered), choice.answer or choice.name, ctx.llm_id, timer.seconds,
              cached=False, route=choice.route, decided=choice.name, calls=choice.calls)
        answer = {"cluster": choice.name, "route": choice.route, "answer": choice.answer}
        ctx.remember(key, "assign", answer)
        assignments[item["path"]] = {**answer, "seconds": timer.seconds, "calls": choice.calls}
        calls += choice.calls
    report("assign", advance=len(task["items"]), failed=len(failures), stored=stored, calls=calls, placed=placed)
    for item in task["items"]:  # a name merged before Step 3 is asked as it was, and goes to its merged cluster
        if (done := assignments.get(item["path"])) and (into := item.get("merged", {}).get(done["cluster"])):
            done["cluster"] = into
    return {"assignments": assignments, "failures": failures}


def _ask_rotated(ctx: Context, prompt: Any, names: list[str], description: str, retry: Any,
                 first: Any) -> list[tuple[list[str], Any]]:
    """The image's choice `first` (names in their order) and its choices with the names rotated (choice_orders),
    as (listing, Choice) pairs for across_orders. An order whose call fails is left out rather than failing the
    image: the orders that answered are averaged (the first always did)."""
    asked = [(names, first)]
    for order in rotated(names, ctx.settings.choice_orders)[1:]:
        try:
            asked.append((order, ctx.chooser.choose(to_messages(prompt(order)), order, description, retry)))
        except recoverable_errors():
            continue
    return asked
