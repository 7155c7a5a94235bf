"""Two-level labels from the plain labels (setting label_levels=on): each distinct Step-2a label gets a general
category by one short call, so the specific labels stay exactly as the plain `label` prompt gives them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from ictc.nodes.common import Timer, call_each, prompt_text, report, to_messages, trace
from ictc.nodes.context import Context
from ictc.nodes.label import clean_label
from ictc.nodes.label_counts import normalize_label
from ictc.nodes.label_levels import CATEGORY, ask_levels, choose_level
from ictc.prompts import Criterion, render
from ictc.store.keys import step_key


def needs_categories(records: list[dict[str, Any]], k: int) -> bool:
    """Whether categories could change Step 2b: only when the distinct normalized labels outnumber `k`. A
    label's category is one value, so there are never more categories than labels, and the category level
    is chosen only with at least `k` of them strictly nearer `k` (nodes/label_levels.choose_level)."""
    return len({normalize_label(r.get("raw", "")) for r in records} - {""}) > k


def _categories_by_call(ctx: Context, kind: str, route: str, prompts: dict[str, list[tuple[str, str]]],
                        ask: Callable[[list[list[Any]]], list[str | BaseException]]) -> tuple[dict[str, str], int]:
    """The category of each label of `prompts` (label -> its rendered prompt), from the step cache under `kind`
    or by `ask` (conversations -> one category or the recoverable exception of its call, in order) for the
    rest, each new answer stored; every answer traced in Step 2b with `route`, and the calls counted.

    Returns ({label: category, "" when the call failed}, model calls)."""
    settings = ctx.settings
    limits = {"max_tokens": settings.label_max_tokens, "max_words": settings.label_max_words}
    found: dict[str, str] = {}
    todo = []
    for label, rendered in prompts.items():
        key = step_key(kind, ctx.llm_id, rendered, **limits)
        if (hit := ctx.cached(key)) is not None:
            found[label] = hit["category"]
            trace("name_clusters", None, prompt_text(rendered), hit["category"], ctx.llm_id, 0.0, cached=True,
                  route=route, label=label)
        else:
            todo.append((label, key, rendered))
    with Timer() as timer:
        answers = ask([to_messages(r) for _, _, r in todo]) if todo else []
    for (label, key, rendered), answer in zip(todo, answers, strict=True):
        failed = isinstance(answer, BaseException)
        found[label] = "" if isinstance(answer, BaseException) else answer
        if not failed:
            ctx.remember(key, kind, {"category": found[label]})
        trace("name_clusters", None, prompt_text(rendered), str(answer) if failed else found[label], ctx.llm_id,
              timer.seconds / len(todo), cached=False, route=route, label=label, failed=failed)
    report("name_clusters", stored=len(prompts) - len(todo), calls=len(todo))  # counted; no progress bar moves
    return found, len(todo)


def label_categories(ctx: Context, criterion: Criterion, labels: list[str]) -> tuple[dict[str, str], int]:
    """One category per distinct normalized label of `labels` (the `label_category` prompt, a plain one-line
    answer cleaned as a Step-2a label and cut to label_max_words; answers from the step cache reused).

    Returns ({normalized label: category, "" when the call failed or the answer was empty}, model calls).
    A recoverable error leaves that label without a category (it then keeps
    its specific label at the category level); anything else propagates."""
    settings = ctx.settings

    def ask(conversations: list[list[Any]]) -> list[str | BaseException]:
        replies = call_each(ctx, ctx.llm, conversations, max_tokens=settings.label_max_tokens, stop=["\n"])
        return [r if isinstance(r, BaseException) else " ".join(clean_label(str(r)).split()[: settings.label_max_words])
                for r in replies]

    prompts = {label: render("label_category", criterion, step="label", label=label)
               for label in sorted({normalize_label(x) for x in labels} - {""})}
    return _categories_by_call(ctx, "label_category", "category", prompts, ask)


def with_categories(records: list[dict[str, Any]], categories: dict[str, str]) -> list[dict[str, Any]]:
    """Copies of Step-2a `records` carrying their label's category from `categories` (normalized label ->
    category); a record whose label has none keeps its specific label as its category."""
    return [{**r, "category": categories.get(normalize_label(r.get("raw", ""))) or r.get("raw", "")} for r in records]


def _distinct(records: list[dict[str, Any]], mapping: dict[str, str]) -> int:
    """How many distinct normalized categories `records` have under `mapping` (with_categories' rule)."""
    return len({normalize_label(r["category"]) for r in with_categories(records, mapping)} - {""})


def _second_looks(ctx: Context, criterion: Criterion, labels: list[str],
                  descriptions: dict[str, str]) -> tuple[dict[str, str], int]:
    """The category of each normalized label of `labels` read from the description of one image carrying it
    (`descriptions`: normalized label -> description): the `label_levels` prompt, one JSON answer {label,
    category} through the structured-output path, kept in the step cache under "label_category_again" (so
    a label looked at once, for any reason, is never asked twice).

    Returns ({label: category, "" when the call failed or gave none}, model calls)."""

    def ask(conversations: list[list[Any]]) -> list[str | BaseException]:
        return [a if isinstance(a, BaseException) else a["category"] for a in ask_levels(ctx, conversations, clean_label)]

    prompts = {label: render("label_levels", criterion, step="label", description=descriptions[label])
               for label in labels}
    return _categories_by_call(ctx, "label_category_again", "category again", prompts, ask)


def reask_repeats(ctx: Context, criterion: Criterion, mapping: dict[str, str],
                  descriptions: dict[str, str]) -> tuple[dict[str, str], int]:
    """A second look (_second_looks) for each label of `mapping` (normalized label -> category) whose category
    is no more general than the label (the same normalized word, or none) and that no other label has as its
    category, when `descriptions` (normalized label -> the description of one image carrying it) has one; its
    category taken when it is another word.

    Returns (a copy of `mapping` with those categories replaced, model calls). A recoverable error or an
    answer that repeats the label leaves the first category. Why: asked "the most general everyday category
    that 'destroyer' belongs to", Qwen 0.5B gives "destroyer" back; asked about "A destroyer." in the JSON
    form it answers "vehicle" (README "Quality with small models", fourth pass, continued)."""
    # a word that is also another label's category is general already ("animal" for goat): no second look
    shared = Counter(normalize_label(c) for c in mapping.values())
    asked = [label for label, category in sorted(mapping.items())
             if normalize_label(category) in ("", label) and label in descriptions and shared[label] <= 1]
    found, calls = _second_looks(ctx, criterion, asked, descriptions)
    lifted = dict(mapping)
    lifted.update({label: category for label, category in found.items() if normalize_label(category) not in ("", label)})
    return lifted, calls


def look_for_names(ctx: Context, criterion: Criterion, mapping: dict[str, str], names: list[str],
                   descriptions: dict[str, str]) -> tuple[dict[str, str], int]:
    """After Step 2b named the clusters from categories: a second look (_second_looks) for each label of
    `mapping` (normalized label -> category) whose category is none of `names` and that has a description in
    `descriptions`; where the answer's category is one of the names (normalized), the label goes to that name.
    The caller passes only labels carried by one image, so a look decides no image whose description it has
    not read (a label shared by a toy truck and a doll would otherwise follow the truck).

    Returns ({normalized label: name} for the labels placed this way, model calls). The names never change.
    Why: the images whose category is no name go to Step 3's choice over K names, which for one-line
    captions a 0.5B model gets wrong more often than the JSON look ("Shaved ice." -> sport, "Bikini." ->
    vehicle; the look said food and clothing): on five bench runs, of 67 such images the look named a
    cluster for 22 and was right 20 times, Step 3 17 times (README "Quality with small models", fifth pass)."""
    wanted = {normalize_label(n): n for n in names}
    asked = sorted(label for label, category in mapping.items()
                   if normalize_label(category) not in wanted and label in descriptions)
    found, calls = _second_looks(ctx, criterion, asked, descriptions)
    return {label: wanted[normalize_label(c)] for label, c in found.items() if normalize_label(c) in wanted}, calls


JOIN_MIN_LABELS = 2  # a category one other label has is as tentative as the one it would replace: "jet airliner" ->
# vehicle, which only "ship" had, took a CIFAR name from "plane" (cifar10-20-rich-d, README sixth pass)


def join_categories(ctx: Context, criterion: Criterion, mapping: dict[str, str], once: set[str],
                    descriptions: dict[str, str]) -> tuple[dict[str, str], dict[str, str], int]:
    """A category that only one label has, asked again: a second look (_second_looks) for each label of
    `mapping` (normalized label -> category) that one image carries (in `once`), whose category no other
    label has (or that has none), and that has a description in `descriptions`; the answer is taken when it
    is a category at least JOIN_MIN_LABELS other labels already have (spelt as theirs), so the label joins it.

    Returns (`mapping` with the joined labels' categories replaced, {label: category joined}, model calls).
    A failed call, an answer that repeats the label or names a category of no other label changes nothing.
    Why: a 0.5B model scatters the vehicles of a caption set over one-label categories (road, aircraft,
    medical, railway), so "vehicle" had 3 images and lost its name to "object" (5); asked about "A monorail.",
    "An ambulance.", "A helicopter." in the JSON form it answers "vehicle" (README "Quality with small
    models", sixth pass). Only labels of one image, as for the look: a look decides no image whose description
    it has not read."""
    carriers = Counter(normalize_label(c) for c in mapping.values())
    asked = sorted(label for label, category in mapping.items() if label in once and label in descriptions
                   and (not normalize_label(category) or carriers[normalize_label(category)] == 1))
    found, calls = _second_looks(ctx, criterion, asked, descriptions)
    spelt: dict[str, str] = {}  # normalized category -> as the first label (sorted) that has it spells it
    for _, category in sorted(mapping.items()):
        spelt.setdefault(normalize_label(category), category)
    joined: dict[str, str] = {}
    for label, category in found.items():
        wanted = normalize_label(category)
        others = carriers[wanted] - (normalize_label(mapping[label]) == wanted)  # the labels having it, but this one
        if wanted not in ("", label) and others >= JOIN_MIN_LABELS:
            joined[label] = spelt[wanted]
    return {**mapping, **joined}, joined, calls


def better_level(records: list[dict[str, Any]], now: dict[str, str], new: dict[str, str], k: int) -> bool:
    """Whether categories `new` make a category level (nodes/label_levels.choose_level) that `now` does not,
    or one with a number of distinct categories strictly nearer `k`."""
    if choose_level(with_categories(records, new), k) != CATEGORY:
        return False
    if choose_level(with_categories(records, now), k) != CATEGORY:
        return True
    return abs(_distinct(records, new) - k) < abs(_distinct(records, now) - k)


def fold_categories(records: list[dict[str, Any]], mapping: dict[str, str], k: int) -> tuple[dict[str, str], dict[str, str]]:
    """Categories that the model itself put under another category of the run, folded into it: a category word
    that is also a Step-2a label (in `mapping`, normalized label -> category) whose own category is another
    category the images carry, and is no label of a third (one step, no chains). "car" is the category of
    bicycle and jeep, and "car" as a label got "vehicle", the category of pickup and sedan: car folds into vehicle.

    Returns (`mapping` with the folded categories replaced, {category: the category it folds into}); both
    unchanged and {} when `mapping` makes no category level for `k` (nodes/label_levels.choose_level: the fold
    only acts on a run that names from categories), when nothing folds, or when the folded categories would
    make no category level. Why: with one category per label, a 0.5B model's sub-kinds (car, fruit)
    stand beside their kinds (vehicle, food) and take one of the K names: on two of seven sets "car" and
    "vehicle" were both names and the vehicles split between them (README "Quality with small models")."""
    if choose_level(with_categories(records, mapping), k) != CATEGORY:  # the fold never makes the level
        return mapping, {}
    own = {label: normalize_label(category) for label, category in mapping.items()}
    present = {normalize_label(r["category"]) for r in with_categories(records, mapping)} - {""}
    into = {c: own[c] for c in present
            if c in own and own[c] not in ("", c) and own[c] in present and own.get(own[c]) in (None, "", own[c])}
    folded = {label: into.get(normalize_label(category), category) for label, category in mapping.items()}
    if not into or choose_level(with_categories(records, folded), k) != CATEGORY:
        return mapping, {}
    return folded, into


def climb_categories(ctx: Context, criterion: Criterion, records: list[dict[str, Any]], k: int,
                     hops: int, descriptions: dict[str, str] | None = None) -> tuple[dict[str, str], int, int]:
    """Each distinct label's category (label_categories), then, up to `hops` times in all, the category of
    that category, kept only while it leaves at least `k` distinct categories strictly nearer `k` (the rule
    of nodes/label_levels.choose_level, one level up).

    With `descriptions` (normalized label -> one of its images' descriptions; setting category_reask=on), the
    labels whose category repeats them are asked again first (reask_repeats), and the answers are kept only
    when they make a category level or one strictly nearer `k` (better_level).

    Returns ({normalized label: its category at the highest level kept}, model calls, hops kept (1 or more)).
    Why: a category is a word of its own, and asking for its category may climb one more rung ("fishery" ->
    "natural habitat", "sport" -> "sports"). Measured with Qwen 0.5B it mostly repeats the word ("bird" ->
    "bird"), so it is off by default (category_hops=1; README "Quality with small models")."""
    mapping, calls = label_categories(ctx, criterion, [r.get("raw", "") for r in records])
    kept = 1
    if descriptions:  # category_reask=on: labels given back as their own category get a second look
        again, spent = reask_repeats(ctx, criterion, mapping, descriptions)
        calls += spent
        if better_level(records, mapping, again, k):  # CIFAR: "cat" -> animal leaves fewer than K: not kept
            mapping = again
    for hop in range(2, hops + 1):
        now = _distinct(records, mapping)
        if now <= k:  # a rung up can only merge further: never nearer K from here
            break
        upper, spent = label_categories(ctx, criterion, [c for c in mapping.values() if c])
        calls += spent
        lifted = {label: upper.get(normalize_label(category)) or category for label, category in mapping.items()}
        after = _distinct(records, lifted)
        if after < k or abs(after - k) >= abs(now - k):
            break
        mapping, kept = lifted, hop
    return mapping, calls, kept
