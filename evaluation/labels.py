"""Ground-truth label lists (labels.csv as people write them) and matching their rows to the run's images."""

from __future__ import annotations

import csv
import posixpath
import re
import unicodedata
import urllib.parse
from collections.abc import Iterable
from pathlib import Path

from ictc.core.errors import UsageError
from ictc.evaluation.table_text import decode_table

DELIMITERS = (",", ";", "\t", "|")
# header names accepted for each column, compared case-folded and stripped
# (spaces and hyphens read as "_": "Image Name" is image_name)
IMAGE_COLUMNS = ("image", "file", "filename", "file_name", "path", "image_path", "img", "image_name", "image_id",
                 "image_file", "filepath", "file_path", "id", "name", "image_url", "url", "image_uri", "uri", "file_url")
LABEL_COLUMNS = ("label", "class", "category", "class_name", "labels", "class_label", "category_name", "target", "tag",
                 "choice", "choices")  # the last two: Label Studio's CSV export of a Choices control


class LabelRows(dict[str, str]):
    """{image as written: label}, and `conflicting`: the images the file gives two different labels (the same
    name twice: one image's two rows, or a bare name used in several folders), left out of the dict; `recased`:
    label spellings read as the class spelt first, but for case; `unmarked`: the images of a one-hot file's rows
    that mark no class or several, left out too; `encoding`: the encoding assumed when the file is not Unicode."""

    def __init__(self, labels: dict[str, str], conflicting: list[str], unmarked: list[str] | None = None):
        super().__init__(labels)
        self.conflicting = conflicting
        self.recased: list[str] = []  # "red as Red": each spelling read as the class first spelt otherwise
        self.unmarked = unmarked or []
        self.blank: list[str] = []  # the images of rows whose label cell is empty, left out
        self.encoding = ""  # the encoding assumed for a file that is not Unicode, in words ("Windows-1252")
        self.label_column = ""  # the header of a label column taken for want of a known name ("colour"), else ""


