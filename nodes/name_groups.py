"""Step 2b one group at a time (setting name_groups): the labels grouped into K by embedding, each group
named by its own short LLM call, so a small model never has to invent a partition; label -> name kept."""

from __future__ import annotations

from typing import Any

from ictc.models.structured import parse_json_object
from ictc.nodes.common import Timer, prompt_text, report, to_messages, trace
from ictc.nodes.context import Context
from ictc.nodes.label_counts import normalize_label, short_of
from ictc.prompts import Criterion, prompt_hash, render
from ictc.store.keys import step_key

SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"],
          "additionalProperties": False}


def ward_groups(counts: dict[str, int], k: int, ctx: Context) -> list[list[str]]:
    """K groups of the labels in `counts` ({label: images}) by Ward linkage on their unit embeddings, biggest
    first. Ward, not the average linkage of the grouping hint: on the 48 emoji names (bench/text_sets.py)
    average linkage put 32 of 48 labels in one group (ACC 0.48 against the categories), Ward 0.69."""
    from sklearn.cluster import AgglomerativeClustering

    labels = list(counts)
    if len(labels) <= k:
        return [[label] for label in labels]
    assignment = AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(ctx.embedder.embed(labels))
    groups: dict[int, list[str]] = {}
    for label, group in zip(labels, assignment, strict=True):
        groups.setdefault(int(group), []).append(label)
    return sorted(groups.values(), key=lambda g: (-sum(counts[x] for x in g), g[0]))


def obvious_name(group: list[str]) -> str | None:
    """A group's name without a call: its one label, or the label every other label ends with ("frog" for
    frog, tree frog). None otherwise. Why: asked to name "frog, tree frog", Qwen 0.5B answered "bird"."""
    for candidate in sorted(group, key=len):
        head = normalize_label(candidate)
        if all(normalize_label(x) == head or normalize_label(x).endswith(" " + head) for x in group):
            return candidate
    return None


def _ask(ctx: Context, criterion: Criterion, group: list[str], taken: list[str]) -> tuple[str, int]:
    """One group's name (stripped; "" when the answer held none) and the calls it took (0 from the cache)."""
    note = (" It must differ from these names, which other groups already have: " + ", ".join(taken) + ".") if taken else ""
    rendered = render("name_group", criterion, step="name_clusters", labels=", ".join(group), taken=note)
    key = step_key("name_group", ctx.llm_id, rendered)
    if (hit := ctx.cached(key)) is not None:
        trace("name_clusters", None, prompt_text(rendered), hit["name"], ctx.llm_id, 0.0, cached=True, route="group")
        return hit["name"], 0
    with Timer() as timer, ctx.model_call():
        content, _ = ctx.llm_json.invoke(to_messages(rendered), SCHEMA, "group_name", max_tokens=24)
    parsed = parse_json_object(content)
    name = str(parsed.get("name", "")) if parsed else content.splitlines()[0] if content.strip() else ""
    name = name.strip().strip("\"'`*.").strip()
    ctx.remember(key, "name_group", {"name": name})
    trace("name_clusters", None, prompt_text(rendered), name, ctx.llm_id, timer.seconds, cached=False, route="group")
    return name, 1


def name_groups(ctx: Context, criterion: Criterion, counts: dict[str, int], kept: dict[str, int], dropped: dict[str, int],
                k: int) -> dict[str, Any]:
    """Step 2b by groups: `kept` ({label: images}, the labels Step 2b reads) into K groups (ward_groups); a
    group with an obvious name (obvious_name) takes it without a call, every other group gets one call. A name that is empty or already taken is asked again once with the taken
    names listed; if it still is, the group's most frequent label that is no name yet stands in (then
    "<name> 2", ...). Returns the naming as propose_names does (source "groups"), plus label_names: every
    kept label -> its group's name, which Step 3 may use (setting assign_by_group); fewer than K groups give fewer
    names, said ("short"), none invented."""
    groups = ward_groups(kept, k, ctx)
    obvious = [obvious_name(group) for group in groups]
    names: list[str] = [name or "" for name in obvious]  # the obvious names first: asked names must differ
    calls = 0
    problems: list[str] = []
    with Timer() as timer:
        for i, group in enumerate(groups):
            if obvious[i] is not None:
                continue
            taken = {normalize_label(n) for n in names if n}
            name, spent = _ask(ctx, criterion, group, [])
            calls += spent
            if not normalize_label(name) or normalize_label(name) in taken:
                problems.append(f"group {i + 1} named {name!r}, already taken or empty")
                name, spent = _ask(ctx, criterion, group, [n for n in names if n])
                calls += spent
            if not normalize_label(name) or normalize_label(name) in taken:
                name = next((x for x in group if normalize_label(x) not in taken), "")
                number = 2
                while not normalize_label(name) or normalize_label(name) in taken:
                    name, number = f"{group[0]} {number}", number + 1
            names[i] = name
    label_names = {label: name for group, name in zip(groups, names, strict=False) for label in group}
    rendered = render("name_group", criterion, step="name_clusters", labels="{labels}", taken="")
    report("name_clusters", advance=1, names=names, stored=0, calls=calls)
    return {"names": names, "counts": dict(counts), "kept": kept, "dropped": dropped, "groups": groups,
            "label_names": label_names, "attempts": calls, "source": "groups", "problems": problems, "mode": "",
            "prompt_hash": prompt_hash(rendered), "seconds": timer.seconds, "calls": calls, **short_of(names, k)}
