"""WordNet's noun hierarchy put to Step 2b (setting label_kinds): a label that is a kind of another label of the
run joins it ("pony" joins "horse", "bullfrog" joins "frog", when both are labels of the run) before the labels
are counted; in the category step, a label others joined is its own category (kinds_as_categories), and a category
above two or more others of the run yields to the label's own word (general_categories_yield). With setting
category_kinds, a category WordNet contradicts gives way to the run's category above the label (categories_by_kind)
and categories join their kinds (category_joins); with name_ties_by_kind, ties for the last names go by likeness
to the names chosen (names_by_kind)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from ictc.models.wordnet import Taxonomy
from ictc.nodes.label_counts import normalize_label

MAX_LABELS_PER_CLUSTER = 3  # more distinct labels than this many per cluster asked for: no joins (kind_joins)
MAX_KIND_SHARE = 2.0  # a kind may carry at most this many times an even cluster's share of the images (kind_joins)


def labels_near_k(counts: Mapping[str, int], k: int) -> bool:
    """Whether WordNet's kinds apply to a run whose normalized Step-2a labels are `counts` (label -> images) for
    `k` clusters: the distinct labels are at most MAX_LABELS_PER_CLUSTER times `k`. Labels near K in number are
    kinds at about the clusters' level (15-18 labels for the 8 classes of the CIFAR photos), where a label's kind
    is a better name than the category a small LLM gives it; many more (46-48 for the 6 coarse kinds of the emoji
    captions) say the clusters are categories above them, which the category step gives, and there a joined label
    takes its kind's category ("tennis ball" -> ball -> "ball" where its own was "sports") and WordNet puts a
    racquet under equipment, not sport: emoji-60-s1 fell from 0.95 to 0.75 (README "Quality with small models",
    thirteenth pass)."""
    return len(counts) <= MAX_LABELS_PER_CLUSTER * k


def kind_joins(counts: Mapping[str, int], k: int, taxonomy: Taxonomy) -> dict[str, str]:
    """Which labels join another label of the run as its kind.

    `counts`: normalized Step-2a label -> images carrying it; `k`: the clusters asked for.
    A label's meaning is its most frequent noun sense in `taxonomy` (the first-sense rule of word-sense
    disambiguation: WordNet lists senses by their frequency in its tagged corpus); a label that is no noun of it
    joins nothing and nothing joins it. A label joins the label of the run whose sense is its nearest hypernym
    (fewest hops); labels of one sense (synonyms: "toad" is a lemma of WordNet's frog) join the one most images
    carry. A kind takes all its sub-kinds at once, the most specific kinds first, and only while at least `k`
    distinct labels remain: "animal" beside cat, dog and horse on a K = 8 set of CIFAR photos would leave fewer
    than 8, so it takes none of them; beside goat, cow and ant on a K = 6 set of coarse kinds it takes all.
    Chains follow: when "horse" joins "animal", "pony", which had joined "horse", goes to "animal" too. A kind
    takes its sub-kinds only while it carries at most MAX_KIND_SHARE times an even cluster's share of the images
    (n / k): a word far above the others ("vehicle", Step 2a's label for one lorry among 20 CIFAR photos) would
    take every kind under it (jetliner, hatchback, dump truck, boat: 7 of 20 images for K = 8), which is the
    category step's work, not a specific word finding its kind.

    Returns {label: the label it joins} (both normalized, as in `counts`); {} when nothing joins.
    Why: a 0.5B LLM gives the specific word (pony, lorry, bullfrog) where the description says it, and asked for
    its category answers inconsistently (horse -> animal, bullfrog -> dog); README "Quality with small models",
    thirteenth pass."""
    senses = {label: sense for label in counts if (sense := taxonomy.sense(label))}
    above = {label: taxonomy.ancestors(sense) for label, sense in senses.items()}
    # the target a label would join: the run label whose sense is its nearest hypernym (or its own sense)
    nearest: dict[str, str] = {}
    for label, hops in above.items():
        found = []
        for other, sense in senses.items():
            if other == label or sense not in hops:
                continue
            if hops[sense] == 0 and _rank(other, counts, taxonomy.head(sense)) < _rank(label, counts, taxonomy.head(sense)):
                continue  # synonyms join the one most images carry, else the sense's head word
            found.append((hops[sense], -counts[other], other))
        if found:
            nearest[label] = min(found)[2]
    into: dict[str, str] = {}  # label -> the label it has joined so far (chains resolved by _final)
    # the most specific kinds first: a target's depth is its fewest hops to the hierarchy's root, approximated by
    # how many senses lie above it
    targets = sorted(set(nearest.values()), key=lambda t: (-len(above[t]), t))
    most = MAX_KIND_SHARE * sum(counts.values()) / k
    for target in targets:
        subs = [label for label, t in nearest.items() if t == target and _final(into, label) != _final(into, target)]
        trial = {**into, **{label: target for label in subs}}
        carried = sum(n for label, n in counts.items() if _final(trial, label) == _final(trial, target))
        if subs and len({_final(trial, label) for label in counts}) >= k and carried <= most:
            into = trial
    return {label: _final(into, label) for label in into}


def _rank(label: str, counts: Mapping[str, int], head: str) -> tuple[int, bool, str]:
    """How strongly `label` stands for its sense among synonyms: images carrying it, being the sense's `head`
    word, then alphabetical (so that one of two synonyms is always the higher)."""
    return counts[label], label == head, label


def _final(into: Mapping[str, str], label: str) -> str:
    """`label` followed through `into` (label -> the label it joined) to the label it ends with."""
    seen = {label}
    while label in into and into[label] not in seen:
        label = into[label]
        seen.add(label)
    return label


def with_kind(record: dict[str, Any], kinds: Mapping[str, str]) -> dict[str, Any]:
    """A copy of Step-2a `record` whose raw label is the label it joined by `kinds` (normalized label -> the label
    it joins, kind_joins), its own label kept as "specific"; `record` itself when its label joins nothing."""
    joined = kinds.get(normalize_label(record.get("raw", "")))
    return {**record, "raw": joined, "specific": record.get("raw", "")} if joined else record


def kinds_as_categories(categories: Mapping[str, str], kinds: set[str]) -> tuple[dict[str, str], dict[str, str]]:
    """The category step's answers (nodes/label_categories.py) with each label of `kinds` (the labels other labels
    joined, kind_joins' values) as its own category: labels joined it as their kind, so it is at the run's level
    already, and a category above it would take its sub-kinds up with it.

    `categories`: normalized label -> the category the LLM gave it. Returns (the categories, {label: the category
    it had}, for the labels whose category changed). Why: Qwen 0.5B put dog, frog and horse, each joined by its
    sub-kinds (pug; bullfrog, toad; pony), under "animal" beside cat under "cat", and the four classes shared one
    cluster (README "Quality with small models", thirteenth pass)."""
    changed = {label: category for label, category in categories.items()
               if label in kinds and normalize_label(category) != label}
    return {**categories, **{label: label for label in changed}}, changed


MIN_BELOW = 2  # a category above this many other categories of the run is too general for it (general_categories_yield)


def general_categories_yield(categories: Mapping[str, str], taxonomy: Taxonomy) -> tuple[dict[str, str], dict[str, str]]:
    """The category step's answers with each category that `taxonomy` puts above at least MIN_BELOW other
    categories of the run (first senses) replaced, for the labels that have it, by the label itself: categories
    at two levels at once ("animal" for horse and bird beside "cat" and "frog"; "vehicle" for car and truck beside
    "boat" and "plane") split the run unevenly, and the finer level is the one the other labels stand at.

    `categories`: normalized label -> the category the LLM gave it. Returns (the categories, {label: the category it
    had}, for the labels whose category changed). A category one other category is under stays (aircraft beside
    plane: a near-synonym, not a level). Why: on a CIFAR description written after label_kinds was built
    (cifar10-20-rich-f), Qwen 0.5B's categories made clusters "animal" (bird, dog, horse) and "vehicle" (car, truck)
    beside cat, frog, boat and plane (README "Quality with small models", thirteenth pass)."""
    senses = {c: s for c in {normalize_label(c) for c in categories.values()} - {""} if (s := taxonomy.sense(c))}
    above = {c: taxonomy.ancestors(s) for c, s in senses.items()}
    general = {c for c, s in senses.items()
               if sum(1 for d, t in senses.items() if d != c and t != s and s in above[d]) >= MIN_BELOW}
    changed = {label: category for label, category in categories.items()
               if normalize_label(category) in general and normalize_label(category) != label}
    return {**categories, **{label: label for label in changed}}, changed


def category_joins(categories: Mapping[str, str], counts: Mapping[str, int], k: int,
                   taxonomy: Taxonomy) -> tuple[dict[str, str], dict[str, str]]:
    """The category step's answers with each category that is a kind of another category of the run joined to it,
    as kind_joins joins labels (the categories counted by the images their labels carry, `counts`: normalized
    label -> images; `k` clusters): "jet" joins "plane" (WordNet: a jet is an airplane, whose lemmas are airplane,
    aeroplane and plane), and the two images count as one category.

    `categories`: normalized label -> its category. Returns (the categories, {label: the category it had}, for the
    labels whose category changed). Why: Qwen 0.5B gave "jet" and "plane" as two categories of one image each on
    cifar10-20-rich-c; ties of one image were broken by the alphabet, and "bird" took the last name (README
    "Quality with small models", fourteenth pass)."""
    per_category: dict[str, int] = {}
    for label, category in categories.items():
        if (word := normalize_label(category)):
            per_category[word] = per_category.get(word, 0) + counts.get(label, 0)
    into = kind_joins(per_category, k, taxonomy)
    moved = {label: into[word] for label, category in categories.items() if (word := normalize_label(category)) in into}
    return {**categories, **moved}, {label: categories[label] for label in moved}


def categories_at_kinds_level(categories: Mapping[str, str], kinds: Mapping[str, str], taxonomy: Taxonomy,
                              by_kind: bool = True, counts: Mapping[str, int] | None = None,
                              k: int = 0) -> tuple[dict[str, str], dict[str, str]]:
    """The category step's answers (`categories`: normalized label -> the LLM's category) after kind_joins' `kinds`
    (label -> the label it joined): kinds_as_categories; when `by_kind` (setting category_kinds) categories_by_kind
    and, given the labels' image `counts` and `k`, category_joins; then general_categories_yield (last, so that a
    label moved under a category too general for the run yields to its own word). Returns (the categories,
    {label: the category the LLM had given it} for every label whose category changed)."""
    own, changed = kinds_as_categories(categories, set(kinds.values()))
    nearer, moved = categories_by_kind(own, taxonomy) if by_kind else (own, {})
    joined, rejoined = category_joins(nearer, counts, k, taxonomy) if by_kind and counts and k else (nearer, {})
    level, yielded = general_categories_yield(joined, taxonomy)
    return level, {**changed, **{label: categories[label] for label in {**moved, **rejoined, **yielded}}}


def categories_by_kind(categories: Mapping[str, str], taxonomy: Taxonomy) -> tuple[dict[str, str], dict[str, str]]:
    """The category step's answers with each label whose category `taxonomy` puts neither at nor above it given,
    instead, the nearest category of the run that it does put at or above it (first senses; a label of several
    words that is no noun of it is read by its last word, English's head of a compound: "passenger ferry" as a
    ferry), and only a category nearer the label than where the label and the LLM's category meet in the hierarchy
    (boat stays a sailboat's category beside "vehicle": WordNet's sailboat is a vessel, as is its boat). A label
    no category of the run is above keeps the LLM's answer, and so does one whose category is no noun of
    `taxonomy`: a grouping WordNet does not know ("warm" for red, in colour temperature) is not WordNet's to undo,
    nor one it puts in another branch than the label, the two meeting at its root alone ("red" for "red car", "two"
    for "two cats", "joy" for "happy child"): the LLM grouped by a colour, a count or a mood, which WordNet's kinds
    of the label's head noun know nothing of (one image labelled "car" under "vehicle" had taken every "red car",
    "blue car" and "red truck" of a colour run to "vehicle").

    `categories`: normalized label -> the category the LLM gave it. Returns (the categories, {label: the category
    it had}, for the labels whose category changed). Why: Qwen 0.5B put "passenger ferry" under "car" on four of
    eight descriptions of the CIFAR photos and "cabin cruiser" under "car" on a fifth, beside "boat", which WordNet
    puts above both (not "lorry" under "car" beside "truck": WordNet's first lorry is a horse-drawn wagon; README
    "Quality with small models", fourteenth pass)."""
    senses = {c: s for c in {normalize_label(c) for c in categories.values()} - {""} if (s := taxonomy.sense(c))}
    changed: dict[str, str] = {}
    moved: dict[str, str] = {}
    for label, category in categories.items():
        sense = sense_or_head(label, taxonomy)
        if sense is None:
            continue
        hops = taxonomy.ancestors(sense)
        given = senses.get(normalize_label(category))
        if given is None or given in hops:
            continue  # the LLM's category is the label's kind or above it, or WordNet cannot say ("warm"): kept
        # how near the label and the LLM's category meet (sailboat and boat: both vessels, 2 hops up): only a
        # category nearer than that is a better kind (not "vehicle" for a sailboat)
        shared = taxonomy.ancestors(given)
        if all(len(taxonomy.ancestors(s)) == 1 for s in hops if s in shared):
            continue  # they meet at WordNet's root alone: the LLM grouped by another dimension ("red" for "red car")
        meet = min((n for s, n in hops.items() if s in shared), default=len(hops) + 1)
        above = sorted((hops[s], c) for c, s in senses.items() if s in hops and hops[s] < meet)
        if above:
            changed[label], moved[label] = category, above[0][1]
    return {**categories, **moved}, changed


def sense_or_head(label: str, taxonomy: Taxonomy) -> str | None:
    """The first sense of `label` in `taxonomy`, or for a label of several words that is no noun of it, that of its
    last word (English's head of a compound: "passenger ferry" is a ferry); None when neither is a noun."""
    return taxonomy.sense(label) or (taxonomy.sense(label.split()[-1]) if " " in label.strip() else None)


def names_by_kind(ordered: list[tuple[str, int]], k: int, taxonomy: Taxonomy) -> list[str]:
    """The `k` names from `ordered` (normalized label or category -> images, most images first, ties in the
    alphabet's order; at least `k` of them) where ties at the k-th place are broken by kind: one at a time, the
    tied word whose sense (sense_or_head) shares the most specific hypernym with a name already chosen (specificity:
    how many senses lie above it, as kind_joins orders kinds), so that the last names are of the kinds the others
    are; the alphabet among equals, and for words that are no noun. A tied word that is a kind of a name already
    chosen (or its synonym) comes last: "crimson" beside "red" would be a cluster inside red's (kind_joins leaves it
    apart when red carries more than MAX_KIND_SHARE allows), and "green" had lost the last name to it.

    The likeness is Wu and Palmer's (1994): the depth of the two senses' most specific common hypernym. Why: on
    the CIFAR photos a category of one image had to be chosen among four or five of one image each ("boat, box,
    dog, fisherman, truck" for the last two of K = 8), and the alphabet took "box" over "dog" and "cargo" over
    "truck" (README "Quality with small models", fourteenth pass)."""
    if k < 1:
        return []
    edge = ordered[k - 1][1]
    chosen = [word for word, n in ordered if n > edge]
    tied = [word for word, n in ordered if n == edge]
    senses = {word: sense_or_head(word, taxonomy) for word in chosen + tied}
    above = functools.cache(taxonomy.ancestors)

    def likeness(word: str) -> int:
        mine = senses[word]
        if mine is None:
            return -1
        if any(senses[name] in above(mine) for name in chosen):
            return -2  # a kind of a name already chosen (crimson beside red) would name a cluster inside its cluster
        return max((len(above(common)) for name in chosen if (theirs := senses[name]) is not None
                    for common in above(mine).keys() & above(theirs).keys()), default=-1)

    while len(chosen) < k:
        best = max(tied, key=lambda word: (likeness(word), -tied.index(word)))
        chosen.append(best)
        tied.remove(best)
    return chosen