def read_labels(path: str | Path) -> LabelRows:
    """A labels file -> {image as written: label}.

    Accepted as spreadsheets and scripts write it: UTF-8 with or without a BOM, UTF-16 with a BOM
    (a spreadsheet's "Unicode text"), else Mac Roman when lines end in CR alone (Excel for Mac's "CSV (Macintosh)"),
    else Windows-1252 (a spreadsheet's plain "CSV"), the guess kept in `encoding`; fields separated
    by `,` `;` tab or `|` (the one that splits the header into an image and a label column; Excel's
    "sep=;" first line is read as such); header names in any case, spaces as "_" (IMAGE_COLUMNS,
    LABEL_COLUMNS), or an image column and one other, whose header is then kept in `label_column`; or one-hot, an image column and one 0/1 column per class (Roboflow's classification CSV:
    `filename, cat, dog`), a row's label the class it marks 1. Rows without an image or a label are left out
    (one-hot rows marking no class or several are listed in `unmarked`), and so is a name given two labels
    (listed in `conflicting`: the last row had won without a word). Raises UsageError naming the file when
    it cannot be read or has no such header (or gives every image two labels)."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read labels file {path}: {exc.strerror or exc}") from exc
    if raw.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):  # a workbook had been refused by quoting its bytes
        raise UsageError(f"labels file {path} is a spreadsheet workbook (.xlsx, .xls, .ods), not text: save it as CSV")
    text, encoding = decode_table(raw)
    lines = text.splitlines()
    header = next((i for i, line in enumerate(lines) if line.strip()), None)
    declared = None
    if header is not None and len(line := lines[header].strip()) == 5 and line.lower().startswith("sep="):
        declared = line[4]  # Excel's "sep=;" line, which says the delimiter and is no header
        header = next((i for i, line in enumerate(lines) if i > header and line.strip()), None)
    found = _columns(lines[header], declared) if header is not None else None
    one_hot = read_one_hot(lines[header:], declared) if header is not None and found is None else None
    if header is None or (found is None and one_hot is None):
        first = lines[header].strip()[:80] if header is not None else "(empty file)"
        raise UsageError(f"labels file {path} needs a header row with an image column ({', '.join(IMAGE_COLUMNS[:5])}, "
                         f"...) and a label column ({', '.join(LABEL_COLUMNS[:4])}, ...), or one 0/1 column per class, "
                         f"separated by , ; or tab (its first line: {first!r})")
    blank: list[str] = []
    if one_hot is not None:
        pairs, unmarked = one_hot
    elif found is not None:
        pairs, unmarked = _pairs(lines[header + 1:], *found[:3]), []
        blank = [image for image, label in _pairs(lines[header + 1:], *found[:3], keep_blank=True) if not label]
    labels: dict[str, str] = {}
    conflicting: set[str] = set()
    for image, label in pairs:
        if labels.get(image, label) != label or image in conflicting:  # the last row had won without a word
            conflicting.add(image)
        labels[image] = label
    # an image given two labels, or a bare name of several: no label is sure
    rows = LabelRows({image: label for image, label in labels.items() if image not in conflicting}, sorted(conflicting),
                     unmarked)
    # one class spelt in two cases ("Red", "red") is one class: the first spelling stands (6 classes had been scored)
    spelt = {label.casefold(): label for label in reversed(list(rows.values()))}
    rows.encoding, rows.label_column = encoding, found[3] if found is not None else ""
    rows.blank = blank
    rows.recased = sorted({f"{label} as {spelt[label.casefold()]}" for label in rows.values()
                           if spelt[label.casefold()] != label})
    rows.update({image: spelt[label.casefold()] for image, label in rows.items()})
    if not rows and conflicting:
        raise UsageError(f"labels file {path} gives every image two labels (e.g. {rows.conflicting[0]!r})")
    if not rows and unmarked:
        raise UsageError(f"labels file {path} marks no row with exactly one class (e.g. {unmarked[0]!r}: "
                         "each row needs one 1 among its class columns)")
    if not rows:
        raise UsageError(f"labels file {path} has a header but no row with both an image and a label")
    return rows


def _pairs(lines: list[str], delimiter: str, image_col: int, label_col: int,
           keep_blank: bool = False) -> list[tuple[str, str]]:
    """(image, label) of each row of `lines` (those after the header) that has both; with `keep_blank`, also those
    that name an image and leave the label cell empty (label "")."""
    return [(row[image_col].strip(), row[label_col].strip() if len(row) > label_col else "")
            for row in csv.reader(lines, delimiter=delimiter)
            if len(row) > image_col and row[image_col].strip()
            and (len(row) > label_col and row[label_col].strip() or keep_blank)]


def read_one_hot(lines: list[str], declared: str | None = None) -> tuple[list[tuple[str, str]], list[str]] | None:
    """A one-hot labels file (`lines` from its header: an image column, then one column per class whose cells
    are 0 or 1, as Roboflow's classification CSV export writes `filename, cat, dog`) as ((image, the class its
    row marks 1) pairs, [images of the rows that mark no class or several]); None when `lines` is not one:
    no image column, fewer than two classes, or a cell that is not 0 or 1."""
    for delimiter in ((declared,) if declared else ()) + DELIMITERS:
        cells = [cell.strip() for cell in next(csv.reader([lines[0]], delimiter=delimiter), [])]
        names = [_header_name(cell) for cell in cells]
        image = next((names.index(n) for n in IMAGE_COLUMNS if n in names), None)
        classes = [(i, cell) for i, cell in enumerate(cells) if i != image and cell]
        if image is None or len(classes) < 2:
            continue
        pairs, unmarked = [], []
        for row in csv.reader(lines[1:], delimiter=delimiter):
            if len(row) <= image or not row[image].strip():
                continue
            marks = [row[i].strip() if i < len(row) else "" for i, _ in classes]
            if not set(marks) <= {"0", "1"}:
                return None  # not a one-hot file: the header's refusal says what is read
            marked = [name for (_, name), mark in zip(classes, marks, strict=True) if mark == "1"]
            if len(marked) == 1:
                pairs.append((row[image].strip(), marked[0]))
            else:
                unmarked.append(row[image].strip())
        return pairs, unmarked
    return None


def _columns(line: str, declared: str | None = None) -> tuple[str, int, int, str] | None:
    """(delimiter, image column, label column, the label column's header when taken for want of a known name
    else "") of a header line, or None when none fits; the `declared` delimiter (a "sep=" line) is tried first.
    A header with a known image column and exactly one other non-empty one ("filename,colour") takes that one as
    the label column, when no delimiter gives a known label column."""
    delimiters = ((declared,) if declared else ()) + DELIMITERS
    for known in (True, False):
        for delimiter in delimiters:
            cells = [cell.strip() for cell in next(csv.reader([line], delimiter=delimiter), [])]
            names = [_header_name(cell) for cell in cells]
            image = next((names.index(n) for n in IMAGE_COLUMNS if n in names), None)
            # another image column ("id" beside "filename") is no label: refused rather than scored against
            others = [i for i, cell in enumerate(cells) if i != image and cell and names[i] not in IMAGE_COLUMNS]
            label = next((names.index(n) for n in LABEL_COLUMNS if n in names), None) if known else \
                others[0] if len(others) == 1 else None
            if image is not None and label is not None:
                return delimiter, image, label, "" if known else cells[label]
    return None


def _header_name(cell: str) -> str:
    """A header cell as IMAGE_COLUMNS and LABEL_COLUMNS spell names: case-folded, spaces and hyphens as "_"."""
    return "_".join(cell.strip().casefold().replace("-", " ").split())


class MatchedLabels(dict[str, str]):
    """{image path: label}; `unused`: the rows (images as written) that named none of the images; `ambiguous`:
    {row: the images it names equally well} for rows left out because they name several images (a bare name
    in several folders); `by_stem`: the rows matched only by their name without the extension ('red_0.jpg'
    for red_0.png) or without Label Studio's upload prefix."""

    def __init__(self, labels: dict[str, str], unused: list[str], ambiguous: dict[str, list[str]] | None = None,
                 by_stem: list[str] | None = None):
        super().__init__(labels)
        self.unused = unused
        self.ambiguous = ambiguous or {}
        self.by_stem = by_stem or []


