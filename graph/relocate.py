"""A run's image folder moved or renamed before `ictc resume`: checked before any step (the images it still needs
had each failed "not a readable image (No such file or directory)" and Step 2b named the clusters from the rest),
and `ictc resume RUN --images NEWFOLDER` points the run at the folder's new place."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ictc.core.errors import UsageError
from ictc.core.images import hash_or_reason
from ictc.nodes.state import RESET

PATH_KEYED = ("descriptions", "labels", "assignments", "failures")  # the merged per-image records, by path


def check_folder(meta: dict[str, Any], run_dir: Path) -> None:
    """Raises UsageError, in one line naming the folder and the fix, when the folder the run was started on (run.json
    `source`) is gone. Nothing for a run of a list of paths, or from before `source` was recorded."""
    if not meta.get("source"):
        return
    given, absolute = meta["source"]
    if not os.path.isdir(absolute):
        raise UsageError(f"the run's image folder {absolute} is gone (moved or renamed?): give its new place with "
                         f"`ictc resume {run_dir} --images NEWFOLDER`, or put it back (nothing was done)")


def check_images_found(meta: dict[str, Any], run_dir: Path, paths: list[str], what: str,
                       stored: Callable[[], bool] | None = None) -> None:
    """Raises UsageError, in one line naming an image and the fix, when none of `paths` (the run's image paths, as
    `ictc run` was given them) is a file from here; `what` is the work refused ("redo Step 1"). The folder gone is
    said as check_folder says it; else the paths are relative to the folder the run was started from (a refine or
    an audit from elsewhere had every image fail "No such file" and left the run stopped). Nothing when one of them
    is found (a few missing files fail alone, named), or when `stored()` says every answer the work needs is in the
    store (asked only then: it reads no file)."""
    if not paths or any(os.path.isfile(path) for path in paths):  # stops at the first found: one stat as a rule
        return
    if stored is not None and stored():
        return
    check_folder(meta, run_dir)
    fix = (f"run ictc from the folder the run was started in, or give the images' place with "
           f"`ictc resume {run_dir} --images {meta['source'][1]}`" if meta.get("source")
           else "run ictc from the folder the run was started in, or put the images back")
    raise UsageError(f"cannot {what}: none of the run's {len(paths)} images is found from here (e.g. {paths[0]}): "
                     f"{fix} (nothing was done)")


def moved_to(meta: dict[str, Any], state: dict[str, Any], folder: str | Path) -> tuple[dict[str, Any], str]:
    """The state update that points the run of `meta` (run.json) and `state` at `folder`, the new place of its
    image folder, and a line saying what was found there. Each image is matched by its path relative to the old
    folder and checked by its content hash: one whose content differs gets the new hash and its records dropped
    (it is done again from what it holds now); one not found keeps its old path (it fails alone, named).
    Sets meta["source"] to the new folder. Raises UsageError when `folder` is no folder, the run was not started on
    a folder, or `folder` holds none of the run's images."""
    if not os.path.isdir(folder):
        raise UsageError(f"--images {folder}: no such folder")
    if not meta.get("source"):
        raise UsageError("--images: this run was started on a list of files, not on a folder; nothing to move")
    given = meta["source"][0]
    renamed: dict[str, str] = {}
    changed: set[str] = set()
    items = []
    for item in state.get("images", []):
        new = os.path.join(str(folder), os.path.relpath(item["path"], given))
        if not os.path.isfile(new):
            items.append(item)
            continue
        digest, _ = hash_or_reason(new)
        renamed[item["path"]] = new
        if digest and digest != item["sha256"]:
            changed.add(item["path"])
        items.append({"path": new, "sha256": digest or item["sha256"]})
    if not renamed:
        raise UsageError(f"--images {folder} holds none of the run's {len(items)} images (looked for them by their "
                         f"paths under {given}); nothing was done")
    update: dict[str, Any] = {"images": items}
    for field in PATH_KEYED:
        records = state.get(field) or {}
        update[field] = {RESET: True} if field == "failures" else {  # failed images are tried again, as a resume does
            RESET: True, **{renamed.get(p, p): r for p, r in records.items() if p not in changed}}
    if isinstance(state.get("scope"), dict):
        update["scope"] = {renamed.get(p, p): names for p, names in state["scope"].items()}
    meta["source"] = [str(folder), os.path.abspath(folder)]
    missing = len(items) - len(renamed)
    said = (f"images now read from {os.path.abspath(folder)}: {len(renamed)} of {len(items)} found"
            + (f", {len(changed)} with other content (done again)" if changed else "")
            + (f", {missing} missing (they fail, named)" if missing else ""))
    return update, said
