"""A folder's own labels file (labels.csv kept beside the images): found and checked once, by one rule for the chat
(a folder chosen, ui/sources.from_folder) and the command line (`ictc run FOLDER` without --labels)."""

from __future__ import annotations

from pathlib import Path

from ictc.core.errors import UsageError
from ictc.evaluation.labels import check_labels_name_images

OWN_LABELS = "labels.csv"  # the name `ictc samples`, the bench and people's own folders use


def own_labels(folder: str | Path, paths: list[str]) -> tuple[str | None, str]:
    """The labels file of the image folder `folder` (its labels.csv) for scoring a run of `paths` (image paths).

    Returns (its path, "") when it is there and names at least one of `paths`; (None, why) when it is there but
    cannot be read or names none of them, `why` the one line naming the file (check_labels_name_images), so the
    run goes on without metrics; (None, "") when the folder has none or `folder` is not a folder. Raises nothing."""
    labels = Path(folder) / OWN_LABELS
    if not labels.is_file():
        return None, ""
    try:
        check_labels_name_images(str(labels), paths)
    except UsageError as exc:
        return None, str(exc)
    return str(labels), ""
