"""What flows between nodes. Per-image results are dicts keyed by the image path, merged as tasks finish.

Checkpoints: every field that grows with the image set is a `DeltaChannel`, so a checkpoint holds a
marker for it, not its value; the value is rebuilt from the tasks' writes, which the checkpointer stores
once each. Plain fields would be written whole at every window of every step: the checkpoint database
then grew with the square of the set (25 KB per image at 4,000 images; bench/checkpoints.py)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any, TypedDict, get_origin, get_type_hints

from langgraph.channels.delta import DeltaChannel

RESET = "__reset__"  # see nodes/actions.py


def merge(current: dict[str, Any] | None, updates: Sequence[dict[str, Any] | None]) -> dict[str, Any]:
    """Per-image results arrive task by task and are merged; an update marked RESET replaces instead.
    Folded over a batch of updates (as a DeltaChannel replays them), copying the current value once."""
    merged = dict(current or {})
    for update in updates:
        if update and update.get(RESET):
            merged = {k: v for k, v in update.items() if k != RESET}
        else:
            merged.update(update or {})
    return merged


def latest(current: Any, updates: Sequence[Any]) -> Any:
    """A field that is set, not merged: the last update wins."""
    return updates[-1]


Merged: DeltaChannel[dict[str, Any]] = DeltaChannel(merge)
Latest: DeltaChannel[Any] = DeltaChannel(latest)


def primaries(images: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Each image path -> the first path with the same content: twins are processed once."""
    first: dict[str, str] = {}
    return {i["path"]: first.setdefault(i["sha256"], i["path"]) for i in images}


def files_of(images: Sequence[Mapping[str, Any]], paths: Iterable[str]) -> tuple[int, int]:
    """(files, twins): how many image files of `images` (ImageItem-like dicts) the per-image results keyed by
    `paths` stand for, and how many of those files share their content with another (identical files, asked
    once). Results are keyed by the first path of each content (primaries), so a result counts once per file
    with its content. Why: messages had counted contents ("Step 3 on the 2 images" of a cluster of 5 files)."""
    per_content = Counter(primaries(images).values())
    counts = [per_content.get(p, 1) for p in set(paths)]  # a path no image has (a test's state): one file
    return sum(counts), sum(n for n in counts if n > 1)


def clusterable(images: Sequence[Mapping[str, Any]], failures: Mapping[str, Mapping[str, str]]) -> tuple[int, int, int]:
    """(files, contents, failed): how many image files of `images` (ImageItem-like dicts) can be clustered, how many
    distinct contents those are (identical files are one image to Step 2b and Step 3), and how many files cannot, as
    they failed before Step 3 (`failures`, path -> step, reason: read, describe or label; a Step-3 failure is asked
    again). Why: a K change of a run with one broken file had said "Step 3 on 22 images" where 21 could be, and K was
    allowed up to the files chosen, broken and identical ones too."""
    first = primaries(images)
    failed = {p for p, f in failures.items() if f.get("step") != "assign"}
    kept = [p for p in first if first[p] not in failed and p not in failed]
    return len(kept), len({first[p] for p in kept}), len(first) - len(kept)


def images_said(state: Mapping[str, Any]) -> str:
    """The images a step redone on a run's `state` works on, in words: "21 images", with the files that failed before
    Step 3 said apart ("21 images, 1 failed image left out"); see clusterable."""
    files, _, failed = clusterable(state["images"], state.get("failures", {}))
    out = f", {failed} failed image{'s' if failed != 1 else ''} left out" if failed else ""
    return f"{files} image{'s' if files != 1 else ''}{out}"


def k_range_error(state: Mapping[str, Any], k: int) -> str:
    """Why `k` is no K for a run's `state` ("" when it is one): K runs from 2 to the distinct images that can be
    clustered (see clusterable), the identical files and the failed ones said when they make the bound smaller."""
    files, contents, failed = clusterable(state["images"], state.get("failures", {}))
    if 2 <= k <= contents:
        return ""
    return f"K must be between 2 and the {distinct_said(files, contents, failed)}, not {k}"


def distinct_said(files: int, contents: int, failed: int, images: str = "images") -> str:
    """The bound of K in words: "8 images", or "7 distinct images (9 files, identical ones counted once; 1 more
    failed)" when identical files or failed ones make it fewer than the files chosen (`files` do not count the
    `failed`; `images`: the noun, "readable images")."""
    why = [f"{files} files, identical ones counted once"] if files > contents else []
    why += [f"{failed} more failed"] if failed else []
    return f"{contents} {'distinct ' if files > contents else ''}{images}" + (f" ({'; '.join(why)})" if why else "")


def twins_said(twins: int) -> str:
    """The note after a count of images when `twins` of them are identical files ("" when none)."""
    return f", {twins} of them identical files asked once" if twins else ""


class ImageItem(TypedDict):
    """One input image: its path as given and the SHA-256 of its bytes (twins share it)."""

    path: str
    sha256: str


class RunInput(TypedDict, total=False):
    """What a run starts from: the images, the criterion, K, and whether to pause for review."""

    images: Annotated[list[ImageItem], Latest]
    criterion: dict[str, Any]  # prompts.Criterion.to_dict()
    n_clusters: int
    review: bool  # pause for the user after Step 2b and after Step 3
    failures: Annotated[dict[str, dict[str, str]], Merged]  # path -> step, reason (files unreadable from the start)
    # issue 21 (nodes/propose_k.py, user_names.py): n_clusters 0 = K proposed after Step 2a; "ask" pauses for
    # the user's pick, "best" takes the best candidate; the user's own names skip Step 2b; other adds "other"
    k_pick: str
    user_names: list[str]
    other: bool


class RunState(RunInput, total=False):
    """A run's whole state: the input plus every step's per-image results and the naming."""

    descriptions: Annotated[dict[str, dict[str, Any]], Merged]  # path -> text, seconds, prompt_hash
    labels: Annotated[dict[str, dict[str, Any]], Merged]  # path -> raw, label, reasked, seconds
    naming: dict[str, Any]  # names, counts, dropped, groups, attempts, source, problems
    assignments: Annotated[dict[str, dict[str, Any]], Merged]  # path -> cluster, route, answer, seconds
    scope: Annotated[dict[str, list[str]], Latest]  # path -> the names Step 3 may choose from (after a split)
    review_error: str  # why the last review answer could not be applied
    split: dict[str, Any]  # cluster, n: a split planned for the name_split node ({} when none is pending)
    k_choice: dict[str, Any]  # proposal (candidates with reasons), chosen, by ("best" | "user")
    coarsen: dict[str, Any]  # n: a coarsening planned for the coarsen node ({} when none is pending)


def merged_fields() -> tuple[str, ...]:
    """The state fields whose updates are merged (the ones a RESET update must replace)."""
    hints = get_type_hints(RunState, include_extras=True)
    return tuple(name for name, hint in hints.items() if get_origin(hint) is Annotated and hint.__metadata__[-1] is Merged)


class BatchTask(TypedDict, total=False):
    """The payload one fan-out task receives through `Send`."""

    items: list[dict[str, Any]]  # path, sha256, and what the step reads (description; names for Step 3)
    criterion: dict[str, Any]
    stored: dict[str, str]  # Step 1: the chunk's descriptions already stored, key -> text (looked up at once)
