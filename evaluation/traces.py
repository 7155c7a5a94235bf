"""A run's node traces (one JSON line per model answer): written zstd-compressed by graph/session.py into
traces.jsonl.zst, read back here; a plain traces.jsonl left by earlier versions is read first."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import orjson
import zstandard

from ictc.evaluation.outputs import read_json
from ictc.prompts import STEPS

TRACES = "traces.jsonl.zst"  # issue 19: the plain lines took ~1.4 KB per image, mostly the same prompt again
PLAIN = "traces.jsonl"  # written by versions before the compressed file; still read, never appended to
LEVEL = 3  # zstd level: 8,000 bench traces take 64 B per image at 1 and at 3 (1,433 B plain); ~3 µs each
READ_CHUNK = 1 << 20  # compressed bytes read at a time: a 250,000-image file is never held whole


TRACE_BUFFER = 1 << 20  # bytes buffered before a traces file is written to: each write lets other threads
# take the GIL, and the stream loop waited for it again at every 8 KiB (~60 us per trace, cProfile)


def trace_lines(event: dict[str, Any], version: int) -> bytes:
    """The traces.jsonl lines (UTF-8, one JSON object each, with "version" first) of a graph stream event:
    its "traces" list (nodes/common.py batch_traces) or its single "trace" record; b"" when it has neither.
    Serialised by orjson (non-ASCII kept as is, like json.dumps(ensure_ascii=False); a float NaN becomes null)."""
    records = event["traces"] if "traces" in event else [event["trace"]] if "trace" in event else []
    return b"".join(orjson.dumps({"version": version, **record}, option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS)
                    for record in records)


def _decoded(handle: IO[bytes]) -> Iterator[bytes]:
    """The bytes of every zstd frame in `handle`, one after the other, as far as they can be decoded: a frame a
    killed process left unfinished yields what its flushed blocks hold; damaged bytes end the reading."""
    frame = zstandard.ZstdDecompressor().decompressobj()
    while chunk := handle.read(READ_CHUNK):
        while chunk:
            try:
                out = frame.decompress(chunk)
            except zstandard.ZstdError:
                return
            if out:
                yield out
            if not frame.eof:
                break
            chunk = frame.unused_data  # the next frame (a later pass) starts in the same chunk
            frame = zstandard.ZstdDecompressor().decompressobj()


class TraceWriter:
    """Appends trace lines to a run folder's traces.jsonl.zst: one zstd frame per pass (`open` .. `close`),
    each `flush` ends a block, so whatever has been flushed is readable and survives a killed process while
    the frame's window still finds the prompt text repeated from earlier lines.

    A side file marks a frame being written; found at `open`, it means a killed writer left its frame
    unfinished: the readable lines are then written again as one finished frame (cut at the last whole line)
    before anything is appended, since a frame appended after an unfinished one could not be read."""

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / TRACES
        self._open_mark = self.path.with_name(TRACES + ".open")
        if self._open_mark.exists() and self.path.exists():
            _rewrite_finished(self.path)
        self._open_mark.touch()
        self._file = open(self.path, "ab", buffering=TRACE_BUFFER)  # noqa: SIM115 (closed by close())
        self._writer = zstandard.ZstdCompressor(level=LEVEL).stream_writer(self._file, closefd=False)

    def write(self, lines: bytes) -> None:
        """Append `lines` (whole JSON lines, from `trace_lines`); readable once flushed."""
        if lines:
            self._writer.write(lines)

    def flush(self) -> None:
        """End the current block and hand it to the OS: what was written so far survives a killed process."""
        self._writer.flush(zstandard.FLUSH_BLOCK)
        self._file.flush()

    def close(self) -> None:
        """End the frame and close the file."""
        self._writer.flush(zstandard.FLUSH_FRAME)
        self._file.close()
        self._open_mark.unlink(missing_ok=True)

    def __enter__(self) -> TraceWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _rewrite_finished(path: Path) -> None:
    """Write the readable whole lines of `path` again as one finished frame, in place (via a side file and
    a rename, so a crash here leaves the old file). Streams: the file is never held whole."""
    tmp = path.with_name(path.name + ".tmp")
    tail = b""
    with open(path, "rb") as source, open(tmp, "wb") as target:
        writer = zstandard.ZstdCompressor(level=LEVEL).stream_writer(target, closefd=False)
        for out in _decoded(source):
            whole, cut, tail = (tail + out).rpartition(b"\n")
            if cut:
                writer.write(whole + cut)
        writer.flush(zstandard.FLUSH_FRAME)
        target.flush()
        os.fsync(target.fileno())
    os.replace(tmp, path)


def iter_trace_lines(run_dir: str | Path) -> Iterator[bytes]:
    """Every trace line (bytes, newline included when whole) in the order written: the plain traces.jsonl of
    earlier versions first, then traces.jsonl.zst."""
    yield from _plain_lines(run_dir)
    for block in _blocks(run_dir):
        *lines, tail = block.split(b"\n")
        yield from (line + b"\n" for line in lines)
        if tail:
            yield tail


def _records(run_dir: str | Path) -> Iterator[dict[str, Any]]:
    """Every trace record in the order written, one at a time; a torn last line is skipped."""
    for line in iter_trace_lines(run_dir):
        if (record := _parsed(line)) is not None:
            yield record


def read_traces(run_dir: str | Path) -> list[dict[str, Any]]:
    """Every trace record in the order written; a torn last line (a killed process) is skipped."""
    return list(_records(run_dir))


def lineage(versions: list[dict[str, Any]], version: int) -> set[int]:
    """The version numbers whose traces make up `version`'s state (`versions`: run.json's list): the version
    and those before it, except that an undo or a restore (an entry with "restored_from") stands for the
    version it brought back; its own number then carries only the traces of an unfinished change it dropped,
    which are left out. A number not listed (a pass still running) is its own."""
    restores = {v["version"]: v["restored_from"] for v in versions if v.get("restored_from")}
    kept: set[int] = set()
    while version >= 1:
        if version in restores:
            version = restores[version]  # always an earlier number: no loop
            continue
        kept.add(version)
        version -= 1
    return kept


def current_traces(records: list[dict[str, Any]], image: str | None = None, version: int | None = None,
                   versions: list[dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """The answer each step holds for `image` (None: Step 2b, run-wide) as of `version` (None: latest):
    the last record per step, since a refinement re-traces only the steps it redid. With `versions`
    (run.json's list) only the records of the version's lineage count: after "back to version 1" an image
    shows version 1's traces, not those of the version left."""
    mine = [r for r in records if r.get("image") == image and (version is None or r["version"] <= version)]
    if versions and mine:
        latest = max(max(r["version"] for r in mine), max(v["version"] for v in versions))  # a restore traces nothing
        allowed = lineage(versions, version or latest)
        mine = [r for r in mine if r["version"] in allowed]
    latest = {record["step"]: record for record in mine}
    return {step: latest[step] for step in STEPS if step in latest}


NO_MODEL = "no model"  # in a trace's model field: the answer came from a rule (e.g. the raw label), not a call


def pass_summary(records: list[dict[str, Any]]) -> dict[int, dict[str, dict[str, int]]]:
    """Per version, per step: answers from a model call ("called"), from the store ("cached"), and, when
    there are any, decided by a rule without a call ("ruled": e.g. an image whose raw label is a name)."""
    summary: dict[int, dict[str, dict[str, int]]] = {}
    for record in records:
        _count(summary, record)
    return summary


def _count(summary: dict[int, dict[str, dict[str, int]]], record: dict[str, Any]) -> None:
    """Add `record` to `summary` (pass_summary's shape)."""
    tally = summary.setdefault(record["version"], {}).setdefault(record["step"], {"called": 0, "cached": 0})
    if NO_MODEL in str(record.get("model", "")):
        tally["ruled"] = tally.get("ruled", 0) + 1
    else:
        tally["cached" if record["cached"] else "called"] += 1


def _blocks(run_dir: str | Path) -> Iterator[bytes]:
    """traces.jsonl.zst decoded, in blocks of whole lines (the last may lack its newline): large pieces
    searched with bytes methods, not split into a Python object per line first."""
    tail = b""
    packed = Path(run_dir) / TRACES
    if not packed.is_file():
        return
    with open(packed, "rb") as handle:
        for out in _decoded(handle):
            data = tail + out
            cut = data.rfind(b"\n") + 1
            if cut:
                yield data[:cut]
            tail = data[cut:]
    if tail:
        yield tail


def _plain_lines(run_dir: str | Path) -> Iterator[bytes]:
    """The lines of the plain traces.jsonl earlier versions wrote, if there is one."""
    plain = Path(run_dir) / PLAIN
    if plain.is_file():
        with open(plain, "rb") as handle:
            yield from handle


def _parsed(line: bytes) -> dict[str, Any] | None:
    """One record, or None for a torn last line (a killed process); a NaN written by the standard encoder of
    earlier versions is read as read_traces reads it."""
    try:
        return orjson.loads(line)  # type: ignore[no-any-return]
    except orjson.JSONDecodeError:
        try:
            return json.loads(line)  # type: ignore[no-any-return]
        except ValueError:
            return None


def trace_overview(run_dir: str | Path) -> tuple[dict[int, dict[str, dict[str, int]]], dict[str, Any] | None]:
    """`pass_summary` of every trace and the latest Step-2b (naming) record, None when there is none, in one
    streaming pass: each record is counted and let go. At 250,000 images read_traces held ~750,000 records
    (+1 GB) for these few numbers. Every line is parsed (orjson, ~4 us per 1.6 KB line): searching a line's
    bytes for its fields was no faster and depended on orjson's exact layout."""
    summary: dict[int, dict[str, dict[str, int]]] = {}
    namings: list[dict[str, Any]] = []  # a few per version: the latest of the current lineage is shown
    for record in _records(run_dir):
        if record.get("step") == "name_clusters" and record.get("image") is None:
            namings.append(record)
        _count(summary, record)
    return summary, current_traces(namings, None, versions=_versions(run_dir)).get("name_clusters")


def version_titles(run_dir: str | Path, numbers: Iterable[int]) -> dict[int, str]:
    """How the traces of each version number in `numbers` are headed: "v3", or "v3 (not a version yet)" above the
    last version run.json records. Traces carry the number of the version their pass works towards; a pass that
    makes none (stopped, paused for review, a resume that changed nothing) leaves them to the next version, which
    counts them as results.json counts their calls. Why: a resume that changed nothing (no version, exit 4) had its
    traces shown under a version that does not exist."""
    last = max((v["version"] for v in _versions(run_dir)), default=0)
    return {n: f"v{n}" if n <= last else f"v{n} (not a version yet)" for n in numbers}


def image_traces(run_dir: str | Path, image: str, version: int | None = None) -> dict[str, dict[str, Any]]:
    """`current_traces` of one image without parsing the others' lines: the decoded file is searched for the
    image's path as trace_lines writes it, and only the lines found are parsed."""
    records = [r for line in _plain_lines(run_dir) if (r := _parsed(line)) is not None and r.get("image") == image]
    needle = b',"image":' + orjson.dumps(image) + b","
    for block in _blocks(run_dir):
        found = block.find(needle)
        while found >= 0:
            start, end = block.rfind(b"\n", 0, found) + 1, block.find(b"\n", found)
            record = _parsed(block[start:end if end >= 0 else len(block)])
            if record is not None and record.get("image") == image:
                records.append(record)
            found = block.find(needle, found + len(needle))
    return current_traces(records, image, version, _versions(run_dir))


def _versions(run_dir: str | Path) -> list[dict[str, Any]]:
    """run.json's list of versions; [] when it cannot be read (the traces then count by number alone)."""
    try:
        return list(read_json(Path(run_dir) / "run.json").get("versions", []))
    except (OSError, ValueError):
        return []
