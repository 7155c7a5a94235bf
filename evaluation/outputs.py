"""A run folder's files: results.json, results.csv, report.html. Every file is written atomically."""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from operator import itemgetter
from pathlib import Path
from typing import Any, TextIO

import orjson

CSV_COLUMNS = ["image", "cluster", "description", "raw_label", "label", "route", "status", "reason", "sha256"]


@contextmanager
def atomic_text(path: Path) -> Iterator[TextIO]:
    """A text file (UTF-8, newlines untranslated) written beside `path`, fsynced and renamed onto it when the
    block ends without an exception (else removed): as write_atomic, for a file written piece by piece
    rather than held whole in memory (results.csv at 250,000 images: ~50 MB, twice over as a buffer)."""
    with _atomic(path, "w") as handle:
        yield handle


def _umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it: put it back at once (at import, one thread)
    os.umask(mask)
    return mask


# mkstemp makes its file 0600; a run folder's files get the modes any other file would (0644 under umask 022),
# so that a teammate or a web server can read the report
FILE_MODE = 0o666 & ~_umask()


@contextmanager
def _atomic(path: Path, mode: str, durable: bool = True) -> Iterator[Any]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, FILE_MODE)
        with (os.fdopen(fd, "wb") if mode == "wb" else
              os.fdopen(fd, "w", encoding="utf-8", newline="")) as handle:
            yield handle
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: Path, data: str | bytes, durable: bool = True) -> None:
    """Write beside the target, fsync, then rename: a reader never sees a half-written file. `durable`
    False skips the fsync, for a file made again from the run (a report page; `ictc resume` rewrites it):
    after a power cut it may be empty, never half of two versions. The file gets the usual mode (FILE_MODE)."""
    with _atomic(path, "wb", durable) as handle:
        handle.write(data.encode("utf-8") if isinstance(data, str) else data)


JSON_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def json_bytes(value: Any) -> bytes:
    """`value` as indented UTF-8 JSON (non-ASCII kept) ending in a newline. orjson writes it: the standard
    library's encoder runs in Python when it indents (2.3 s of a 4.9 s rename at 8,000 images, bench/
    refine_scale.py --synthetic). What orjson does not take (e.g. a float subclass) goes through the
    standard encoder. Raises TypeError if `value` is not serialisable."""
    try:
        return orjson.dumps(value, option=JSON_OPTIONS) + b"\n"
    except TypeError:
        return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


STREAM_AT = 2048  # items of a top-level list serialised at a time (results.json's rows: ~0.7 KB each)


def json_pieces(value: Any) -> Iterator[bytes]:
    """The bytes of `json_bytes(value)`, piece by piece: in a dict with string keys, a list longer than
    STREAM_AT is serialised STREAM_AT items at a time, so the whole text of a 250,000-image results.json
    (~170 MB, and as much again while orjson grows its buffer) is never held at once. Raises TypeError if
    `value` is not serialisable."""
    if not (isinstance(value, dict) and all(isinstance(k, str) for k in value)
            and any(isinstance(v, list) and len(v) > STREAM_AT for v in value.values())):
        yield json_bytes(value)
        return
    yield b"{"
    for index, (key, item) in enumerate(value.items()):
        yield (b",\n  " if index else b"\n  ") + orjson.dumps(key) + b": "
        if isinstance(item, list) and len(item) > STREAM_AT:
            for start in range(0, len(item), STREAM_AT):  # orjson's "[\n  a,\n  b\n]" at depth 0, rebased to depth 1
                inner = json_bytes(item[start:start + STREAM_AT])[2:-3]
                yield (b"[\n  " if start == 0 else b",\n  ") + inner.replace(b"\n", b"\n  ")
            yield b"\n  ]"
        else:
            yield json_bytes(item)[:-1].replace(b"\n", b"\n  ")
    yield b"\n}\n"


def write_json(path: Path, value: Any) -> None:
    """Write `value` as indented UTF-8 JSON (non-ASCII kept), atomically, in pieces (`json_pieces`). Raises
    TypeError if not serialisable (the file is then left as it was)."""
    with _atomic(path, "wb") as handle:
        for piece in json_pieces(value):
            handle.write(piece)


SUMMARY = "results-summary.json"  # results.json but its per-image rows: what lists and tables need of a run


