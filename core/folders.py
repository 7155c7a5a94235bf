"""Finding the images in a folder (walked with os.walk), and saying every other file and folder left out, and why."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ictc.core.errors import UsageError
from ictc.core.images import file_path, is_image_name, shown_path, shown_text

# suffixes a Pillow plugin (core/images.py PLUGINS) decodes -> the hint a skipped file of that kind gets (README "Usage")
PLUGIN_HINTS = {suffix: f"; installing {package} decodes it (pip install {package})"
                for package, suffixes in (("pillow-heif", (".heic", ".heif", ".hif")), ("pillow-jxl-plugin", (".jxl",)),
                                          ("pillow-avif-plugin", (".avif", ".avifs")))
                for suffix in suffixes}


@dataclass
class ImageListing:
    """What a folder holds: the image paths taken (shown form, sorted) and every other file with the
    reason it was skipped ({path: reason})."""

    paths: list[str]
    skipped: dict[str, str] = field(default_factory=dict)


def list_images(source: str | Path | list[str]) -> list[str]:
    """A folder (searched recursively, sorted) or an explicit list of paths, in their shown form."""
    return scan_images(source).paths


# folders of copies and metadata that systems keep beside the photos -> why they are left out; any other folder
# whose name starts with "." is hidden (an app's or a system's own: .Trashes, .stversions, .picasaoriginals ...)
SYSTEM_FOLDERS = {"@eadir": "Synology's thumbnails and metadata (copies of the photos)",
                  "__macosx": "macOS metadata from a zip archive", "#snapshot": "a NAS's snapshots (copies)",
                  "@recycle": "a NAS's recycle bin (QNAP)", "#recycle": "a NAS's recycle bin (Synology)",
                  "@__thumb": "QNAP's thumbnails (copies of the photos)", "$recycle.bin": "Windows' recycle bin",
                  "recycler": "Windows' recycle bin", "system volume information": "Windows' system folder",
                  "lost+found": "a file system's recovered fragments"}  # keys compared case-folded
HIDDEN_FOLDER = "a hidden folder (a system's or an app's own: trash, versions, thumbnails)"
# ictc's own outputs inside the photo folder (`ictc run .` writes runs/ there): the file each holds -> why left out.
# Names kept here, below evaluation/ which writes them (evaluation/outputs.py, evaluation/export.py WRITTEN).
ICTC_OUTPUTS = {"run.json": "an ictc run folder (its thumbnails and charts are no photos to cluster)",
                ".ictc-export.json": "an ictc export (copies of photos already clustered)"}
LABELS_FILE = "labels.csv"  # a folder's own labels (evaluation/folder_labels.py): found in any case, never a skipped image


def is_labels_file(name: str) -> bool:
    """True for a labels file's name as the folder's own labels are found: labels.csv in any case (Labels.csv)."""
    return name.casefold() == LABELS_FILE


def scan_images(source: str | Path | list[str]) -> ImageListing:
    """The images in a folder (searched recursively, sorted) or an explicit list of paths, and the
    files of the folder left out, each with its reason (a system folder of copies or metadata, SYSTEM_FOLDERS,
    or a hidden folder, once for the whole folder; a folder that cannot be read or entered, once; macOS's '._'
    files; Android's trash; a named pipe, socket or device; a link to a folder, which is not followed). Paths are
    in their shown_path() form. The folder is walked with os.walk and its onerror, since pathlib's rglob drops
    a folder it cannot read without a word.

    Raises UsageError when the folder does not exist or cannot be read, or when `source` is a file that is not
    an image (a labels file given as the image folder)."""
    if isinstance(source, list | tuple):
        return ImageListing([shown_path(p) for p in source])
    folder = Path(source)
    if not folder.exists():
        raise UsageError(f"image folder not found: {folder}")
    if not folder.is_dir():
        if folder.is_file() and is_image_name(folder):
            return ImageListing([shown_path(folder)])
        # 'ictc run labels.csv' had said "K=3 is more than the 1 images found"
        raise UsageError(f"not a folder (and not an image): {shown_path(folder)}")
    taken: list[str] = []
    skipped: dict[str, str] = {}

    def unreadable(exc: OSError) -> None:
        skipped[shown_path(exc.filename or folder)] = _folder_unreadable(exc)

    def join(here: str, name: str) -> str:  # as pathlib writes it: "x.png", not "./x.png", under the folder "."
        path = os.path.join(here, name)
        return path[2:] if top == "." else path

    top = os.fspath(folder)
    for here, dirs, files in os.walk(top, onerror=unreadable):
        for name in list(dirs):  # pruned in place: os.walk does not enter what is taken out
            path = join(here, name)
            if os.path.islink(path):  # not followed: said, not taken for a file
                dirs.remove(name)
                skipped[shown_path(path)] = "a link to a folder, not followed (give that folder itself)"
            elif output := next((why for mark, why in ICTC_OUTPUTS.items() if os.path.isfile(os.path.join(path, mark))),
                                None):  # an earlier run's thumbnails had been taken as photos by the next run
                dirs.remove(name)
                skipped[shown_path(path)] = output
            elif name.casefold() in SYSTEM_FOLDERS or name.startswith("."):
                # a NAS's or an archive's own copies (Synology's @eaDir thumbnails: 8 photos had become 24 images)
                dirs.remove(name)
                if _has_entries(path):
                    skipped[shown_path(path)] = SYSTEM_FOLDERS.get(name.casefold(), HIDDEN_FOLDER)
        files_here: list[tuple[str, str, os.stat_result]] = []
        for name in files:
            path = join(here, name)
            try:
                files_here.append((name, path, os.lstat(path)))
            except PermissionError as exc:
                # a folder whose names can be listed (r) but not entered (no x): not one of its files can be
                # opened (its first file's PermissionError had aborted the whole run)
                dirs.clear()
                unreadable(PermissionError(exc.errno, exc.strerror, here))
                files_here = []
                break
            except FileNotFoundError:
                continue  # removed since the folder was listed
            except OSError as exc:  # a name too long for the file system, an I/O error: this file alone
                skipped[shown_path(path)] = f"cannot read the file ({shown_text(str(exc.strerror or exc))})"
        for name, path, info in files_here:
            if is_labels_file(name):  # the labels, not a skipped image ("Labels.csv: not an image format")
                continue
            reason = _file_skipped(name, path, info)
            if reason:
                skipped[shown_path(path)] = reason
            else:
                taken.append(shown_path(path))
    if skipped.get(shown_path(folder)):
        raise UsageError(f"cannot read the image folder {shown_path(folder)}: {skipped[shown_path(folder)]}")
    return ImageListing(sorted(taken), dict(sorted(skipped.items())))


SPECIAL_FILES = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
                 (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def _file_skipped(name: str, path: str, info: os.stat_result) -> str | None:
    """Why the file `name` at `path` (os.lstat `info`) is not taken as an image, or None when it is. A link is
    judged by what it points to; broken and looping links are taken, so that they are reported as failed
    rather than vanish."""
    if stat.S_ISLNK(info.st_mode):
        with contextlib.suppress(OSError):  # a broken link keeps its own lstat
            info = os.stat(path)
    kind = next((said for test, said in SPECIAL_FILES if test(info.st_mode)), None)
    if kind:  # reading a FIFO waits for a writer: never opened
        return f"{kind}, not a file"
    if name.startswith("._"):  # macOS's AppleDouble file beside each file copied to a foreign disk
        return "macOS metadata (AppleDouble '._' file), not an image"
    if name.startswith(".trashed-"):  # Android's trash keeps the photo's file, hidden
        return "Android's trash (a '.trashed-' file)"
    if is_image_name(name):
        return None
    suffix = Path(name).suffix
    hint = PLUGIN_HINTS.get(suffix.lower(), "")
    return f"not an image format the installed Pillow decodes ({f'{suffix!r}' if suffix else 'no suffix'}){hint}"


def _folder_unreadable(exc: OSError) -> str:
    """The skipped reason of a folder os.walk could not list or enter (`exc`: its error)."""
    why = shown_text(str(exc.strerror or exc))
    return f"a folder that cannot be read ({why}): its files are left out"


def _has_entries(path: str) -> bool:
    """True when the folder at `path` holds anything, or cannot be listed (an empty hidden folder is not said)."""
    try:
        with os.scandir(path) as entries:
            return next(entries, None) is not None
    except OSError:
        return True


def entries_said(paths: Iterable[str]) -> str:
    """How many files and folders `paths` (shown_path form, as ImageListing.skipped lists them) are, in words:
    "3 files", "1 file and 2 folders". A folder is one that is a folder now; a skipped system folder had been
    counted as a file."""
    entries = list(paths)
    folders = sum(os.path.isdir(file_path(p)) for p in entries)
    files = len(entries) - folders
    said = [f"{n} {kind}{'s' if n != 1 else ''}" for n, kind in ((files, "file"), (folders, "folder")) if n]
    return " and ".join(said) or "0 files"


