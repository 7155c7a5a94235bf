"""Export a run as one folder per cluster. Folder names come from model text, so they are made safe:
no path separators, no `..`, no control characters, bounded length, unique."""

from __future__ import annotations

import json
import posixpath
import re
import shutil
import unicodedata
from pathlib import Path

from ictc.core.errors import UsageError
from ictc.core.images import file_path
from ictc.evaluation.outputs import read_json, write_atomic


def safe_folder_name(name: str, taken: set[str]) -> str:
    """A file or folder name made from `name`: NFKC-normalised, separators, control and reserved characters
    and `..` replaced by `_`, at most 80 characters, "cluster" when nothing is left, and " (2)", " (3)" ...
    appended until it is not in `taken` (lower-cased names). Adds the result, lower-cased, to `taken`."""
    text = unicodedata.normalize("NFKC", name)
    text = re.sub(r"[\x00-\x1f\x7f/\\:*?\"<>|]", "_", text).strip().strip(".")
    text = re.sub(r"\.{2,}", "_", text)[:80].strip() or "cluster"
    candidate, n = text, 2
    while candidate.lower() in taken:
        candidate, n = f"{text} ({n})", n + 1
    taken.add(candidate.lower())
    return candidate


def safe_file_name(name: str, taken: set[str]) -> str:
    """safe_folder_name for a file: the name without its extension is made safe and unique, the extension
    (made safe, at most 16 characters) kept last, so a second IMG_0001.png is "IMG_0001 (2).png" (it had been
    "IMG_0001.png (2)", which no viewer opens). Adds the result, lower-cased, to `taken`."""
    stem, suffix = posixpath.splitext(name)
    suffix = re.sub(r"[^\w.-]", "_", unicodedata.normalize("NFKC", suffix))[:16]
    if not stem.strip().strip(".") or not suffix:
        return safe_folder_name(name, taken)
    used = {t[: -len(suffix)] for t in taken if t.endswith(suffix.lower())}  # stems taken with this extension
    file_stem = safe_folder_name(stem, used)
    taken.add(f"{file_stem}{suffix}".lower())
    return f"{file_stem}{suffix}"


def cluster_files(run_dir: Path) -> tuple[dict[str, str], list[tuple[Path, str]]]:
    """The export's layout from the run's results.json: ({cluster name: folder name}, [(image file,
    "folder/file name")]) for every clustered image of a cluster in `cluster_names` (failed images and other
    clusters are left out). File names are made safe and unique within their folder, in the rows' order.
    Raises UsageError naming `run_dir` when it holds no results.json (not a run folder, or a run stopped before its
    results: `ictc export` had said "No such file or directory: .../results.json"); OSError if it cannot be read."""
    if not (run_dir / "results.json").is_file():
        raise UsageError(f"{run_dir} has no results yet (its run stopped before them): `ictc resume {run_dir}` "
                         "finishes it" if (run_dir / "run.json").is_file() else
                         f"{run_dir} is not a run folder (no run.json)")
    results = read_json(run_dir / "results.json")
    taken: set[str] = set()
    folders = {name: safe_folder_name(name, taken) for name in results["cluster_names"]}
    in_folder: dict[str, set[str]] = {name: set() for name in folders}  # names used so far, lower-cased
    files = [(Path(file_path(row["image"])),  # results hold the shown path (core/images.py)
              f"{folders[row['cluster']]}/{safe_file_name(Path(row['image']).name, in_folder[row['cluster']])}")
             for row in results["images"] if row["status"] == "ok" and row["cluster"] in folders]
    return folders, files


WRITTEN = ".ictc-export.json"  # beside clusters.json: the files an export wrote, which a re-export replaces


def export_clusters(run_dir: Path, out: Path) -> dict[str, Path]:
    """Copies each clustered image into out/<cluster>/ and writes out/clusters.json (name -> folder name).
    `out` is new, empty, or an earlier ictc export (its clusters.json): that export's images are removed first
    (clear_export), so its cluster folders are replaced, not left beside the new ones.

    Returns {cluster name: folder}. Failed images and clusters not in `cluster_names` are left out.
    Raises UsageError if `out` holds files but no earlier export, or a folder would land outside `out`;
    OSError if results.json or an image is missing."""
    return replace_export(run_dir, out)[0]


