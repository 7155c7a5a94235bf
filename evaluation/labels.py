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
# (spaces and hyphens read as "_": "Image Name" is image_name)
IMAGE_COLUMNS = ("image", "file", "filename", "file_name", "path", "image_path", "img", "image_name", "image_id",
                 "image_file", "filepath", "file_path", "id", "name")
LABEL_COLUMNS = ("label", "class", "category", "class_name", "labels", "class_label", "category_name", "target", "tag")


class LabelRows(dict[str, str]):
    """{image as written: label}, and `conflicting`: the images the file gives two different labels (the same
    name twice: one image's two rows, or a bare name used in several folders), left out of the dict; `recased`:
    label spellings read as the class spelt first, but for case."""

    def __init__(self, labels: dict[str, str], conflicting: list[str]):
        super().__init__(labels)
        self.conflicting = conflicting
        self.recased: list[str] = []  # "red as Red": each spelling read as the class first spelt otherwise


def read_labels(path: str | Path) -> LabelRows:
    """A labels file -> {image as written: label}.

    Accepted as spreadsheets and scripts write it: UTF-8 with or without a BOM, UTF-16 with a BOM
    (a spreadsheet's "Unicode text"), else Windows-1252 (a spreadsheet's plain "CSV"); fields separated
    by `,` `;` tab or `|` (the one that splits the header into an image and a label column; Excel's
    "sep=;" first line is read as such); header names in any case, spaces as "_" (IMAGE_COLUMNS,
    LABEL_COLUMNS). Rows without an image or a label are left out, and so is a name given two labels (listed
    in `conflicting`: the last row had won without a word). Raises UsageError naming the file when
    it cannot be read or has no such header (or gives every image two labels)."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read labels file {path}: {exc.strerror or exc}") from exc
    if raw.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):  # a workbook had been refused by quoting its bytes
        raise UsageError(f"labels file {path} is a spreadsheet workbook (.xlsx, .xls, .ods), not text: save it as CSV")
    lines = _decode(raw).splitlines()
    header = next((i for i, line in enumerate(lines) if line.strip()), None)
    declared = None
    if header is not None and len(line := lines[header].strip()) == 5 and line.lower().startswith("sep="):
        declared = line[4]  # Excel's "sep=;" line, which says the delimiter and is no header
        header = next((i for i, line in enumerate(lines) if i > header and line.strip()), None)
    found = _columns(lines[header], declared) if header is not None else None
    if found is None or header is None:
        first = lines[header].strip()[:80] if header is not None else "(empty file)"
        raise UsageError(f"labels file {path} needs a header row with an image column ({', '.join(IMAGE_COLUMNS[:5])}, "
                         f"...) and a label column ({', '.join(LABEL_COLUMNS[:4])}, ...), separated by , ; or tab "
                         f"(its first line: {first!r})")
    delimiter, image_col, label_col = found
    labels: dict[str, str] = {}
    conflicting: set[str] = set()
    for row in csv.reader(lines[header + 1:], delimiter=delimiter):
        if len(row) > max(image_col, label_col) and row[image_col].strip() and row[label_col].strip():
            image, label = row[image_col].strip(), row[label_col].strip()
            if labels.get(image, label) != label or image in conflicting:  # the last row had won without a word
                conflicting.add(image)
            labels[image] = label
    # an image given two labels, or a bare name of several: no label is sure
    rows = LabelRows({image: label for image, label in labels.items() if image not in conflicting}, sorted(conflicting))
    # one class spelt in two cases ("Red", "red") is one class: the first spelling stands (6 classes had been scored)
    spelt = {label.casefold(): label for label in reversed(list(rows.values()))}
    rows.recased = sorted({f"{label} as {spelt[label.casefold()]}" for label in rows.values()
                           if spelt[label.casefold()] != label})
    rows.update({image: spelt[label.casefold()] for image, label in rows.items()})
    if not rows and conflicting:
        raise UsageError(f"labels file {path} gives every image two labels (e.g. {rows.conflicting[0]!r})")
    if not rows:
        raise UsageError(f"labels file {path} has a header but no row with both an image and a label")
    return rows


def _decode(raw: bytes) -> str:
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")  # every byte is a character: nothing is refused for its encoding


def _columns(line: str, declared: str | None = None) -> tuple[str, int, int] | None:
    """(delimiter, image column, label column) of a header line, or None when none fits; the `declared`
    delimiter (a "sep=" line) is tried first."""
    for delimiter in ((declared,) if declared else ()) + DELIMITERS:
        names = ["_".join(name.strip().casefold().replace("-", " ").split())
                 for name in next(csv.reader([line], delimiter=delimiter), [])]
        image = next((names.index(n) for n in IMAGE_COLUMNS if n in names), None)
        label = next((names.index(n) for n in LABEL_COLUMNS if n in names), None)
        if image is not None and label is not None:
            return delimiter, image, label
    return None


class MatchedLabels(dict[str, str]):
    """{image path: label}, and `unused`: the rows (images as written) that named none of the images."""

    def __init__(self, labels: dict[str, str], unused: list[str]):
        super().__init__(labels)
        self.unused = unused


def match_labels(paths: list[str], labels: dict[str, str]) -> MatchedLabels:
    """The label of each image that a row of `labels` names unambiguously: {image path: label}, with the rows
    that named no image (`unused`: a file listing images the run does not have, or spelt otherwise).

    A row names an image by its path written in any of the usual ways: absolute, relative to the
    image folder (`cat/0001.png`) or to anywhere else, a bare file name, with `\\` or `/`. The rule:
    the row and the image that share the longest run of trailing path components (the most specific
    fit) are matched, when that fit is unique both ways: no other row (with another label) fits the
    image as well, and no other image fits the row as well. So a bare name used in two class folders
    matches neither image. Components are compared in Unicode NFC; a second pass, for what is still
    unmatched, ignores case (paths typed on Windows or macOS); a third, for rows without an extension, drops
    the image's (ids such as "0001" for 0001.png)."""
    found = _match({p: _parts(p) for p in dict.fromkeys(paths)}, {k: _parts(k) for k in labels}, labels)
    rest = [p for p in dict.fromkeys(paths) if p not in found]
    used = {k for k, _ in found.values()}
    unused = {k: _parts(k, fold=True) for k in labels if k not in used}
    if rest and unused:
        found.update(_match({p: _parts(p, fold=True) for p in rest}, unused, labels))
    # ids without the file's extension, as data sets list them ("0001" for 0001.png): a last pass, on what is left
    rest = [p for p in dict.fromkeys(paths) if p not in found]
    used = {k for k, _ in found.values()}
    bare = {k: _parts(k, fold=True) for k in labels if k not in used and not Path(k).suffix}
    if rest and bare:
        found.update(_match({p: _stem_parts(p) for p in rest}, bare, labels))
    used = {key for key, _ in found.values()}
    return MatchedLabels({path: labels[key] for path, (key, _) in found.items()}, [k for k in labels if k not in used])


def _stem_parts(path: str) -> tuple[str, ...]:
    """_parts (case-folded) with the file name's extension dropped."""
    parts = _parts(path, fold=True)
    return (*parts[:-1], posixpath.splitext(parts[-1])[0]) if parts else parts


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
