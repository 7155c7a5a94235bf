"""Where a session's images come from: a folder on the server, uploaded files (with limits), or the
bundled sample photos. Each returns image paths and, when known, a labels file for the metrics."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from ictc.core.errors import UsageError
from ictc.core.folders import LABELS_FILE, entries_said, list_images, scan_images
from ictc.core.images import image_suffixes, is_image_name
from ictc.evaluation.export import safe_folder_name
from ictc.evaluation.folder_labels import own_labels, own_labels_file

MAX_UPLOAD_FILES = 1000
MAX_UPLOAD_FILE_MB = 20
MAX_UPLOAD_TOTAL_MB = 1000


@dataclass
class Chosen:
    """Images chosen for a session: their paths, the source in words, a labels file when there is one,
    and one line per file left out."""

    paths: list[str]
    source: str
    labels: str | None = None
    problems: list[str] = field(default_factory=list)  # one line per file left out, and why


def from_folder(text: str) -> Chosen:
    """The images under the folder named by `text` (a path typed by the user; ~ expanded), with its
    labels.csv when present (for the metrics) and every other file left out with the reason. A labels.csv that
    cannot be read or names none of the images is not taken (metrics off) and said as one of the problems: found
    now, not when the run starts (it had failed at go, the reading lost). Raises UsageError when the folder does not exist or holds no image."""
    folder = Path(text.strip()).expanduser()
    if folder.is_file():  # a newcomer's path to one image had been told "not found"
        raise UsageError(f"{folder} is a file: give the folder that holds the images ({folder.parent})")
    if not text.strip() or not folder.is_dir():
        raise UsageError(f"image folder not found: {text.strip() or '(empty)'}")
    listing = scan_images(folder)
    if not listing.paths:
        raise UsageError(f"no images found in {folder} ({entries_said(listing.skipped)} besides; looked for "
                         f"{' '.join(sorted(image_suffixes()))})")
    labels, refused = own_labels(folder, listing.paths)  # the same rule as `ictc run FOLDER` (evaluation/)
    problems = [f"{path}: {reason}" for path, reason in listing.skipped.items()]  # labels.csv is none of them
    if refused:
        problems.insert(0, f"{own_labels_file(folder) or folder / LABELS_FILE}: not used, metrics off ({refused})")
    return Chosen(listing.paths, f"folder {folder}", labels, problems)


def from_uploads(files: list[tuple[str, bytes]], folder: Path) -> Chosen:
    """Saves the accepted files under `folder` with safe, unique names; the rest are named with the reason."""
    folder.mkdir(parents=True, exist_ok=True)
    taken: set[str] = {p.name.lower() for p in folder.iterdir()}
    paths, problems, total = [], [], 0.0
    for index, (name, data) in enumerate(files):
        size_mb = len(data) / 2**20
        if index >= MAX_UPLOAD_FILES:
            problems.append(f"{len(files) - MAX_UPLOAD_FILES} more file(s) not added: the limit is {MAX_UPLOAD_FILES} files")
            break
        if not is_image_name(name):
            kind = f"'{Path(name).suffix}'" if Path(name).suffix else "no suffix"
            problems.append(f"{name}: not an image format the installed Pillow decodes ({kind})")
        elif size_mb > MAX_UPLOAD_FILE_MB:
            problems.append(f"{name}: {size_mb:.1f} MB; the limit is {MAX_UPLOAD_FILE_MB} MB per file")
        elif (problem := unreadable(data)) is not None:
            problems.append(f"{name}: {problem if not data else f'not an image ({problem})'}")
        elif total + size_mb > MAX_UPLOAD_TOTAL_MB:
            problems.append(f"{name}: not added, the uploads would pass {MAX_UPLOAD_TOTAL_MB} MB in all")
        else:
            target = folder / safe_folder_name(Path(name).name, taken)
            target.write_bytes(data)
            paths.append(str(target))
            total += size_mb
    # the files given, not those kept: "Images ready: 5 from 6 uploaded file(s)", the sixth named as left out
    return Chosen(paths, f"{len(files)} uploaded file(s)", None, problems)


DECODED_PIXELS = 25_000_000  # an upload declaring more is checked by its header alone (its decode is Step 1's)


def unreadable(data: bytes) -> str | None:
    """Why `data` is not an image Pillow can decode, or None when it is one: its header and structure checked, then
    its pixels decoded (a JPEG at 1/8 scale) unless it declares over DECODED_PIXELS. A truncated file whose header is
    whole had been taken, then failed at Step 1 with the chat saying to replace it "in the folder", one an uploader
    does not have."""
    from PIL import Image

    if not data:
        return "empty file (0 bytes)"
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
        with Image.open(io.BytesIO(data)) as image:  # verify() leaves the image unusable: opened again to decode
            if image.width * image.height <= DECODED_PIXELS:
                image.draft("RGB", (image.width // 8 or 1, image.height // 8 or 1))  # JPEG only: decodes at 1/8
                image.load()
    except Exception as exc:  # noqa: BLE001 (Pillow raises many kinds for a bad file; the reason is shown)
        said = re.sub(r"\s*<_?io\.\w+ object at 0x[0-9a-f]+>", "", str(exc).split("\n")[0])  # not for users
        return said[:80] or type(exc).__name__
    return None


def from_samples(which: str, folder: Path) -> Chosen:
    """The real photos bundled with the foolbox wheel: 'cifar10', 'imagenet' or 'both', with labels."""
    from ictc.core.samples import export_samples

    imagenet_labels = folder / "imagenet" / "labels.csv"
    if not (folder / "cifar10" / "labels.csv").is_file() or not imagenet_labels.is_file() \
            or ",imagenet-" in imagenet_labels.read_text("utf-8"):  # written before the class names were known
        export_samples(folder)
    sets = ["cifar10", "imagenet"] if which == "both" else [which]
    paths, lines = [], ["image,label"]
    for name in sets:
        paths += list_images(folder / name)
        lines += (folder / name / "labels.csv").read_text("utf-8").splitlines()[1:]
    labels = folder / f"labels-{which}.csv"
    labels.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Chosen(paths, f"sample photos ({which})", str(labels))
