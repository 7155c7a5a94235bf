"""Report thumbnails, made once per image content: JPEG bytes keyed by the file's sha256 in one SQLite
table of the workspace, so rewriting report.html (a rename, a merge) decodes no image again. A cache of
the report, not a store of runs: deleting thumbnails.sqlite loses nothing (they are made again)."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ictc.core.images import MAX_PIXELS, ImageError, load_rgb
from ictc.store.sqlite_wal import open_shared

SIDE = 96  # pixels, the longest side: what report.html shows
QUALITY = 70  # JPEG quality, with optimised Huffman tables: 1.37 KB per ImageNet thumbnail (1.96 KB at 80
# without; issue 19), no difference to see at 96 px. Thumbnails made before stay as they are (same key).


BATCH = 256  # thumbnails added (`ThumbnailCache.add`) are written this many at a time


def make_thumbnail(path: str, side: int = SIDE, max_pixels: int = MAX_PIXELS) -> bytes | None:
    """JPEG bytes of `path` downscaled to `side` pixels on its longest side; None if it cannot be read, or
    declares more than `max_pixels` pixels (the run's ICTC_MAX_PIXELS, as Step 1 decodes it)."""
    try:
        img = load_rgb(path, side, max_pixels)
    except (ImageError, OSError):
        return None
    return thumbnail_jpeg(img, side)


def thumbnail_jpeg(img: Any, side: int = SIDE) -> bytes:
    """JPEG bytes of the RGB PIL image `img` downscaled (a copy, LANCZOS) to `side` pixels on its longest side:
    the thumbnail of an image already decoded (Step 1's), so the report need not decode it again."""
    if max(img.size) > side:
        from PIL import Image

        img = img.copy()
        img.thumbnail((side, side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    img.save(buffer, format="JPEG", quality=QUALITY, optimize=True)
    return buffer.getvalue()


class ThumbnailCache:
    """sha256 -> JPEG bytes in `path` (SQLite, WAL: runs sharing a workspace share it)."""

    def __init__(self, path: Path):
        self._lock = threading.Lock()
        self._db = open_shared(path, "CREATE TABLE IF NOT EXISTS thumbnails (sha256 TEXT PRIMARY KEY, jpeg BLOB)")
        self._pending: list[tuple[str, bytes]] = []  # added, not yet written (`add`)

    def get_many(self, items: Iterable[tuple[str, str]], max_pixels: int = MAX_PIXELS) -> dict[str, bytes]:
        """`items`: (sha256, path) pairs. Returns sha256 -> JPEG bytes for every readable image: stored
        ones read in batches, the others made from their file now (an image declaring more than `max_pixels`
        pixels is not decoded: make_thumbnail) and stored. Unreadable: left out."""
        wanted = dict(items)  # sha256 -> a path with that content
        found: dict[str, bytes] = {}
        keys = list(wanted)
        with self._lock:
            for start in range(0, len(keys), 900):  # SQLite's limit on bound parameters is 999
                batch = keys[start:start + 900]
                marks = ",".join("?" * len(batch))
                found.update(self._db.execute(f"SELECT sha256, jpeg FROM thumbnails WHERE sha256 IN ({marks})",  # noqa: S608 (only '?' marks)
                                              batch).fetchall())
        made = {sha: jpeg for sha in wanted.keys() - found.keys() if (jpeg := make_thumbnail(wanted[sha], SIDE, max_pixels))}
        if made:
            with self._lock:
                self._db.executemany("INSERT OR REPLACE INTO thumbnails VALUES (?, ?)", made.items())
                self._db.commit()
        return {**found, **made}

    def put_many(self, items: Iterable[tuple[str, bytes]]) -> None:
        """Store (sha256, JPEG bytes) pairs, replacing any stored under the same sha256; committed at once."""
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO thumbnails VALUES (?, ?)", items)
            self._db.commit()

    def add(self, sha256: str, jpeg: bytes) -> None:
        """Keep one thumbnail to write with the next BATCH (thread-safe): Step 1 adds each image's as it
        encodes it, and one commit per image cost more than the thumbnail saves. Unwritten ones are lost
        if the process dies: the report makes those from their files."""
        with self._lock:
            self._pending.append((sha256, jpeg))
            if len(self._pending) < BATCH:
                return
            pending, self._pending = self._pending, []
        self.put_many(pending)

    def flush(self) -> None:
        """Write the thumbnails `add` still holds."""
        with self._lock:
            pending, self._pending = self._pending, []
        if pending:
            self.put_many(pending)

    def close(self) -> None:
        """Write what `add` holds and close the database (the cache stays on disk)."""
        self.flush()
        self._db.close()
