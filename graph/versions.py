"""A run's versions: each finished run or refinement is kept (results, the action, its checkpoint), and
what changed between two versions is reported as renamed clusters and images that moved."""

from __future__ import annotations

import csv
import fcntl
import json
import os
import shutil
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import compress, repeat
from operator import itemgetter, ne
from pathlib import Path
from typing import Any

from ictc.core.errors import UsageError
from ictc.evaluation.outputs import SUMMARY, read_summary, write_json


def load_meta(run_dir: Path) -> dict[str, Any]:
    """The run's run.json (thread id, saved settings, labels file, versions). Raises UsageError without one."""
    path = run_dir / "run.json"
    if not path.is_file():
        raise UsageError(f"{run_dir} is not a run folder (no run.json)")
    return json.loads(path.read_text("utf-8"))


def change_unrecorded(meta: dict[str, Any], latest_checkpoint_id: str | None) -> bool:
    """Whether run.json (`meta`) names a pending change whose writes reached the checkpoints (the run's latest
    checkpoint, `latest_checkpoint_id`, is not the last version's) without a version recording them. A pending
    change whose latest checkpoint is still the last version's was stopped before anything was written."""
    versions = meta.get("versions", [])
    return bool(meta.get("pending_action")) and bool(versions) and latest_checkpoint_id is not None and \
        latest_checkpoint_id != versions[-1]["checkpoint_id"]


def add_version(run_dir: Path, meta: dict[str, Any], action: str, checkpoint_id: str,
                restored_from: int | None = None) -> int:
    """Snapshot the current outputs as the next version; returns its number. `restored_from`: for an undo
    or a restore, the version whose state it brought back (the traces of that version's lineage are this
    one's: evaluation/traces.py lineage).

    The snapshot is a hard link where the file system allows (no copy of a results.json of 250,000 images):
    every output is replaced whole, never written in place (evaluation/outputs.py write_atomic), so a
    version's link keeps that version's content. Else a copy."""
    versions = meta.setdefault("versions", [])
    number = len(versions) + 1
    folder = run_dir / "versions" / f"v{number}"
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("results.json", SUMMARY, "results.csv", "report.html"):
        if name != SUMMARY or (run_dir / name).is_file():  # a run finished before the summary existed has none
            _snapshot(run_dir / name, folder / name)
    versions.append({"version": number, "action": action, "checkpoint_id": checkpoint_id,
                     **({"restored_from": restored_from} if restored_from else {})})
    write_json(run_dir / "run.json", meta)
    return number


def _snapshot(source: Path, target: Path) -> None:
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:  # no hard links here (another file system, FAT, some network shares)
        shutil.copyfile(source, target)


def version_summary(run_dir: Path, number: int) -> dict[str, Any]:
    """Version `number`'s results without the per-image rows (evaluation/outputs.py read_summary): its
    clusters with their sizes, history, calls. Raises OSError if the version has no results."""
    return read_summary(run_dir / "versions" / f"v{number}")



