"""Two-level labels (setting label_levels): a specific label and a general category per image (`on`: the plain
label, and its category by a short call per distinct label, nodes/label_categories.py; `json`: one JSON answer
in Step 2a); Step 2b and Step 3 use the level whose number of distinct values is nearest K (at the category
level the K most frequent categories are the names, without a call: nodes/name_clusters.py)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from ictc.models.structured import parse_json_object
from ictc.nodes.context import Context, recoverable_errors
from ictc.nodes.label_counts import normalize_label

SCHEMA = {"type": "object", "properties": {"label": {"type": "string"}, "category": {"type": "string"}},
          "required": ["label", "category"], "additionalProperties": False}
LABEL, CATEGORY = "label", "category"


def read_levels(content: str, clean: Any, max_words: int) -> tuple[str, str]:
    """(specific label, category) from a JSON answer, each cleaned by `clean` (nodes/label.clean_label) and cut
    to `max_words` words; an answer that is no JSON object is taken as the label alone (category "")."""
    parsed = parse_json_object(content)
    if parsed is None:
        label, category = clean(content), ""
    else:
        label, category = clean(str(parsed.get("label", ""))), clean(str(parsed.get("category", "")))
    cut = [" ".join(text.split()[:max_words]) for text in (label, category)]
    return cut[0] or cut[1], cut[1]


def ask_levels(ctx: Context, asks: list[list], clean: Any) -> list[dict[str, Any] | BaseException]:
    """One JSON call per conversation in `asks` (the label_levels prompt) through the structured-output path;
    no re-ask (each level is cut to label_max_words). Returns per conversation {"raw", "category", "reasked",
    "first_reply"} or the recoverable exception its call raised."""
    settings = ctx.settings
    answers: list[dict[str, Any] | BaseException] = []
    for ask in asks:
        try:
            with ctx.model_call():
                content, _ = ctx.llm_json.invoke(ask, SCHEMA, "label", max_tokens=3 * settings.label_max_tokens)
        except recoverable_errors() as exc:
            answers.append(exc)
            continue
        raw, category = read_levels(content, clean, settings.label_max_words)
        answers.append({"raw": raw, "category": category, "reasked": False, "first_reply": content})
    return answers


def level_label(record: dict[str, Any], level: str, categories: dict[str, str] | None = None) -> str:
    """An image's label at `level` ("label" or "category") from its Step-2a record: at the category level the
    record's own category (label_levels=json), else its label's entry in `categories` (normalized label ->
    category, Step 2b's naming["label_categories"] with label_levels=on), else the specific label."""
    raw = record.get("raw", "")
    if level != CATEGORY:
        return raw
    return record.get("category") or (categories or {}).get(normalize_label(raw)) or raw


MAX_CATEGORY_SHARE = 0.5  # as nodes/assign.MAX_LABEL_SHARE: one category for most images says nothing (K > 2)


def choose_level(records: list[dict[str, Any]], k: int) -> str:
    """The level Step 2b names from: "category" when every record carries one, the distinct normalized
    categories are at least `k` (K names can come from them), their number is strictly nearer `k` than the
    number of distinct specific labels, and (when `k` > 2) no one category is carried by more than half the
    records; else "label".

    Why: a coarse set's specific labels ("goat", "jeans": 48 distinct for K = 6) are too fine and their
    categories are nearer K; the 20 CIFAR photos' specific labels are the fine classes (15 distinct for K = 8)
    and their 4 categories (animal, vehicle...) too few for K, so the labels stay (Qwen 0.5B, bench/text_quality.py).
    SmolLM2-135M answered 36 of 48 emoji labels' categories with the prompt's own words ("most general everyday
    category"): a category most images share names no kind."""
    records = [r for r in records if normalize_label(r.get("raw", ""))]  # an empty label (no answer) has no category
    if not records or not all(r.get("category") for r in records):
        return LABEL
    distinct = {level: len({normalize_label(level_label(r, level)) for r in records}) for level in (LABEL, CATEGORY)}
    nearer = abs(distinct[CATEGORY] - k) < abs(distinct[LABEL] - k)
    top = Counter(normalize_label(level_label(r, CATEGORY)) for r in records).most_common(1)[0][1]
    dominated = k > 2 and top / len(records) > MAX_CATEGORY_SHARE
    return CATEGORY if distinct[CATEGORY] >= k and nearer and not dominated else LABEL
