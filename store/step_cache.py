"""Answers of Steps 2a, 2b and 3, keyed by the hash of their exact inputs (store/keys.py). SQLite in WAL
mode, so several processes can share one workspace."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any


class StepCache:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, step TEXT, value TEXT)")
        self._db.commit()

    def get(self, key: str) -> Any | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM answers WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, step: str, value: Any) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?, ?)", (key, step, json.dumps(value)))
            self._db.commit()

    def close(self) -> None:
        self._db.close()
