"""A folder's own labels file (labels.csv kept beside the images): found and checked once, by one rule for the chat
(a folder chosen, ui/sources.from_folder) and the command line (`ictc run FOLDER` without --labels)."""

from __future__ import annotations

from pathlib import Path

from ictc.core.errors import UsageError
from ictc.core.folders import LABELS_FILE, is_labels_file
from ictc.evaluation.labels import check_labels_name_images


def own_labels_file(folder: str | Path) -> Path | None:
    """The folder's own labels file: its labels.csv, in any case (Labels.csv, LABELS.CSV: core/folders.is_labels_file),
    the exact name first; None when it has none or `folder` cannot be listed. Raises nothing."""
    exact = Path(folder) / LABELS_FILE  # the name `ictc samples`, the bench and people's own folders use
    if exact.is_file():
        return exact
    try:
        return next((p for p in sorted(Path(folder).iterdir()) if is_labels_file(p.name) and p.is_file()), None)
    except OSError:
        return None


def own_labels(folder: str | Path, paths: list[str]) -> tuple[str | None, str]:
    """The labels file of the image folder `folder` (its labels.csv, in any case: own_labels_file) for scoring a run of `paths` (image paths).

    Returns (its path, "") when it is there and names at least one of `paths`; (None, why) when it is there but
    cannot be read or names none of them, `why` the one line naming the file (check_labels_name_images), so the
    run goes on without metrics; (None, "") when the folder has none or `folder` is not a folder. Raises nothing."""
    labels = own_labels_file(folder)
    if labels is None:
        return None, ""
    try:
        check_labels_name_images(str(labels), paths)
    except UsageError as exc:
        return None, str(exc)
    return str(labels), ""
