"""The clusters an image was in before the coarser levels made since (nodes/coarsen.py records them, the levels tree
reads them: evaluation/groupings.py). No langgraph import here: the chat app's first paint draws the tree."""

from __future__ import annotations

from typing import Any


def formers(assignment: dict[str, Any]) -> list[str]:
    """The clusters an image's `assignment` was in before the coarser levels made since, the latest first ([] when
    none; [fine] for one made before "formers" was recorded)."""
    return list(assignment.get("formers") or ([assignment["fine"]] if assignment.get("fine") else []))
