"""A chat message read by the configured LLM with structured output (prompts/intent.txt), its answer checked
against the clusters; ui/intent.py asks it when the rules are not sure of their reading."""

from __future__ import annotations

from typing import Any

from ictc.models.structured import parse_json_object
from ictc.nodes.actions import Merge, Remove, Rename, Split
from ictc.prompts import Criterion, render
from ictc.ui.chat_words import cluster_named, preset_of
from ictc.ui.intent import Intent
from ictc.ui.wording import clean_criterion

INTENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "intent": {"type": "string", "enum": ["go", "request", "instruction", "merge", "split", "rename", "remove",
                                                 "unclear"]},
        "criterion": {"type": "string"}, "k": {"type": "integer"}, "instruction": {"type": "string"},
        "clusters": {"type": "array", "items": {"type": "string"}}, "new_name": {"type": "string"},
        "parts": {"type": "integer"},
    },
    "required": ["intent", "criterion", "k", "instruction", "clusters", "new_name", "parts"],
    "additionalProperties": False,
}


def read_by_llm(llm_json: Any, text: str, names: list[str], criterion: str) -> Intent:
    """The LLM's reading, validated; raises ValueError when it is unusable (the caller falls back)."""
    situation = "clusters exist; the user may refine them" if names else "no clusters yet; the user is setting up a run"
    rendered = render("intent", Criterion(criterion or "(not set yet)"), situation=situation, message=text,
                      clusters=", ".join(f"{i}: {n}" for i, n in enumerate(names, 1)) or "(none)")
    from ictc.nodes.common import to_messages

    content, _ = llm_json.invoke(to_messages(rendered), INTENT_SCHEMA, "intent", max_tokens=200)
    data = parse_json_object(content)
    if data is None or data.get("intent") not in INTENT_SCHEMA["properties"]["intent"]["enum"]:
        raise ValueError(f"unusable intent answer: {content[:80]!r}")
    kind, targets = data["intent"], [str(c) for c in data.get("clusters") or []]
    k, wanted = _as_int(data.get("k")), clean_criterion(str(data.get("criterion") or ""))
    if kind == "go":
        return Intent("go", source="llm")
    if kind == "instruction" and str(data.get("instruction") or "").strip():
        return Intent("request", instructions=[str(data["instruction"]).strip()], source="llm")
    if kind == "request" and (wanted or k):
        return Intent("request", criterion=wanted, k=k, preset=preset_of(wanted), source="llm")
    if kind == "merge" and len(targets) >= 2:
        return Intent("change", action=Merge((cluster_named(targets[0], names), cluster_named(targets[1], names)),
                                             str(data.get("new_name") or "").strip()), source="llm")
    if kind == "split" and targets:
        parts = str(data.get("parts")).strip()  # a count under 2 is kept, for the split to refuse it (not made 2)
        return Intent("change", action=Split(cluster_named(targets[0], names), _as_int(parts) if parts.isdigit() else 2),
                      source="llm")
    if kind == "remove" and targets:
        return Intent("change", action=Remove(cluster_named(targets[0], names)), source="llm")
    if kind == "rename" and targets and str(data.get("new_name") or "").strip():
        return Intent("change", action=Rename(cluster_named(targets[0], names), str(data["new_name"]).strip()),
                      source="llm")
    raise ValueError(f"the LLM read {kind!r} without what it needs")


def _as_int(value: Any) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0
