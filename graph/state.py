"""What flows between nodes. Per-image results are dicts keyed by the image path, merged as tasks finish."""

from __future__ import annotations

from typing import Annotated, Any, TypedDict, get_origin, get_type_hints

RESET = "__reset__"  # see graph/actions.py


def merge(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    """Per-image results arrive task by task and are merged; an update marked RESET replaces instead."""
    if right and right.get(RESET):
        return {k: v for k, v in right.items() if k != RESET}
    return {**(left or {}), **(right or {})}


def primaries(images: list[dict[str, Any]]) -> dict[str, str]:
    """Each image path -> the first path with the same content: twins are processed once."""
    first: dict[str, str] = {}
    return {i["path"]: first.setdefault(i["sha256"], i["path"]) for i in images}


class ImageItem(TypedDict):
    path: str
    sha256: str


class RunInput(TypedDict, total=False):
    images: list[ImageItem]
    criterion: dict[str, Any]  # prompts.Criterion.to_dict()
    n_clusters: int
    review: bool  # pause for the user after Step 2b and after Step 3
    failures: Annotated[dict[str, dict[str, str]], merge]  # path -> step, reason (files unreadable from the start)


class RunState(RunInput, total=False):
    descriptions: Annotated[dict[str, dict[str, Any]], merge]  # path -> text, seconds, prompt_hash
    labels: Annotated[dict[str, dict[str, Any]], merge]  # path -> raw, label, reasked, seconds
    naming: dict[str, Any]  # names, counts, dropped, groups, attempts, source, problems
    assignments: Annotated[dict[str, dict[str, Any]], merge]  # path -> cluster, route, answer, seconds
    scope: dict[str, list[str]]  # path -> the names Step 3 may choose from (after a split)
    review_error: str  # why the last review answer could not be applied


def merged_fields() -> tuple[str, ...]:
    """The state fields whose updates are merged (the ones a RESET update must replace)."""
    hints = get_type_hints(RunState, include_extras=True)
    return tuple(name for name, hint in hints.items() if get_origin(hint) is Annotated)


class BatchTask(TypedDict, total=False):
    """The payload one fan-out task receives through `Send`."""

    items: list[dict[str, Any]]  # path, sha256, and what the step reads (description; names for Step 3)
    criterion: dict[str, Any]
