"""Ground-truth label lists (labels.csv as people write them) and matching their rows to the run's images."""

from __future__ import annotations

import codecs
import csv
import posixpath
import unicodedata
from pathlib import Path

from ictc.core.errors import UsageError

DELIMITERS = (",", ";", "\t", "|")
# header names accepted for each column, compared case-folded and stripped
IMAGE_COLUMNS = ("image", "file", "filename", "file_name", "path", "image_path", "img")
LABEL_COLUMNS = ("label", "class", "category", "class_name")


def read_labels(path: str | Path) -> dict[str, str]:
    """A labels file -> {image as written: label}.

    Accepted as spreadsheets and scripts write it: UTF-8 with or without a BOM, UTF-16 with a BOM
    (a spreadsheet's "Unicode text"), else Windows-1252 (a spreadsheet's plain "CSV"); fields separated
    by `,` `;` tab or `|` (the one that splits the header into an image and a label column); header
    names in any case (image/file/filename/path..., label/class/category). Rows without an image or a
    label are left out. Raises UsageError naming the file when it cannot be read or has no such header."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read labels file {path}: {exc.strerror or exc}") from exc
    lines = _decode(raw).splitlines()
    header = next((i for i, line in enumerate(lines) if line.strip()), None)
    found = _columns(lines[header]) if header is not None else None
    if found is None or header is None:
        first = lines[header].strip()[:80] if header is not None else "(empty file)"
        raise UsageError(f"labels file {path} needs a header row with an 'image' and a 'label' column, "
                         f"separated by , ; or tab (its first line: {first!r})")
    delimiter, image_col, label_col = found
    labels = {}
    for row in csv.reader(lines[header + 1:], delimiter=delimiter):
        if len(row) > max(image_col, label_col) and row[image_col].strip() and row[label_col].strip():
            labels[row[image_col].strip()] = row[label_col].strip()
    if not labels:
        raise UsageError(f"labels file {path} has a header but no row with both an image and a label")
    return labels


def _decode(raw: bytes) -> str:
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")  # every byte is a character: nothing is refused for its encoding


def _columns(line: str) -> tuple[str, int, int] | None:
    """(delimiter, image column, label column) of a header line, or None when none fits."""
    for delimiter in DELIMITERS:
        names = [name.strip().casefold() for name in next(csv.reader([line], delimiter=delimiter), [])]
        image = next((names.index(n) for n in IMAGE_COLUMNS if n in names), None)
        label = next((names.index(n) for n in LABEL_COLUMNS if n in names), None)
        if image is not None and label is not None:
            return delimiter, image, label
    return None


def match_labels(paths: list[str], labels: dict[str, str]) -> dict[str, str]:
    """The label of each image that a row of `labels` names unambiguously: {image path: label}.

    A row names an image by its path written in any of the usual ways: absolute, relative to the
    image folder (`cat/0001.png`) or to anywhere else, a bare file name, with `\\` or `/`. The rule:
    the row and the image that share the longest run of trailing path components (the most specific
    fit) are matched, when that fit is unique both ways: no other row (with another label) fits the
    image as well, and no other image fits the row as well. So a bare name used in two class folders
    matches neither image. Components are compared in Unicode NFC; a second pass, for what is still
    unmatched, ignores case (paths typed on Windows or macOS)."""
    found = _match({p: _parts(p) for p in dict.fromkeys(paths)}, {k: _parts(k) for k in labels}, labels)
    rest = [p for p in dict.fromkeys(paths) if p not in found]
    used = {k for k, _ in found.values()}
    unused = {k: _parts(k, fold=True) for k in labels if k not in used}
    if rest and unused:
        found.update(_match({p: _parts(p, fold=True) for p in rest}, unused, labels))
    return {path: labels[key] for path, (key, _) in found.items()}


def _parts(path: str, fold: bool = False) -> tuple[str, ...]:
    text = posixpath.normpath(unicodedata.normalize("NFC", path.replace("\\", "/")))
    parts = tuple(p for p in text.split("/") if p not in ("", "."))
    return tuple(p.casefold() for p in parts) if fold else parts


def _suffix_index(items: dict[str, tuple[str, ...]]) -> dict[tuple[str, ...], list[str]]:
    index: dict[tuple[str, ...], list[str]] = {}
    for name, parts in items.items():
        for length in range(1, len(parts) + 1):
            index.setdefault(parts[-length:], []).append(name)
    return index


def _best(parts: tuple[str, ...], index: dict[tuple[str, ...], list[str]]) -> tuple[list[str], int]:
    """The entries of `index` sharing the longest trailing run with `parts`, and its length."""
    for length in range(len(parts), 0, -1):
        if parts[-length:] in index:
            return index[parts[-length:]], length
    return [], 0


def _match(images: dict[str, tuple[str, ...]], keys: dict[str, tuple[str, ...]],
           labels: dict[str, str]) -> dict[str, tuple[str, int]]:
    """{image: (row key, shared length)} for the mutual, unambiguous best fits."""
    key_index, image_index = _suffix_index(keys), _suffix_index(images)
    found = {}
    for image, parts in images.items():
        rows, length = _best(parts, key_index)
        if not rows or len({labels[r] for r in rows}) > 1:
            continue  # no row fits, or rows with different labels fit equally well
        if all(_best(keys[row], image_index)[0] == [image] for row in rows):
            found[image] = (rows[0], length)
    return found