# Label Studio's upload names: /data/upload/<project>/<8 hex digits>-<the file's own name>
LABEL_STUDIO_UPLOAD = re.compile(r"(?:^|/)data/upload/\d+/[0-9a-f]{8}-([^/]+)$")


def match_labels(paths: list[str], labels: dict[str, str]) -> MatchedLabels:
    """The label of each image that a row of `labels` names unambiguously: {image path: label}, with the rows
    that named no image (`unused`: a file listing images the run does not have, or spelt otherwise) and those
    that named several (`ambiguous`).

    A row names an image by its path written in any of the usual ways: absolute, relative to the
    image folder (`cat/0001.png`) or to anywhere else, a bare file name, with `\\` or `/`. The rule:
    the row and the image that share the longest run of trailing path components (the most specific
    fit) are matched, when that fit is unique both ways: no other row (with another label) fits the
    image as well, and no other image fits the row as well. So a bare name used in two class folders
    matches neither image. Components are compared in Unicode NFC; a second pass, for what is still
    unmatched, ignores case (paths typed on Windows or macOS) and spaces around a name (a cell trimmed); a third, for rows without an extension, drops
    the image's (ids such as "0001" for 0001.png); a last one, for rows still unmatched, compares names without
    their extensions on both sides (a file listing 'red_0.jpg' for a run of red_0.png, converted since) and
    reads Label Studio's upload names ('/data/upload/1/0000000a-red_0.png' is red_0.png); these last two are
    judged against every image of the run, so a row whose stem fits two images (x.png and x.webp) matches neither."""
    images = list(dict.fromkeys(paths))
    found = _match({p: _parts(p) for p in images}, {k: _parts(k) for k in labels}, labels)
    passes = (lambda k: _parts(k, fold=True),  # case ignored
              lambda k: None if Path(k).suffix else _parts(k, fold=True))  # ids without the extension
    sides = ((lambda p: _parts(p, fold=True)), _stem_parts)
    for row_parts, image_parts in zip(passes, sides, strict=True):
        rest = [p for p in images if p not in found]
        used = {k for k, _ in found.values()}
        keys = {k: parts for k in labels if k not in used and (parts := row_parts(k)) is not None}
        if rest and keys:
            found.update(_match({p: image_parts(p) for p in rest}, keys, labels))
    # last: names without extensions (or upload prefixes) on both sides, judged against every image
    rest = [p for p in images if p not in found]
    used = {k for k, _ in found.values()}
    keys = {k: _stem_parts(_upload_name(k)) for k in labels if k not in used}
    stemmed = {}
    if rest and keys:
        stemmed = {p: fit for p, fit in _match({p: _stem_parts(p) for p in images}, keys, labels).items() if p in rest}
        found.update(stemmed)
    used = {key for key, _ in found.values()}
    ambiguous = {}  # rows naming several images: by their path, else by the name without its extension
    index = _suffix_index({p: _parts(p, fold=True) for p in images})
    stems = _suffix_index({p: _stem_parts(p) for p in images})
    for key in (k for k in labels if k not in used):
        named = _best(_parts(key, fold=True), index)[0] or _best(_stem_parts(_upload_name(key)), stems)[0]
        if len(named) > 1:
            ambiguous[key] = named
    return MatchedLabels({path: labels[key] for path, (key, _) in found.items()},
                         [k for k in labels if k not in used and k not in ambiguous], ambiguous,
                         [key for key, _ in stemmed.values()])