def write_results(folder: Path, results: dict[str, Any]) -> None:
    """results.json (`results`, whole) and results-summary.json (all of it but "images") in `folder`, each
    atomically, the summary second: a reader of the summary (a list of runs, a version's cluster sizes)
    parses ~4 KB instead of ~170 MB at 250,000 images. Raises TypeError if not serialisable."""
    write_json(folder / "results.json", results)
    write_json(folder / SUMMARY, {k: v for k, v in results.items() if k != "images"})


def read_summary(folder: Path) -> dict[str, Any]:
    """results.json of `folder` without its "images" rows: from results-summary.json when it is at least as
    new as results.json, else (a run written before the summary existed, or a crash between the two
    writes) from results.json itself. Raises OSError if neither can be read, ValueError if not JSON."""
    summary, whole = folder / SUMMARY, folder / "results.json"
    try:
        if summary.stat().st_mtime_ns >= whole.stat().st_mtime_ns:
            return read_json(summary)  # type: ignore[no-any-return]
    except FileNotFoundError:
        pass
    return {k: v for k, v in read_json(whole).items() if k != "images"}


def read_json(path: Path) -> Any:
    """The JSON value in `path` (orjson: a few times faster than json on a results.json of many images).
    Raises OSError if it cannot be read, orjson.JSONDecodeError (a ValueError) if it is not JSON."""
    return orjson.loads(path.read_bytes())


def image_rows(state: dict[str, Any], consume: bool = False) -> list[dict[str, Any]]:
    """One row per input image, in input order, whatever became of it.

    `state` is a run's state (nodes/state.py RunState; `images` required). A row holds image, sha256, same_as
    (the twin whose records it shares, or ""), description, raw_label, label (normalised), cluster, route,
    answer, status ("ok", "failed" or "unfinished"), reason and per-step seconds. With `consume`, each
    image's description and label records are taken out of `state` once its rows are made, so the rows
    fill the memory the records held (a pass's finish holds ~0.5 KB per image less at its peak)."""
    descriptions, labels = state.get("descriptions", {}), state.get("labels", {})
    assignments, failures = state.get("assignments", {}), state.get("failures", {})
    from ictc.nodes.state import primaries

    primary = primaries(state["images"])
    shared = {p for image, p in primary.items() if image != p} if consume else set()  # records of twins
    take = descriptions.pop if consume else descriptions.get
    take_label = labels.pop if consume else labels.get
    rows = []
    none: dict[str, Any] = {}
    for image in state["images"]:  # one lookup per record (a rename at 250,000 images makes every row)
        path = primary[image["path"]]  # a twin shares the records of the first image with its content
        failed = failures.get(path)
        assigned = assignments.get(path, none)
        if path in shared:
            described, labelled = descriptions.get(path, none), labels.get(path, none)
        else:
            described, labelled = take(path, none), take_label(path, none)
        raw = labelled.get("raw", "")
        rows.append({
            "image": image["path"], "sha256": image["sha256"], "same_as": "" if path == image["path"] else path,
            "description": described.get("text", ""), "description_key": described.get("key", ""),
            "raw_label": raw, "label": _normalized(raw) if raw else "",
            "cluster": assigned.get("cluster", ""), "route": assigned.get("route", ""),
            "answer": assigned.get("answer", ""),
            "status": "failed" if failed else ("ok" if assigned else "unfinished"),
            "reason": _own_reason(f"{failed['step']}: {failed['reason']}", path, image["path"]) if failed else "",
            "seconds": {"describe": described.get("seconds"), "label": labelled.get("seconds"),
                        "assign": assigned.get("seconds")},
        })
    return rows


def _own_reason(reason: str, primary: str, image: str) -> str:
    """A twin's failure `reason` (its content's, recorded once for the first file with it) naming the twin's own
    file: two truncated copies had both been said to fail for the first one's name."""
    if primary == image:
        return reason
    return reason.replace(primary, image).replace(Path(primary).name, Path(image).name)


@lru_cache(maxsize=65536)
def _normalized(raw: str) -> str:
    """normalize_label, once per distinct label: a set of 250,000 images has a few thousand labels."""
    from ictc.nodes.label_counts import normalize_label

    return normalize_label(raw)


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write `rows` (from `image_rows`) as results.csv with the CSV_COLUMNS only, atomically.

    Raises KeyError if a row lacks a column (image_rows makes every one). The fields are picked by
    itemgetter, not csv.DictWriter, whose per-row Python loop cost half of the file's time."""
    with atomic_text(path) as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        writer.writerows(map(itemgetter(*CSV_COLUMNS), rows))