def version_clusters(run_dir: Path, number: int) -> dict[str, str]:
    """Image -> cluster ("" when none) of version `number`, read from its results.csv: at 250,000 images
    the version's results.json would be ~400 MB of rows in memory for the two columns a diff reads.
    Raises OSError if the file is absent."""
    with open(run_dir / "versions" / f"v{number}" / "results.csv", newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        image, cluster = header.index("image"), header.index("cluster")
        return {row[image]: row[cluster] for row in reader}


def clusters_before(rows: list[dict[str, Any]], moved_from: dict[str, str]) -> dict[str, str]:
    """Image -> cluster of the version a change started from (version_clusters' shape), from the change's
    `rows` (image_rows) and `moved_from` (first path of an image's content -> its cluster before, for the
    images the change moved: a rename or a merge moves no other): no earlier results.csv is read."""
    before = dict(zip(map(itemgetter("image"), rows), map(itemgetter("cluster"), rows), strict=True))
    before.update(moved_from)
    for twin in filter(itemgetter("same_as"), rows):  # a twin moved with the first image of its content
        if twin["same_as"] in moved_from:
            before[twin["image"]] = moved_from[twin["same_as"]]
    return before


# history entries whose new names are the user's own doing ("put the rest in 'other'": its "Other" made that group)
USER_NAMING = ("rename", "merge", "undo", "restore", "put the rest in")


def names_source(change: str) -> str:
    """Who gave the names after `change` (a results.json "history" entry, e.g. "criterion: mood"): "" for the
    user's rename, merge, undo or restore (a diff's renamed clusters are then renames), else what named the clusters
    afresh, "the new criterion", "the coarser level", "your categories" (--names) or "Step 2b", so that a re-naming
    is not reported as a rename (newcomers read
    "Renamed: First -> green" after a new criterion as something they had done)."""
    if change.startswith(USER_NAMING):
        return ""
    if change.startswith("group the names into"):  # nodes/actions.py describe_action of Coarser: no Step 2b ran
        return "the coarser level"
    if change.startswith("sort into"):  # SetNames: the user's own categories, no Step 2b ran (had said "Step 2b")
        return "your categories"
    return "the new criterion" if change.startswith("criterion") else "Step 2b"


def quoted_and(names: list[str]) -> str:
    """["a", "b", "c"] -> "'a', 'b' and 'c'": each name quoted as the history's "merge 'A' and 'B'" quotes it, so
    that a name holding "and", "," or "->" does not read as two."""
    quoted = [repr(name) for name in names]
    return f"{', '.join(quoted[:-1])} and {quoted[-1]}" if len(quoted) > 1 else "".join(quoted)


def went_to_said(old: str, new: str, moved: list[dict[str, Any]]) -> str:
    """Where the images of cluster `old` went when Step 2b named the clusters afresh and `new` is its name now
    (diff_from's "renamed"; `moved`: its "moved"): "the images of 'red' are all in 'Red'", or, when some moved
    elsewhere (a name back in another case keeps the cluster even when members changed), "the images of 'red' are
    in 'Red', but for the 30 that moved". A newcomer read "all in 'Red'" of a cluster half of which had gone to
    'Blue'."""
    gone = sum(1 for move in moved if move["from"] == old)
    return (f"the images of {old!r} are in {new!r}, but for the {gone} that moved" if gone
            else f"the images of {old!r} are all in {new!r}")


def as_given(names: list[str], change: str) -> list[str]:
    """`names` (clusters merged into one: diff_from's "merged") in the order `change` (the history entry, "merge
    'Red' and 'Green'") names them, the others after in their order: `--merge red green` had been said "green and
    red", larger first."""
    return sorted(names, key=lambda name: (change.find(repr(name)) % (len(change) + 1), names.index(name)))


def merges_kept_under_a_name(changes: dict[str, Any], change: str) -> tuple[dict[str, tuple[list[str], int]], list[dict[str, Any]]]:
    """A merge that kept one of its clusters' names (`refine --merge 1 2` without --into: the larger's), said as a
    merge, not as each image of the other cluster moved. `changes`: diff()'s; `change`: the history entry. Returns
    ({kept name: ([merged clusters in the change's order], images that joined)}, the moves left): ({}, all the
    moves) unless `change` is a merge and every moved image went from a cluster it names to one other it names."""
    moved = changes["moved"]
    named = {m[key] for m in moved for key in ("from", "to")}
    if not change.startswith("merge") or changes.get("merged") or not moved \
            or len({m["to"] for m in moved}) != 1 or not all(repr(name) in change for name in named):
        return {}, moved
    into = moved[0]["to"]
    return {into: (as_given(list(dict.fromkeys(m["from"] for m in moved)), change), len(moved))}, []


def diff(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> dict[str, Any]:
    """Clusters whose members are unchanged but whose name changed are renamed, and so are clusters whose
    name only changed case and clusters that went whole to a new name (merged, when several did: diff_from);
    every other image whose cluster changed has moved. `before`, `after`: result rows (image, cluster, ...).
    Returns {"renamed": {old: new}, "merged": {new: [old, ...]}, "moved": [{"image", "from", "to"}]}; time linear
    in the rows."""
    return diff_from({row["image"]: row["cluster"] for row in before}, after)


def diff_from(cluster_before: dict[str, str], after: list[dict[str, Any]]) -> dict[str, Any]:
    """diff() with the earlier version given as image -> cluster (version_clusters). Counts (before, after)
    cluster pairs: a cluster is renamed when all of its images, and only they, went to one other name (one that another
    cluster had before too: names swapped or reused); or when all
    of its images went to one name that did not exist before, with others or not; several such clusters under one
    new name are merged ({new: [old, ...]}), not renamed, and none of their images moved; or when its name is gone and
    most of its images went to a new name that holds mostly them (the others moved). The per-row work runs in
    map, zip and Counter, without a Python frame per row (a version of 250,000 images is compared after every
    rename)."""
    images, clusters = list(map(itemgetter("image"), after)), list(map(itemgetter("cluster"), after))
    olds = list(map(cluster_before.get, images, repeat("")))
    pairs = Counter(zip(olds, clusters, strict=True))
    old_size = Counter(cluster for cluster in cluster_before.values() if cluster)
    new_size: Counter[str] = Counter()
    for (_, new), count in pairs.items():
        if new:
            new_size[new] += count
    # the same members under another name are the same cluster renamed, even when its old name is now another
    # cluster's (renames that reuse names, then "go back to version 1", had reported 10 images moved 'green' -> 'red')
    renamed = {old: new for (old, new), count in pairs.items()
               if old and new and old != new and count == old_size[old] == new_size[new]}
    # an earlier cluster whose images all went to one name that is new is that cluster under its new name, even
    # when others joined it: two that went whole under one new name are a merge (each said old -> new), not all
    # their images moved (`refine -k 2` had listed the 4 reds and the 4 greens moved to "Red and green")
    renamed |= {old: new for (old, new), count in pairs.items() if old and new and old != new
                and old not in new_size and new not in old_size and count == old_size[old]}
    # a cluster whose name came back in another case only ("Red" -> "red" after Step 2b ran again) is the same
    # cluster renamed, even when some members changed: its images that stayed did not move (a newcomer saw
    # every one listed as moved)
    recased = {new.casefold(): new for new in new_size if new not in old_size}
    renamed |= {old: recased[old.casefold()] for old in old_size
                if old not in renamed and old not in new_size and old.casefold() in recased}
    # a cluster whose name is gone, most of whose images went to one name new to this version that holds mostly them,
    # is that cluster renamed though some members changed: going back from 'Warm' (red and blue merged, then renamed)
    # to 'Red' and 'Blue' had listed all 5 images as moved and the name change not at all
    taken = set(renamed.values())
    renamed |= {old: new for (old, new), count in pairs.items() if old and new and old not in renamed and new not in taken
                and old not in new_size and new not in old_size and 2 * count > old_size[old] and 2 * count > new_size[new]}
    named = {old: renamed.get(old, old) for old in set(olds)}  # each earlier cluster under its name now
    moved = compress(range(len(after)), map(ne, map(named.__getitem__, olds), clusters))
    # a merge is of clusters gone whole: one back in another case that lost images to a third is no part of it (a
    # newcomer read "the images of 'green' and 'blue' are all in 'Green'" where 7 of green's were in 'Red')
    merged = _merges({old: new for old, new in renamed.items() if pairs[old, new] == old_size[old]}, old_size)
    return {"renamed": {old: new for old, new in renamed.items() if new not in merged}, "merged": merged,
            "moved": [{"image": images[i], "from": olds[i], "to": clusters[i]} for i in moved]}


def _merges(renamed: dict[str, str], sizes: Counter[str]) -> dict[str, list[str]]:
    """The merges among clusters gone whole to new names (`renamed`, {old: new}): {new: [old, ...]} for each new
    name two or more of them went to, the larger first (`sizes`: old -> its images), then by name."""
    into: dict[str, list[str]] = {}
    for old, new in renamed.items():
        into.setdefault(new, []).append(old)
    return {new: sorted(olds, key=lambda old: (-sizes[old], old)) for new, olds in into.items() if len(olds) > 1}


@contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """One process at a time works on a run folder; a second one is refused at once, never interleaved.

    Raises UsageError when another process holds the folder's .lock."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise UsageError(f"run folder {run_dir} is busy: another ictc process is working on it") from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