def several_said(row: str, images: list[str]) -> str:
    """"'IMG_0001.png' names 3 images (cam1/, cam2/, cam3/)": a row of `ambiguous` and the images it names, each
    shown by its folder below theirs in common (by its name when they share the folder; the first three)."""
    paths = [posixpath.normpath(p.replace("\\", "/")) for p in images]
    try:  # relative paths ("red_0.png", "copy/red_0.png" of `ictc run .`) share "" at most: that is "."
        common = posixpath.commonpath(paths) or "."
    except ValueError:  # absolute and relative paths mixed: each shown whole
        common = ""
    places = [posixpath.relpath(posixpath.dirname(p) or ".", common) if common else posixpath.dirname(p)
              for p in paths]
    shown = [f"{place}/" for place in places] if len(set(places)) == len(places) and "." not in places else \
        [posixpath.relpath(p, common) if common else p for p in paths]
    more = ", ..." if len(shown) > 3 else ""
    return f"{row!r} names {len(images)} images ({', '.join(shown[:3])}{more})"


def _upload_name(row: str) -> str:
    """`row` as the file's own name when it is a Label Studio upload path, else `row`."""
    found = LABEL_STUDIO_UPLOAD.search(row.replace("\\", "/"))
    return found.group(1) if found else row


def why_none(matched: MatchedLabels, rows: Iterable[str], images: list[str]) -> str:
    """Why a labels file matched none of `images` (the run's paths), for its one-line error: a row naming several
    images ("'IMG_0001.png' names 3 images (cam1/, cam2/, cam3/): give paths"), else one of the file's `rows`
    beside one of the run's images ("e.g. 'x.jpg' in the file, 'red_0.png' in the run", the image shown by as
    many trailing path components as the row has)."""
    if matched.ambiguous:
        return f"{several_said(*next(iter(matched.ambiguous.items())))}: give paths"
    row, image = next(iter(rows), ""), next(iter(images), "")
    tail = "/".join(_parts(image)[-max(len(_parts(row)), 1):])
    return f"e.g. {row!r} in the file, {tail!r} in the run"


def _stem_parts(path: str) -> tuple[str, ...]:
    """_parts (case-folded) with the file name's extension dropped."""
    parts = _parts(path, fold=True)
    return (*parts[:-1], posixpath.splitext(parts[-1])[0]) if parts else parts


URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.I)  # https://, s3://, gs://: a bucket export's image column


def _parts(path: str, fold: bool = False) -> tuple[str, ...]:
    if URL.match(path):  # its path alone, unquoted: the host and a signed URL's query name no file
        path = urllib.parse.unquote(urllib.parse.urlsplit(path).path)
    text = posixpath.normpath(unicodedata.normalize("NFC", path.replace("\\", "/")))
    parts = tuple(p for p in text.split("/") if p not in ("", "."))
    # folded: case and the spaces around a name set aside (a spreadsheet trims " blue lead.png" in its cell)
    return tuple(p.strip().casefold() for p in parts) if fold else parts


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


def check_labels_name_images(path: str, images: list[str]) -> None:
    """Raises UsageError when the labels file `path` cannot be read (read_labels' one line) or names none of
    `images` (file paths), naming the file and why (why_none); returns when it names at least one. The run's own
    check (graph/run.check_request) and the chat's when a folder is chosen (ui/sources.labels_refused)."""
    if not (matched := match_labels(images, given := read_labels(path))):
        raise UsageError(f"labels file {path} names none of the {len(images)} images ({why_none(matched, given, images)})")
