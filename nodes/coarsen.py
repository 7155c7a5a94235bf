"""Levels (paper §4.2): the K cluster names grouped into fewer parents named by the LLM; every image
follows its cluster into the parent, so no image is described, labelled or assigned again."""

from __future__ import annotations

from typing import Any, Literal

from langgraph.runtime import Runtime
from langgraph.types import Command

from ictc.models.other import OTHER
from ictc.models.structured import parse_json_object
from ictc.nodes.common import Timer, prompt_text, report, to_messages, trace
from ictc.nodes.context import Context
from ictc.nodes.formers import formers
from ictc.nodes.kept_edits import with_edit
from ictc.nodes.label_counts import normalize_label
from ictc.nodes.state import RunState
from ictc.prompts import Criterion, render
from ictc.store.keys import step_key


def parse_parents(content: str, children: list[str], n: int) -> tuple[dict[str, list[str]], str | None]:
    """The parents the answer gives ({parent: [children]}, in the answer's order) and what is wrong with it
    (None when it names exactly `n` distinct parents and places every child exactly once)."""
    parsed = parse_json_object(content) or {}
    by_key = {normalize_label(c): c for c in children}
    parents: dict[str, list[str]] = {}
    placed: list[str] = []
    for entry in parsed.get("parents") or []:
        if not isinstance(entry, dict) or not str(entry.get("name", "")).strip():
            continue
        name = str(entry["name"]).strip()
        members = [by_key[normalize_label(str(c))] for c in entry.get("children") or [] if normalize_label(str(c)) in by_key]
        parents.setdefault(name, []).extend(m for m in members if m not in placed)
        placed += members
    problems = []
    if len(parents) != n:
        problems.append(f"it has {len(parents)} parents, not {n}")
    if missing := [c for c in children if c not in placed]:
        problems.append(f"these categories are in no parent: {', '.join(missing)}")
    if len(placed) != len(set(placed)):
        problems.append("some categories are in two parents")
    return parents, "; ".join(problems) or None


def fallback_parents(best: dict[str, list[str]], children: list[str], n: int, ctx: Context) -> dict[str, list[str]]:
    """Stated rule when every try fails: keep the best try's first `n` non-empty parents (padding with
    "group 1", "group 2"... when it had fewer, each taking the largest unplaced category); then every
    category still unplaced goes to the parent whose name embedding is closest to its own."""
    parents = {name: list(members) for name, members in best.items() if members}
    parents = dict(list(parents.items())[:n])
    placed = {c for members in parents.values() for c in members}
    unplaced = [c for c in children if c not in placed]
    number = 1
    while len(parents) < n and unplaced:
        parents[f"group {number}"] = [unplaced.pop(0)]
        number += 1
    if unplaced:
        names = list(parents)
        vectors = ctx.embedder.embed(names + unplaced)
        for i, child in enumerate(unplaced):
            similarity = vectors[:len(names)] @ vectors[len(names) + i]
            parents[names[int(similarity.argmax())]].append(child)
    return parents


def group_names(ctx: Context, criterion: Criterion, sizes: dict[str, int], n: int) -> dict[str, Any]:
    """One LLM call (re-asked on a wrong answer, `name_retries` tries) grouping the names in `sizes`
    ({name: images}) into `n` parents. Returns {"parents": {parent: [children]}, "source", "attempts"}."""
    children = list(sizes)
    rendered = render("coarsen", criterion, step="name_clusters", n=n,
                      categories="\n".join(f"- {name}: {size}" for name, size in sizes.items()))
    key = step_key("coarsen", ctx.llm_id, rendered, n=n, retries=ctx.settings.name_retries)
    if (hit := ctx.cached(key)) is not None:
        trace("coarsen", None, prompt_text(rendered), hit["parents"], ctx.llm_id, 0.0, cached=True)
        report("coarsen", advance=1, stored=1, calls=0)
        return hit
    schema = {"type": "object", "properties": {"parents": {"type": "array", "items": {
        "type": "object", "properties": {"name": {"type": "string"}, "children": {"type": "array", "items": {"type": "string"}}},
        "required": ["name", "children"], "additionalProperties": False}}}, "required": ["parents"], "additionalProperties": False}
    conversation = to_messages(rendered)
    best: dict[str, list[str]] = {}
    parents: dict[str, list[str]] | None = None
    attempts = 0
    with Timer() as timer:
        for attempts in range(1, ctx.settings.name_retries + 1):  # noqa: B007 (attempts is reported)
            with ctx.model_call():
                content, _ = ctx.llm_json.invoke(conversation, schema, "parents", max_tokens=60 * len(children) + 60)
            found, problem = parse_parents(content, children, n)
            if problem is None:
                parents = found
                break
            if len(found) > len(best):
                best = found
            conversation = conversation + to_messages([("assistant", content)]) + to_messages(
                render("coarsen_retry", criterion, step="name_clusters", problem=problem, n=n))
    answer = {"parents": parents if parents is not None else fallback_parents(best, children, n, ctx),
              "source": "model" if parents is not None else "fallback", "attempts": attempts}
    ctx.remember(key, "coarsen", answer)
    trace("coarsen", None, prompt_text(rendered), answer["parents"], ctx.llm_id, timer.seconds, cached=False,
          source=answer["source"], attempts=attempts)
    report("coarsen", advance=1, stored=0, calls=attempts)
    return answer


def coarsen(state: RunState, runtime: Runtime[Context]) -> Command[Literal["review_clusters"]]:
    """Groups the current names into `state.coarsen.n` parents; each image's cluster becomes its parent
    (its former cluster kept as `fine`). The "other" group stays a group of its own, outside the parents.
    The tree is recorded in naming["levels"] (outermost last)."""
    n = int(state["coarsen"]["n"])
    names = [x for x in state["naming"]["names"] if x != OTHER]
    assignments = state.get("assignments", {})
    sizes = {name: sum(a["cluster"] == name for a in assignments.values()) for name in names}
    answer = group_names(runtime.context, Criterion.from_dict(state["criterion"]), sizes, n)
    parent_of = {child: parent for parent, children in answer["parents"].items() for child in children}
    # "formers": every cluster it was in, the latest first, so that the tree after a second coarsening shows every
    # level (it had shown only the last two from "fine", the level just below, which runs made before keep)
    moved = {p: {**a, "cluster": parent_of[a["cluster"]], "formers": [a["cluster"], *formers(a)]}
             for p, a in assignments.items() if a["cluster"] in parent_of}
    parents = list(answer["parents"]) + ([OTHER] if OTHER in state["naming"]["names"] else [])
    level = {"parents": answer["parents"], "source": answer["source"], "from": names}
    naming = with_edit({**state["naming"], "names": parents, "levels": [*state["naming"].get("levels", []), level]},
                       "coarser levels")
    return Command(update={"naming": naming, "n_clusters": n, "assignments": moved, "coarsen": {}},
                   goto="review_clusters")