def replace_export(run_dir: Path, out: Path) -> tuple[dict[str, Path], list[str], list[str]]:
    """export_clusters, with what it did to an earlier export in `out`: ({cluster name: folder}, the earlier
    export's folders it removed, those it left as they hold files ictc did not write), each list in the earlier
    clusters.json's order, a folder the new export uses again left out. Why: the CLI had said the removed folders
    from a listing read before the export, not from the clearing's own work. Raises as export_clusters."""
    names, files = cluster_files(run_dir)
    removed, left = clear_export(out)
    out.mkdir(parents=True, exist_ok=True)
    folders = {name: out / folder for name, folder in names.items()}
    for folder in folders.values():
        if folder.resolve().parent != out.resolve():  # never outside the export folder
            raise UsageError(f"cluster folder {folder} would leave {out}")
        folder.mkdir(exist_ok=True)
    write_atomic(out / WRITTEN, json.dumps({"files": [target for _, target in files]}, indent=1, ensure_ascii=False))
    for source, target in files:
        shutil.copyfile(source, out / target)
    write_atomic(out / "clusters.json", json.dumps(names, indent=2, ensure_ascii=False))
    now = set(names.values())
    return folders, [f for f in removed if f not in now], [f for f in left if f not in now]


def clear_export(out: Path) -> tuple[list[str], list[str]]:
    """Removes what an earlier export into `out` wrote: the files its WRITTEN list names, then the folders its
    clusters.json names when left empty; any other file stays. Nothing is done to a missing or empty folder.
    Returns (the folder names it removed, those it left as they still hold files), in clusters.json's order.
    Raises UsageError naming `out` when it holds files but no earlier export (no readable clusters.json of
    {name: folder}), or an export made before the WRITTEN list (its own files cannot be told from a user's):
    nothing in it is changed."""
    if not out.is_dir() or not any(out.iterdir()):
        return [], []
    try:
        folders = read_json(out / "clusters.json")
    except (OSError, ValueError):
        folders = None
    if not isinstance(folders, dict) or not all(isinstance(f, str) for f in folders.values()):
        raise UsageError(f"{out} is not empty and holds no earlier ictc export (no clusters.json): give a new or "
                         "empty folder (nothing in it was changed)")
    dirs = [out / f for f in folders.values() if f and (out / f).resolve().parent == out.resolve() and (out / f).is_dir()]
    try:
        written = [out / f for f in read_json(out / WRITTEN)["files"]]
    except (OSError, ValueError, KeyError, TypeError):  # an export from before the list: which files are its own
        # cannot be told from images a user put in its folders since, so none is deleted
        raise UsageError(f"{out} holds an export made before ictc listed the files it writes: empty it or give a "
                         "new folder (nothing in it was changed)") from None
    for path in written:
        if path.resolve().parent.parent == out.resolve():  # only inside a cluster folder of `out`
            path.unlink(missing_ok=True)
    removed: list[str] = []
    left: list[str] = []
    for folder in dirs:
        if not any(folder.iterdir()):
            folder.rmdir()
        (left if folder.exists() else removed).append(folder.name)
    return removed, left


def zip_clusters(run_dir: Path) -> bytes:
    """The export above as zip bytes (stored, not compressed): one folder per cluster, plus clusters.json,
    results.csv and results.json. Each image is read into the archive from its own file (no copy first).
    Raises OSError if results.json or an image is missing."""
    import io
    import zipfile

    names, files = cluster_files(run_dir)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for folder in names.values():
            archive.writestr(f"{folder}/", b"")  # an empty cluster keeps its folder, as in export_clusters
        for source, target in files:
            archive.write(source, target)
        archive.writestr("clusters.json", json.dumps(names, indent=2, ensure_ascii=False))
        for name in ("results.csv", "results.json"):
            archive.write(run_dir / name, name)
    return buffer.getvalue()
