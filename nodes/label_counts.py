"""Step 2b's input: raw labels normalised, counted, trimmed to what the LLM can read, and pre-grouped."""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

from ictc.models.embed import TextEmbedder

_ARTICLE = re.compile(r"^(a|an|the)\s+")


def _singular(word: str) -> str:
    if len(word) <= 3 or word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "sses", "xes", "zes")):
        return word[:-2]
    return word[:-1] if word.endswith("s") else word


def normalize_label(raw: str) -> str:
    """Case, whitespace, punctuation, a leading article and a simple plural on the last word."""
    text = re.sub(r"[^\w\s'-]", " ", raw.lower()).replace("_", " ")
    words = _ARTICLE.sub("", " ".join(text.split())).split()
    if not words:
        return ""
    words[-1] = _singular(words[-1])
    return " ".join(words)


def count_labels(raw_labels: list[str]) -> Counter[str]:
    """Normalised label -> number of images with it; labels empty after normalising are left out."""
    return Counter(label for label in map(normalize_label, raw_labels) if label)


def _line(label: str, count: int) -> str:
    return f"- {label}: {count}"


def estimate_tokens(lines: list[str]) -> int:
    """About four characters a token for English; no tokenizer needed, same for every backend."""
    return sum(math.ceil((len(line) + 1) / 4) for line in lines)


def trim_counts(counts: Counter[str], k: int, min_count: int, token_budget: int) -> tuple[dict[str, int], dict[str, int]]:
    """Rule: sort by count (then alphabetically); drop labels below `min_count`, lowering it while fewer
    than K would survive; then drop the rarest until the list fits `token_budget`, keeping at least K.
    Returns (kept, dropped), both in that order."""
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    floor = min_count
    while floor > 1 and sum(1 for _, c in ordered if c >= floor) < k:
        floor -= 1
    kept = [(label, c) for label, c in ordered if c >= floor]
    while len(kept) > k and estimate_tokens([_line(*kv) for kv in kept]) > token_budget:
        kept.pop()
    kept_dict = dict(kept)
    dropped = {label: c for label, c in ordered if label not in kept_dict}
    return kept_dict, dropped


def format_counts(counts: dict[str, int]) -> str:
    """The counts as the prompt shows them: one "- label: count" line each, in the given order."""
    return "\n".join(_line(label, c) for label, c in counts.items())


def group_labels(counts: dict[str, int], k: int, embedder: TextEmbedder) -> list[list[str]]:
    """K groups of similar labels (average-linkage on embeddings), biggest first: a hint that lets a
    small LLM name groups instead of inventing a partition."""
    from sklearn.cluster import AgglomerativeClustering

    labels = list(counts)
    if len(labels) <= k:
        return [[label] for label in labels]
    vectors = embedder.embed(labels)
    assignment = AgglomerativeClustering(n_clusters=k, metric="cosine", linkage="average").fit_predict(vectors)
    groups: dict[int, list[str]] = {}
    for label, group in zip(labels, assignment, strict=True):
        groups.setdefault(int(group), []).append(label)
    return sorted(groups.values(), key=lambda g: (-sum(counts[x] for x in g), g[0]))


def format_groups(groups: list[list[str]], counts: dict[str, int]) -> str:
    """The groups as a paragraph for the Step-2b prompt: "Group i: label (count), ..." lines after a heading
    that calls them a suggestion. Raises KeyError for a label missing from `counts`."""
    lines = [f"Group {i}: " + ", ".join(f"{x} ({counts[x]})" for x in group) for i, group in enumerate(groups, 1)]
    return "\n\nThe same labels, grouped by similarity of meaning (a suggestion; regroup where it is wrong):\n" + "\n".join(lines)


def short_of(names: list[str], k: int, failed: int = 0) -> dict[str, Any]:
    """{"short": the sentence, "kinds": len(names)} when Step 2b found fewer than `k` distinct names (`names`), else
    {}: fewer clusters than K, said (evaluation/results.py warnings), rather than names invented to make up K.
    `failed`: images that failed before Step 2b; the kinds are then those of the images that got labels, and the
    way out is `ictc resume` (a smaller K had been advised while 3 red images had failed)."""
    if len(names) >= k:
        return {}
    n = len(names)
    kinds = f"{n} distinct kind{'s' if n != 1 else ''}, so {n} cluster{'s' if n != 1 else ''}, not K={k} (none invented)"
    if failed:
        return {"kinds": n, "short": f"Step 2b: the labels of the images that got one hold only {kinds}; {failed} "
                                     f"image{'s' if failed != 1 else ''} failed before getting a label (`ictc resume` "
                                     "retries them, and names the clusters again with their labels)"}
    # a smaller K is no way out of one kind (K is 2 at least: -k auto on look-alike images had been told to ask for one)
    way = "another criterion" if n < 2 else "a smaller K, or another criterion,"
    return {"kinds": n, "short": f"Step 2b: the images' labels hold only {kinds}: ask for {way} if that is not right"}
