"""Answers of Steps 2a, 2b and 3, keyed by the hash of their exact inputs (store/keys.py). SQLite in WAL
mode, so several processes can share one workspace. A commit is durable against a killed process (the
WAL is written at once) without an fsync per answer (synchronous=NORMAL; SQLite docs, "WAL mode")."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from ictc.store.sqlite_wal import open_shared


class StepCache:
    """One SQLite file of answers (table `answers`: key, step, value as JSON); thread-safe through a lock.

    Creates the file and its folder; raises sqlite3.OperationalError if the file cannot be opened."""

    def __init__(self, path: Path):
        self._lock = threading.Lock()
        # WITHOUT ROWID: the key is kept once, in the table's own b-tree, not again in an index (~75 B less
        # per answer, issue 19); files made before keep their rowid table and work the same
        self._db = open_shared(path, "CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, step TEXT, value TEXT) "
                                     "WITHOUT ROWID")
        # kill -9 keeps every committed answer (the WAL is in the OS's hands at commit); only a power loss
        # may drop the last commits. An fsync per answer serialised the calls of a step behind the disk.
        self._db.execute("PRAGMA synchronous=NORMAL")

    def get(self, key: str) -> Any | None:
        """The value stored under `key`, decoded from JSON; None when there is none."""
        with self._lock:
            row = self._db.execute("SELECT value FROM answers WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, step: str, value: Any) -> None:
        """Store `value` (JSON-serialisable) under `key` for `step`, replacing any previous one; committed at once.
        Raises TypeError if `value` is not serialisable."""
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?, ?)", (key, step, json.dumps(value)))
            self._db.commit()

    def put_many(self, records: list[tuple[str, str, Any]]) -> None:
        """Store (key, step, value) triples in one transaction, replacing earlier values of the same keys;
        committed at once. Raises TypeError if a value is not JSON-serialisable (then nothing is stored)."""
        rows = [(key, step, json.dumps(value)) for key, step, value in records]
        if not rows:
            return
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO answers VALUES (?, ?, ?)", rows)
            self._db.commit()

    def get_many(self, keys: list[str] | None, step: str | tuple[str, ...]) -> dict[str, Any]:
        """The stored values of `step` (or of any of several steps) among `keys` (all of them when keys is None)."""
        return {key: json.loads(value) for key, value in self._rows("key, value", keys, step)}

    def keys_among(self, keys: list[str], step: str | tuple[str, ...]) -> set[str]:
        """The `keys` that have a value of `step` (or of any of several steps), without reading the values."""
        return {key for (key,) in self._rows("key", keys, step)}

    def _rows(self, columns: str, keys: list[str] | None, step: str | tuple[str, ...]) -> list[tuple[Any, ...]]:
        steps = (step,) if isinstance(step, str) else step
        kinds = ",".join("?" * len(steps))
        with self._lock:
            if keys is None:
                return self._db.execute(f"SELECT {columns} FROM answers WHERE step IN ({kinds})", steps).fetchall()
            rows = []
            unique = list(dict.fromkeys(keys))
            for start in range(0, len(unique), 500):  # SQLite's limit on bound parameters
                chunk = unique[start:start + 500]
                marks = ",".join("?" * len(chunk))
                rows += self._db.execute(f"SELECT {columns} FROM answers WHERE step IN ({kinds}) "
                                         f"AND key IN ({marks})", (*steps, *chunk)).fetchall()
            return rows

    def count(self, step: str) -> int:
        """Number of answers stored for `step`."""
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM answers WHERE step = ?", (step,)).fetchone()[0]

    def delete(self, keys: list[str]) -> None:
        """Remove the answers under `keys` (absent keys are ignored); committed at once."""
        with self._lock:
            self._db.executemany("DELETE FROM answers WHERE key = ?", [(k,) for k in keys])
            self._db.commit()

    def close(self) -> None:
        """Close the database connection; the cache cannot be used afterwards."""
        self._db.close()
