"""Step 2b: the LLM turns the {label: count} list into exactly K distinct cluster names.

Validation and retries: the answer must hold exactly K distinct non-empty names; otherwise the model is
told what was wrong and asked again (`name_retries` tries). Fallback when every try fails, stated: keep
the first K distinct names of the best try; if fewer, add the most frequent labels that are not yet a
name; still fewer (fewer distinct labels than K): fewer clusters, said (naming "short"), none invented (a padded
"other" had been read by Step 3 as the none-of-these group, "other 2" named nothing).

No call at all when the counts already answer (setting names_from_labels) and the user gave Step 2b no instruction
of its own, which only the LLM reads: see `names_from_counts`."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from ictc.core.errors import SystematicFailureError
from ictc.models.wordnet import Taxonomy
from ictc.nodes.common import Timer, prompt_text, report, to_messages, trace
from ictc.nodes.context import Context, recoverable_errors
from ictc.nodes.kept_edits import carried_over
from ictc.nodes.label import label_template, without_echoes
from ictc.nodes.label_categories import (
    better_level,
    climb_categories,
    fold_categories,
    join_categories,
    look_for_names,
    needs_categories,
    with_categories,
)
from ictc.nodes.label_counts import (
    count_labels,
    format_counts,
    format_groups,
    group_labels,
    normalize_label,
    short_of,
    trim_counts,
)
from ictc.nodes.label_kinds import (
    categories_at_kinds_level,
    kind_joins,
    labels_near_k,
    names_by_kind,
    with_kind,
)
from ictc.nodes.label_levels import CATEGORY, choose_level, level_label
from ictc.nodes.name_groups import name_groups
from ictc.nodes.read_names import parse_names
from ictc.nodes.state import RESET, RunState, files_of, primaries
from ictc.nodes.user_names import user_naming, with_other
from ictc.nodes.watch import context_overflow
from ictc.prompts import Criterion, prompt_hash, render
from ictc.store.keys import step_key


def check_names(names: list[str], k: int) -> tuple[list[str], str | None]:
    """The distinct non-empty names, and what is wrong with the answer (None when it is right)."""
    distinct: list[str] = []
    for name in names:
        if name and name.lower() not in {d.lower() for d in distinct}:
            distinct.append(name)
    problems = []
    if len(names) - len(distinct):
        problems.append(f"{len(names) - len(distinct)} names were empty or repeated")
    if len(distinct) != k:
        problems.append(f"it has {len(distinct)} distinct name{'s' if len(distinct) != 1 else ''} "
                        f"({', '.join(distinct) or 'none'}), not {k}")
    return distinct, "; ".join(problems) or None


def fallback_names(best: list[str], counts: dict[str, int], k: int) -> list[str]:
    """At most K names by the stated rule (module docstring): the first K of `best`, then the most frequent
    labels of `counts` (ordered by count) not yet a name; fewer than K when they hold fewer distinct names."""
    names = best[:k]
    taken = {normalize_label(n) for n in names}
    for label in counts:
        if len(names) == k:
            break
        if normalize_label(label) not in taken:
            names.append(label)
            taken.add(normalize_label(label))
    return names


def names_from_counts(counts: dict[str, int], k: int, cover: float,
                      taxonomy: Taxonomy | None = None) -> list[str] | None:
    """The K most frequent normalized labels as the names, when the counts already answer Step 2b: there
    are exactly K distinct labels, or more and the K most frequent cover at least `cover` (0-1) of the
    images. None otherwise (fewer than K labels, or the labels spread wider: the LLM must merge them).

    Why: a small LLM asked to turn K right labels into K names answered three names three times (issue 18);
    the labels are already the answer, so asking can only lose. Ties in count go alphabetically, or with a
    `taxonomy` (setting name_ties_by_kind) by kind: label_kinds.names_by_kind."""
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    total = sum(counts.values())
    if len(ordered) < k or not total:
        return None
    top = ordered[:k]
    if len(ordered) == k or sum(c for _, c in top) / total >= cover:
        return names_by_kind(ordered, k, taxonomy) if taxonomy is not None else [label for label, _ in top]
    return None


def label_descriptions(state: RunState) -> dict[str, str]:
    """Normalized Step-2a label -> the description of the first image (in the run's image order) carrying it,
    for the second looks of two-level labels (settings category_reask and category_look)."""
    labels, descriptions = state.get("labels", {}), state.get("descriptions", {})
    found: dict[str, str] = {}
    for image in state["images"]:
        path = image["path"]
        label = normalize_label(labels.get(path, {}).get("raw", ""))
        if label and label not in found and path in descriptions:
            found[label] = descriptions[path]["text"]
    return found


def name_clusters(state: RunState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Step 2b (IC|TC, Kwon et al. 2024) node: K = `n_clusters` names from every image's raw label (twins
    counted). Returns {"naming": ...} as propose_names builds it."""
    labels = state.get("labels", {})
    primary = primaries(state["images"])
    # every image counts, twins (same content under another name) included
    paths = [primary[i["path"]] for i in state["images"] if primary[i["path"]] in labels]
    records = [labels[p] for p in paths]
    if state.get("user_names"):  # the user's own categories stand in for Step 2b (nodes/user_names.py)
        level = choose_level(records, state["n_clusters"])  # a category only from label_levels=json's own answers
        raw = [level_label(r, level) for r in records]
        return with_stale_cleared(state, with_other(user_naming(state["user_names"], raw), bool(state.get("other"))),
                                  "your categories")
    ctx, criterion = runtime.context, Criterion.from_dict(state["criterion"])
    settings, k = ctx.settings, state["n_clusters"]
    echoed: list[str] = []
    if settings.echo_check == "on":  # a label that repeats the prompt says nothing: it names no cluster
        texts = [state.get("descriptions", {}).get(p, {}).get("text", "") for p in paths]
        records, echoed = without_echoes(records, texts, criterion, label_template(settings.label_levels),
                                         settings.label_example == "on")
    kinds: dict[str, str] = {}
    unchecked: dict[str, str] = {}
    own_counts = count_labels([r.get("raw", "") for r in records])
    # an instruction for Step 2b itself ("keep ponies apart from horses") only the LLM reads: no shortcut past it. One
    # for every step ("don't consider colour") has made Step 2a's labels already, which the counts and kinds read
    told = bool(criterion.instructions.get("name_clusters"))
    by_kinds = settings.label_kinds == "on" and not told and labels_near_k(own_counts, k)
    if by_kinds:  # a label WordNet lists as a kind of another label of the run joins it
        kinds = kind_joins(own_counts, k, ctx.taxonomy)
        records = [with_kind(r, kinds) for r in records]
    categories: dict[str, str] = {}
    folded: dict[str, str] = {}
    joined: dict[str, str] = {}
    descriptions_by_label: dict[str, str] = {}
    spent = hops = 0
    label_counts = count_labels([r.get("raw", "") for r in records])
    once = {label for label, n in label_counts.items() if n == 1}  # labels of one image: a look may decide them
    answered = (settings.names_from_labels == "on" and not told
                and names_from_counts(label_counts, k, settings.names_cover) is not None)
    if settings.label_levels == "on" and needs_categories(records, k) and not answered:
        # the plain labels stay; each distinct label gets its category by one short call (and may climb). Not
        # when the labels' counts already answer Step 2b (names_from_counts): their categories would go unused
        if "on" in (settings.category_reask, settings.category_look, settings.category_join):
            descriptions_by_label = label_descriptions(state)
        categories, spent, hops = climb_categories(ctx, criterion, records, k, settings.category_hops,
                                                   descriptions_by_label if settings.category_reask == "on" else None)
        if by_kinds:  # a label others joined as their kind, or under a category too general, is its own category
            categories, unchecked = categories_at_kinds_level(categories, kinds, ctx.taxonomy,
                                                                 settings.category_kinds == "on", label_counts, k)
        if settings.category_join == "on":  # a category only one label has: that label may join another's
            candidate, joined, looks = join_categories(ctx, criterion, categories, once, descriptions_by_label)
            spent += looks
            if joined and better_level(records, categories, candidate, k):
                categories = candidate
            else:
                joined = {}
        if settings.category_fold == "on":  # a sub-kind the model put under another category folds into it
            categories, folded = fold_categories(records, categories, k)
        records = with_categories(records, categories)
    level = choose_level(records, k)  # "label" unless two-level labels put a category nearer K
    raw = [level_label(r, level) for r in records]
    if not raw:  # names invented from nothing would be no clusters at all
        reasons = sorted({f["reason"] for f in state.get("failures", {}).values()})
        raise SystematicFailureError(
            "Step 2b (name clusters)", f"no image has a raw label to name clusters from "
            f"({files_of(state['images'], state.get('failures', {}))[0]} failed{': ' + reasons[0] if reasons else ''})",
            "fix what made the earlier steps fail (the reason above)")
    # categories are general words already: the K most frequent are the names (nodes/label_levels.py)
    naming = propose_names(ctx, criterion, raw, k, cover=0.0 if level == CATEGORY else None,
                           by_kind=by_kinds and settings.name_ties_by_kind == "on")
    if categories and level == CATEGORY and settings.category_look == "on":
        # a label of one image whose category is no name: a look at that image's description may place it
        looked, looks = look_for_names(ctx, criterion, {x: c for x, c in categories.items() if x in once},
                                       naming["names"], descriptions_by_label)
        naming = {**naming, "looked": looked}
        spent += looks
    # K as asked, and the fewer-kinds sentence told of the images that failed before Step 2b, if any
    failed = files_of(state["images"], state.get("failures", {}))[0]  # images: identical files failed together
    naming = {**{key: v for key, v in naming.items() if key not in ("short", "kinds")}, "asked_k": k,
              **short_of(naming["names"], k, failed)}
    if categories:  # kept for Step 3 (graph/build.py fan_out_assign) and for the reader of results.json
        naming = {**naming, "label_categories": categories, "category_hops": hops, "calls": naming["calls"] + spent}
    extras = {"echoed": echoed, "folded": folded, "joined": joined, "label_kinds": kinds, "categories_dropped": unchecked}
    naming = {**naming, **{key: value for key, value in extras.items() if value}}  # each only when it happened
    return with_stale_cleared(state, with_other({**naming, "label_level": level}, bool(state.get("other"))))


def with_stale_cleared(state: RunState, naming: dict[str, Any], source: str = "Step 2b") -> dict[str, Any]:
    """The update of a Step 2b that named the clusters `naming` (`source`: "Step 2b", or "your categories" for the
    user's own) over a run whose `state` may hold Step 3 answers already: {"naming": naming} with the user's
    renames carried over (nodes/kept_edits.py), and every assignment cleared when the names are not the ones those
    answers chose among. Why: `ictc resume` of a run with failed images runs Step 2b again over every label, and
    Step 3 had been redone only for the retried images: the others stayed under names no cluster had (a tester's
    "0 Green, 3 Red" with 5 images in 'blue'). Unchanged names keep every answer; changed ones cost calls only where
    the step cache has no answer for the prompt. The user's edits that cannot be kept are reported as a stream
    event {"step": "name_clusters", "edits_not_kept": [kinds], "source", "names"} for graph/run.py to say; when renames
    are carried over, a progress event {"step": "name_clusters", "advance": 0, "names"} gives the names with them."""
    if not state.get("assignments"):
        return {"naming": naming}
    earlier = state.get("naming", {})
    fresh = naming["names"]
    naming, lost = carried_over(earlier, naming)
    if naming["names"] != fresh:  # the progress line had shown Step 2b's names where the version has the user's
        report("name_clusters", advance=0, names=naming["names"])
    if set(earlier.get("names", [])) == set(naming["names"]):
        return {"naming": naming}
    if lost:  # the user's renames and splits had gone unsaid (graph/run.py resume_run says them)
        report("name_clusters", edits_not_kept=lost, source=source, names=naming["names"])
    return {"naming": naming, "assignments": {RESET: True}, "scope": {}}


def propose_names(ctx: Context, criterion: Criterion, raw_labels: list[str], k: int,
                  cover: float | None = None, by_kind: bool = False) -> dict[str, Any]:
    """Step 2b over any list of raw labels (all images, or one cluster's when it is split). `cover`: the
    share names_from_counts needs (None: the names_cover setting; 0 for categories); `by_kind`: ties by kind.

    Returns the naming: names (exactly k), counts, kept and dropped labels, groups, attempts, source ("model"
    or "fallback"), problems of the failed tries, mode, prompt_hash, seconds, calls. A cached answer is reused.
    An error of the LLM call is not caught: it stops the run (the checkpoint keeps Steps 1 and 2a)."""
    settings = ctx.settings
    counts = count_labels(raw_labels)
    # K names are asked for even from fewer distinct labels (the method's Step 2b: the LLM may part a label, and a
    # small model's one label for every image had made one cluster); only a fallback short of K makes fewer clusters
    kept, dropped = trim_counts(counts, k, settings.min_label_count, settings.label_token_budget)
    cover = settings.names_cover if cover is None else cover
    told = criterion.instructions.get("name_clusters")  # the user's instruction for Step 2b: the LLM reads it
    from_counts = (names_from_counts(counts, k, cover, ctx.taxonomy if by_kind else None)
                   if settings.names_from_labels == "on" and not told else None)
    if from_counts is not None:
        naming = {"names": from_counts, "counts": dict(counts), "kept": kept, "dropped": dropped, "groups": [],
                  "attempts": 0, "source": "labels", "problems": [], "mode": "", "prompt_hash": "",
                  "asked_k": k, "asked_names": k, **short_of(from_counts, k)}
        trace("name_clusters", None, format_counts(kept), from_counts, "(label counts: no model)", 0.0, cached=False,
              source="labels",
              attempts=0)
        # said so by the CLI's progress line (a "1/1" bar had read as a call; results.json and the chat say 0 calls)
        report("name_clusters", advance=1, names=from_counts, stored=0, calls=0, no_call="from the labels' counts")
        return {**naming, "seconds": 0.0, "calls": 0}
    if settings.name_groups == "on" and len(kept) > k:  # one short call per embedding group (nodes/name_groups.py)
        return name_groups(ctx, criterion, counts, kept, dropped, k)
    # "auto" groups for every backend: endpoint users run small models too (issue 18)
    groups = group_labels(kept, k, ctx.embedder) if settings.group_labels != "off" else []
    rendered = render("name_clusters", criterion, label_counts=format_counts(kept),
                      groups=format_groups(groups, kept) if groups else "", k=k)
    key = step_key("name_clusters", ctx.llm_id, rendered, k=k, retries=settings.name_retries)
    if (hit := ctx.cached(key)) is not None:
        trace("name_clusters", None, prompt_text(rendered), hit["names"], ctx.llm_id, 0.0, cached=True)
        report("name_clusters", advance=1, names=hit["names"], stored=1, calls=0)
        return {**hit, "seconds": 0.0, "calls": 0}
    schema = {"type": "object", "properties": {"names": {"type": "array", "items": {"type": "string"}}},
              "required": ["names"], "additionalProperties": False}
    conversation = to_messages(rendered)
    best: list[str] = []
    problems: list[str] = []
    names: list[str] | None = None
    with Timer() as timer:
        for _ in range(settings.name_retries):
            with ctx.model_call():
                try:
                    content, mode = ctx.llm_json.invoke(conversation, schema, "cluster_names", max_tokens=40 * k + 40)
                except recoverable_errors() as exc:
                    _stop_if_too_long(exc, ctx, len(kept), 40 * k + 40)
                    raise
            distinct, problem = check_names(parse_names(content), k)
            if problem is None:
                names = distinct
                break
            problems.append(problem)
            if abs(len(distinct) - k) < abs(len(best) - k) or not best:
                best = distinct
            conversation = conversation + to_messages([("assistant", content)]) + to_messages(
                render("name_clusters_retry", criterion, step="name_clusters", problem=problem, k=k))
    source = "model" if names is not None else "fallback"
    names = names if names is not None else fallback_names(best, kept, k)
    naming = {"names": names, "counts": dict(counts), "kept": kept, "dropped": dropped, "groups": groups,
              "attempts": len(problems) + (source == "model"), "source": source, "problems": problems, "mode": mode,
              "prompt_hash": prompt_hash(rendered), "asked_k": k, "asked_names": k, **short_of(names, k)}
    ctx.remember(key, "name_clusters", naming)
    trace("name_clusters", None, prompt_text(rendered), naming["names"], ctx.llm_id, timer.seconds, cached=False,
          source=source, attempts=naming["attempts"], problems=problems, mode=mode)
    report("name_clusters", advance=1, names=naming["names"], stored=0, calls=naming["attempts"])
    return {**naming, "seconds": timer.seconds, "calls": naming["attempts"]}


def _stop_if_too_long(exc: BaseException, ctx: Context, labels: int, cap: int) -> None:
    """Raises SystematicFailureError naming Step 2b, the LLM's context and the ways out when `exc` (the names
    call's error) says the request is longer than the LLM's context; returns otherwise. The run had stopped with
    "the model endpoint failed" and the server's sentence, no step and no setting named (vllm_ctx_names)."""
    said = context_overflow(exc)
    if not said:
        return
    budget = ctx.settings.label_token_budget
    raise SystematicFailureError(
        "Step 2b (name clusters)",
        f"the names request (the list of {labels} labels, and {cap} tokens for the answer) is longer than the "
        f"LLM '{ctx.llm_id}' takes in its context ({said})",
        f"lower ICTC_LABEL_TOKEN_BUDGET (now {budget}: the label list is cut, rarest first, to fit it), or set "
        "ICTC_NAME_GROUPS=on (one short call per group of labels), or give the LLM a longer context on the server "
        "(vLLM --max-model-len, llama.cpp -c, Ollama num_ctx)")
