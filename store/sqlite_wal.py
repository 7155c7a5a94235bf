"""One SQLite file shared by the threads and processes of every run in a workspace (WAL mode)."""

from __future__ import annotations

import fcntl
import sqlite3
from pathlib import Path


def open_shared(path: Path, schema: str) -> sqlite3.Connection:
    """A connection to the SQLite file `path` in WAL mode, with `schema` (CREATE ... IF NOT EXISTS) applied.

    Switching to WAL ignores SQLite's busy timeout, so two first opens at once fail with "database is
    locked": the opening is serialised by an flock on a side file, across threads and processes alike.
    The connection may be used from any thread (callers hold their own lock) and waits up to 30 s for
    a writer. Raises sqlite3.Error or OSError when the file cannot be opened or created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, check_same_thread=False, timeout=30)
    with open(path.with_name(path.name + ".open-lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(schema)
        connection.commit()
    return connection
